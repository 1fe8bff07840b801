import type { OvtpResult } from "../session/message_exchange.ts";
import type { CliCommand } from "./cli_command.ts";
import { clientOptions, clientOptionsHelp, connectClient } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";
import { parseTarget, readMessageInput } from "./_message_input.ts";
import { jsonLine } from "./_json_line.ts";
import { parseCommandArgs } from "./parse_command_args.ts";

const options = {
  ...clientOptions,
  type: { type: "string", short: "t" },
} as const;

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
    const address = parseTarget("send", target);
    const message = await readMessageInput("send", text, values.type, io);
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

function formatReply({ status, response }: OvtpResult): string {
  return jsonLine({ status }, "response", response);
}
