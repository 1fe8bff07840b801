/**
 * Helpers for the command-line tests: run `cli.ts` as a subprocess, start `ovtp serve` and read
 * its ready line, and lay out temporary `OVTP_HOME` folders holding the fixture keys. Every
 * process started here is killed and awaited by its owner's `finally`.
 *
 * @module
 */

import { join } from "node:path";
import { fixtureIdentity, fixtureKeyPath, type FixtureName } from "../_fixtures.ts";

/** The entry point under test. */
export const cliPath: string = join(import.meta.dirname!, "..", "..", "cli.ts");

/** What a finished `ovtp` run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** Extra environment (`OVTP_HOME` above all). */
  env?: Record<string, string>;
  /** Standard input; none (`/dev/null`) without it. */
  stdin?: string | Uint8Array;
  /** Working folder. */
  cwd?: string;
  /** Deno's permission flags. Default `-A`. */
  permissions?: string[];
}

const decoder = new TextDecoder();

/** The `deno run` arguments that start the CLI with `args`. */
export function cliArgs(args: string[], permissions: string[] = ["-A"]): string[] {
  return ["run", ...permissions, "--no-prompt", cliPath, ...args];
}

/** Runs `ovtp ARGS` to its end. */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgs(args, options.permissions),
    env: { NO_COLOR: "1", ...options.env },
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(
      typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
    );
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Whether util-linux `script` is here to give a command a pseudo-terminal. */
export const hasScript: boolean = (() => {
  try {
    return new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** Runs `ovtp ARGS` with a pseudo-terminal as its standard streams (util-linux `script`). */
export async function runCliInTerminal(
  args: string[],
  options: RunCliOptions = {},
): Promise<CliRun> {
  const commandLine = [Deno.execPath(), ...cliArgs(args, options.permissions)].map(shellQuote).join(
    " ",
  );
  const { code, stdout, stderr } = await new Deno.Command("script", {
    args: ["-qec", commandLine, "/dev/null"],
    env: { NO_COLOR: "1", TERM: "xterm", ...options.env },
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A running `ovtp serve`. */
export interface ServeProcess {
  /** The port from the ready line. */
  port: number;
  /** `127.0.0.1:PORT`. */
  address: string;
  /** The ready line. */
  readyLine: string;
  /** Standard error so far. */
  stderr(): string;
  /** Waits until standard error matches `pattern` (it is read as it comes). */
  waitForStderr(pattern: RegExp): Promise<void>;
  /** Waits for a JSON log line on standard error whose fields include `fields`; returns it. */
  waitForEvent(fields: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Sends `signal` (default SIGTERM) unless it ended, and waits for the end. */
  stop(signal?: Deno.Signal): Promise<CliRun>;
}

const readyTimeoutMs = 15_000;

/**
 * Starts `ovtp serve --listen 127.0.0.1:0 ARGS` and waits for its ready line. The caller must
 * `stop()` it in a `finally`.
 */
export async function startServe(
  args: string[],
  options: RunCliOptions = {},
): Promise<ServeProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgs(["serve", "--listen", "127.0.0.1:0", ...args], options.permissions),
    env: { NO_COLOR: "1", ...options.env },
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  let resolveReady!: (line: string | undefined) => void;
  const ready = new Promise<string | undefined>((resolve) => resolveReady = resolve);
  const readingOut = (async () => {
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      stdout += text;
      const line = stdout.split("\n").find((line) => line.includes("listening on"));
      if (line !== undefined) resolveReady(line);
    }
    resolveReady(undefined);
  })();
  const readingErr = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) stderr += text;
  })();
  let ended = false;
  const status = child.status.then((status) => {
    ended = true;
    return status;
  });
  const stop = async (signal: Deno.Signal = "SIGTERM"): Promise<CliRun> => {
    if (!ended) {
      try {
        child.kill(signal);
      } catch {
        // It ended meanwhile.
      }
    }
    const { code } = await status;
    await Promise.all([readingOut, readingErr]);
    return { code, stdout, stderr };
  };
  const timer = setTimeout(() => resolveReady(undefined), readyTimeoutMs);
  const readyLine = await ready;
  clearTimeout(timer);
  if (readyLine === undefined) {
    const run = await stop("SIGKILL");
    throw new Error(`ovtp serve did not get ready (exit ${run.code}): ${run.stderr}`);
  }
  const port = Number(/listening on (?:127\.0\.0\.1|\[::\]):(\d+) /.exec(readyLine)?.[1]);
  return {
    port,
    address: `127.0.0.1:${port}`,
    readyLine,
    stderr: () => stderr,
    waitForStderr: (pattern) => waitFor(() => pattern.test(stderr)),
    waitForEvent: async (fields) => {
      let found: Record<string, unknown> | undefined;
      await waitFor(() => (found = findEvent(stderr, fields)) !== undefined);
      return found!;
    },
    stop,
  };
}

/** Temporary `OVTP_HOME` folders: a server and two clients, with fixture keys. */
export interface World {
  /** The temporary folder holding everything. */
  dir: string;
  /** `OVTP_HOME` of the server (key `server`; `authorized_keys` holds alice's key). */
  serverHome: string;
  /** `OVTP_HOME` of alice, whose key the server accepts. */
  aliceHome: string;
  /** `OVTP_HOME` of bob, whose key the server does not know. */
  bobHome: string;
  /** An empty folder for the server to serve. */
  root: string;
  /** The environment that makes `ovtp` use a home. */
  env(home: string): Record<string, string>;
  /** Removes everything. */
  cleanup(): Promise<void>;
}

/** Lays out a {@linkcode World} in a new temporary folder. */
export async function makeWorld(): Promise<World> {
  const dir = await Deno.makeTempDir({ prefix: "ovtp_cli_test_" });
  const serverHome = join(dir, "server");
  const aliceHome = join(dir, "alice");
  const bobHome = join(dir, "bob");
  const root = join(dir, "root");
  await Deno.mkdir(root);
  await installKey("server", serverHome);
  await installKey("alice", aliceHome);
  await installKey("bob", bobHome);
  await Deno.copyFile(join(aliceHome, "id_ovtp.pub"), join(serverHome, "authorized_keys"));
  return {
    dir,
    serverHome,
    aliceHome,
    bobHome,
    root,
    env: (home) => ({ OVTP_HOME: home }),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Copies a fixture key pair to `home/id_ovtp` and `home/id_ovtp.pub` (mode 0600). */
export async function installKey(name: FixtureName, home: string): Promise<void> {
  await Deno.mkdir(home, { recursive: true, mode: 0o700 });
  await Deno.copyFile(fixtureKeyPath(name), join(home, "id_ovtp"));
  await Deno.copyFile(`${fixtureKeyPath(name)}.pub`, join(home, "id_ovtp.pub"));
  if (Deno.build.os !== "windows") await Deno.chmod(join(home, "id_ovtp"), 0o600);
}

/** The fingerprint of a fixture key. */
export async function fixtureFingerprint(name: FixtureName): Promise<string> {
  return (await fixtureIdentity(name)).publicKey.fingerprint;
}

/** Waits until `condition()` holds, checking every 20 ms, for at most 10 s. */
export async function waitFor(condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether a path exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** The first JSON line of `text` whose fields include `fields`. */
export function findEvent(
  text: string,
  fields: Record<string, unknown>,
): Record<string, unknown> | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    const event = JSON.parse(line);
    if (Object.entries(fields).every(([key, value]) => event[key] === value)) return event;
  }
  return undefined;
}
