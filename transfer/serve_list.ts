/**
 * LIST on the server's side (SPEC.md section 11.6): a folder tree as JSON lines, in writes of
 * about 64 KiB; partial uploads and their state files are never listed. The client's side is
 * `list_remote.ts` with `list_parser.ts`.
 *
 * @module
 */

import { join } from "node:path";
import { FileError, OvtpError, ProtocolError } from "../errors.ts";
import { fileErrorFromOs } from "../files/_os_error.ts";
import { isReservedName } from "../files/partial_files.ts";
import { utf8Encoder } from "../wire/_bytes.ts";
import { checkReadable, type FileRequest } from "./file_request.ts";
import { type ListEntry, maxListEntries, wireMtimeMs } from "./file_protocol.ts";
import { headInteger, headString } from "../wire/head_codec.ts";

/** Listing entries are sent in writes of about this size. */
const listBatchBytes = 65536;

/**
 * Answers one LIST stream: an empty reply head, then one JSON line per entry, then END.
 *
 * @param request The stream, its peer and the service's helpers.
 * @throws {FileError} On a refusal or a failure (`FileService` resets the stream with its code).
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * await serveList(request); // inside FileService.handle()
 * ```
 */
export async function serveList(request: FileRequest): Promise<void> {
  const { stream, peer } = request;
  const path = headString(stream.head, "path");
  // How many levels to list (1: the folder's own entries); absent: all.
  const maxDepth = headInteger(stream.head, "depth", maxListDepth, true) ?? maxListDepth;
  if (maxDepth < 1) throw new ProtocolError(`LIST of ${path}: depth must be at least 1`);
  checkReadable(peer, path);
  const sandbox = await request.sandbox();
  const resolved = await sandbox.resolveForRead(path, { allowDirectory: true });
  if (!resolved.info.isDirectory) {
    throw new FileError(`${path} is not a folder; use get for a single file`, {
      reason: "unsupported_type",
      path,
    });
  }
  stream.reply({});
  const pending: string[] = [];
  let pendingBytes = 0;
  let count = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = encodeText(pending.join(""));
    pending.length = 0;
    pendingBytes = 0;
    await request.wait(stream.write(batch));
  };
  const folders = [""];
  while (folders.length > 0) {
    const relative = folders.pop()!;
    const real = relative === "" ? resolved.path : join(resolved.path, relative);
    try {
      for await (const item of Deno.readDir(real)) {
        // Partial files and their state are no one's business but the server's.
        if (isReservedName(item.name)) continue;
        const itemPath = relative === "" ? item.name : `${relative}/${item.name}`;
        const info = await Deno.lstat(join(real, item.name)).catch(() => undefined);
        if (info === undefined) continue;
        const entry = await listEntry(itemPath, join(real, item.name), info);
        if (entry === undefined) continue;
        if (++count > maxListEntries) {
          throw new FileError(
            `${path} has more than ${maxListEntries} entries; list a sub-folder`,
            { reason: "unsupported_type", path },
          );
        }
        if (entry.type === "directory" && depthOf(itemPath) < maxDepth) folders.push(itemPath);
        const line = JSON.stringify(entry) + "\n";
        pending.push(line);
        pendingBytes += line.length;
        if (pendingBytes >= listBatchBytes) await flush();
      }
    } catch (error) {
      if (error instanceof OvtpError) throw error;
      throw fileErrorFromOs(error, relative === "" ? path : `${path}/${relative}`, "Cannot list");
    }
  }
  await flush();
  await request.wait(stream.end());
}

async function listEntry(
  path: string,
  realPath: string,
  info: Deno.FileInfo,
): Promise<ListEntry | undefined> {
  const common = {
    path,
    size: info.isFile ? info.size : 0,
    mtimeMs: wireMtimeMs(info.mtime),
    mode: info.mode === null ? null : info.mode & 0o7777,
  };
  if (info.isFile) return { ...common, type: "file" };
  if (info.isDirectory) return { ...common, type: "directory" };
  if (info.isSymlink) {
    const target = await Deno.readLink(realPath).catch(() => undefined);
    return target === undefined ? undefined : { ...common, type: "symlink", target };
  }
  return undefined; // devices, FIFOs and sockets are not listed
}

/** Largest `depth` a LIST head may ask for; it also stands for "all levels". */
const maxListDepth = 2 ** 31 - 1;

/** Levels below the listed folder: 1 for its own entries. */
function depthOf(relativePath: string): number {
  let depth = 1;
  for (const character of relativePath) if (character === "/") depth++;
  return depth;
}

function encodeText(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}
