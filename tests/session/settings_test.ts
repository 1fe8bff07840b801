import assert from "node:assert/strict";
import { resolveSessionSettings, sessionDefaults } from "../../session/settings.ts";
import { minRekeyRecords } from "../../wire/handshake_codec.ts";

Deno.test("resolveSessionSettings() fills every unset field with its default", () => {
  assert.deepEqual(resolveSessionSettings({}), sessionDefaults);
  assert.deepEqual(resolveSessionSettings({ maxStreams: 8 }), {
    ...sessionDefaults,
    maxStreams: 8,
  });
});

Deno.test("resolveSessionSettings() refuses figures outside their range, naming them", () => {
  const cases: [string, Record<string, number>][] = [
    ["rekeyRecords", { rekeyRecords: minRekeyRecords - 1 }],
    ["maxRecordBytes", { maxRecordBytes: 100 }],
    ["maxStreams", { maxStreams: 0 }],
    ["handshakeTimeoutMs", { handshakeTimeoutMs: 1.5 }],
    ["idleTimeoutMs", { idleTimeoutMs: -1 }],
  ];
  for (const [name, options] of cases) {
    assert.throws(() => resolveSessionSettings(options), new RegExp(`setting ${name} must be`));
  }
});
