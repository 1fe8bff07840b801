import assert from "node:assert/strict";
import { join } from "node:path";
import { TicketKeys } from "../../crypto/ticket_keys.ts";
import { KeyFileError } from "../../errors.ts";
import { withTempDir } from "../_fixtures.ts";

const contents = (issuedAtMs: number) => ({
  issuedAtMs,
  resumptionSecret: new Uint8Array(32).fill(1),
  clientFingerprint: new Uint8Array(32).fill(2),
  serverFingerprint: new Uint8Array(32).fill(3),
});

Deno.test("TicketKeys.open() refuses an expired ticket and one issued in the future", async () => {
  let nowMs = 1_000_000;
  const keys = await TicketKeys.load({ lifetimeMs: 1000, now: () => nowMs });
  const ticket = await keys.seal(contents(nowMs));
  assert.equal(ticket.length, 136);
  nowMs += 999;
  assert.ok(await keys.open(ticket));
  nowMs += 1;
  assert.equal(await keys.open(ticket), undefined);
  assert.equal(await keys.open(await keys.seal(contents(nowMs + 120_000))), undefined);
});

Deno.test("TicketKeys rotates every lifetime and keeps the previous key only", async () => {
  let nowMs = 0;
  const keys = await TicketKeys.load({ lifetimeMs: 1000, now: () => nowMs });
  // Sealed under the first key, with an issue time that keeps it young for the whole test.
  const first = await keys.seal(contents(1900));
  nowMs = 1000; // rotates: the first key becomes the previous one
  const second = await keys.seal(contents(1000));
  assert.notDeepEqual(first.subarray(0, 4), second.subarray(0, 4));
  nowMs = 1950;
  assert.ok(await keys.open(first), "the previous key still opens its tickets");
  nowMs = 2000; // rotates again: the first key is deleted
  await keys.seal(contents(2000));
  assert.equal(await keys.open(first), undefined);
});

Deno.test("TicketKeys.load() creates its file 0600, reads it back, and refuses a loose one", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "home", "ticket_keys");
    const keys = await TicketKeys.load({ file });
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const ticket = await keys.seal(contents(Date.now()));
    assert.ok(await (await TicketKeys.load({ file })).open(ticket), "survives a reload");
    if (Deno.build.os !== "windows") {
      await Deno.chmod(file, 0o644);
      await assert.rejects(TicketKeys.load({ file }), KeyFileError);
    }
    await Deno.writeTextFile(file, "ovtp-ticket-key 1 2 notbase64\n", { mode: 0o600 });
    await Deno.chmod(file, 0o600);
    await assert.rejects(TicketKeys.load({ file }), /malformed/);
  });
});

Deno.test("TicketKeys.checkLifetimeMs() refuses 0 and more than 7 days", () => {
  assert.throws(() => TicketKeys.checkLifetimeMs(0), RangeError);
  assert.throws(() => TicketKeys.checkLifetimeMs(8 * 86_400_000), RangeError);
  assert.equal(TicketKeys.checkLifetimeMs(), 86_400_000);
});
