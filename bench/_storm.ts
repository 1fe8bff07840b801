// The reconnect storm of bench/compare.ts (section "storm"): N library clients connected to a
// server process, the server killed (SIGKILL) and started again on the same port with the same
// identity key and the same ticket key file, and the time from the new server listening until
// every client has a reply to a request again, each reconnecting on its own (backoff with
// jitter, resuming with a ticket). Not part of the library.
import { join } from "node:path";
import { PeerProcess, type PeerReport } from "./_spawn.ts";
import { summarize } from "./_stats.ts";

/** What the storm section needs from the comparison. */
export interface StormOptions {
  /** Clients connected when the server is killed. */
  clients: number;
  /** How many storms; the median is reported. */
  runs: number;
  /** A scratch folder (the server's root and ticket key file go in it). */
  dir: string;
  /** bench/_peer.ts. */
  peerScript: string;
  /** Progress lines. */
  progress: (text: string) => void;
  /** The target, in seconds from the new server listening until all have a reply. */
  targetSeconds: number;
}

/** One storm's figures. */
export interface StormRun {
  /** Seconds from the new server listening until the last client had a reply. */
  allBackSeconds: number;
  /** Seconds until half of them had. */
  halfBackSeconds: number;
  /** Seconds from the kill until the new server listened. */
  downSeconds: number;
  /** Clients whose reconnection resumed from a ticket. */
  resumed: number;
  /** Clients whose reconnection made a full handshake (RSA on both sides). */
  full: number;
  /** Calls that failed (server down, connection shed) and were made again. */
  failedCalls: number;
  /** The new server's log events and refusal reasons during the storm. */
  serverEvents: PeerReport;
  /** CPU seconds the new server spent until all were back. */
  serverCpuSeconds: number;
  /** CPU seconds the clients' process spent from the kill until all were back. */
  clientsCpuSeconds: number;
}

/** Runs one storm: connect, kill the server, start it again, wait until all are back. */
export async function runStorm(options: StormOptions, run: number): Promise<StormRun> {
  const root = join(options.dir, `storm_root_${run}`);
  const ticketKeyFile = join(options.dir, `storm_ticket_keys_${run}`);
  await Deno.mkdir(root);
  const first = PeerProcess.start(options.peerScript, ["serve", root, "0", ticketKeyFile]);
  const port = String((await first.next()).port);
  const clients = PeerProcess.start(options.peerScript, [
    "storm-clients",
    port,
    String(options.clients),
  ]);
  let second: PeerProcess | undefined;
  try {
    await clients.next();
    const killedAtMs = Date.now();
    await first.kill();
    await clients.send("go");
    second = PeerProcess.start(options.peerScript, ["serve", root, port, ticketKeyFile]);
    const listening = await second.next();
    const listeningAtMs = Number(listening.listeningAtMs);
    const cpuBefore = Number((await second.ask("cpu")).cpuMs);
    const back = await clients.next();
    const cpuAfter = Number((await second.ask("cpu")).cpuMs);
    const serverEvents = await second.ask("log");
    return {
      allBackSeconds: (Number(back.lastReplyAtMs) - listeningAtMs) / 1000,
      halfBackSeconds: (Number(back.medianReplyAtMs) - listeningAtMs) / 1000,
      downSeconds: (listeningAtMs - killedAtMs) / 1000,
      resumed: Number(back.resumed),
      full: Number(back.full),
      failedCalls: Number(back.failedCalls),
      serverEvents,
      serverCpuSeconds: (cpuAfter - cpuBefore) / 1000,
      clientsCpuSeconds: Number(back.cpuMs) / 1000,
    };
  } finally {
    await clients.finish().catch(() => clients.kill());
    await second?.finish().catch(() => second?.kill());
    await first.kill();
  }
}

/** The storm section's table (the shape bench/compare.ts renders). */
export async function stormSection(options: StormOptions): Promise<{
  title: string;
  header: string[];
  rows: string[][];
  notes: string[];
}> {
  const runs: StormRun[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const result = await runStorm(options, run);
    runs.push(result);
    options.progress(
      `[storm ${run}/${options.runs}] all ${options.clients} back ${
        result.allBackSeconds.toFixed(2)
      } s after the new server listened (half: ${result.halfBackSeconds.toFixed(2)} s; down ${
        result.downSeconds.toFixed(2)
      } s), ${result.resumed} resumed, ${result.full} full, ${result.failedCalls} failed calls, ` +
        `CPU s: server ${result.serverCpuSeconds.toFixed(2)}, clients ${
          result.clientsCpuSeconds.toFixed(2)
        }, server events ${JSON.stringify(result.serverEvents)}`,
    );
  }
  const format = (values: number[], digits: number) => {
    const summary = summarize(values);
    return values.length === 1
      ? summary.median.toFixed(digits)
      : `${summary.median.toFixed(digits)} (${summary.min.toFixed(digits)}–${
        summary.max.toFixed(digits)
      })`;
  };
  const allBack = summarize(runs.map((run) => run.allBackSeconds)).median;
  const met = allBack <= options.targetSeconds;
  return {
    title: "6. Reconnect storm",
    header: [
      "storm",
      "all back, s after the new server listened",
      "half back, s",
      "server down, s",
      "resumed / full handshakes",
      "CPU s, server / clients",
      "target",
    ],
    rows: [[
      `${options.clients} clients, server killed and restarted`,
      format(runs.map((run) => run.allBackSeconds), 2),
      format(runs.map((run) => run.halfBackSeconds), 2),
      format(runs.map((run) => run.downSeconds), 2),
      runs.map((run) => `${run.resumed} / ${run.full}`).join(", "),
      `${format(runs.map((run) => run.serverCpuSeconds), 2)} / ${
        format(runs.map((run) => run.clientsCpuSeconds), 2)
      }`,
      `≤ ${options.targetSeconds} s: ${
        met ? "met" : `missed by ${(allBack - options.targetSeconds).toFixed(2)} s`
      }`,
    ]],
    notes: [
      `${options.clients} \`OvtpClient\`s in one process, each with its own session cache (as ` +
      "separate programs would have), are connected to an ovtp server process and have each " +
      "had a reply. The server is killed (SIGKILL) and started again on the same " +
      "port with the same key and ticket key file; meanwhile every client sends a message again " +
      "and again until one is answered, reconnecting on its own with the library's backoff " +
      "and jitter. Timed from the new server listening (its own clock) to the last reply " +
      "(the clients' clock; both the machine's wall clock). CPU: the new server's until all " +
      "were back, and the clients' process's from the kill; one core each would keep both " +
      "busy, so on 2 cores the larger of the two bounds the time.",
    ],
  };
}
