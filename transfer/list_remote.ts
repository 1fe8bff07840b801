/**
 * LIST from the client's side (SPEC.md section 11): the entries of a remote folder tree, checked
 * as they arrive by `ListParser`. `OvtpClient.list()` and `downloadDirectory()` call it.
 *
 * @module
 */

import type { Channel } from "../session/channel.ts";
import { type Stream, StreamError, StreamKind } from "../session/stream.ts";
import { type ListEntry, remoteFileError } from "./file_protocol.ts";
import { ListParser } from "./list_parser.ts";

/**
 * Lists a remote folder recursively. The listing is checked as it arrives
 * ({@linkcode ListParser}): a line over 64 KiB, more than 1,000,000 entries or an invalid entry
 * resets the stream and throws a `ProtocolError`.
 *
 * @param channel The connection.
 * @param remoteDir The folder (`""` or `"."` for the served folder).
 * @param depth How many levels to list (1: the folder's own entries); default all.
 * @returns The entries, folders before their contents.
 *
 * @example See tests/transfer/list_remote_test.ts; in short:
 * ```ts ignore
 * const entries = await listRemote(channel, "www");
 * ```
 */
export async function listRemote(
  channel: Channel,
  remoteDir: string,
  depth?: number,
): Promise<ListEntry[]> {
  let stream: Stream | undefined;
  try {
    // "" names the served folder, which the protocol spells "." (SPEC.md 11.1).
    const path = remoteDir === "" ? "." : remoteDir;
    const head = depth === undefined ? { path } : { path, depth };
    stream = await channel.openStream(StreamKind.list, head, { end: true });
    await stream.replyHead();
    const parser = new ListParser();
    for (let chunk = await stream.read(); chunk !== null; chunk = await stream.read()) {
      parser.push(chunk);
      stream.release(chunk); // the parser keeps copies of what it still needs
    }
    return parser.finish();
  } catch (error) {
    // A listing we refuse stops here: the server need not send the rest.
    if (stream !== undefined && !stream.done) {
      stream.reset(StreamError.protocol, "the listing was refused");
    }
    throw remoteFileError(error, remoteDir);
  }
}
