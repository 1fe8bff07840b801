// Record layer costs: AES-256-GCM seal and open at several record sizes, one call at a time and
// four in flight, and frame encoding.
import { aesGcmOpen, aesGcmSeal, importAesGcmKey } from "../crypto/aes_gcm.ts";
import { encodeFrame } from "../wire/frame.ts";
import { decodeRecords, encodeRecords, RecordType } from "../wire/record_codec.ts";

const key = await importAesGcmKey(new Uint8Array(32).fill(1));
const nonce = new Uint8Array(12);

for (const size of [16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024]) {
  const plaintext = new Uint8Array(size);
  const sealed = await aesGcmSeal(key, nonce, plaintext);
  const label = `${size / 1024} KiB`;
  Deno.bench(`aesGcmSeal ${label}`, { group: `seal ${label}`, baseline: true }, async () => {
    await aesGcmSeal(key, nonce, plaintext);
  });
  Deno.bench(`aesGcmSeal ${label} x4 in flight`, { group: `seal ${label}` }, async () => {
    await Promise.all([1, 2, 3, 4].map(() => aesGcmSeal(key, nonce, plaintext)));
  });
  Deno.bench(`aesGcmOpen ${label}`, { group: `open ${label}`, baseline: true }, async () => {
    await aesGcmOpen(key, nonce, sealed);
  });
  Deno.bench(`aesGcmOpen ${label} x4 in flight`, { group: `open ${label}` }, async () => {
    await Promise.all([1, 2, 3, 4].map(() => aesGcmOpen(key, nonce, sealed)));
  });
}

const small = Array.from({ length: 64 }, (_, i) => ({
  type: RecordType.data,
  flags: 0,
  streamId: 2 * i + 1,
  payload: new Uint8Array(100),
}));
const packed = new Uint8Array(64 * 110);
encodeRecords(small, packed, 0);

Deno.bench("encodeRecords 64 x 100 B", () => {
  encodeRecords(small, new Uint8Array(64 * 110), 0);
});
Deno.bench("decodeRecords 64 x 100 B", () => {
  decodeRecords(packed);
});
Deno.bench("encodeFrame 64 KiB", () => {
  encodeFrame(new Uint8Array(65536));
});
