/**
 * `ovtp serve --exec CMD` (and `pull --exec`): a message handler that runs a command line per
 * message, like ssh's forced command (the message on its standard input, its output the reply, its
 * exit code the status), with a cap on processes in all and per client key.
 *
 * @module
 */

import { formatHostPort } from "../address.ts";
import type { OvtpMessage } from "../message.ts";
import type { PeerConnection } from "../peer_connection.ts";
import type { OvtpHandler } from "../server.ts";
import { defaultMaxMessageBytes, type OvtpReply } from "../session/message_exchange.ts";
import { readUpTo } from "./_read_up_to.ts";

/** Default commands an {@linkcode execHandler} runs at once for the whole server. */
export const defaultMaxExecProcesses = 8;

/** Options of {@linkcode execHandler}. */
export interface ExecHandlerOptions {
  /** Largest standard output taken as the response; beyond it the command is killed. Default 16 MiB. */
  maxOutputBytes?: number;
  /**
   * Commands running at once, for all clients together; further messages wait their turn
   * (first come, first served) instead of starting a process. Default 8.
   */
  maxProcesses?: number;
  /**
   * Commands one client key runs at once, so that one key cannot hold every slot: its further
   * messages wait while other keys' are served. Default half of `maxProcesses`, at least 1.
   */
  maxProcessesPerKey?: number;
}

/**
 * The shell that runs an `--exec` command line: `sh -c` (`cmd /d /s /c` on Windows).
 *
 * @example
 * ```ts
 * import { execShell } from "./exec_handler.ts";
 * import assert from "node:assert/strict";
 *
 * if (Deno.build.os !== "windows") assert.deepEqual(execShell("wc -c"), ["sh", "-c", "wc -c"]);
 * ```
 */
export function execShell(commandLine: string): string[] {
  return Deno.build.os === "windows"
    ? ["cmd", "/d", "/s", "/c", commandLine]
    : ["sh", "-c", commandLine];
}

/**
 * A message handler that runs a command line for each message, as ssh's forced command does: the
 * message body is the command's standard input, its standard output the response (text when it
 * is UTF-8, else bytes), and its exit code the status (0 is `true`). Its standard error goes to
 * the server's. The command also gets `OVTP_PEER_FINGERPRINT`, `OVTP_PEER_COMMENT`,
 * `OVTP_PEER_ADDRESS` and `OVTP_MESSAGE_TYPE` (`text`, `json` or `bytes`) in its environment.
 *
 * At most `maxProcesses` commands run at once, and at most `maxProcessesPerKey` for one client
 * key; a message over either cap waits for a slot. A freed slot goes to the oldest waiting
 * message whose key is under its cap, so a key with many messages waiting does not hold up the
 * others. A waiting message whose connection closed is dropped without running its command
 * (answered `status: false`).
 *
 * @param commandLine Run with {@linkcode execShell}.
 * @param options The output limit and the caps on processes.
 * @returns The handler.
 * @throws {RangeError} A cap that is not a whole number above 0.
 *
 * @example Count the bytes of each message (needs --allow-run)
 * ```ts ignore
 * const server = serveOvtp({ identity, authorizedKeys }, execHandler("wc -c"));
 * ```
 */
export function execHandler(commandLine: string, options: ExecHandlerOptions = {}): OvtpHandler {
  const maxOutputBytes = options.maxOutputBytes ?? defaultMaxMessageBytes;
  const maxProcesses = options.maxProcesses ?? defaultMaxExecProcesses;
  const slots = new ExecSlots(
    maxProcesses,
    options.maxProcessesPerKey ?? Math.max(1, Math.floor(maxProcesses / 2)),
  );
  const [program, ...args] = execShell(commandLine);
  return async (message, peer) => {
    if (!await slots.acquire(peer.fingerprint, peer)) {
      return {
        status: false,
        response: "The connection closed while the message waited for a process; it was not run",
      };
    }
    try {
      return await run(message, peer);
    } finally {
      slots.release(peer.fingerprint);
    }
  };

  async function run(message: OvtpMessage, peer: PeerConnection): Promise<OvtpReply> {
    const child = new Deno.Command(program, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      env: {
        OVTP_PEER_FINGERPRINT: peer.fingerprint,
        OVTP_PEER_COMMENT: peer.comment,
        OVTP_PEER_ADDRESS: formatHostPort(peer.remoteAddr),
        OVTP_MESSAGE_TYPE: message.type,
      },
    }).spawn();
    const feeding = feed(child.stdin, message.data);
    const output = await readUpTo(child.stdout, maxOutputBytes, () => child.kill("SIGKILL"));
    const { success } = await child.status;
    await feeding;
    if (output === undefined) {
      return {
        status: false,
        response: `The command printed more than ${maxOutputBytes} bytes; it was stopped`,
      };
    }
    return { status: success, response: textOrBytes(output) };
  }
}

/** How often waiting calls are checked for a closed connection, so that they are let go. */
const closedCheckIntervalMs = 250;

interface Waiter {
  key: string;
  connection: { readonly closed: boolean };
  start: (granted: boolean) => void;
}

/**
 * The process slots of one {@linkcode execHandler}: at most `max` taken at once, at most
 * `maxPerKey` by one key. Calls that cannot take one wait in one first-come queue; a freed slot
 * goes to the oldest waiting call whose key is under its cap. Invariant: while a slot is free,
 * every waiting call belongs to a key at its cap.
 */
class ExecSlots {
  #max: number;
  #maxPerKey: number;
  #running = 0;
  #runningByKey = new Map<string, number>();
  #waiting: Waiter[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(max: number, maxPerKey: number) {
    for (const [name, value] of [["maxProcesses", max], ["maxProcessesPerKey", maxPerKey]]) {
      if (!Number.isSafeInteger(value) || (value as number) < 1) {
        throw new RangeError(`execHandler ${name} must be a whole number above 0, got ${value}`);
      }
    }
    this.#max = max;
    this.#maxPerKey = maxPerKey;
  }

  /**
   * Takes a slot for `key`, waiting for one if needed; resolves `false` (nothing taken) when
   * `connection` closed first.
   */
  acquire(key: string, connection: { readonly closed: boolean }): Promise<boolean> {
    if (connection.closed) return Promise.resolve(false);
    if (this.#free(key)) {
      this.#take(key);
      return Promise.resolve(true);
    }
    return new Promise((start) => {
      this.#waiting.push({ key, connection, start });
      if (this.#timer === undefined) {
        this.#timer = setInterval(() => this.#grant(), closedCheckIntervalMs);
      }
    });
  }

  /** Gives back a slot of `key` and hands the freed slots out. */
  release(key: string): void {
    this.#running--;
    const held = (this.#runningByKey.get(key) ?? 1) - 1;
    if (held > 0) this.#runningByKey.set(key, held);
    else this.#runningByKey.delete(key);
    this.#grant();
  }

  #free(key: string): boolean {
    return this.#running < this.#max && (this.#runningByKey.get(key) ?? 0) < this.#maxPerKey;
  }

  #take(key: string): void {
    this.#running++;
    this.#runningByKey.set(key, (this.#runningByKey.get(key) ?? 0) + 1);
  }

  /** Lets go the calls whose connection closed; starts, oldest first, those that may run. */
  #grant(): void {
    const still: Waiter[] = [];
    for (const waiter of this.#waiting) {
      if (waiter.connection.closed) {
        waiter.start(false);
      } else if (this.#free(waiter.key)) {
        this.#take(waiter.key);
        waiter.start(true);
      } else {
        still.push(waiter);
      }
    }
    this.#waiting = still;
    if (still.length === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

async function feed(stdin: WritableStream<Uint8Array>, data: Uint8Array): Promise<void> {
  const writer = stdin.getWriter();
  try {
    if (data.length > 0) await writer.write(data);
    await writer.close();
  } catch {
    // The command ended without reading all its input: that is its choice.
  }
}

function textOrBytes(bytes: Uint8Array): string | Uint8Array {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return bytes;
  }
}
