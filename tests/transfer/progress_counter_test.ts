import assert from "node:assert/strict";
import { ProgressCounter, type TransferProgress } from "../../transfer/progress_counter.ts";

Deno.test("ProgressCounter counts a folder's files and reports each finished file by name", () => {
  const seen: TransferProgress[] = [];
  const counter = new ProgressCounter((progress) => seen.push(progress), 30, 3);
  counter.add("a.txt", 10);
  counter.fileDone("a.txt");
  counter.fileDone("empty.txt"); // a file with no bytes is still named once done
  counter.add("b.txt", 20);
  counter.fileDone("b.txt");
  assert.deepEqual(
    seen.map(({ path, bytesDone, filesDone, totalFiles }) => [
      path,
      bytesDone,
      filesDone,
      totalFiles,
    ]),
    [
      ["a.txt", 10, 0, 3],
      ["a.txt", 10, 1, 3],
      ["empty.txt", 10, 2, 3],
      ["b.txt", 30, 2, 3],
      ["b.txt", 30, 3, 3],
    ],
  );
});

Deno.test("ProgressCounter takes a resumed file's kept prefix off the total", () => {
  const seen: TransferProgress[] = [];
  const counter = new ProgressCounter((progress) => seen.push(progress), 100);
  counter.skipKept(60);
  counter.add("a.bin", 40);
  assert.equal(seen[0].bytesDone, seen[0].totalBytes, "a resumed file ends at 100%");
  assert.equal(seen[0].totalFiles, undefined, "one file has no file count");
});
