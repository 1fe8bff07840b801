import assert from "node:assert/strict";
import {
  allowsForward,
  allowsFrom,
  allowsRead,
  allowsWrite,
  checkKeyOptions,
  type KeyOptions,
} from "../../crypto/key_permissions.ts";

function options(...entries: [string, string | true][]): KeyOptions {
  return new Map(entries);
}

Deno.test("checkKeyOptions() accepts every option ovtp knows", () => {
  checkKeyOptions(options(
    ["from", "10.0.0.0/8,2001:db8::/32,127.0.0.*,!10.0.0.9"],
    ["root", "alice"],
    ["permitopen", "127.0.0.1:80"],
    ["topics", "metrics.>"],
    ["read-only", true],
    ["write-only", true],
    ["no-forward", true],
    ["restrict", true],
  ));
});

Deno.test("checkKeyOptions() refuses unknown options, flags with values and bare value options", () => {
  const bad: [KeyOptions, RegExp][] = [
    [options(["command", "date"]), /^unknown option "command" \(ovtp knows from, root/],
    [options(["no-port-forwarding", true]), /unknown option "no-port-forwarding"/],
    [options(["no-pty", true]), /unknown option "no-pty"/],
    [options(["readonly", true]), /unknown option "readonly"/],
    [options(["root", true]), /^the option "root" needs a value: root="…"$/],
    [options(["from", true]), /the option "from" needs a value/],
    [options(["permitopen", ""]), /the option "permitopen" needs a value/],
    [options(["topics", true]), /the option "topics" needs a value/],
    [options(["read-only", "yes"]), /^the option "read-only" takes no value$/],
    [options(["restrict", ""]), /the option "restrict" takes no value/],
    [options(["from", "10.0.0.0/40"]), /^the option "from": the prefix length/],
  ];
  for (const [given, message] of bad) {
    assert.throws(
      () => checkKeyOptions(given),
      (error: Error) => error instanceof TypeError && message.test(error.message),
      [...given.keys()].join(","),
    );
  }
});

Deno.test("allowsFrom() compares addresses, not text", () => {
  assert.equal(allowsFrom(options(["from", "!127.0.0.1,*"]), "::ffff:127.0.0.1"), false);
  assert.equal(allowsFrom(options(["from", "127.0.0.1"]), "::ffff:127.0.0.1"), true);
  assert.equal(allowsFrom(options(["from", "10.0.0.0/8"]), "10.20.30.40"), true);
  assert.equal(allowsFrom(options(["from", "2001:db8::/32"]), "2001:DB8::7"), true);
  assert.equal(allowsFrom(options(), "192.0.2.1"), true);
});

Deno.test("allowsFrom() lets nobody in with an empty or malformed from", () => {
  assert.equal(allowsFrom(options(["from", true]), "127.0.0.1"), false);
  assert.equal(allowsFrom(options(["from", ""]), "127.0.0.1"), false);
  assert.equal(allowsFrom(options(["from", "127.0.0.1/99"]), "127.0.0.1"), false);
  assert.equal(allowsFrom(options(["from", "localhost"]), "127.0.0.1"), false);
});

Deno.test("allowsWrite(), allowsRead() and allowsForward() follow their options", () => {
  assert.equal(allowsWrite(options(["read-only", true])), false);
  assert.equal(allowsWrite(options(["restrict", true])), false);
  assert.equal(allowsRead(options(["write-only", true])), false);
  assert.equal(allowsRead(options(["restrict", true])), true);
  assert.equal(allowsForward(options(["no-forward", true])), false);
  assert.equal(allowsForward(options(["restrict", true])), false);
  assert.equal(allowsForward(options(["read-only", true])), true);
});
