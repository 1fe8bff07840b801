import { encodeBase64 } from "../crypto/base64.ts";
import type { OvtpResult } from "../session/message_exchange.ts";
import { defaultMaxMessageBytes } from "../session/message_exchange.ts";
import { parseHostPort } from "../address.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import type { CliIo } from "./cli_io.ts";
import { clientOptions, clientOptionsHelp, connectClient } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";
import { parseCommandArgs } from "./parse_command_args.ts";

const options = {
  ...clientOptions,
  type: { type: "string", short: "t" },
} as const;

const messageTypes = ["text", "json", "bytes"] as const;
type MessageKind = typeof messageTypes[number];

/**
 * `ovtp send HOST[:PORT] MESSAGE|-`: sends one message and prints the reply as one JSON line
 * `{"status":…,"response":…}`; exits 0 when the status is true, 1 when it is false.
 *
 * @example Send a message
 * ```ts ignore
 * await sendCommand.run(["files.example:4242", "hello"], denoIo());
 * ```
 */
export const sendCommand: CliCommand = {
  name: "send",
  summary: "send a message and print the reply as one JSON line",
  help: `Usage: ovtp send [options] HOST[:PORT] MESSAGE|-

Sends MESSAGE (or, with -, standard input) to the server at HOST (port 4242 by default) and prints
the reply as one JSON line: {"status":true,"response":…}. A text response is a JSON string, a JSON
response the value itself, and a bytes response base64, marked "encoding":"base64". Exits 0 when
the status is true and 1 when it is false.

Options:
  -t, --type TYPE         send MESSAGE as text (default), json (parsed first) or bytes; standard
                          input goes as text when it is UTF-8, else as bytes
${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs("send", args, options, {
      min: 2,
      max: 2,
      names: "HOST[:PORT] MESSAGE|-",
    });
    const [target, text] = positionals;
    const type = values.type as MessageKind | undefined;
    if (type !== undefined && !messageTypes.includes(type)) {
      throw CliError.usage("send", `--type takes text, json or bytes, not "${values.type}"`);
    }
    let address;
    try {
      address = parseHostPort(target);
    } catch {
      throw CliError.usage("send", `"${target}" is not HOST, HOST:PORT or [IPv6]:PORT`);
    }
    const body = text === "-" ? await readStdin(io) : new TextEncoder().encode(text);
    const message = messageOf(body, type ?? (text === "-" ? undefined : "text"));
    const client = await connectClient("send", address, values, io);
    let result: OvtpResult;
    try {
      result = message instanceof Uint8Array
        ? await client.sendData(message)
        : await client.sendMessage(message);
    } finally {
      await client.close();
    }
    io.print(formatReply(result));
    return result.status ? ExitCode.ok : ExitCode.failure;
  },
};

async function readStdin(io: CliIo): Promise<Uint8Array> {
  const bytes = await io.readStdin(defaultMaxMessageBytes);
  if (bytes === undefined) {
    throw new CliError(
      `Standard input holds more than ${defaultMaxMessageBytes} bytes, the most a message may carry; send it as a file with ovtp put`,
    );
  }
  return bytes;
}

/** The value to send: a string (text), a parsed JSON value, or bytes. */
function messageOf(body: Uint8Array, type: MessageKind | undefined): unknown {
  if (type === "bytes") return body;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    if (type === undefined) return body;
    throw CliError.usage("send", `the message is not UTF-8 text; send it with --type bytes`);
  }
  if (type !== "json") return text;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw CliError.usage("send", `the message is not JSON (${(error as Error).message})`);
  }
}

function formatReply({ status, response }: OvtpResult): string {
  if (response instanceof Uint8Array) {
    return JSON.stringify({ status, response: encodeBase64(response), encoding: "base64" });
  }
  return JSON.stringify({ status, response: response ?? null });
}
