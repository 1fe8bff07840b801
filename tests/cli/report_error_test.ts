import assert from "node:assert/strict";
import { CliError } from "../../cli/cli_error.ts";
import { ExitCode } from "../../cli/exit_codes.ts";
import { reportError } from "../../cli/report_error.ts";
import {
  AuthenticationError,
  ConnectionError,
  FileError,
  HostKeyError,
  KeyFileError,
  ProtocolError,
  RemoteError,
  TimeoutError,
} from "../../errors.ts";

Deno.test("reportError() maps each error class to its exit code", () => {
  const cases: [unknown, ExitCode][] = [
    [new CliError("bad flag", ExitCode.usage), 2],
    [new AuthenticationError("refused"), 3],
    [new HostKeyError("unknown", { problem: "unknown", host: "h:1", presented: "SHA256:a" }), 4],
    [new FileError("exists", { reason: "exists", path: "a", remote: true }), 5],
    [new FileError("exists", { reason: "exists", path: "a" }), 1],
    [new RemoteError("handler failed", { remoteCode: 2 }), 5],
    [new ConnectionError("refused"), 6],
    [new TimeoutError("slow"), 6],
    [new KeyFileError("mode 0644"), 1],
    [new ProtocolError("bad frame"), 1],
    [new Deno.errors.NotCapable("Requires net access"), 1],
    [new Error("other"), 1],
    ["a string", 1],
  ];
  for (const [error, exitCode] of cases) {
    assert.equal(reportError(error).exitCode, exitCode, String(error));
  }
});

Deno.test("reportError() names what to do next, on one line", () => {
  const unknown = reportError(
    new HostKeyError("x", { problem: "unknown", host: "h:1", presented: "SHA256:abc" }),
  );
  assert.match(unknown.message, /--fingerprint SHA256:abc .*--accept-new/);
  const mismatch = reportError(
    new HostKeyError("multi\nline", {
      problem: "mismatch",
      host: "h:1",
      presented: "SHA256:new",
      expected: "SHA256:old",
    }),
  );
  assert.match(mismatch.message, /SHA256:new.*SHA256:old/);
  assert.doesNotMatch(mismatch.message, /\n/);
  const timeout = reportError(new TimeoutError("Cannot connect\nwithin 10 ms"));
  assert.equal(
    timeout.message,
    "Cannot connect within 10 ms; check that the server is up, or allow more time with --timeout",
  );
});

Deno.test("reportError() escapes control characters a server put in its reason or a name", () => {
  const reason = "gone\x1b]0;owned\x07\x1b[2J\x9b2J\u202etxt.exe";
  const cases = [
    new RemoteError(`The peer aborted stream 1: ${reason}`, { remoteCode: 2 }),
    new FileError(`The server refused "a": ${reason}`, {
      reason: "io",
      path: "a",
      remote: true,
    }),
    new ProtocolError(`Line 1 of the server's listing names an unsafe path "${reason}"`),
    new Error(reason),
  ];
  for (const error of cases) {
    const { message } = reportError(error);
    // deno-lint-ignore no-control-regex -- no terminal control may be left
    assert.doesNotMatch(message, /[\x00-\x1f\x7f-\x9f\u202e]/, message);
    assert.match(message, /gone\\x1b\]0;owned\\x07\\x1b\[2J\\x9b2J\\u202etxt\.exe/);
  }
});

Deno.test("reportError() speaks the user's terms: no stream numbers, no os error numbers, timeouts as given", () => {
  const refused = reportError(
    new RemoteError('The peer aborted stream 7: This key may not publish to "x"', {
      remoteCode: 13,
    }),
    { request: 'publish to "x"' },
  );
  assert.equal(refused.exitCode, 5);
  assert.match(refused.message, /^the server refused to publish to "x": not allowed for this key;/);
  assert.doesNotMatch(refused.message, /stream 7|may not publish/);
  const forward = reportError(
    new RemoteError(
      'The peer aborted stream 3: This key may not forward (its authorized_keys option "no-forward")',
      { remoteCode: 13 },
    ),
    { request: "forward the connection" },
  );
  assert.match(
    forward.message,
    /not allowed for this key \(its authorized_keys option "no-forward"\)/,
  );
  const stopped = reportError(
    new RemoteError("The peer aborted stream 1: Subscription over: the server is closing", {
      remoteCode: 1,
    }),
    { request: 'subscribe to "t.>"' },
  );
  assert.equal(stopped.exitCode, 6);
  const notFound = reportError(
    new FileError(
      'The server refused "x.csv": Cannot read "x.csv": No such file or directory (os error 2)',
      { reason: "not_found", path: "x.csv", remote: true },
    ),
  );
  assert.equal(notFound.message, "x.csv: No such file or directory");
  assert.equal(
    reportError(new Error("Cannot open a: gone (os error 5)")).message,
    "Cannot open a: gone",
  );
  const timeout = reportError(new TimeoutError("did not finish within 9996 ms"), {
    server: "h:1",
    timeoutSeconds: "10",
    phase: "connect",
  });
  assert.match(timeout.message, /^h:1: connection timed out after 10 s;/);
  const lookup = reportError(
    new ConnectionError(
      "Cannot connect to db.invalid:4242: failed to lookup address information: Name or service not known",
    ),
    { server: "db.invalid:4242" },
  );
  assert.match(
    lookup.message,
    /^Could not resolve hostname db\.invalid: Name or service not known;/,
  );
  const dev = reportError(
    new Deno.errors.NotCapable(
      'Requires all access to "/dev/shm/a", run again with the --allow-all flag',
    ),
  );
  assert.doesNotMatch(dev.message, /--allow-all/);
  assert.match(dev.message, /^\/dev\/shm\/a: ovtp cannot open files under \/dev;/);
});
