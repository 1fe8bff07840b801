/**
 * `ovtp pub`: one message published on a topic, `{"delivered":N}` printed. This file holds the
 * command's help, its `--type` and topic checks and its output; parsing, the target, connecting
 * and closing are the client-command skeleton's (`client_command.ts`).
 *
 * @module
 */

import { messageTypeHelp, messageTypeOption, readMessageInput } from "./_message_input.ts";
import type { CliCommand } from "./cli_command.ts";
import { checkTopicArgument } from "./_topic_argument.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";

/**
 * `ovtp pub HOST[:PORT] TOPIC MESSAGE`: publishes one message and prints
 * `{"delivered":n}` (the number of subscriptions it reached) as one JSON line.
 *
 * @example Publish a message
 * ```ts ignore
 * await pubCommand.run(["metrics.example", "metrics.cpu", "0.5"], denoIo());
 * ```
 */
export const pubCommand: CliCommand = clientCommand({
  name: "pub",
  summary: "publish a message on a topic",
  help: `Usage: ovtp pub [options] HOST[:PORT] TOPIC MESSAGE

Publishes MESSAGE on TOPIC (dot-separated tokens of A-Z a-z 0-9 _ -, such as metrics.cpu) at the
server at HOST (port 4242 by default), and prints {"delivered":N}: how many subscriptions it
reached. A key whose authorized_keys line has topics="…" may publish only on matching topics;
anything else is refused with exit code 5.

MESSAGE - publishes standard input, as send and push do ("date | ovtp pub host clock -").

Options:
${messageTypeHelp}
${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  options: messageTypeOption,
  arguments: { min: 3, max: 3, names: "HOST[:PORT] TOPIC MESSAGE" },
  target: { argument: 0, withPath: false },
  request: ({ positionals: [, topic] }) => `publish to "${topic}"`,
  async prepare({ values, positionals: [, topic, text] }, io) {
    checkTopicArgument("pub", topic);
    const value = await readMessageInput("pub", text, values.type, io);
    return {
      use: (client) => client.publish(topic, value),
      report: (delivered) => {
        io.print(JSON.stringify({ delivered }));
        return ExitCode.ok;
      },
    };
  },
});
