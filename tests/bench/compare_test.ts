import assert from "node:assert/strict";

const compareScript = new URL("../../bench/compare.ts", import.meta.url).pathname;

/** The cells of every Markdown table row in `text` (header and separator rows included). */
function tableRows(text: string): string[][] {
  return text.split("\n")
    .filter((line) => line.startsWith("|"))
    .map((line) => line.slice(1, -1).split("|").map((cell) => cell.trim()));
}

/** Rows whose first cells contain `labels`, in order. */
function findRow(rows: string[][], ...labels: string[]): string[] {
  const row = rows.find((cells) => labels.every((label, i) => cells[i]?.includes(label)));
  assert.ok(row, `no row ${labels.join(" / ")}`);
  return row;
}

const number = /^\d+(\.\d+)?\b/;

Deno.test("bench/compare.ts --quick prints every section's figures", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", compareScript, "--quick"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `compare.ts failed:\n${stderr}\n${stdout}`);
  const rows = tableRows(stdout);

  for (const label of ["ovtp put (library)", "ovtp get (library)", "TLS 1.3 copy", "TCP copy"]) {
    assert.match(findRow(rows, label)[1], number, label);
  }
  for (const label of ["ovtp put (CLI process)", "ovtp get (CLI process)"]) {
    // A number once the CLI has put and get; "n/a (CLI not built)" before.
    assert.match(findRow(rows, label)[1], /^(\d+|n\/a)/, label);
  }
  for (const set of ["10 × 1024 KiB", "200 × 1 KiB"]) {
    for (const how of ["ovtp sendDirectory", "TLS 1.3, own protocol", "TCP, own protocol"]) {
      const row = findRow(rows, set, how);
      assert.match(row[2], number, `${set} ${how} seconds`);
      assert.match(row[3], number, `${set} ${how} files/s`);
    }
  }
  for (
    const load of [
      "1 connection, 1 in flight",
      "1 connection, 64 in flight",
      "connections, 1 in flight each",
    ]
  ) {
    const row = findRow(rows, load);
    for (const cell of row.slice(2, 5)) assert.match(cell, number, load);
  }
  for (
    const label of [
      "ovtp full",
      "ovtp resumed from a ticket",
      "ECDSA P-256 certificate",
      "RSA-3072 certificate",
    ]
  ) {
    const row = findRow(rows, label);
    for (const cell of row.slice(1, 4)) assert.match(cell, number, label);
  }
  for (
    const label of [
      "idle ovtp server",
      "per idle authenticated connection, server",
      "per idle authenticated connection, client",
      "upload, client",
      "upload, server",
      "download, client",
      "download, server",
    ]
  ) {
    assert.match(findRow(rows, label)[1], number, label);
  }
  const storm = findRow(rows, "50 clients, server killed and restarted");
  for (const cell of storm.slice(1, 4)) assert.match(cell, number, "storm");
  assert.match(storm[4], /^\d+ \/ \d+$/, "storm resumed / full");
  assert.match(storm[6], /≤ 2 s: (met|missed)/);
  // Targets are shown next to the figures they apply to.
  assert.match(findRow(rows, "ovtp put (library)")[5], /≥ TLS: (met|missed)/);
  assert.match(findRow(rows, "1 connection, 64 in flight")[5], /≥ 20,000\/s: (met|missed)/);
  assert.match(findRow(rows, "ovtp full")[5], /≥ ½ TLS.*: (met|missed)/);
  assert.match(findRow(rows, "ovtp resumed from a ticket")[5], /≥ 1\.0× TLS ECDSA.*: (met|missed)/);
});

Deno.test("bench/compare.ts --only writes a Markdown file with the machine and the table", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ovtp_compare_test_" });
  try {
    const path = `${dir}/BENCHMARKS.md`;
    await Deno.writeTextFile(
      path,
      "old\n<!-- Generated above by bench/compare.ts; text below this line is kept. -->\nMy plan.\n",
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", compareScript, "--quick", "--only", "messages", "--markdown", path],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const text = await Deno.readTextFile(path);
    assert.match(text, /^# ovtp benchmarks\n/);
    assert.match(text, /- Machine: \d+ cores, /);
    assert.match(text, /- Deno \d+\.\d+\.\d+/);
    assert.match(text, /### 3\. Messages/);
    assert.doesNotMatch(text, /### 1\. Bulk/);
    assert.match(text, /bench:compare/);
    assert.doesNotMatch(text, /^old$/m);
    assert.match(text, /\nMy plan\.\n$/);
    const check = await new Deno.Command(Deno.execPath(), {
      args: [
        "fmt",
        "--check",
        "--config",
        new URL("../../deno.json", import.meta.url).pathname,
        path,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(check.success, "the Markdown file is formatted as deno fmt wants it");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench/compare.ts rejects an unknown section", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", compareScript, "--only", "nope"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.notEqual(output.code, 0);
  assert.match(new TextDecoder().decode(output.stderr), /unknown section "nope"/);
});
