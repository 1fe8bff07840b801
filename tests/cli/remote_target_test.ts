import assert from "node:assert/strict";
import { parseRemoteTarget } from "../../cli/remote_target.ts";

Deno.test("parseRemoteTarget() reads HOST:PATH and HOST:PORT:PATH", () => {
  assert.deepEqual(parseRemoteTarget("host:a/b.txt"), {
    address: { hostname: "host", port: 4242 },
    path: "a/b.txt",
    portGiven: false,
  });
  assert.deepEqual(parseRemoteTarget("10.0.0.1:9000:a.txt"), {
    address: { hostname: "10.0.0.1", port: 9000 },
    path: "a.txt",
    portGiven: true,
  });
  assert.deepEqual(parseRemoteTarget("host:"), {
    address: { hostname: "host", port: 4242 },
    path: "",
    portGiven: false,
  });
  assert.deepEqual(parseRemoteTarget("host:2024:"), {
    address: { hostname: "host", port: 2024 },
    path: "",
    portGiven: true,
  });
});

Deno.test("parseRemoteTarget() reads a port only before a second colon", () => {
  assert.deepEqual(parseRemoteTarget("host:2024"), {
    address: { hostname: "host", port: 4242 },
    path: "2024",
    portGiven: false,
  });
  assert.deepEqual(parseRemoteTarget("host:/abs:olute"), {
    address: { hostname: "host", port: 4242 },
    path: "/abs:olute",
    portGiven: false,
  });
});

Deno.test("parseRemoteTarget() reads bracketed IPv6 addresses", () => {
  assert.deepEqual(parseRemoteTarget("[::1]:4000:x"), {
    address: { hostname: "::1", port: 4000 },
    path: "x",
    portGiven: true,
  });
  assert.deepEqual(parseRemoteTarget("[fe80::1]:x"), {
    address: { hostname: "fe80::1", port: 4242 },
    path: "x",
    portGiven: false,
  });
});

Deno.test("parseRemoteTarget() returns undefined for local paths and bad ports", () => {
  for (const text of ["a.txt", "./a:b", "/abs/a:b", "host:99999:x", ":path", "[::1]"]) {
    assert.equal(parseRemoteTarget(text), undefined, text);
  }
});
