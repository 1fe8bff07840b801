/**
 * `ovtp sub`: subscribe to topic patterns and print each message as one JSON line until stopped.
 * This file holds the command's help, its checks and its loop; parsing, the target, connecting and
 * closing are the client-command skeleton's (`client_command.ts`), waiting for a stop signal
 * `stop_signals.ts`'s.
 *
 * @module
 */

import type { OvtpClient } from "../client.ts";
import type { CliCommand } from "./cli_command.ts";
import { checkTopicArgument } from "./_topic_argument.ts";
import type { CliIo } from "./cli_io.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { jsonLine, parseCount } from "./_json_line.ts";
import { StopSignals } from "./stop_signals.ts";

/**
 * `ovtp sub HOST[:PORT] PATTERN...`: subscribes and prints one JSON line per message,
 * `{"topic":…,"message":…}`, until interrupted (or `--count` messages).
 *
 * @example Follow a topic
 * ```ts ignore
 * await subCommand.run(["metrics.example", "metrics.>"], denoIo());
 * ```
 */
export const subCommand: CliCommand = clientCommand({
  name: "sub",
  summary: "subscribe to topics and print each message as one JSON line",
  help: `Usage: ovtp sub [options] HOST[:PORT] PATTERN...

Subscribes to the topic PATTERNs at the server at HOST (port 4242 by default) and prints each
message as one JSON line until interrupted (Ctrl-C):
  {"topic":"metrics.cpu","message":…}
A text message is a JSON string, a JSON message the value itself, and bytes base64, marked
"encoding":"base64". In a pattern, * matches one token (metrics.*) and a final > one or more
(metrics.>). When we read too slowly and the server dropped messages, a line {"dropped":N} says
how many. A key whose authorized_keys line has topics="…" may subscribe only to patterns inside
those; anything else is refused with exit code 5. When our output is closed (| head), we exit 0.

Events are not kept: a subscriber that is away misses what was published meanwhile (use a work
queue, ovtp push and ovtp pull, for what must not be missed). A lost connection is made again,
with back-off, until stopped, and a line on standard error says that events may have been
missed; with --no-reconnect it exits 6 instead.

Options:
  -n, --count N           exit after N messages
  --no-reconnect          exit 6 when the connection is lost instead of connecting again
${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  options: { count: { type: "string", short: "n" }, "no-reconnect": { type: "boolean" } },
  arguments: { min: 2, max: Infinity, names: "HOST[:PORT] PATTERN..." },
  target: { argument: 0, withPath: false },
  request: ({ positionals: [, ...patterns] }) =>
    `subscribe to ${patterns.map((pattern) => JSON.stringify(pattern)).join(" ")}`,
  prepare({ values, positionals: [, ...patterns] }, io) {
    for (const pattern of patterns) checkTopicArgument("sub", pattern, { pattern: true });
    const count = parseCount("sub", values.count);
    return {
      use: (client) => follow(client, patterns, count, values.quiet === true, io),
      reconnect: values["no-reconnect"] !== true,
    };
  },
});

/**
 * Prints each message until stopped, `count` messages, a closed output, or a refusal or (without
 * reconnecting) a lost connection (thrown).
 */
async function follow(
  client: OvtpClient,
  patterns: string[],
  count: number,
  quiet: boolean,
  io: CliIo,
): Promise<void> {
  using stopping = new StopSignals();
  let received = 0;
  const subscription = await client.subscribe(patterns, (message, topic) => {
    if (received >= count) return;
    received++;
    const value = message.type === "bytes" ? message.data : message.value();
    io.print(jsonLine({ topic }, "message", value));
    if (received >= count || io.outputClosed()) stopping.stop();
  }, {
    onDropped: (dropped) => {
      io.print(JSON.stringify({ dropped }));
      if (io.outputClosed()) stopping.stop();
    },
    onResubscribed: () => {
      if (!quiet) {
        io.printError(
          `ovtp: subscribed again after a lost connection; events published meanwhile were missed`,
        );
      }
    },
  });
  if (!quiet) io.printError(`ovtp: subscribed to ${patterns.join(" ")}`);
  const lost = await stopping.until(subscription.closed);
  if (lost !== undefined) throw lost;
  await subscription.unsubscribe();
}
