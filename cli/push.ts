import { checkTopic } from "../messaging/topic_pattern.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";
import { readMessageInput } from "./_message_input.ts";

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
  -t, --type TYPE         send MESSAGE as text (default), json (parsed first) or bytes; standard
                          input goes as text when it is UTF-8, else as bytes
${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  options: { type: { type: "string", short: "t" } },
  arguments: { min: 3, max: 3, names: "HOST[:PORT] QUEUE MESSAGE|-" },
  target: { argument: 0, withPath: false },
  async prepare({ values, positionals: [, queue, text] }, io) {
    try {
      checkTopic(queue);
    } catch (error) {
      throw CliError.usage("push", (error as Error).message);
    }
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
