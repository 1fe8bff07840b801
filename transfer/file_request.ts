/**
 * What `FileService` hands to the handler of one file stream (`serve_put.ts`, `serve_get.ts`,
 * `serve_stat.ts`, `serve_list.ts`, `serve_mkdir.ts`, `serve_symlink.ts`): the stream, the peer
 * it runs for, the peer's sandbox, the stall watch and the count of open files, plus the checks
 * of the key's `read-only` / `write-only` options that every handler makes first.
 *
 * @module
 */

import { allowsRead, allowsWrite } from "../crypto/key_permissions.ts";
import { FileError } from "../errors.ts";
import type { FileCalls } from "../files/file_calls.ts";
import type { Sandbox } from "../files/sandbox.ts";
import type { Allowance } from "../session/budget.ts";
import type { Stream } from "../session/stream.ts";
import type { PeerWait } from "./content_transfer.ts";

/** The authenticated peer a file operation runs for (one object per connection). */
export interface FilePeer {
  /** `SHA256:…` of the peer's key. */
  fingerprint: string;
  /** authorized_keys options: `read-only`, `write-only`, `restrict` (no writes), `root=…`. */
  options: ReadonlyMap<string, string | true>;
  /**
   * The connection's share of the server's budgets: when present, each open file is taken from
   * its `fileHandles` (per connection, per key and per process) as well.
   */
  readonly allowance?: Allowance;
}

/** One file stream being answered, as `FileService` gives it to the handler of its kind. */
export interface FileRequest {
  /** The stream the peer opened; its head is the request. */
  readonly stream: Stream;
  /** Who opened it. */
  readonly peer: FilePeer;
  /** The peer's sandbox: the served folder, or the narrower `root=` of its key. */
  sandbox(): Promise<Sandbox>;
  /** How the service makes the file system calls of an upload (`file_calls.ts`). */
  readonly calls: FileCalls;
  /** Wraps every wait on the peer: a stream that waits too long is reset (`StallWatch`). */
  readonly wait: PeerWait;
  /**
   * Runs `work` holding one more open file of the connection; when the connection is at its
   * cap, the stream is refused (RESET code 3) and the result is `undefined`.
   */
  withOpenFile<T>(work: () => Promise<T>): Promise<T | undefined>;
}

/**
 * Refuses a write by a key that is `read-only` or `restrict`.
 *
 * @throws {FileError} `permission`.
 *
 * @example A read-only key may not write
 * ```ts
 * import { checkWritable } from "./file_request.ts";
 * import assert from "node:assert/strict";
 *
 * const peer = { fingerprint: "SHA256:x", options: new Map([["read-only", true as const]]) };
 * assert.throws(() => checkWritable(peer, "a.txt"), /read-only/);
 * ```
 */
export function checkWritable(peer: FilePeer, path: string): void {
  if (!allowsWrite(peer.options)) {
    const option = peer.options.has("read-only") ? "read-only" : "restrict";
    throw new FileError(`This key may not write ${path} (its authorized_keys option "${option}")`, {
      reason: "permission",
      path,
    });
  }
}

/**
 * Refuses a read by a key that is `write-only`.
 *
 * @throws {FileError} `permission`.
 *
 * @example A write-only key may not read
 * ```ts
 * import { checkReadable } from "./file_request.ts";
 * import assert from "node:assert/strict";
 *
 * const peer = { fingerprint: "SHA256:x", options: new Map([["write-only", true as const]]) };
 * assert.throws(() => checkReadable(peer, "a.txt"), /write-only/);
 * ```
 */
export function checkReadable(peer: FilePeer, path: string): void {
  if (!allowsRead(peer.options)) {
    throw new FileError(`This key may not read ${path} (its authorized_keys option "write-only")`, {
      reason: "permission",
      path,
    });
  }
}
