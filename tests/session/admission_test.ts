import assert from "node:assert/strict";
import { Admission } from "../../session/admission.ts";

Deno.test("Admission refuses past maxConnections, per address and maxStartups", () => {
  const admission = new Admission({
    maxConnections: 3,
    maxConnectionsPerAddress: 2,
    maxStartups: 2,
  });
  admission.admit("a");
  admission.admit("a");
  assert.equal(admission.check("a"), "max_connections_per_address");
  assert.equal(admission.check("b"), "max_startups");
  admission.authenticated("a", "SHA256:k");
  assert.equal(admission.check("b"), undefined);
  admission.admit("b");
  assert.equal(admission.check("c"), "max_connections");
  admission.release("b", true);
  admission.release("a", false);
  assert.equal(admission.connections, 1);
  assert.equal(admission.check("a"), undefined);
});

Deno.test("Admission backs off exponentially and forgets after the window", () => {
  const admission = new Admission({
    authFailureLimit: 2,
    authBackoffMs: 100,
    maxAuthBackoffMs: 1000,
    authFailureWindowMs: 5000,
  });
  admission.failed("x", "SHA256:bad", 0);
  assert.equal(admission.check("x", 1), undefined);
  admission.failed("x", "SHA256:bad", 10);
  assert.equal(admission.check("x", 11), "auth_backoff");
  assert.equal(admission.keyBlocked("SHA256:bad", 11), true);
  assert.equal(admission.check("x", 111), undefined);
  admission.failed("x", undefined, 200); // third failure: 200 ms
  assert.equal(admission.check("x", 399), "auth_backoff");
  assert.equal(admission.check("x", 401), undefined);
  for (let i = 0; i < 20; i++) admission.failed("x", undefined, 500);
  assert.equal(admission.check("x", 1499), "auth_backoff"); // capped at 1000 ms
  assert.equal(admission.check("x", 1501), undefined);
  assert.equal(admission.check("x", 10_000), undefined);
});

Deno.test("Admission forgets failures after a successful login", () => {
  const admission = new Admission({ authFailureLimit: 2 });
  admission.failed("x", "SHA256:k", 0);
  admission.admit("x");
  admission.authenticated("x", "SHA256:k");
  admission.failed("x", "SHA256:k", 1);
  assert.equal(admission.check("x", 2), undefined);
});

Deno.test("Admission remembers at most 10,000 failing addresses", () => {
  const admission = new Admission({ authFailureLimit: 1, authBackoffMs: 1_000_000 });
  for (let i = 0; i <= 10_000; i++) admission.failed(`10.0.${i >> 8}.${i & 255}`, undefined, 0);
  // The oldest record was dropped; the newest is still held off.
  assert.equal(admission.check("10.0.0.0", 1), undefined);
  assert.equal(admission.check("10.0.39.16", 1), "auth_backoff");
});
