import assert from "node:assert/strict";
import { errorCode, fileErrorFromOs, quotePath } from "../../files/_os_error.ts";
import { FileError } from "../../errors.ts";

Deno.test("fileErrorFromOs() maps Deno's error classes to reasons", () => {
  const cases: [Error, string][] = [
    [new Deno.errors.NotFound("x"), "not_found"],
    [new Deno.errors.NotADirectory("x"), "not_found"],
    [new Deno.errors.PermissionDenied("x"), "permission"],
    [new Deno.errors.NotCapable("x"), "permission"],
    [new Deno.errors.AlreadyExists("x"), "exists"],
    [new Deno.errors.IsADirectory("x"), "unsupported_type"],
    [Object.assign(new Error("File name too long"), { code: "ENAMETOOLONG" }), "bad_path"],
  ];
  for (const [error, reason] of cases) {
    const mapped = fileErrorFromOs(error, "a.txt", "Cannot write");
    assert.equal(mapped.reason, reason, error.name);
    assert.equal(mapped.cause, error);
    assert.equal(mapped.path, "a.txt");
  }
});

Deno.test("fileErrorFromOs() maps disk-full and read-only file system errors to io", () => {
  // Deno throws these as plain Errors carrying a code, with no Deno.errors class.
  for (const code of ["ENOSPC", "EROFS", "EIO", "EDQUOT"]) {
    const error = Object.assign(new Error(`${code} message (os error 28)`), { code });
    const mapped = fileErrorFromOs(error, "a.txt", "Cannot write");
    assert.equal(mapped.reason, "io");
    assert.match(mapped.message, new RegExp(`${code} message`));
    assert.match(mapped.message, /check free disk space/);
  }
});

Deno.test("fileErrorFromOs() maps a real write to /dev/full to io", async () => {
  let file: Deno.FsFile;
  try {
    file = await Deno.open("/dev/full", { write: true });
  } catch {
    return; // No /dev/full here.
  }
  try {
    const error = await file.write(new Uint8Array(16)).then(() => undefined, (error) => error);
    assert.equal(errorCode(error), "ENOSPC");
    assert.equal(fileErrorFromOs(error, "/dev/full", "Cannot write").reason, "io");
  } finally {
    file.close();
  }
});

Deno.test("fileErrorFromOs() leaves out the local paths in Deno's message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ovtp-os-error-" });
  try {
    const error = await Deno.lstat(`${dir}/missing`).then(() => undefined, (error) => error);
    const mapped = fileErrorFromOs(error, "missing", "Cannot read");
    assert.equal(mapped.message.includes(dir), false, mapped.message);
    assert.match(mapped.message, /^Cannot read "missing": .*\(os error 2\); check the path$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileErrorFromOs() returns a FileError unchanged", () => {
  const error = new FileError("x", { reason: "changed", path: "a" });
  assert.equal(fileErrorFromOs(error, "b", "Cannot write"), error);
});

Deno.test("quotePath() escapes control characters and shortens long paths", () => {
  assert.equal(quotePath("a\tb"), '"a\\tb"');
  assert.equal(quotePath("x".repeat(1000)), JSON.stringify(`${"x".repeat(200)}…`));
});
