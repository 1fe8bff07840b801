/**
 * The "bare Web Crypto pipeline" baseline of the bulk section: the least work a file copy
 * encrypted with Web Crypto can do, with none of ovtp's protocol. The sender reads 1 MiB of the
 * file at a time, seals it with AES-256-GCM (`crypto.subtle.encrypt`), keeping up to
 * {@linkcode pipelineInFlight} seals running at once, and writes each sealed record to the
 * socket in order; the receiver opens up to {@linkcode pipelineInFlight} records at once, writes
 * them to a temporary file in order, syncs it (`fdatasync`), renames it into place and
 * acknowledges with one byte. No handshake (both ends use a fixed key: this measures the record
 * work only), no digest, no streams, no flow control. Not part of the library.
 *
 * Wire format: `size (u64 BE)`, then records `length (u32 BE) || ciphertext || tag`, then the
 * receiver's one byte 0x01.
 *
 * @module
 */

/** Plaintext bytes per record, as ovtp's bulk records. */
export const pipelineRecordBytes = 1024 * 1024;
/** Seals (sender) and opens (receiver) running at once, as ovtp's record layer. */
export const pipelineInFlight = 4;
const tagBytes = 16;
const ackByte = 0x01;

/** The fixed bench key: 32 bytes 0x42 (the baseline measures the record work, not a handshake). */
async function benchKey(): Promise<CryptoKey> {
  return await crypto.subtle.importKey("raw", new Uint8Array(32).fill(0x42), "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
}

function nonce(counter: number): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setUint32(8, counter);
  return iv;
}

async function writeAll(writer: Deno.Conn | Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await writer.write(bytes.subarray(offset));
}

async function readExact(conn: Deno.Conn, target: Uint8Array): Promise<void> {
  for (let filled = 0; filled < target.length;) {
    const got = await conn.read(target.subarray(filled));
    if (got === null) throw new Error("The connection ended in the middle of a record");
    filled += got;
  }
}

/** Sends the file at `path` sealed record by record, and waits for the acknowledgement. */
export async function sendSealed(conn: Deno.Conn, path: string): Promise<number> {
  const key = await benchKey();
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, BigInt(size));
  await writeAll(conn, head);
  const sealing: Promise<Uint8Array>[] = [];
  let counter = 0;
  const sendOldest = async () => {
    const sealed = await sealing.shift()!;
    const out = new Uint8Array(4 + sealed.length);
    new DataView(out.buffer).setUint32(0, sealed.length);
    out.set(sealed, 4);
    await writeAll(conn, out);
  };
  for (let remaining = size; remaining > 0;) {
    const plain = new Uint8Array(Math.min(pipelineRecordBytes, remaining));
    for (let filled = 0; filled < plain.length;) {
      const got = await file.read(plain.subarray(filled));
      if (got === null) throw new Error(`${path} is shorter than ${size} bytes`);
      filled += got;
    }
    remaining -= plain.length;
    sealing.push(
      crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce(counter++) }, key, plain).then((
        buffer,
      ) => new Uint8Array(buffer)),
    );
    if (sealing.length >= pipelineInFlight) await sendOldest();
  }
  while (sealing.length > 0) await sendOldest();
  const ack = new Uint8Array(1);
  if (await conn.read(ack) !== 1 || ack[0] !== ackByte) {
    throw new Error("The receiver closed the connection before acknowledging the file");
  }
  return size;
}

/**
 * Receives one sealed file from `conn` into `destination` (through a temporary name, synced,
 * renamed), then acknowledges. Returns `undefined` when the peer closed before sending anything.
 */
export async function receiveSealed(
  conn: Deno.Conn,
  destination: string,
): Promise<number | undefined> {
  const key = await benchKey();
  const head = new Uint8Array(8);
  const first = await conn.read(head);
  if (first === null) return undefined;
  await readExact(conn, head.subarray(first));
  const size = Number(new DataView(head.buffer).getBigUint64(0));
  const partial = `${destination}.partial-${crypto.randomUUID()}`;
  const file = await Deno.open(partial, { write: true, createNew: true });
  try {
    const opening: Promise<ArrayBuffer>[] = [];
    let counter = 0;
    const writeOldest = async () => await writeAll(file, new Uint8Array(await opening.shift()!));
    const lengthBytes = new Uint8Array(4);
    for (let remaining = size; remaining > 0;) {
      await readExact(conn, lengthBytes);
      const length = new DataView(lengthBytes.buffer).getUint32(0);
      if (length > pipelineRecordBytes + tagBytes || length <= tagBytes) {
        throw new Error(`A record of ${length} bytes refused`);
      }
      const sealed = new Uint8Array(length);
      await readExact(conn, sealed);
      remaining -= length - tagBytes;
      opening.push(crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce(counter++) }, key, sealed));
      if (opening.length >= pipelineInFlight) await writeOldest();
    }
    while (opening.length > 0) await writeOldest();
    await file.syncData();
  } finally {
    file.close();
  }
  await Deno.rename(partial, destination);
  await writeAll(conn, Uint8Array.of(ackByte));
  return size;
}
