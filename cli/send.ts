/**
 * `ovtp send`: one message, its reply printed as one JSON line. This file holds the command's
 * help and what it does once connected; parsing, the target, connecting and closing are the
 * client-command skeleton's (`client_command.ts`), reading MESSAGE `_message_input.ts`'s.
 *
 * @module
 */

import type { OvtpResult } from "../session/message_exchange.ts";
import type { CliCommand } from "./cli_command.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";
import { messageTypeHelp, messageTypeOption, readMessageInput } from "./_message_input.ts";
import { jsonLine } from "./_json_line.ts";

/**
 * `ovtp send HOST[:PORT] MESSAGE|-`: sends one message and prints the reply as one JSON line
 * `{"status":…,"response":…}`; exits 0 when the status is true, 1 when it is false.
 *
 * @example Send a message
 * ```ts ignore
 * await sendCommand.run(["files.example:4242", "hello"], denoIo());
 * ```
 */
export const sendCommand: CliCommand = clientCommand({
  name: "send",
  summary: "send a message and print the reply as one JSON line",
  help: `Usage: ovtp send [options] HOST[:PORT] MESSAGE|-

Sends MESSAGE (or, with -, standard input) to the server at HOST (port 4242 by default) and prints
the reply as one JSON line: {"status":true,"response":…}. A text response is a JSON string, a JSON
response the value itself, and a bytes response base64, marked "encoding":"base64". Exits 0 when
the status is true and 1 when it is false.

Options:
${messageTypeHelp}
${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,
  options: messageTypeOption,
  arguments: { min: 2, max: 2, names: "HOST[:PORT] MESSAGE|-" },
  target: { argument: 0, withPath: false },
  request: () => "take the message",
  async prepare({ values, positionals: [, text] }, io) {
    const message = await readMessageInput("send", text, values.type, io);
    return {
      use: (client) =>
        message instanceof Uint8Array ? client.sendData(message) : client.sendMessage(message),
      report: (result) => {
        io.print(formatReply(result));
        return result.status ? ExitCode.ok : ExitCode.failure;
      },
    };
  },
});

function formatReply({ status, response }: OvtpResult): string {
  return jsonLine({ status }, "response", response);
}
