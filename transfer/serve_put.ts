/**
 * PUT on the server's side (SPEC.md section 11.4): the upload lands in a partial file of its
 * own (random name, mode 0600) beside the destination; with `resume`, the verified prefix of an
 * earlier partial upload of the same source by the same key is offered first. Only a file
 * whose digest matched and whose data was flushed is renamed into place
 * (`content_transfer.ts`'s `receiveFile()`). The client's side is `upload_file.ts`.
 *
 * @module
 */

import { join } from "node:path";
import { FileError, ProtocolError } from "../errors.ts";
import { fileChunkBytes, formatDigest } from "../files/chunk_tree.ts";
import { hashPrefix } from "../files/hash_prefix.ts";
import { openRegularFile } from "../files/open_regular_file.ts";
import {
  isRandomPartialName,
  partialNames,
  randomPartialPath,
  readPartialState,
  resumableBytes,
} from "../files/partial_files.ts";
import { initialWindowBytes } from "../session/stream.ts";
import { utf8Encoder } from "../wire/_bytes.ts";
import { receiveFile } from "./content_transfer.ts";
import { checkWritable, type FileRequest } from "./file_request.ts";
import { digestBytes, fileWindowBytes, maxFileBytes } from "./file_protocol.ts";
import {
  decodeStartOffset,
  headFlag,
  headInteger,
  headString,
  startOffsetBytes,
} from "../wire/head_codec.ts";
import { StreamReader } from "../session/stream_reader.ts";

/** The partial uploads of one `FileService`, shared by all its PUT streams. */
export interface PartialUploads {
  /** Partial files in use by a transfer of this process: never offered to another. */
  claimed: Set<string>;
  /** Removes stale partial uploads in a folder, now and then, in the background. */
  sweep(dir: string): void;
}

/**
 * Answers one PUT stream: checks the key and the path, offers a kept prefix when asked, then
 * receives the content into its partial file and commits it, and confirms
 * `{"size", "digest"}`.
 *
 * @param request The stream, its peer and the service's helpers.
 * @param uploads The service's partial uploads.
 * @throws {FileError} On a refusal or a failure (`FileService` resets the stream with its code).
 * @throws {ProtocolError} On a malformed head or content.
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * await servePut(request, uploads); // inside FileService.handle()
 * ```
 */
export async function servePut(request: FileRequest, uploads: PartialUploads): Promise<void> {
  const { stream, peer } = request;
  const head = stream.head;
  const path = headString(head, "path");
  const size = headInteger(head, "size", maxFileBytes);
  const mtimeMs = headInteger(head, "mtimeMs", maxFileBytes, true);
  const mode = headInteger(head, "mode", 0o7777, true);
  const overwrite = headFlag(head, "overwrite");
  const preserve = headFlag(head, "preserve");
  checkWritable(peer, path);
  const sandbox = await request.sandbox();
  const target = await sandbox.resolveForWrite(path, {
    createParents: headFlag(head, "parents"),
  });
  if (target.existing !== null && !overwrite) {
    throw new FileError(`${path} exists on the server; ask to overwrite it to replace it`, {
      reason: "exists",
      path,
    });
  }
  uploads.sweep(target.dir);
  // The state file's name is per key and destination; the data file's is random, per upload.
  const { state: statePath } = partialNames(
    target.dir,
    target.name,
    partialTag(peer.fingerprint),
  );
  let dataPath: string | undefined;
  try {
    // Offer the verified prefix of an earlier partial upload of the same source by this key,
    // unless another transfer of this process is using it right now.
    let offer = 0;
    let offerLeaves: Uint8Array[] = [];
    let offerRoot: Uint8Array | undefined;
    if (headFlag(head, "resume") && size > fileChunkBytes) {
      const state = await readPartialState(statePath);
      const candidate = state === undefined ? undefined : join(target.dir, state.data);
      if (
        state !== undefined && candidate !== undefined && isRandomPartialName(state.data) &&
        state.owner === peer.fingerprint && state.name === target.name &&
        state.size === size && state.mtimeMs === (mtimeMs ?? null) &&
        !uploads.claimed.has(candidate)
      ) {
        uploads.claimed.add(candidate);
        dataPath = candidate;
        const kept = Math.min(
          await resumableBytes(candidate, path),
          Math.floor(size / fileChunkBytes) * fileChunkBytes,
        );
        if (kept > 0) {
          const { file } = await openRegularFile(candidate, path);
          try {
            ({ leaves: offerLeaves, root: offerRoot } = await hashPrefix(file, kept, path));
            offer = kept;
          } finally {
            file.close();
          }
        }
      }
    }
    if (dataPath === undefined) {
      dataPath = randomPartialPath(target.dir);
      uploads.claimed.add(dataPath);
    }
    stream.reply({ offset: offer, ...(offerRoot ? { prefix: formatDigest(offerRoot) } : {}) });
    // Small files fit the initial window: no window update needed. A larger one gets a window
    // no larger than what is left to come (content and digest), which is memory we hold.
    const left = size - offer + digestBytes;
    if (left > initialWindowBytes) stream.setWindow(Math.min(fileWindowBytes, left));

    const reader = new StreamReader(stream);
    const startBytes = await request.wait(reader.readExact(startOffsetBytes));
    const start = decodeStartOffset(startBytes);
    if (start !== 0 && start !== offer) {
      throw new ProtocolError(`Upload of ${path} starts at ${start}, but ${offer} was offered`);
    }
    const root = await receiveFile(reader, {
      partial: { data: dataPath, state: statePath },
      owner: peer.fingerprint,
      destination: target.path,
      size,
      start,
      prefixLeaves: start > 0 ? offerLeaves : [],
      mtimeMs,
      mode,
      overwrite,
      preserve,
      path,
      displayPath: path,
      waitForPeer: request.wait,
      beforeCommit: () => sandbox.recheckDirectory(target.dir, path),
      calls: request.calls,
    });
    await request.wait(
      stream.write(encodeJson({ size, digest: formatDigest(root) }), { end: true }),
    );
  } finally {
    if (dataPath !== undefined) uploads.claimed.delete(dataPath);
  }
}

/** A short tag of the peer's key for state file names, so peers never share state files. */
function partialTag(fingerprint: string): string {
  return fingerprint.replace(/^SHA256:/, "").replaceAll("+", "-").replaceAll("/", "_").slice(0, 12);
}

function encodeJson(value: unknown): Uint8Array {
  return utf8Encoder.encode(JSON.stringify(value));
}
