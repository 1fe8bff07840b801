/**
 * The baseline the benchmark holds ovtp against: a careful file copy over one plain TCP or TLS
 * connection, written the way a careful programmer would without ovtp. 1 MiB file reads,
 * 1 MiB buffered writes, each file written to a temporary name, synced (`fdatasync`), renamed
 * into place and its folder synced, as ovtp's receiver does. Reads and writes do not overlap
 * (a straightforward loop). Not part of the library.
 *
 * Wire format, pipelined (the sender never waits between files):
 *
 *   per file:  name length (u32 BE) || name (UTF-8, `/`-separated, relative) || size (u64 BE)
 *              || content
 *   end:       name length 0
 *   reply:     one byte 0x01 once every file is synced and renamed
 *
 * @module
 */

import { dirname, join } from "node:path";

/** File reads, file writes and socket writes move at most this much at a time. */
export const copyBufferBytes = 1024 * 1024;
/** Files being synced and renamed at once on the receiver (ovtp's default folder concurrency). */
export const finishConcurrency = 16;
const maxNameBytes = 4096;
const reads = 64 * 1024;
const headerBytes = 4 + 8;
const ackByte = 0x01;

/** A file to send: its path here and its name on the receiver. */
export interface CopyEntry {
  /** Local path. */
  localPath: string;
  /** Relative name on the receiver, `/`-separated. */
  name: string;
  /** Size in bytes. */
  size: number;
}

/** What a copy moved. */
export interface CopyResult {
  /** Files moved. */
  files: number;
  /** Content bytes moved. */
  bytes: number;
}

/**
 * Lists what to send: `source` itself when it is a file (named `destination`), or every file
 * under it, recursively and sorted, named `destination/relative/path`.
 */
export async function listCopyEntries(source: string, destination: string): Promise<CopyEntry[]> {
  const info = await Deno.stat(source);
  if (info.isFile) return [{ localPath: source, name: destination, size: info.size }];
  const entries: CopyEntry[] = [];
  const pending = [""];
  while (pending.length > 0) {
    const relative = pending.shift()!;
    const names: string[] = [];
    for await (const entry of Deno.readDir(join(source, relative))) names.push(entry.name);
    names.sort();
    for (const name of names) {
      const path = relative === "" ? name : `${relative}/${name}`;
      const stat = await Deno.stat(join(source, path));
      if (stat.isDirectory) pending.push(path);
      else if (stat.isFile) {
        entries.push({
          localPath: join(source, path),
          name: `${destination}/${path}`,
          size: stat.size,
        });
      }
    }
  }
  return entries;
}

/**
 * Sends `entries` over `conn` and waits for the receiver's acknowledgement (so the time it
 * takes ends when the last file is in place).
 */
export async function sendFiles(conn: Deno.Conn, entries: CopyEntry[]): Promise<CopyResult> {
  const out = new Uint8Array(copyBufferBytes);
  const view = new DataView(out.buffer);
  let filled = 0;
  const flush = async () => {
    await writeAll(conn, out.subarray(0, filled));
    filled = 0;
  };
  const encoder = new TextEncoder();
  let bytes = 0;
  for (const entry of entries) {
    const name = encoder.encode(entry.name);
    if (filled + headerBytes + name.length > out.length) await flush();
    view.setUint32(filled, name.length);
    out.set(name, filled + 4);
    view.setBigUint64(filled + 4 + name.length, BigInt(entry.size));
    filled += headerBytes + name.length;
    using file = await Deno.open(entry.localPath, { read: true });
    let remaining = entry.size;
    while (remaining > 0) {
      if (filled === out.length) await flush();
      const n = await file.read(
        out.subarray(filled, filled + Math.min(remaining, out.length - filled)),
      );
      if (n === null) throw new Error(`${entry.localPath} is shorter than ${entry.size} bytes`);
      filled += n;
      remaining -= n;
    }
    bytes += entry.size;
  }
  if (filled + 4 > out.length) await flush();
  view.setUint32(filled, 0);
  filled += 4;
  await flush();
  const ack = new Uint8Array(1);
  if (await conn.read(ack) !== 1 || ack[0] !== ackByte) {
    throw new Error("The receiver closed the connection before acknowledging the files");
  }
  return { files: entries.length, bytes };
}

/**
 * Receives files from `conn` into `root` until the end marker, then acknowledges. Returns
 * `undefined` when the peer closed the connection before sending anything (a handshake-only
 * connection).
 */
export async function receiveFiles(conn: Deno.Conn, root: string): Promise<CopyResult | undefined> {
  const reader = new ConnReader(conn);
  const content = new Uint8Array(copyBufferBytes);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const folders = new Set<string>();
  const finishing = new Set<Promise<void>>();
  let failure: unknown;
  const result: CopyResult = { files: 0, bytes: 0 };
  for (let first = true;; first = false) {
    const head = await reader.readExact(4, first);
    if (head === undefined) return undefined;
    const nameLength = new DataView(head.buffer, head.byteOffset).getUint32(0);
    if (nameLength === 0) break;
    if (nameLength > maxNameBytes) throw new Error(`File name of ${nameLength} bytes refused`);
    const name = decoder.decode((await reader.readExact(nameLength))!);
    const sizeBytes = (await reader.readExact(8))!;
    const size = Number(new DataView(sizeBytes.buffer, sizeBytes.byteOffset).getBigUint64(0));
    if (!Number.isSafeInteger(size)) throw new Error(`File size ${size} refused`);
    const destination = join(root, safeRelative(name));
    const folder = dirname(destination);
    if (!folders.has(folder)) {
      await Deno.mkdir(folder, { recursive: true });
      folders.add(folder);
    }
    const partial = `${destination}.partial-${crypto.randomUUID()}`;
    const file = await Deno.open(partial, { write: true, createNew: true });
    try {
      let remaining = size;
      let filled = 0;
      while (remaining > 0) {
        const n = Math.min(remaining, content.length - filled);
        await reader.readInto(content.subarray(filled, filled + n));
        filled += n;
        remaining -= n;
        if (filled === content.length) {
          await writeAll(file, content);
          filled = 0;
        }
      }
      await writeAll(file, content.subarray(0, filled));
    } catch (error) {
      file.close();
      throw error;
    }
    // Sync and rename in the background (at most finishConcurrency at once) while the next
    // file's content arrives, as ovtp's receiver overlaps its files.
    const task = finishFile(file, partial, destination).catch((error) => {
      failure ??= error;
    });
    finishing.add(task);
    task.finally(() => finishing.delete(task));
    if (finishing.size >= finishConcurrency) await Promise.race(finishing);
    result.files++;
    result.bytes += size;
  }
  await Promise.all(finishing);
  if (failure !== undefined) throw failure;
  await writeAll(conn, Uint8Array.of(ackByte));
  return result;
}

async function finishFile(file: Deno.FsFile, partial: string, destination: string) {
  try {
    await file.syncData();
  } finally {
    file.close();
  }
  await Deno.rename(partial, destination);
  using folder = await Deno.open(dirname(destination), { read: true });
  await folder.sync();
}

/** A socket or a file. */
interface ByteWriter {
  write(bytes: Uint8Array): Promise<number>;
}

function safeRelative(name: string): string {
  const parts = name.split("/");
  if (parts.some((part) => part === "" || part === "." || part === "..")) {
    throw new Error(`File name "${name}" refused`);
  }
  return join(...parts);
}

async function writeAll(writer: ByteWriter, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await writer.write(bytes.subarray(offset));
}

/** Reads exact amounts from a connection: small ones through a buffer, large ones directly. */
class ConnReader {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(reads);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** `n` bytes (a copy); `undefined` on a clean end of stream before the first byte if allowed. */
  async readExact(n: number, endAllowed = false): Promise<Uint8Array | undefined> {
    const out = new Uint8Array(n);
    if (this.#end === this.#start && endAllowed) {
      const got = await this.#conn.read(this.#buffer).catch(() => null);
      if (got === null) return undefined;
      this.#start = 0;
      this.#end = got;
    }
    await this.readInto(out);
    return out;
  }

  /** Fills `target` completely. */
  async readInto(target: Uint8Array): Promise<void> {
    let filled = Math.min(target.length, this.#end - this.#start);
    target.set(this.#buffer.subarray(this.#start, this.#start + filled));
    this.#start += filled;
    while (filled < target.length) {
      const wanted = target.length - filled;
      if (wanted >= this.#buffer.length) {
        // Large reads go straight into the caller's buffer: no copy.
        const got = await this.#conn.read(target.subarray(filled));
        if (got === null) throw new Error("The connection ended in the middle of a file");
        filled += got;
        continue;
      }
      const got = await this.#conn.read(this.#buffer);
      if (got === null) throw new Error("The connection ended in the middle of a file");
      const used = Math.min(got, wanted);
      target.set(this.#buffer.subarray(0, used), filled);
      filled += used;
      this.#start = used;
      this.#end = got;
    }
  }
}
