/**
 * `ovtp pull`: a work-queue worker that prints each item, or runs `--exec CMD` for it, until
 * stopped. This file holds the command's help, its checks, its loop and the two ways to work on an
 * item; parsing, the target, connecting and closing are the client-command skeleton's
 * (`client_command.ts`), waiting for a stop signal `stop_signals.ts`'s.
 *
 * @module
 */

import type { OvtpClient } from "../client.ts";
import type { OvtpMessage } from "../message.ts";
import type { QueueItemInfo } from "../messaging/queue_worker.ts";
import { checkRunPermission } from "./_run_permission.ts";
import type { CliCommand } from "./cli_command.ts";
import { checkTopicArgument } from "./_topic_argument.ts";
import type { CliIo } from "./cli_io.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { execShell } from "./exec_handler.ts";
import { jsonLine, parseCount } from "./_json_line.ts";
import { StopSignals } from "./stop_signals.ts";

/**
 * `ovtp pull HOST[:PORT] QUEUE`: works on a queue, one item at a time, until interrupted (or
 * `--count` items): prints each item as one JSON line `{"queue":…,"message":…,"attempts":n}` and
 * acknowledges it, or with `--exec CMD` runs CMD with the item on its standard input and
 * acknowledges it only when CMD exits 0 (else the item goes back to the queue).
 *
 * @example Print three items
 * ```ts ignore
 * await pullCommand.run(["jobs.example", "jobs", "--count", "3"], denoIo());
 * ```
 */
export const pullCommand: CliCommand = clientCommand({
  name: "pull",
  summary: "take items from a work queue: print them, or run a command for each",
  help: `Usage: ovtp pull [options] HOST[:PORT] QUEUE

Works on the work queue QUEUE at the server at HOST (port 4242 by default), one item at a time,
until interrupted (Ctrl-C or SIGTERM, exit code 0). By default it prints each item as one JSON
line and acknowledges it (it leaves the queue):
  {"queue":"jobs","message":…,"attempts":1}
A text item is a JSON string, a JSON item the value itself, and bytes base64, marked
"encoding":"base64"; "attempts" is above 1 when an earlier worker did not finish the item.

With --exec CMD, each item runs CMD through "sh -c" instead: the item is its standard input, its
output goes to ours, and the item is acknowledged only when CMD exits 0; otherwise it goes back to
the front of the queue, for this or another worker. CMD also gets OVTP_QUEUE, OVTP_MESSAGE_TYPE
(text, json or bytes) and OVTP_ATTEMPTS. An item we hold when the connection is lost goes to
another worker. A key whose authorized_keys line has topics="…" may pull only from queues inside
those; anything else is refused with exit code 5. A lost connection exits 6.

Options:
  --exec CMD              run CMD for each item, as above (needs --allow-run)
  -n, --count N           exit after N items (acknowledged or not)
${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new), and
--allow-run=sh with --exec.`,

  options: { exec: { type: "string" }, count: { type: "string", short: "n" } },
  arguments: { min: 2, max: 2, names: "HOST[:PORT] QUEUE" },
  target: { argument: 0, withPath: false },
  prepare({ values, positionals: [, queue] }, io) {
    checkTopicArgument("pull", queue);
    const count = parseCount("pull", values.count);
    if (values.exec !== undefined) checkRunPermission("pull", "item", values.exec);
    const work = values.exec === undefined ? printItem(io) : execItem(values.exec, io);
    return { use: (client) => workOn(client, queue, count, work, values.quiet === true, io) };
  },
});

/**
 * Works on `queue` until stopped, `count` items, or a lost connection (thrown). Past `count`,
 * an item is handed back, for another worker.
 */
async function workOn(
  client: OvtpClient,
  queue: string,
  count: number,
  work: ItemWork,
  quiet: boolean,
  io: CliIo,
): Promise<void> {
  using stopping = new StopSignals();
  let received = 0;
  const worker = await client.pull(queue, async (message, info) => {
    if (received >= count) throw new Error("Stopping");
    received++;
    try {
      await work(message, info);
    } finally {
      if (received >= count) stopping.stop();
    }
  });
  if (!quiet) io.printError(`ovtp: pulling from ${queue}`);
  const lost = await stopping.until(worker.closed);
  if (lost !== undefined) throw lost;
  await worker.stop();
}

type ItemWork = (message: OvtpMessage, info: QueueItemInfo) => Promise<void>;

function printItem(io: CliIo): ItemWork {
  return (message, { queue, attempts }) => {
    const value = message.type === "bytes" ? message.data : message.value();
    io.print(jsonLine({ queue }, "message", value, { attempts }));
    return Promise.resolve();
  };
}

/** Runs `commandLine` with the item on its standard input; rejects unless it exits 0. */
function execItem(commandLine: string, io: CliIo): ItemWork {
  const [program, ...args] = execShell(commandLine);
  return async (message, { queue, attempts }) => {
    const child = new Deno.Command(program, {
      args,
      stdin: "piped",
      stdout: "inherit",
      stderr: "inherit",
      env: {
        OVTP_QUEUE: queue,
        OVTP_MESSAGE_TYPE: message.type,
        OVTP_ATTEMPTS: String(attempts),
      },
    }).spawn();
    const writer = child.stdin.getWriter();
    try {
      if (message.data.length > 0) await writer.write(message.data);
      await writer.close();
    } catch {
      // The command ended without reading all its input: that is its choice.
    }
    const { success, code } = await child.status;
    if (!success) {
      io.printError(`ovtp: the command exited with ${code}; the item goes back to ${queue}`);
      throw new Error(`The command exited with ${code}`);
    }
  };
}
