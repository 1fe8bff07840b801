import { parseHostPort } from "../address.ts";
import { checkTopic } from "../messaging/topic_pattern.ts";
import { defaultMaxMessageBytes } from "../session/message_exchange.ts";
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
 * `ovtp push HOST[:PORT] QUEUE MESSAGE|-`: adds one item to a work queue and prints
 * `{"queued":n}` (the number of items waiting in the queue afterwards) as one JSON line.
 *
 * @example Queue a job
 * ```ts ignore
 * await pushCommand.run(["jobs.example", "jobs", "resize a.png"], denoIo());
 * ```
 */
export const pushCommand: CliCommand = {
  name: "push",
  summary: "add an item to a work queue",
  help: `Usage: ovtp push [options] HOST[:PORT] QUEUE MESSAGE|-

Adds MESSAGE (or, with -, standard input) to the work queue QUEUE (dot-separated tokens of
A-Z a-z 0-9 _ -, such as jobs.resize) at the server at HOST (port 4242 by default), and prints
{"queued":N}: how many items wait in the queue now. Each item goes to one "ovtp pull" worker at a
time and leaves the queue once a worker acknowledged it. A full queue is refused with exit code 5,
and so is a queue outside the topics="…" of our key's authorized_keys line.

Options:
  -t, --type TYPE         send MESSAGE as text (default), json (parsed first) or bytes; standard
                          input goes as text when it is UTF-8, else as bytes
${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs("push", args, options, {
      min: 3,
      max: 3,
      names: "HOST[:PORT] QUEUE MESSAGE|-",
    });
    const [target, queue, text] = positionals;
    const type = values.type as MessageKind | undefined;
    if (type !== undefined && !messageTypes.includes(type)) {
      throw CliError.usage("push", `--type takes text, json or bytes, not "${values.type}"`);
    }
    let address;
    try {
      address = parseHostPort(target);
    } catch {
      throw CliError.usage("push", `"${target}" is not HOST, HOST:PORT or [IPv6]:PORT`);
    }
    try {
      checkTopic(queue);
    } catch (error) {
      throw CliError.usage("push", (error as Error).message);
    }
    const body = text === "-" ? await readStdin(io) : new TextEncoder().encode(text);
    const value = valueOf(body, type ?? (text === "-" ? undefined : "text"));
    const client = await connectClient("push", address, values, io);
    let queued: number;
    try {
      queued = await client.push(queue, value);
    } finally {
      await client.close();
    }
    io.print(JSON.stringify({ queued }));
    return ExitCode.ok;
  },
};

async function readStdin(io: CliIo): Promise<Uint8Array> {
  const bytes = await io.readStdin(defaultMaxMessageBytes);
  if (bytes === undefined) {
    throw new CliError(
      `Standard input holds more than ${defaultMaxMessageBytes} bytes, the most a message may carry`,
    );
  }
  return bytes;
}

/** The item to push: a string (text), a parsed JSON value, or bytes. */
function valueOf(body: Uint8Array, type: MessageKind | undefined): unknown {
  if (type === "bytes") return body;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    if (type === undefined) return body;
    throw CliError.usage("push", `the message is not UTF-8 text; push it with --type bytes`);
  }
  if (type !== "json") return text;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw CliError.usage("push", `the message is not JSON (${(error as Error).message})`);
  }
}
