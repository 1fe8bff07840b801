/**
 * `ovtp push`: one item onto a server's work queue, `{"queued":N}` printed. This file holds the
 * command's help, its queue check and its output; parsing, the target, connecting and closing are
 * the client-command skeleton's (`client_command.ts`), reading MESSAGE `_message_input.ts`'s.
 *
 * @module
 */

import type { CliCommand } from "./cli_command.ts";
import { checkTopicArgument } from "./_topic_argument.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";
import { messageTypeHelp, messageTypeOption, readMessageInput } from "./_message_input.ts";

/**
 * `ovtp push HOST[:PORT] QUEUE MESSAGE|-`: adds one item to a work queue and prints
 * `{"queued":n}` (the number of items waiting in the queue afterwards) as one JSON line.
 *
 * @example Queue a job
 * ```ts ignore
 * await pushCommand.run(["jobs.example", "jobs", "resize a.png"], denoIo());
 * ```
 */
export const pushCommand: CliCommand = clientCommand({
  name: "push",
  summary: "add an item to a work queue",
  help: `Usage: ovtp push [options] HOST[:PORT] QUEUE MESSAGE|-

Adds MESSAGE (or, with -, standard input) to the work queue QUEUE (dot-separated tokens of
A-Z a-z 0-9 _ -, such as jobs.resize) at the server at HOST (port 4242 by default), and prints
{"queued":N}: how many items wait in the queue now. Each item goes to one "ovtp pull" worker at a
time and leaves the queue once a worker acknowledged it. A full queue is refused with exit code 5,
and so is a queue outside the topics="…" of our key's authorized_keys line.

Options:
${messageTypeHelp}
${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  options: messageTypeOption,
  arguments: { min: 3, max: 3, names: "HOST[:PORT] QUEUE MESSAGE|-" },
  target: { argument: 0, withPath: false },
  request: ({ positionals: [, queue] }) => `take items for the queue "${queue}"`,
  async prepare({ values, positionals: [, queue, text] }, io) {
    checkTopicArgument("push", queue);
    const value = await readMessageInput("push", text, values.type, io);
    return {
      use: (client) => client.push(queue, value),
      report: (queued) => {
        io.print(JSON.stringify({ queued }));
        return ExitCode.ok;
      },
    };
  },
});
