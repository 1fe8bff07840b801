import assert from "node:assert/strict";
import { ProgressBar } from "../../cli/progress_bar.ts";

function recorder(columns = 100) {
  const writes: string[] = [];
  let clock = 0;
  const bar = new ProgressBar({
    write: (text) => writes.push(text),
    columns: () => columns,
    now: () => clock,
  });
  return { bar, writes, advance: (ms: number) => clock += ms };
}

const progress = (bytesDone: number, totalBytes = 10 * 1024 * 1024) => ({
  path: "/tmp/some/report.csv",
  bytesDone,
  totalBytes,
  bytesPerSecond: 1024 * 1024,
});

Deno.test("ProgressBar draws bytes, percent, rate and ETA over one line", () => {
  const { bar, writes } = recorder();
  bar.update(progress(2.5 * 1024 * 1024));
  assert.equal(writes.length, 1);
  assert.ok(writes[0].startsWith("\r") && writes[0].endsWith("\x1b[K"), "drawn over the line");
  assert.match(
    writes[0].slice(1, -3),
    /^report\.csv \[#+-+\] {2}25% +2\.5 MiB\/10\.0 MiB +1\.0 MiB\/s ETA 0:08$/,
  );
  assert.ok(writes[0].length - "\r\x1b[K".length <= 99, "one column stays free");
});

Deno.test("ProgressBar redraws at most every 100 ms, and finish() draws the last state", () => {
  const { bar, writes, advance } = recorder();
  bar.update(progress(1));
  for (let i = 2; i < 50; i++) {
    advance(5);
    bar.update(progress(i * 1024));
  }
  assert.equal(writes.length, 3, "245 ms of updates: drawn at 0, 100 and 200 ms");
  bar.finish();
  assert.equal(writes.length, 5);
  assert.match(writes[3], /49\.0 KiB\/10\.0 MiB/);
  assert.equal(writes[4], "\n");
});

Deno.test("ProgressBar finish() draws nothing when nothing moved", () => {
  const { bar, writes } = recorder();
  bar.finish();
  assert.deepEqual(writes, []);
});

Deno.test("ProgressBar drops the bar on a narrow terminal and shortens long names", () => {
  const narrow = recorder(50);
  narrow.bar.update({ ...progress(1024), path: `${"x".repeat(40)}.bin` });
  const line = narrow.writes[0].slice(1, -"\x1b[K".length);
  assert.ok(line.length <= 49, line);
  assert.doesNotMatch(line, /\[/);
  assert.match(line, /^x{23}…/);
});

Deno.test("ProgressBar shows an unknown ETA while nothing moves", () => {
  const { bar, writes } = recorder();
  bar.update({ ...progress(0), bytesPerSecond: 0 });
  assert.match(writes[0], /ETA --:--/);
});

Deno.test("ProgressBar escapes control characters in a file name the server chose", () => {
  const { bar, writes } = recorder();
  bar.update({ ...progress(1), path: "in/a\x1b[2J\x9b1J\u202egpj.exe" });
  const line = writes[0].slice(1, -3); // without the bar's own \r and \x1b[K
  // deno-lint-ignore no-control-regex -- no terminal control may be left
  assert.doesNotMatch(line, /[\x00-\x1f\x7f-\x9f\u202e]/);
  assert.ok(line.startsWith("a\\x1b[2J\\x9b1J\\u202egpj…"), line);
});

Deno.test("ProgressBar names the current file of a folder and shows the folder's files and bytes", () => {
  const { bar, writes } = recorder(120);
  bar.update({
    path: "/tmp/site/css/a.css",
    bytesDone: 5 * 1024 * 1024,
    totalBytes: 10 * 1024 * 1024,
    bytesPerSecond: 1024 * 1024,
    filesDone: 12,
    totalFiles: 151,
  });
  assert.match(
    writes[0].slice(1, -3),
    /^a\.css \[#+-+\] {2}50% +5\.0 MiB\/10\.0 MiB 12\/151 files +1\.0 MiB\/s ETA 0:05$/,
  );
  const single = recorder(120);
  single.bar.update(progress(1024));
  assert.doesNotMatch(single.writes[0], /files/, "one file has no file count");
});
