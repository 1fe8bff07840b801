/**
 * What `send` and `push` share: their MESSAGE argument (or standard input for `-`) with its
 * `--type` option, read into the value they send.
 *
 * @module
 */

import { defaultMaxMessageBytes } from "../session/message_exchange.ts";
import { CliError } from "./cli_error.ts";
import type { CliIo } from "./cli_io.ts";

/** The `--type` option of `send` and `push`, which {@linkcode readMessageInput} reads. */
export const messageTypeOption = { type: { type: "string", short: "t" } } as const;

/** The help line of {@linkcode messageTypeOption}. */
export const messageTypeHelp =
  `  -t, --type TYPE         send MESSAGE as text (default), json (parsed first) or bytes; standard
                          input goes as text when it is UTF-8, else as bytes`;

const messageTypes = ["text", "json", "bytes"] as const;
type MessageKind = typeof messageTypes[number];

/**
 * The value a command sends from its MESSAGE argument (or standard input for `-`) and its
 * `--type`: a string (text, the default for an argument), a parsed JSON value, or bytes
 * (standard input that is not UTF-8 is sent as bytes unless a type was given). Shared by
 * `send` and `push`.
 *
 * @example
 * ```ts ignore
 * const value = await readMessageInput("send", "hello", undefined, io);
 * ```
 */
export async function readMessageInput(
  command: string,
  text: string,
  typeFlag: string | undefined,
  io: CliIo,
): Promise<unknown> {
  const type = typeFlag as MessageKind | undefined;
  if (type !== undefined && !messageTypes.includes(type)) {
    throw CliError.usage(command, `--type takes text, json or bytes, not "${typeFlag}"`);
  }
  const body = text === "-" ? await readStdin(io) : new TextEncoder().encode(text);
  return valueOf(command, body, type ?? (text === "-" ? undefined : "text"));
}

async function readStdin(io: CliIo): Promise<Uint8Array> {
  const bytes = await io.readStdin(defaultMaxMessageBytes);
  if (bytes === undefined) {
    throw new CliError(
      `Standard input holds more than ${defaultMaxMessageBytes} bytes, the most a message may carry; send it as a file with ovtp put`,
    );
  }
  return bytes;
}

function valueOf(command: string, body: Uint8Array, type: MessageKind | undefined): unknown {
  if (type === "bytes") return body;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    if (type === undefined) return body;
    throw CliError.usage(command, `the message is not UTF-8 text; ${command} it with --type bytes`);
  }
  if (type !== "json") return text;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw CliError.usage(command, `the message is not JSON (${(error as Error).message})`);
  }
}
