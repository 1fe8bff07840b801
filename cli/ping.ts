/**
 * `ovtp ping HOST[:PORT]`: connects, then measures round trips with the channel's PING record
 * (SPEC.md section 7, which every peer must answer with a PONG), printing them as `ping` does.
 * Parsing, the target, connecting and closing are the client-command skeleton's
 * (`client_command.ts`).
 *
 * @module
 */

import type { OvtpClient } from "../client.ts";
import type { CliCommand } from "./cli_command.ts";
import { CliError } from "./cli_error.ts";
import type { CliIo } from "./cli_io.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";
import { parseCount } from "./_json_line.ts";
import { StopSignals } from "./stop_signals.ts";

const msPerSecond = 1000;
/** How long a reply may take before it counts as lost, without `--timeout`. */
const defaultReplyTimeoutMs = 10_000;
/** Between two pings, without `-i`. */
const defaultIntervalMs = 1000;

/** What one run measured. */
interface PingResult {
  sent: number;
  times: number[];
}

/**
 * `ovtp ping HOST[:PORT] [-c N] [--interval SECONDS]`: round-trip times over an authenticated
 * connection, then a summary.
 *
 * @example Two pings
 * ```ts ignore
 * await pingCommand.run(["files.example", "-c", "2"], denoIo());
 * ```
 */
export const pingCommand: CliCommand = clientCommand({
  name: "ping",
  summary: "measure round trips to a server (and the handshake), as ping does",
  help: `Usage: ovtp ping [options] HOST[:PORT]

Connects to the server at HOST (port 4242 by default), says how long the handshake took and
whether the session was resumed, then sends a PING record every second and prints each reply:
  reply from HOST:PORT: seq=1 time=0.41 ms
until interrupted (Ctrl-C) or N pings, then the summary:
  2 sent, 2 received, min/avg/max = 0.38/0.40/0.41 ms
Every ovtp server answers PING (it is part of the channel); nothing else is asked of it. A reply
that takes longer than --timeout (default 10 s) counts as lost. Exits 0 when a reply came, else 6.

Options:
  -c, --count N           stop after N pings
  --interval SECONDS      wait this long between pings (default 1; -i is the identity)
${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  // No -i for the interval: -i is the identity in every client command, as in ssh.
  options: { count: { type: "string", short: "c" }, interval: { type: "string" } },
  arguments: { min: 1, max: 1, names: "HOST[:PORT]" },
  target: { argument: 0, withPath: false },
  request: () => "answer a ping",
  prepare({ values, positionals: [server] }, io) {
    const count = parseCount("ping", values.count);
    const intervalMs = parseSeconds(values.interval, "--interval", defaultIntervalMs, 0);
    const replyTimeoutMs = parseSeconds(values.timeout, "--timeout", defaultReplyTimeoutMs, 0);
    const startedMs = performance.now();
    return {
      use: async (client) => {
        const handshakeMs = performance.now() - startedMs;
        const resumed = client.lastHandshake?.resumed ? "resumed session" : "full handshake";
        if (!values.quiet) {
          io.print(`connected to ${server} in ${formatMs(handshakeMs)} ms (${resumed})`);
        }
        return await pingLoop(client, server, { count, intervalMs, replyTimeoutMs }, io);
      },
      report: ({ sent, times }) => {
        const min = Math.min(...times), max = Math.max(...times);
        const avg = times.reduce((sum, time) => sum + time, 0) / times.length;
        io.print(
          `${sent} sent, ${times.length} received` +
            (times.length === 0
              ? ""
              : `, min/avg/max = ${formatMs(min)}/${formatMs(avg)}/${formatMs(max)} ms`),
        );
        return times.length > 0 ? ExitCode.ok : ExitCode.connection;
      },
    };
  },
});

async function pingLoop(
  client: OvtpClient,
  server: string,
  { count, intervalMs, replyTimeoutMs }: {
    count: number;
    intervalMs: number;
    replyTimeoutMs: number;
  },
  io: CliIo,
): Promise<PingResult> {
  using stopping = new StopSignals();
  const result: PingResult = { sent: 0, times: [] };
  while (result.sent < count) {
    if (result.sent > 0) {
      const waited = await stopping.until(delay(intervalMs));
      if (waited === undefined) break;
    }
    result.sent++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const lost = new Promise<"lost">((resolve) => {
      timer = setTimeout(() => resolve("lost"), replyTimeoutMs);
    });
    const reply = await stopping.until(Promise.race([client.ping(), lost]));
    clearTimeout(timer);
    if (reply === undefined) break;
    if (reply === "lost") {
      io.print(`no reply from ${server}: seq=${result.sent} within ${replyTimeoutMs / 1000} s`);
      continue;
    }
    result.times.push(reply);
    io.print(`reply from ${server}: seq=${result.sent} time=${formatMs(reply)} ms`);
  }
  return result;
}

function delay(ms: number): Promise<true> {
  return new Promise((resolve) => setTimeout(() => resolve(true), ms));
}

/** `0.41`, `12.3`, `1042`: three significant figures or so, as ping prints them. */
function formatMs(ms: number): string {
  return ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

function parseSeconds(
  text: string | undefined,
  flag: string,
  fallbackMs: number,
  minSeconds: number,
): number {
  if (text === undefined) return fallbackMs;
  const seconds = Number(text);
  if (text.trim() === "" || !Number.isFinite(seconds) || seconds < minSeconds) {
    throw CliError.usage("ping", `${flag} takes a number of seconds, not "${text}"`);
  }
  return seconds * msPerSecond;
}
