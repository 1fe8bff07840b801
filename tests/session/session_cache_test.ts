import assert from "node:assert/strict";
import type { PublicKey } from "../../crypto/public_key.ts";
import { SessionCache } from "../../session/session_cache.ts";

function session(server: string, expiresAtMs: number, tag = 0) {
  return {
    serverKey: { fingerprint: server } as PublicKey,
    ticket: Uint8Array.of(tag),
    resumptionSecret: new Uint8Array(32),
    expiresAtMs,
  };
}

Deno.test("SessionCache.take() hands each ticket out once, newest first, skipping expired ones", () => {
  const cache = new SessionCache();
  const now = 1000;
  cache.put("h:1", "SHA256:c", session("SHA256:s", now + 10, 1));
  cache.put("h:1", "SHA256:c", session("SHA256:s", now + 20, 2));
  cache.put("h:1", "SHA256:c", session("SHA256:s", now - 1, 3));
  assert.equal(cache.take("h:1", "SHA256:other", now), undefined, "keyed by client key");
  assert.equal(cache.take("h:2", "SHA256:c", now), undefined, "keyed by address");
  assert.deepEqual(cache.take("h:1", "SHA256:c", now)?.ticket, Uint8Array.of(2));
  assert.deepEqual(cache.take("h:1", "SHA256:c", now)?.ticket, Uint8Array.of(1));
  assert.equal(cache.take("h:1", "SHA256:c", now), undefined);
  assert.equal(cache.size, 0);
});

Deno.test("SessionCache keeps at most maxTicketsPerServer and maxTickets", () => {
  const cache = new SessionCache({ maxTicketsPerServer: 2, maxTickets: 3 });
  for (let i = 0; i < 5; i++) cache.put("h:1", "SHA256:c", session("SHA256:s", 1e15, i));
  assert.equal(cache.size, 2);
  cache.put("h:2", "SHA256:c", session("SHA256:s", 1e15, 9));
  cache.put("h:3", "SHA256:c", session("SHA256:s", 1e15, 10));
  assert.equal(cache.size, 3);
  assert.throws(() => new SessionCache({ maxTickets: 0 }), RangeError);
});
