import { checkTopicPattern } from "../messaging/topic_pattern.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import { clientOptions, clientOptionsHelp, connectClient } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";
import { jsonLine, parseCount } from "./_json_line.ts";
import { parseTarget } from "./_message_input.ts";
import { parseCommandArgs } from "./parse_command_args.ts";

const options = {
  ...clientOptions,
  count: { type: "string", short: "n" },
} as const;

/** Signals that end `ovtp sub` normally. */
const stopSignals: Deno.Signal[] = ["SIGINT", "SIGTERM"];

/**
 * `ovtp sub HOST[:PORT] PATTERN...`: subscribes and prints one JSON line per message,
 * `{"topic":…,"message":…}`, until interrupted (or `--count` messages).
 *
 * @example Follow a topic
 * ```ts ignore
 * await subCommand.run(["metrics.example", "metrics.>"], denoIo());
 * ```
 */
export const subCommand: CliCommand = {
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
those; anything else is refused with exit code 5. A lost connection exits 6.

Options:
  -n, --count N           exit after N messages
${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs("sub", args, options, {
      min: 2,
      max: Infinity,
      names: "HOST[:PORT] PATTERN...",
    });
    const [target, ...patterns] = positionals;
    const address = parseTarget("sub", target);
    for (const pattern of patterns) {
      try {
        checkTopicPattern(pattern);
      } catch (error) {
        throw CliError.usage("sub", (error as Error).message);
      }
    }
    const count = parseCount("sub", values.count);
    const client = await connectClient("sub", address, values, io);
    let received = 0;
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => stop = resolve);
    const onSignal = () => stop();
    for (const signal of stopSignals) Deno.addSignalListener(signal, onSignal);
    try {
      const subscription = await client.subscribe(patterns, (message, topic) => {
        if (received >= count) return;
        received++;
        const value = message.type === "bytes" ? message.data : message.value();
        io.print(jsonLine({ topic }, "message", value));
        if (received >= count) stop();
      }, { onDropped: (dropped) => io.print(JSON.stringify({ dropped })) });
      if (!values.quiet) io.printError(`ovtp: subscribed to ${patterns.join(" ")}`);
      const ended = await Promise.race([stopped.then(() => undefined), subscription.closed]);
      if (ended !== undefined) throw ended;
      await subscription.unsubscribe();
    } finally {
      for (const signal of stopSignals) Deno.removeSignalListener(signal, onSignal);
      await client.close();
    }
    return ExitCode.ok;
  },
};
