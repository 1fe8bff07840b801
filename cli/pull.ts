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
 * `--count` items, or its output is closed): prints each item as one JSON line
 * `{"queue":…,"message":…,"attempts":n}` and acknowledges it once written, or with `--exec CMD`
 * runs CMD with the item on its standard input and acknowledges it only when CMD exits 0 (else
 * the item fails, with CMD's exit code and last line of standard error as the reason).
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
line and acknowledges it (it leaves the queue) once the line is written:
  {"queue":"jobs","message":…,"attempts":1}
A text item is a JSON string, a JSON item the value itself, and bytes base64, marked
"encoding":"base64"; "attempts" is above 1 when an earlier delivery failed, and "error" then says
why the last one failed. When our output is closed (| head), the item in hand goes back to the
queue uncounted and we exit 0. Lines already written to a pipe whose reader then exits are lost
with the pipe: to take exactly N items, use --count N rather than | head -n N.

With --exec CMD, each item runs CMD through "sh -c" instead: the item is its standard input, its
output goes to ours, and the item is acknowledged only when CMD exits 0; otherwise the delivery
failed, with "exit code N: LAST LINE OF ITS STDERR" as the reason. A failed item is handed out
again after a back-off (1 s, doubling), and after the server's delivery limit (5 by default) it
moves to the queue QUEUE.dead, which can be pulled like any other. CMD also gets OVTP_QUEUE,
OVTP_MESSAGE_TYPE (text, json or bytes) and OVTP_ATTEMPTS. A key whose authorized_keys line has
topics="…" may pull only from queues inside those; anything else is refused with exit code 5.

A lost connection is made again, with back-off, until stopped (an item we held goes to another
worker meanwhile); with --no-reconnect it exits 6 instead.

Options:
  --exec CMD              run CMD for each item, as above (needs --allow-run)
  -n, --count N           exit after N items (acknowledged or not)
  --no-reconnect          exit 6 when the connection is lost instead of connecting again
${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new), and
--allow-run=sh with --exec.`,

  options: {
    exec: { type: "string" },
    count: { type: "string", short: "n" },
    "no-reconnect": { type: "boolean" },
  },
  arguments: { min: 2, max: 2, names: "HOST[:PORT] QUEUE" },
  target: { argument: 0, withPath: false },
  request: ({ positionals: [, queue] }) => `hand out items of the queue "${queue}"`,
  prepare({ values, positionals: [, queue] }, io) {
    checkTopicArgument("pull", queue);
    const count = parseCount("pull", values.count);
    if (values.exec !== undefined) checkRunPermission("pull", "item", values.exec);
    const work = values.exec === undefined ? printItem(io) : execItem(values.exec, io);
    return {
      use: (client) => workOn(client, queue, count, work, values.quiet === true, io),
      reconnect: values["no-reconnect"] !== true,
    };
  },
});

/**
 * Works on `queue` until stopped, `count` items, a closed output, or a refusal (thrown). An item
 * past `count`, or that arrives once our output is closed, is given back unstarted (released):
 * its delivery does not count.
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
    if (received >= count || io.outputClosed()) {
      info.release();
      return;
    }
    received++;
    try {
      await work(message, info);
    } finally {
      if (io.outputClosed()) {
        // Not written: nobody will read it.
        info.release();
        stopping.stop();
      }
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
  return (message, { queue, attempts, lastError }) => {
    const value = message.type === "bytes" ? message.data : message.value();
    const after = lastError === undefined ? { attempts } : { attempts, error: lastError };
    io.print(jsonLine({ queue }, "message", value, after));
    return Promise.resolve();
  };
}

/**
 * Runs `commandLine` with the item on its standard input; rejects unless it exits 0, with its
 * exit code and the last line of its standard error (passed on to ours as it comes) as the
 * reason.
 */
function execItem(commandLine: string, io: CliIo): ItemWork {
  const [program, ...args] = execShell(commandLine);
  return async (message, { queue, attempts }) => {
    const child = new Deno.Command(program, {
      args,
      stdin: "piped",
      stdout: "inherit",
      stderr: "piped",
      env: {
        OVTP_QUEUE: queue,
        OVTP_MESSAGE_TYPE: message.type,
        OVTP_ATTEMPTS: String(attempts),
      },
    }).spawn();
    const lastLine = passOnStderr(child.stderr);
    const writer = child.stdin.getWriter();
    try {
      if (message.data.length > 0) await writer.write(message.data);
      await writer.close();
    } catch {
      // The command ended without reading all its input: that is its choice.
    }
    const { success, code } = await child.status;
    const line = await lastLine;
    if (!success) {
      io.printError(`ovtp: the command exited with ${code}; the item goes back to ${queue}`);
      throw new Error(`exit code ${code}${line === "" ? "" : `: ${line}`}`);
    }
  };
}

/** Longest tail of a command's standard error kept to find its last line, in bytes. */
const stderrTailBytes = 4096;

/** Copies a command's standard error to ours; resolves to its last non-empty line. */
async function passOnStderr(stderr: ReadableStream<Uint8Array>): Promise<string> {
  let tail = new Uint8Array(0);
  for await (const chunk of stderr) {
    try {
      for (let done = 0; done < chunk.length;) done += Deno.stderr.writeSync(chunk.subarray(done));
    } catch {
      // Our standard error is closed: the line is still kept.
    }
    const joined = new Uint8Array(Math.min(stderrTailBytes, tail.length + chunk.length));
    const all = new Uint8Array(tail.length + chunk.length);
    all.set(tail);
    all.set(chunk, tail.length);
    joined.set(all.subarray(all.length - joined.length));
    tail = joined;
  }
  const lines = new TextDecoder().decode(tail).split("\n").map((line) => line.trim());
  return lines.filter((line) => line !== "").at(-1) ?? "";
}
