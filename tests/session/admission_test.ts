import assert from "node:assert/strict";
import { addressGroup, Admission } from "../../session/admission.ts";

Deno.test("Admission refuses past maxConnections and per address group", () => {
  const admission = new Admission({
    maxConnections: 3,
    maxConnectionsPerAddress: 2,
    maxStartups: 8,
  });
  const a1 = admission.admit("10.0.0.1");
  admission.admit("::ffff:10.0.0.1");
  // The IPv4-mapped form is the same address.
  assert.equal(admission.check("10.0.0.1"), "max_connections_per_address");
  const b = admission.admit("10.0.0.2");
  assert.equal(admission.check("10.0.0.3"), "max_connections");
  b.release();
  a1.authenticated();
  a1.release();
  assert.equal(admission.connections, 1);
  assert.equal(admission.check("10.0.0.1"), undefined);
});

Deno.test("Admission sheds the oldest cheap startup of the group holding the most, once it is shedAfterMs old", () => {
  const admission = new Admission({ maxStartups: 3, shedAfterMs: 500 });
  const shed: string[] = [];
  const attacker1 = admission.admit("10.0.0.66", () => shed.push("attacker1"), 0);
  const good = admission.admit("10.0.0.1", () => shed.push("good"), 0);
  const attacker2 = admission.admit("10.0.0.66", () => shed.push("attacker2"), 10);
  // Full: a newcomer is admitted, pushing out the attacker's oldest silent socket, 500 ms old.
  assert.equal(admission.check("10.0.0.2", 500), undefined);
  const newcomer = admission.admit("10.0.0.2", () => shed.push("newcomer"), 500);
  assert.equal(newcomer.waiting, false);
  assert.deepEqual(shed, ["attacker1"]);
  attacker1.release();
  // A startup that cost an RSA decryption is never shed.
  good.decrypting();
  attacker2.decrypting();
  admission.admit("10.0.0.3", () => shed.push("third"), 1000);
  assert.deepEqual(shed, ["attacker1", "newcomer"]);
  assert.equal(admission.startups, 3);
  assert.equal(admission.check("10.0.0.4"), undefined);
});

Deno.test("Admission makes newcomers wait while the startups are young or costly, first come first served", async () => {
  const admission = new Admission({ maxStartups: 2, shedAfterMs: 60_000 });
  const shed: string[] = [];
  const first = admission.admit("10.0.0.1", () => shed.push("first"), 0);
  const second = admission.admit("10.0.0.1", () => shed.push("second"), 0);
  second.decrypting();
  // A burst: nobody is pushed out of a young handshake, nobody is refused.
  assert.equal(admission.check("10.0.0.1", 1), undefined);
  const third = admission.admit("10.0.0.1", () => shed.push("third"), 1);
  const fourth = admission.admit("10.0.0.1", () => shed.push("fourth"), 2);
  assert.equal(third.waiting, true);
  assert.equal(fourth.waiting, true);
  assert.equal(admission.waiting, 2);
  // The first to end lets the first waiting in.
  first.authenticated();
  await third.ready;
  assert.equal(third.waiting, false);
  assert.equal(fourth.waiting, true);
  second.release();
  await fourth.ready;
  assert.deepEqual(shed, []);
  assert.equal(admission.startups, 2);
  assert.equal(admission.waiting, 0);
});

Deno.test("Admission sheds a young cheap startup for a waiting newcomer once it gets old enough", async () => {
  const admission = new Admission({ maxStartups: 1, shedAfterMs: 30 });
  const shed: string[] = [];
  admission.admit("10.0.0.66", () => shed.push("silent"));
  const good = admission.admit("10.0.0.1", () => shed.push("good"));
  assert.equal(good.waiting, true);
  await good.ready; // the timer sheds the silent socket when it is 30 ms old
  assert.deepEqual(shed, ["silent"]);
  assert.equal(good.waiting, false);
});

Deno.test("Admission.close() lets every waiting connection go", async () => {
  const admission = new Admission({ maxStartups: 1, shedAfterMs: 60_000 });
  admission.admit("10.0.0.1");
  const waiting = admission.admit("10.0.0.2");
  admission.close();
  await waiting.ready;
  assert.equal(admission.waiting, 0);
});

Deno.test("Admission counts a costly handshake that did not authenticate as a failure", () => {
  const admission = new Admission({ authFailureLimit: 2, authBackoffMs: 1000 });
  for (let i = 0; i < 2; i++) {
    const ticket = admission.admit("10.0.0.9");
    ticket.decrypting();
    // Cut off after ClientSecret: no authentication error, but the RSA work was done.
    ticket.release(false, 100);
  }
  assert.equal(admission.check("10.0.0.9", 101), "auth_backoff");
  // A silent connection that cost nothing does not count.
  const other = new Admission({ authFailureLimit: 1 });
  other.admit("10.0.0.8").release(false, 100);
  assert.equal(other.check("10.0.0.8", 101), undefined);
});

Deno.test("Admission backs off exponentially and forgets after the window", () => {
  const admission = new Admission({
    authFailureLimit: 2,
    authBackoffMs: 100,
    maxAuthBackoffMs: 1000,
    authFailureWindowMs: 5000,
  });
  admission.failed("x", 0);
  assert.equal(admission.check("x", 1), undefined);
  admission.failed("x", 10);
  assert.equal(admission.check("x", 11), "auth_backoff");
  assert.equal(admission.check("x", 111), undefined);
  admission.failed("x", 200); // third failure: 200 ms
  assert.equal(admission.check("x", 399), "auth_backoff");
  assert.equal(admission.check("x", 401), undefined);
  for (let i = 0; i < 20; i++) admission.failed("x", 500);
  assert.equal(admission.check("x", 1499), "auth_backoff"); // capped at 1000 ms
  assert.equal(admission.check("x", 1501), undefined);
  assert.equal(admission.check("x", 10_000), undefined);
});

Deno.test("Admission counts failures per IPv6 /64, not per address", () => {
  const admission = new Admission({ authFailureLimit: 2 });
  admission.failed("2001:db8:1:2::1", 0);
  admission.failed("2001:db8:1:2:ffff::9", 0);
  assert.equal(admission.check("2001:db8:1:2:abcd::1", 1), "auth_backoff");
  assert.equal(admission.check("2001:db8:1:3::1", 1), undefined);
});

Deno.test("Admission forgets failures after a successful login", () => {
  const admission = new Admission({ authFailureLimit: 2 });
  admission.failed("x", 0);
  const ticket = admission.admit("x");
  ticket.authenticated();
  admission.failed("x", 1);
  assert.equal(admission.check("x", 2), undefined);
});

Deno.test("Admission remembers at most 10,000 failing addresses", () => {
  const admission = new Admission({ authFailureLimit: 1, authBackoffMs: 1_000_000 });
  for (let i = 0; i <= 10_000; i++) admission.failed(`10.0.${i >> 8}.${i & 255}`, 0);
  // The oldest record was dropped; the newest is still held off.
  assert.equal(admission.check("10.0.0.0", 1), undefined);
  assert.equal(admission.check("10.0.39.16", 1), "auth_backoff");
});

Deno.test("addressGroup() reads mapped IPv4 as IPv4 and IPv6 by its /64", () => {
  assert.equal(addressGroup("::ffff:127.0.0.1"), "127.0.0.1");
  assert.equal(addressGroup("0:0:0:0:0:ffff:127.0.0.1"), "127.0.0.1");
  assert.equal(addressGroup("127.0.0.1"), "127.0.0.1");
  assert.equal(addressGroup("::1"), "0:0:0:0::/64");
  assert.equal(addressGroup("2001:DB8::1"), "2001:db8:0:0::/64");
  assert.equal(addressGroup("fe80::1%eth0"), "fe80:0:0:0::/64");
});
