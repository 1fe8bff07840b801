/**
 * Runs benchmark peers as child processes that talk JSON lines: the child prints one JSON
 * object per line on stdout, the parent may send it lines on stdin and closes stdin to make it
 * finish. Every started process is remembered so that {@linkcode PeerProcess.killAll} can end
 * the ones still running (call it in a `finally`). Not part of the library.
 *
 * @module
 */

/** A JSON object a peer printed. */
export type PeerReport = Record<string, number | string | boolean | null>;

/** Options of {@linkcode PeerProcess.start}. */
export interface PeerStartOptions {
  /** Extra V8 flags, e.g. `--expose-gc`. */
  v8Flags?: string[];
  /** Raise the soft open-files limit of the child to this (through `sh -c "ulimit -n"`). */
  openFiles?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Longest wait for any one report, in ms. Default 15 minutes. */
  timeoutMs?: number;
}

const defaultTimeoutMs = 15 * 60_000;
const live = new Set<PeerProcess>();

/** One child process running a Deno script. */
export class PeerProcess {
  /** The script and arguments, for messages. */
  readonly label: string;
  #child: Deno.ChildProcess;
  #lines: AsyncIterator<string>;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #stdinClosed = false;
  #timeoutMs: number;
  #exited = false;

  private constructor(child: Deno.ChildProcess, label: string, timeoutMs: number) {
    this.#child = child;
    this.label = label;
    this.#timeoutMs = timeoutMs;
    this.#lines = readLines(child.stdout);
    this.#stdin = child.stdin.getWriter();
    child.status.finally(() => {
      this.#exited = true;
      live.delete(this);
    });
  }

  /** Starts `deno run -A [v8 flags] script ...args`. */
  static start(script: string, args: string[], options: PeerStartOptions = {}): PeerProcess {
    const denoArgs = [
      "run",
      "-A",
      ...(options.v8Flags?.length ? [`--v8-flags=${options.v8Flags.join(",")}`] : []),
      script,
      ...args,
    ];
    const [command, commandArgs] = options.openFiles === undefined ? [Deno.execPath(), denoArgs] : [
      "sh",
      ["-c", `ulimit -n ${options.openFiles} && exec "$0" "$@"`, Deno.execPath(), ...denoArgs],
    ];
    const child = new Deno.Command(command, {
      args: commandArgs,
      env: options.env,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const peer = new PeerProcess(
      child,
      `${script.split("/").at(-1)} ${args.join(" ")}`,
      options.timeoutMs ?? defaultTimeoutMs,
    );
    live.add(peer);
    return peer;
  }

  /** Kills every peer still running. */
  static async killAll(): Promise<void> {
    await Promise.all([...live].map((peer) => peer.kill()));
  }

  /** The next JSON line the peer prints. */
  async next(): Promise<PeerReport> {
    const line = await this.#nextLine();
    if (line === undefined) {
      const status = await this.#child.status;
      throw new Error(`${this.label} exited (code ${status.code}) without a report`);
    }
    return JSON.parse(line);
  }

  /** Sends one line on the peer's stdin. */
  async send(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(`${line}\n`));
  }

  /** Sends a line and returns the report it answers with. */
  async ask(line: string): Promise<PeerReport> {
    await this.send(line);
    return await this.next();
  }

  /** Closes stdin, waits for the peer to exit successfully and returns its last report. */
  async finish(): Promise<PeerReport> {
    await this.#closeStdin();
    let last: PeerReport | undefined;
    for (let line = await this.#nextLine(); line !== undefined; line = await this.#nextLine()) {
      last = JSON.parse(line);
    }
    const status = await this.#child.status;
    if (!status.success) throw new Error(`${this.label} failed (code ${status.code})`);
    if (last === undefined) throw new Error(`${this.label} exited without a report`);
    return last;
  }

  /** Ends the process if it still runs. */
  async kill(): Promise<void> {
    if (!this.#exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // It exited meanwhile.
      }
    }
    await this.#closeStdin();
    await this.#child.status;
    await this.#lines.return?.();
  }

  async #nextLine(): Promise<string | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const line = await Promise.race([
        this.#lines.next(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${this.label}: no report within ${this.#timeoutMs} ms`)),
            this.#timeoutMs,
          );
        }),
      ]);
      return line.done ? undefined : line.value;
    } finally {
      clearTimeout(timer);
    }
  }

  async #closeStdin(): Promise<void> {
    if (this.#stdinClosed) return;
    this.#stdinClosed = true;
    await this.#stdin.close().catch(() => {});
  }
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) if (line.trim() !== "") yield line;
  }
  if (pending.trim() !== "") yield pending;
}
