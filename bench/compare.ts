// Benchmark scripts print their figures.
// deno-lint-ignore-file no-console
/**
 * ovtp side by side with Deno's own TLS 1.3 and plain TCP, in one run over loopback: bulk
 * copies, many files, messages, handshakes and memory. Each end runs as its own process
 * (bench/_peer.ts). Progress goes to stderr, the tables to stdout.
 *
 *   deno run -A bench/compare.ts [--size-mib 1024] [--runs 3] [--quick]
 *     [--only bulk,files,messages,handshakes,memory,storm] [--markdown BENCHMARKS.md]
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { PeerProcess, type PeerReport } from "./_spawn.ts";
import { summarize, type Summary } from "./_stats.ts";
import { makeTlsCertificate } from "./_tls_cert.ts";
import { stormSection } from "./_storm.ts";

const sectionNames = ["bulk", "files", "messages", "handshakes", "memory", "storm"] as const;
type SectionName = typeof sectionNames[number];

const usage = `Usage: deno run -A bench/compare.ts [options]
  --size-mib N     size of the bulk copy (default 1024; 16 with --quick)
  --runs N         runs of each measurement; the median is reported (default 3; 1 with --quick)
  --quick          small sizes, for CI (well under a minute)
  --only a,b       sections to run: ${sectionNames.join(", ")}
  --markdown FILE  also write the results as a complete Markdown file (BENCHMARKS.md)
  --help           show this help`;

const mib = 1024 * 1024;
const kib = 1024;
const messageBytes = 100;
/** Deno needs a few descriptors of its own besides the connections. */
const spareOpenFiles = 256;
/** Text under this line of an existing Markdown file is kept when it is rewritten. */
const keepMarker = "<!-- Generated above by bench/compare.ts; text below this line is kept. -->";

interface Settings {
  sizeMiB: number;
  runs: number;
  quick: boolean;
  sections: Set<SectionName>;
  markdown: string | undefined;
  largeFiles: { count: number; bytes: number };
  smallFiles: { count: number; bytes: number };
  messages: {
    /** Messages sent one at a time on one connection. */
    single: number;
    /** Messages sent `inFlight` at a time on one connection. */
    pipelined: number;
    inFlight: number;
    /** Messages sent over `connections` connections, one at a time on each. */
    spread: number;
    connections: number;
  };
  handshakeSeconds: number;
  /** Clients of the reconnect storm. */
  stormClients: number;
  idleConnections: number;
}

interface Table {
  title: string;
  header: string[];
  rows: string[][];
  notes: string[];
}

/** Figures that the memory section takes from the bulk section when both run. */
interface TransferMemory {
  putClient: number[];
  putServer: number[];
  getClient: number[];
  getServer: number[];
}

const peerScript = new URL("./_peer.ts", import.meta.url).pathname;
const cliScript = new URL("../cli.ts", import.meta.url).pathname;
const fixtureKeys = new URL("../tests/fixtures/keys/", import.meta.url).pathname;
const repositoryConfig = new URL("../deno.json", import.meta.url).pathname;

function parseSettings(args: string[]): Settings {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      "size-mib": { type: "string" },
      runs: { type: "string" },
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      markdown: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    Deno.exit(0);
  }
  const quick = values.quick;
  const positive = (text: string | undefined, fallback: number, name: string) => {
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`--${name} must be a positive whole number, not "${text}"`);
    }
    return value;
  };
  const sections = new Set<SectionName>();
  for (const name of (values.only ?? sectionNames.join(",")).split(",")) {
    if (!sectionNames.includes(name.trim() as SectionName)) {
      throw new RangeError(`--only: unknown section "${name}"; choose from ${sectionNames}`);
    }
    sections.add(name.trim() as SectionName);
  }
  return {
    sizeMiB: positive(values["size-mib"], quick ? 16 : 1024, "size-mib"),
    runs: positive(values.runs, quick ? 1 : 3, "runs"),
    quick,
    sections,
    markdown: values.markdown,
    largeFiles: { count: quick ? 10 : 100, bytes: mib },
    smallFiles: { count: quick ? 200 : 10_000, bytes: kib },
    messages: quick
      ? { single: 200, pipelined: 800, inFlight: 64, spread: 200, connections: 20 }
      : { single: 3_000, pipelined: 40_000, inFlight: 64, spread: 20_000, connections: 50 },
    handshakeSeconds: quick ? 1 : 5,
    stormClients: quick ? 50 : 1000,
    idleConnections: quick ? 20 : 1000,
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting

function progress(text: string): void {
  console.error(`  ${text}`);
}

const fixed = (value: number, digits: number) => value.toFixed(digits);
const mbps = (bytes: number, seconds: number) => bytes / seconds / 1e6;
const toMiB = (bytes: number) => bytes / mib;
const toKiB = (bytes: number) => bytes / kib;

/** `median (min–max)` with `digits` decimals; a single run has no range. */
function formatSummary(summary: Summary, digits: number): string {
  const median = fixed(summary.median, digits);
  if (summary.count === 1) return median;
  return `${median} (${fixed(summary.min, digits)}–${fixed(summary.max, digits)})`;
}

/** "met" or "missed: …" for a figure that must reach `target`. */
function atLeast(value: number, target: number, unit: string, digits = 0): string {
  if (value >= target) return `met (${fixed(value / target, 2)}× the target)`;
  return `missed by ${fixed(target - value, digits)} ${unit} (${
    fixed(value / target, 2)
  }× the target)`;
}

/** "met" or "missed: …" for a figure that must stay under `limit`. */
function below(value: number, limit: number, unit: string, digits = 1): string {
  if (value < limit) return `met (${fixed(value / limit * 100, 0)}% of the limit)`;
  return `missed by ${fixed(value - limit, digits)} ${unit} (${
    fixed(value / limit, 2)
  }× the limit)`;
}

function renderTable(table: Table): string {
  const lines = [`### ${table.title}`, ""];
  lines.push(`| ${table.header.join(" | ")} |`);
  lines.push(`|${table.header.map(() => "---").join("|")}|`);
  for (const row of table.rows) lines.push(`| ${row.join(" | ")} |`);
  if (table.notes.length > 0) lines.push("", ...table.notes.map((note) => `- ${note}`));
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Fixtures: files, certificate, keys, servers

/** Random bytes (Web Crypto fills at most 64 KiB at a time). */
function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return bytes;
}

/** Writes `length` bytes: one random MiB repeated, each copy numbered in its first bytes. */
async function writeSourceFile(path: string, length: number): Promise<void> {
  const block = randomBytes(mib);
  const view = new DataView(block.buffer);
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let written = 0; written < length;) {
    const n = Math.min(block.length, length - written);
    view.setUint32(0, written / mib);
    for (let offset = 0; offset < n;) offset += await file.write(block.subarray(offset, n));
    written += n;
  }
  // Flushed now, so that writing it back does not slow the first measurement's fsync.
  await file.syncData();
}

/** Writes `count` files of `length` random bytes into `dir`. */
async function writeFileSet(dir: string, count: number, length: number): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const width = String(count - 1).length;
  for (let i = 0; i < count; i++) {
    await Deno.writeFile(
      join(dir, `file-${String(i).padStart(width, "0")}.bin`),
      randomBytes(length),
    );
  }
}

async function removeIfPresent(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

interface Workspace {
  dir: string;
  certPath: string;
  keyPath: string;
  ovtpRoot: string;
  tlsRoot: string;
  tcpRoot: string;
  local: string;
  source: string | undefined;
}

async function makeWorkspace(dir: string): Promise<Workspace> {
  const workspace: Workspace = {
    dir,
    certPath: join(dir, "tls_cert.pem"),
    keyPath: join(dir, "tls_key.pem"),
    ovtpRoot: join(dir, "ovtp_root"),
    tlsRoot: join(dir, "tls_root"),
    tcpRoot: join(dir, "tcp_root"),
    local: join(dir, "local"),
    source: undefined,
  };
  for (
    const folder of [workspace.ovtpRoot, workspace.tlsRoot, workspace.tcpRoot, workspace.local]
  ) {
    await Deno.mkdir(folder);
  }
  const { cert, key } = await makeTlsCertificate();
  await Deno.writeTextFile(workspace.certPath, cert);
  await Deno.writeTextFile(workspace.keyPath, key, { mode: 0o600 });
  return workspace;
}

async function sourceFile(workspace: Workspace, settings: Settings): Promise<string> {
  if (workspace.source === undefined) {
    const path = join(workspace.dir, "source.bin");
    progress(`writing a ${settings.sizeMiB} MiB source file`);
    await writeSourceFile(path, settings.sizeMiB * mib);
    workspace.source = path;
  }
  return workspace.source;
}

interface OvtpServerPeer {
  peer: PeerProcess;
  port: number;
  fingerprint: string;
}

async function startOvtpServer(
  root: string,
  options: { v8Flags?: string[]; openFiles?: number } = {},
): Promise<OvtpServerPeer> {
  const peer = PeerProcess.start(peerScript, ["serve", root], options);
  const ready = await peer.next();
  return { peer, port: Number(ready.port), fingerprint: String(ready.fingerprint) };
}

async function startRawServer(
  kind: "tls" | "tcp" | "aead",
  workspace: Workspace,
  tls: { certPath: string; keyPath: string } = workspace,
): Promise<PeerServer> {
  const root = kind === "tls" ? workspace.tlsRoot : workspace.tcpRoot;
  // The Web Crypto pipeline shares the TCP copy's folder; the two never run at once.
  const peer = PeerProcess.start(peerScript, ["raw-serve", kind, root, tls.certPath, tls.keyPath]);
  const ready = await peer.next();
  return { peer, port: Number(ready.port) };
}

interface PeerServer {
  peer: PeerProcess;
  port: number;
}

async function runPeer(args: string[]): Promise<PeerReport> {
  return await PeerProcess.start(peerScript, args).finish();
}

// ---------------------------------------------------------------------------------------------
// The ovtp command line, when it has put and get

interface Cli {
  home: string;
}

async function detectCli(workspace: Workspace): Promise<Cli | undefined> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cliScript, "--help"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const help = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  // The usage lists each command at the start of a line.
  if (!/^\s*put\s/m.test(help) || !/^\s*get\s/m.test(help)) return undefined;
  const home = join(workspace.dir, "ovtp_home");
  await Deno.mkdir(home, { recursive: true });
  await Deno.copyFile(join(fixtureKeys, "alice"), join(home, "id_ovtp"));
  await Deno.copyFile(join(fixtureKeys, "alice.pub"), join(home, "id_ovtp.pub"));
  await Deno.chmod(join(home, "id_ovtp"), 0o600);
  return { home };
}

/** Runs `ovtp put|get` as a whole process; returns its wall time in seconds, or an error text. */
async function runCli(cli: Cli, args: string[]): Promise<number | string> {
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cliScript, ...args],
    env: { OVTP_HOME: cli.home },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  if (output.success) return seconds;
  const stderr = new TextDecoder().decode(output.stderr).trim();
  progress(`ovtp ${args[0]} failed (exit ${output.code}): ${stderr}`);
  return `failed (exit ${output.code})`;
}

// ---------------------------------------------------------------------------------------------
// 1. Bulk copy

async function ovtpTransfer(
  server: OvtpServerPeer,
  direction: "put" | "get",
  source: string,
  workspace: Workspace,
): Promise<{ seconds: number; bytes: number; clientGrowth: number; serverGrowth: number }> {
  const before = await server.peer.ask("mark");
  const local = join(workspace.local, "bulk.bin");
  const result = direction === "put"
    ? await runPeer(["put", String(server.port), source, "bulk.bin"])
    : await runPeer(["get", String(server.port), "bulk.bin", local]);
  const after = await server.peer.ask("mark");
  if (direction === "get") await Deno.remove(local);
  return {
    seconds: Number(result.seconds),
    bytes: Number(result.bytes),
    clientGrowth: Number(result.peakRss) - Number(result.baselineRss),
    serverGrowth: Number(after.peakRss) - Number(before.rss),
  };
}

async function bulkSection(
  settings: Settings,
  workspace: Workspace,
  memory: TransferMemory,
): Promise<Table> {
  const source = await sourceFile(workspace, settings);
  const bytes = settings.sizeMiB * mib;
  const cli = await detectCli(workspace);
  progress(cli === undefined ? "cli.ts has no put/get: CLI rows are n/a" : "cli.ts has put/get");
  const ovtp = await startOvtpServer(workspace.ovtpRoot);
  const tls = await startRawServer("tls", workspace);
  const tcp = await startRawServer("tcp", workspace);
  const aead = await startRawServer("aead", workspace);
  const speeds: Record<string, number[]> = {
    aead: [],
    put: [],
    get: [],
    cliPut: [],
    cliGet: [],
    tls: [],
    tcp: [],
  };
  const cliFailures: Record<string, string> = {};
  try {
    // One untimed copy first: the first 1 GiB written after start-up is often much slower.
    progress("[bulk] warm-up copy (not counted)");
    await runPeer(["raw-send", "tcp", String(tcp.port), source, "bulk.bin"]);
    await Deno.remove(join(workspace.tcpRoot, "bulk.bin"));
    for (let run = 1; run <= settings.runs; run++) {
      const tag = `[bulk ${run}/${settings.runs}]`;
      for (
        const [kind, server, root] of [
          ["tcp", tcp, workspace.tcpRoot],
          ["tls", tls, workspace.tlsRoot],
          ["aead", aead, workspace.tcpRoot],
        ] as const
      ) {
        const result = await runPeer([
          "raw-send",
          kind,
          String(server.port),
          source,
          "bulk.bin",
          workspace.certPath,
        ]);
        speeds[kind].push(mbps(bytes, Number(result.seconds)));
        progress(
          `${tag} ${kind === "aead" ? "Web Crypto pipeline" : `${kind.toUpperCase()} copy`}: ${
            fixed(speeds[kind].at(-1)!, 0)
          } MB/s`,
        );
        await Deno.remove(join(root, "bulk.bin"));
      }
      for (const direction of ["put", "get"] as const) {
        const result = await ovtpTransfer(ovtp, direction, source, workspace);
        if (result.bytes !== bytes) {
          throw new Error(`ovtp ${direction} moved ${result.bytes} bytes`);
        }
        speeds[direction].push(mbps(bytes, result.seconds));
        memory[`${direction}Client`].push(result.clientGrowth);
        memory[`${direction}Server`].push(result.serverGrowth);
        progress(
          `${tag} ovtp ${direction}: ${fixed(speeds[direction].at(-1)!, 0)} MB/s, RSS growth ` +
            `client ${fixed(toMiB(result.clientGrowth), 1)} MiB, server ${
              fixed(toMiB(result.serverGrowth), 1)
            } MiB`,
        );
      }
      if (cli !== undefined) {
        const target = `127.0.0.1:${ovtp.port}`;
        const common = ["--fingerprint", ovtp.fingerprint, "--force", "--quiet"];
        const local = join(workspace.local, "cli.bin");
        for (
          const [key, args] of [
            ["cliPut", ["put", ...common, source, `${target}:cli.bin`]],
            ["cliGet", ["get", ...common, `${target}:cli.bin`, local]],
          ] as const
        ) {
          if (cliFailures[key] !== undefined) continue;
          const result = await runCli(cli, [...args]);
          if (typeof result === "string") cliFailures[key] = result;
          else {
            speeds[key].push(mbps(bytes, result));
            progress(`${tag} ovtp ${args[0]} (CLI process): ${fixed(speeds[key].at(-1)!, 0)} MB/s`);
          }
        }
        await removeIfPresent(local);
        await removeIfPresent(join(workspace.ovtpRoot, "cli.bin"));
      }
      await Deno.remove(join(workspace.ovtpRoot, "bulk.bin"));
    }
  } finally {
    await Promise.all(
      [ovtp, tls, tcp, aead].map((server) => server.peer.finish()),
    );
  }

  const tlsMedian = summarize(speeds.tls).median;
  const tcpMedian = summarize(speeds.tcp).median;
  const putTarget = (median: number) =>
    `≥ TLS: ${atLeast(median, tlsMedian, "MB/s")}; ≥ 0.7× TCP: ${
      atLeast(median, 0.7 * tcpMedian, "MB/s")
    }`;
  const row = (
    label: string,
    values: number[],
    options: { ratios?: boolean; target?: (median: number) => string; missing?: string } = {},
  ): string[] => {
    if (values.length === 0) return [label, options.missing ?? "n/a", "", "", "", ""];
    const speed = summarize(values);
    return [
      label,
      formatSummary(speed, 0),
      fixed(bytes / speed.median / 1e6, 2),
      options.ratios ? `${fixed(speed.median / tlsMedian, 2)}×` : "",
      options.ratios ? `${fixed(speed.median / tcpMedian, 2)}×` : "",
      options.target?.(speed.median) ?? "",
    ];
  };
  const cliMissing = (key: string) =>
    cli === undefined ? "n/a (CLI not built)" : cliFailures[key] ?? "n/a";
  return {
    title: `1. Bulk copy: one ${settings.sizeMiB} MiB file, two processes`,
    header: ["copy", "MB/s", "seconds", "ovtp/TLS", "ovtp/TCP", "target"],
    rows: [
      row("ovtp put (library)", speeds.put, { ratios: true, target: putTarget }),
      row("ovtp get (library)", speeds.get, { ratios: true }),
      row("ovtp put (CLI process)", speeds.cliPut, {
        ratios: true,
        target: putTarget,
        missing: cliMissing("cliPut"),
      }),
      row("ovtp get (CLI process)", speeds.cliGet, { ratios: true, missing: cliMissing("cliGet") }),
      row("TLS 1.3 copy (Deno.startTls/listenTls)", speeds.tls),
      row("TCP copy (Deno.connect)", speeds.tcp),
      row("Web Crypto pipeline (no protocol)", speeds.aead),
    ],
    notes: [
      "MB/s = 10^6 bytes per second, from the first byte sent until the receiver has synced " +
      "and renamed the file (the sender waits for its acknowledgement); for get, until the " +
      "client's own rename. Connection set-up and handshake are not included, except in the " +
      "CLI rows, which time the whole `ovtp put`/`get` process.",
      "TLS and TCP copies go client → server (bench/_raw_copy.ts): 1 MiB file reads, 1 MiB " +
      "buffered writes, fdatasync, rename, folder fsync; reads and writes do not overlap.",
      "Web Crypto pipeline (bench/_aead_pipeline.ts): the least an encrypted copy with Web " +
      "Crypto does, client → server over TCP with a fixed key and no protocol: 1 MiB records " +
      "sealed with AES-256-GCM, 4 seals and 4 opens in flight, written in order, fdatasync, " +
      `rename. ovtp put (library) is ${
        fixed(summarize(speeds.put).median / summarize(speeds.aead).median, 2)
      }× it (target ≥ 1.0×).`,
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Many files

async function filesSection(settings: Settings, workspace: Workspace): Promise<Table> {
  const sets = [
    { name: "large", ...settings.largeFiles },
    { name: "small", ...settings.smallFiles },
  ];
  for (const set of sets) {
    progress(`writing ${set.count} files of ${set.bytes / kib} KiB`);
    await writeFileSet(join(workspace.dir, "sets", set.name), set.count, set.bytes);
  }
  // Flush them now, so that the first measurement's fsyncs do not also write them back.
  await new Deno.Command("sync").output().catch(() => {});
  const ovtp = await startOvtpServer(workspace.ovtpRoot);
  const tls = await startRawServer("tls", workspace);
  const tcp = await startRawServer("tcp", workspace);
  const rows: string[][] = [];
  try {
    for (const set of sets) {
      const local = join(workspace.dir, "sets", set.name);
      const seconds: Record<string, number[]> = { ovtp: [], tls: [], tcp: [] };
      // CPU time per file (user + system, every thread), in microseconds, of each end.
      const clientCpu: Record<string, number[]> = { ovtp: [], tls: [], tcp: [] };
      const serverCpu: Record<string, number[]> = { ovtp: [], tls: [], tcp: [] };
      const servers = { ovtp: ovtp.peer, tls: tls.peer, tcp: tcp.peer };
      for (let run = 1; run <= settings.runs; run++) {
        const tag = `[files ${set.count}×${set.bytes / kib} KiB ${run}/${settings.runs}]`;
        const remote = `${set.name}-${run}`;
        for (
          const [kind, args, root] of [
            ["tcp", ["raw-send", "tcp", String(tcp.port), local, remote], workspace.tcpRoot],
            [
              "tls",
              ["raw-send", "tls", String(tls.port), local, remote, workspace.certPath],
              workspace.tlsRoot,
            ],
            ["ovtp", ["putdir", String(ovtp.port), local, remote], workspace.ovtpRoot],
          ] as const
        ) {
          const serverBefore = Number((await servers[kind].ask("cpu")).cpuMs);
          const result = await runPeer([...args]);
          const serverMs = Number((await servers[kind].ask("cpu")).cpuMs) - serverBefore;
          if (Number(result.files) !== set.count) {
            throw new Error(`${kind} moved ${result.files} files, not ${set.count}`);
          }
          seconds[kind].push(Number(result.seconds));
          clientCpu[kind].push(Number(result.cpuMs) * 1000 / set.count);
          serverCpu[kind].push(serverMs * 1000 / set.count);
          progress(
            `${tag} ${kind}: ${fixed(Number(result.seconds), 2)} s, CPU per file: client ` +
              `${fixed(Number(result.cpuMs) * 1000 / set.count, 0)} µs, server ` +
              `${fixed(serverMs * 1000 / set.count, 0)} µs`,
          );
          await Deno.remove(join(root, remote), { recursive: true });
        }
      }
      for (
        const [kind, label] of [
          ["ovtp", "ovtp sendDirectory"],
          ["tls", "TLS 1.3, own protocol"],
          ["tcp", "TCP, own protocol"],
        ] as const
      ) {
        const time = summarize(seconds[kind]);
        // Each run's time against the TLS copy's in the same run, so that load shared by both
        // cancels out.
        const ratios = summarize(seconds[kind].map((value, i) => value / seconds.tls[i]));
        const target = kind === "ovtp" && set.name === "small"
          ? `≤ 1.0× TLS: ${ratios.median <= 1 ? "met" : `missed (${fixed(ratios.median, 2)}×)`}`
          : "";
        rows.push([
          `${set.count} × ${set.bytes / kib} KiB`,
          label,
          formatSummary(time, 2),
          fixed(set.count / time.median, 0),
          fixed(mbps(set.count * set.bytes, time.median), 1),
          formatSummary(ratios, 2),
          `${fixed(summarize(clientCpu[kind]).median, 0)} / ` +
          fixed(summarize(serverCpu[kind]).median, 0),
          target,
        ]);
      }
    }
  } finally {
    await Promise.all([ovtp.peer.finish(), tls.peer.finish(), tcp.peer.finish()]);
  }
  return {
    title: "2. Many files, uploaded as one folder over one connection",
    header: [
      "files",
      "how",
      "seconds",
      "files/s",
      "MB/s",
      "× TLS (same run)",
      "CPU µs/file (client / server)",
      "target",
    ],
    rows,
    notes: [
      "ovtp: `client.sendDirectory` (16 files in flight, each synced, renamed and its folder " +
      "synced by the server, each acknowledged).",
      "TLS/TCP: bench/_raw_copy.ts, pipelined on one connection (name, size, content per " +
      "file; the sender never waits), the receiver syncs and renames up to 16 files at once " +
      "and acknowledges the whole set at the end.",
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Messages

async function messagesSection(settings: Settings, workspace: Workspace): Promise<Table> {
  const ovtp = await startOvtpServer(workspace.ovtpRoot);
  const loads = [
    {
      label: "1 connection, 1 in flight",
      connections: 1,
      inFlight: 1,
      count: settings.messages.single,
    },
    {
      label: `1 connection, ${settings.messages.inFlight} in flight`,
      connections: 1,
      inFlight: settings.messages.inFlight,
      count: settings.messages.pipelined,
      target: 20_000,
    },
    {
      label: `${settings.messages.connections} connections, 1 in flight each`,
      connections: settings.messages.connections,
      inFlight: 1,
      count: settings.messages.spread,
    },
  ];
  const rows: string[][] = [];
  try {
    for (const load of loads) {
      const rates: number[] = [];
      const p50: number[] = [];
      const p99: number[] = [];
      for (let run = 1; run <= settings.runs; run++) {
        const result = await runPeer([
          "messages",
          String(ovtp.port),
          String(load.connections),
          String(load.inFlight),
          String(load.count),
          String(messageBytes),
        ]);
        rates.push(Number(result.count) / Number(result.seconds));
        p50.push(Number(result.p50Ms));
        p99.push(Number(result.p99Ms));
        progress(
          `[messages ${run}/${settings.runs}] ${load.label}: ${fixed(rates.at(-1)!, 0)}/s, ` +
            `p50 ${fixed(p50.at(-1)!, 2)} ms, p99 ${fixed(p99.at(-1)!, 2)} ms`,
        );
      }
      const rate = summarize(rates);
      rows.push([
        load.label,
        String(load.count),
        formatSummary(rate, 0),
        formatSummary(summarize(p50), 2),
        formatSummary(summarize(p99), 2),
        load.target === undefined
          ? ""
          : `≥ ${load.target.toLocaleString("en")}/s: ${
            atLeast(rate.median, load.target, "msgs/s")
          }`,
      ]);
    }
  } finally {
    await ovtp.peer.finish();
  }
  return {
    title: `3. Messages: ${messageBytes}-byte request, ${messageBytes}-byte reply (ovtp)`,
    header: ["load", "messages", "messages/s", "p50 ms", "p99 ms", "target"],
    rows,
    notes: [
      "`client.sendData` of random bytes; the server's handler echoes them. One client process " +
      "(all its connections) against one server process; timed after a warm-up round.",
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// 4. Handshakes

async function handshakesSection(settings: Settings, workspace: Workspace): Promise<Table> {
  // The same key strength as ovtp's keys, for comparison (the target is against ECDSA P-256).
  const rsa = await makeTlsCertificate({ key: { rsaBits: 3072 } });
  const rsaCertPath = join(workspace.dir, "tls_rsa_cert.pem");
  const rsaKeyPath = join(workspace.dir, "tls_rsa_key.pem");
  await Deno.writeTextFile(rsaCertPath, rsa.cert);
  await Deno.writeTextFile(rsaKeyPath, rsa.key, { mode: 0o600 });
  const ovtp = await startOvtpServer(workspace.ovtpRoot);
  const tls = await startRawServer("tls", workspace);
  const tlsRsa = await startRawServer("tls", workspace, {
    certPath: rsaCertPath,
    keyPath: rsaKeyPath,
  });
  const seconds = String(settings.handshakeSeconds);
  const kinds = [
    { key: "ovtp", args: ["handshakes", String(ovtp.port), seconds] },
    { key: "ovtpResumed", args: ["handshakes", String(ovtp.port), seconds, "resumed"] },
    { key: "tls", args: ["handshakes", String(tls.port), seconds, workspace.certPath] },
    { key: "tlsRsa", args: ["handshakes", String(tlsRsa.port), seconds, rsaCertPath] },
  ];
  const figures: Record<
    string,
    { rates: number[]; medians: number[]; closes: number[]; stalled: number; count: number }
  > = {};
  for (const { key } of kinds) {
    figures[key] = { rates: [], medians: [], closes: [], stalled: 0, count: 0 };
  }
  try {
    for (let run = 1; run <= settings.runs; run++) {
      for (const { key, args } of kinds) {
        const result = await runPeer(args);
        const figure = figures[key];
        figure.rates.push(Number(result.count) / Number(result.seconds));
        figure.medians.push(Number(result.p50UnstalledMs));
        if (Number.isFinite(Number(result.p50CloseMs))) {
          figure.closes.push(Number(result.p50CloseMs));
        }
        figure.stalled += Number(result.stalled);
        figure.count += Number(result.count);
        progress(
          `[handshakes ${run}/${settings.runs}] ${key}: ${fixed(figure.rates.at(-1)!, 0)}/s, ` +
            `median ${fixed(figure.medians.at(-1)!, 2)} ms without stalls, ${result.stalled} of ` +
            `${result.count} stalled`,
        );
      }
    }
  } finally {
    await Promise.all([ovtp.peer.finish(), tls.peer.finish(), tlsRsa.peer.finish()]);
  }
  const closeMedian = (key: string) => fixed(summarize(figures[key].closes).median, 2);
  /** Handshakes per second one after another if each took the median unstalled time. */
  const unstalled = (key: string) => 1000 / summarize(figures[key].medians).median;
  const row = (label: string, key: string, target: string) => {
    const figure = figures[key];
    return [
      label,
      formatSummary(summarize(figure.rates), 0),
      formatSummary(summarize(figure.medians), 2),
      fixed(unstalled(key), 0),
      `${figure.stalled} of ${figure.count}`,
      target,
    ];
  };
  return {
    title: "4. Handshakes, one at a time",
    header: [
      "handshake",
      "connections per second",
      "median handshake ms, unstalled",
      "per second at that median",
      "stalled > 35 ms",
      "target",
    ],
    rows: [
      row(
        "ovtp full",
        "ovtp",
        `≥ ½ TLS (at the median): ${atLeast(unstalled("ovtp"), unstalled("tls") / 2, "/s")}`,
      ),
      row(
        "ovtp resumed from a ticket",
        "ovtpResumed",
        `≥ 1.0× TLS ECDSA (at the median): ${
          atLeast(unstalled("ovtpResumed"), unstalled("tls"), "/s")
        }`,
      ),
      row("Deno TLS 1.3, ECDSA P-256 certificate", "tls", ""),
      row("Deno TLS 1.3, RSA-3072 certificate (for comparison)", "tlsRsa", ""),
    ],
    notes: [
      `Each for ${settings.handshakeSeconds} s after a warm-up, client and server in separate ` +
      "processes, one connection after another; the handshake is timed, the close is not. " +
      "ovtp: `new OvtpClient(...).connect()` timed, then `close()` (X25519, RSA-3072 keys " +
      "on both sides: the server decrypts with OAEP, the client signs with PSS). TLS: TCP " +
      "connect with TCP_NODELAY, `Deno.startTls`, `handshake()` timed, then close; self-signed " +
      "certificate made by bench/_tls_cert.ts, server authentication only. ovtp resumed: " +
      "each connection a new `OvtpClient` sharing one `sessionCache`, so each resumes with the " +
      "ticket the one before got (SPEC 4.6: fresh X25519 on both sides, no RSA). ovtp's " +
      "graceful close waits for the server's close record (a round trip) and TLS's does not, " +
      `so closes are left out of the handshake times: ovtp's took a median ${
        closeMedian("ovtp")
      } ms (full) and ${closeMedian("ovtpResumed")} ms (resumed), and they are in the ` +
      "connections per second.",
      "Deno TLS handshakes stall now and then for a delayed ACK: `Deno.listenTls` cannot set " +
      "TCP_NODELAY on the connections it accepts and rustls writes the server's flight in five " +
      "`sendto` calls, so Nagle holds the later ones until the client ACKs the first (up to 40 " +
      "ms). How often varies from run to run, so the as-measured rate swings widely (see its " +
      "min–max); the target compares the rates at the median time of the handshakes that did " +
      "not stall.",
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// 5. Memory

async function openFilesLimits(): Promise<{ soft: number; hard: number }> {
  const read = async (flag: string) => {
    const output = await new Deno.Command("sh", { args: ["-c", `ulimit ${flag}`], stdout: "piped" })
      .output();
    const text = new TextDecoder().decode(output.stdout).trim();
    return text === "unlimited" ? Infinity : Number(text);
  };
  return { soft: await read("-Sn"), hard: await read("-Hn") };
}

async function memorySection(
  settings: Settings,
  workspace: Workspace,
  transfers: TransferMemory,
): Promise<Table> {
  const notes: string[] = [];
  let connections = settings.idleConnections;
  const limits = await openFilesLimits();
  let openFiles: number | undefined;
  if (limits.soft < connections + spareOpenFiles) {
    if (limits.hard >= connections + spareOpenFiles) openFiles = connections + spareOpenFiles;
    else {
      connections = Math.max(1, limits.hard - spareOpenFiles);
      notes.push(`The open-files limit (${limits.hard}) allowed only ${connections} connections.`);
    }
  }
  const gcFlags = ["--expose-gc"];
  const server = await startOvtpServer(workspace.ovtpRoot, { v8Flags: gcFlags, openFiles });
  let idleServer: number;
  let perServer: { rss: number; js: number };
  let perClient: { rss: number; js: number };
  let opened: number;
  const perConnection = (before: PeerReport, after: PeerReport) => ({
    rss: (Number(after.rss) - Number(before.rss)) / connections,
    js: (Number(after.js) - Number(before.js)) / connections,
  });
  try {
    idleServer = Number((await server.peer.ask("mark")).rss);
    progress(`[memory] idle ovtp server: ${fixed(toMiB(idleServer), 1)} MiB`);
    const client = PeerProcess.start(
      peerScript,
      ["idle", String(server.port), String(connections)],
      {
        v8Flags: gcFlags,
        openFiles,
      },
    );
    try {
      const clientBefore = await client.next();
      const serverBefore = await server.peer.ask("mark");
      progress(`[memory] opening ${connections} idle connections`);
      const clientAfter = await client.ask("go");
      opened = Number(clientAfter.connections);
      const serverAfter = await server.peer.ask("mark");
      perServer = perConnection(serverBefore, serverAfter);
      perClient = perConnection(clientBefore, clientAfter);
      progress(
        `[memory] ${opened} connections in ${fixed(Number(clientAfter.seconds), 1)} s: server ` +
          `${fixed(toKiB(perServer.rss), 1)} KiB, client ${
            fixed(toKiB(perClient.rss), 1)
          } KiB each`,
      );
      await client.finish();
    } finally {
      await client.kill();
    }
  } finally {
    await server.peer.finish();
  }
  if (opened !== connections) {
    throw new Error(`Only ${opened} of ${connections} idle connections stayed up`);
  }

  if (transfers.putClient.length === 0) {
    progress("[memory] measuring a transfer each way (the bulk section did not run)");
    const source = await sourceFile(workspace, settings);
    const ovtp = await startOvtpServer(workspace.ovtpRoot);
    try {
      for (const direction of ["put", "get"] as const) {
        const result = await ovtpTransfer(ovtp, direction, source, workspace);
        transfers[`${direction}Client`].push(result.clientGrowth);
        transfers[`${direction}Server`].push(result.serverGrowth);
      }
    } finally {
      await ovtp.peer.finish();
      await removeIfPresent(join(workspace.ovtpRoot, "bulk.bin"));
    }
  }
  const growthRow = (label: string, values: number[]): string[] => {
    const peak = Math.max(...values);
    return [
      label,
      `${fixed(toMiB(peak), 1)} MiB`,
      `< 64 MiB: ${below(toMiB(peak), 64, "MiB")}`,
    ];
  };
  const size = `${settings.sizeMiB} MiB`;
  return {
    title: "5. Resident memory (RSS)",
    header: ["measurement", "value", "target"],
    rows: [
      ["idle ovtp server", `${fixed(toMiB(idleServer), 1)} MiB`, ""],
      ...([["server", perServer], ["client", perClient]] as const).map(([side, per]) => [
        `per idle authenticated connection, ${side} (${connections} connections)`,
        `${fixed(toKiB(per.rss), 1)} KiB (JS heap + buffers ${fixed(toKiB(per.js), 1)} KiB)`,
        `< 64 KiB: ${below(toKiB(per.rss), 64, "KiB")}`,
      ]),
      growthRow(`growth during a ${size} upload, client`, transfers.putClient),
      growthRow(`growth during a ${size} upload, server`, transfers.putServer),
      growthRow(`growth during a ${size} download, client`, transfers.getClient),
      growthRow(`growth during a ${size} download, server`, transfers.getServer),
    ],
    notes: [
      "`Deno.memoryUsage().rss` inside each process. Idle figures after forced GCs " +
      "(`--expose-gc`), the last one V8's memory-pressure GC, which also gives back the young " +
      "generation that the burst of handshakes grew (an idle process does the same by itself " +
      "within seconds); per connection = (RSS after opening them − RSS before) / count, after " +
      "one warm-up connection. Both ends are measured the same way.",
      "Growth during a transfer = peak RSS (sampled every 20 ms, no forced GC) − RSS just " +
      "before it; the largest over all runs.",
      ...notes,
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Report

async function machineDescription(): Promise<string> {
  let model = "unknown CPU";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    model = info.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? model;
  } catch {
    // Not Linux.
  }
  const memory = Deno.systemMemoryInfo();
  return `${navigator.hardwareConcurrency} cores, ${model}, ${
    fixed(memory.total / 1024 ** 3, 1)
  } GiB RAM, ${Deno.build.os} ${Deno.osRelease()} (${Deno.build.arch})`;
}

/** The 1-minute load average, to judge whether other work shared the machine. */
function loadAverage(): string {
  const [one] = Deno.loadavg();
  return fixed(one, 2);
}

interface RunInfo {
  command: string;
  minutes: number;
  loadBefore: string;
}

async function writeMarkdown(
  path: string,
  settings: Settings,
  tables: Table[],
  run: RunInfo,
): Promise<void> {
  let kept = "";
  try {
    const existing = await Deno.readTextFile(path);
    const at = existing.indexOf(keepMarker);
    if (at >= 0) kept = existing.slice(at + keepMarker.length).replace(/^\n+/, "");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const runs = settings.runs === 1
    ? "one run each"
    : `median of ${settings.runs} runs, min–max in brackets`;
  const text = [
    "# ovtp benchmarks",
    "",
    `Measured on ${new Date().toISOString().slice(0, 10)} by \`${run.command}\` ` +
    `(bench/compare.ts, ${fixed(run.minutes, 1)} minutes), ${runs}.`,
    "",
    `- Machine: ${await machineDescription()}`,
    `- Deno ${Deno.version.deno} (V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript})`,
    `- Load average (1 min) before the run: ${run.loadBefore} (other work on the machine ` +
    "shows up as noise in the figures).",
    "- Everything over loopback (127.0.0.1); client and server are separate processes.",
    "- Targets are those of issue 5 and, for handshakes, the reconnect storm, many small files and " +
    "idle memory, issue 14; each is shown next to the figure it applies to.",
    "",
    ...tables.flatMap((table) => [renderTable(table), ""]),
    "## How to regenerate",
    "",
    "```sh",
    "./denow task bench:compare --markdown BENCHMARKS.md   # --runs 1 to be quicker",
    "./denow task bench:quick                              # small sizes, under a minute",
    "```",
    "",
    keepMarker,
    "",
    kept,
  ].join("\n").trimEnd() + "\n";
  await Deno.writeTextFile(path, text);
  // Formatted as the repository's `deno fmt --check` expects (tables padded, lines wrapped).
  const formatted = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", "--config", repositoryConfig, path],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!formatted.success) throw new Error(`deno fmt could not format ${path}`);
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(settings: Settings): Promise<void> {
  const started = performance.now();
  const loadBefore = loadAverage();
  const tables: Table[] = [];
  const transfers: TransferMemory = { putClient: [], putServer: [], getClient: [], getServer: [] };
  const dir = await Deno.makeTempDir({ prefix: "ovtp_compare_" });
  try {
    const workspace = await makeWorkspace(dir);
    const sections: Record<SectionName, () => Promise<Table>> = {
      bulk: () => bulkSection(settings, workspace, transfers),
      files: () => filesSection(settings, workspace),
      messages: () => messagesSection(settings, workspace),
      handshakes: () => handshakesSection(settings, workspace),
      memory: () => memorySection(settings, workspace, transfers),
      storm: () =>
        stormSection({
          clients: settings.stormClients,
          runs: settings.runs,
          dir: workspace.dir,
          peerScript,
          progress,
          targetSeconds: 2,
        }),
    };
    for (const name of sectionNames) {
      if (!settings.sections.has(name)) continue;
      console.error(`${name}:`);
      tables.push(await sections[name]());
    }
  } finally {
    await PeerProcess.killAll();
    await Deno.remove(dir, { recursive: true });
  }
  const minutes = (performance.now() - started) / 60_000;
  console.log(tables.map(renderTable).join("\n\n"));
  if (settings.markdown !== undefined) {
    const command = [
      "deno task bench:compare",
      ...(settings.quick ? ["--quick"] : []),
      `--size-mib ${settings.sizeMiB}`,
      `--runs ${settings.runs}`,
      ...(settings.sections.size < sectionNames.length ? [`--only ${[...settings.sections]}`] : []),
    ].join(" ");
    await writeMarkdown(settings.markdown, settings, tables, {
      command,
      minutes,
      loadBefore,
    });
    console.error(`wrote ${settings.markdown}`);
  }
}

if (import.meta.main) {
  let settings: Settings;
  try {
    settings = parseSettings(Deno.args);
  } catch (error) {
    console.error(`compare.ts: ${(error as Error).message}\n\n${usage}`);
    Deno.exit(2);
  }
  await main(settings);
}
