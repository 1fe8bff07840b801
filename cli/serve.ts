/**
 * `ovtp serve`: the server command. It checks its flags and the permissions of the ovtp folder
 * and authorized_keys (as sshd does), starts `serveOvtp` with a handler (a receipt, or `--exec CMD`
 * through `exec_handler.ts`), logs one JSON line per event on standard error, and serves until a
 * stop signal (`stop_signals.ts`): the first lets requests in flight finish, a second stops at once.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { formatHostPort, type HostPort, parseHostPort } from "../address.ts";
import { assertNotWritableByOthers } from "../crypto/_file.ts";
import { AuthorizedKeys } from "../crypto/authorized_keys.ts";
import { QueueStoreError } from "../errors.ts";
import type { OvtpMessage } from "../message.ts";
import {
  defaultMaxDeliveries,
  defaultMaxRetryDelayMs,
  defaultRetryDelayMs,
} from "../messaging/messaging_protocol.ts";
import type { PeerInfo } from "../peer_connection.ts";
import { type OvtpHandler, serveOvtp } from "../server.ts";
import { formatLogLine } from "../server_log.ts";
import { ForwardAllowList } from "../forward/forward_allow_list.ts";
import { formatKey } from "./_format.ts";
import { terminalSafeJson } from "./_terminal_text.ts";
import { addKeys } from "./add_keys.ts";
import { checkRunPermission } from "./_run_permission.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import type { CliIo } from "./cli_io.ts";
import { defaultMaxExecProcesses, execHandler } from "./exec_handler.ts";
import { ExitCode } from "./exit_codes.ts";
import { loadIdentityFile } from "./load_identity_file.ts";
import { ovtpHomeFiles } from "./ovtp_home.ts";
import { parseCommandArgs } from "./parse_command_args.ts";
import { StopSignals } from "./stop_signals.ts";

const options = {
  listen: { type: "string", short: "l" },
  root: { type: "string" },
  "threaded-file-calls": { type: "boolean" },
  "forward-allow": { type: "string", multiple: true },
  exec: { type: "string" },
  "max-exec": { type: "string" },
  "add-keys": { type: "string", multiple: true },
  "queue-db": { type: "string" },
  "max-deliveries": { type: "string" },
  "retry-delay": { type: "string" },
  home: { type: "string" },
  identity: { type: "string", short: "i" },
  "authorized-keys": { type: "string" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean", short: "v" },
} as const;

const defaultListenHost = "0.0.0.0";
const defaultListenPort = 4242;
const previewChars = 80;
const queueDbName = "queues.db";
const msPerSecond = 1000;
const maxRetryDelayS = defaultMaxRetryDelayMs / msPerSecond;

/**
 * `ovtp serve`: answers authorized clients until SIGINT or SIGTERM, then lets requests in flight
 * finish and exits 0 (a second signal stops at once, exit code 1).
 *
 * @example Serve a folder on a free port
 * ```ts ignore
 * await serveCommand.run(["--listen", "127.0.0.1:0", "--root", "./shared"], denoIo());
 * ```
 */
export const serveCommand: CliCommand = {
  name: "serve",
  summary: "answer messages and file requests from authorized clients until stopped",
  help:
    `Usage: ovtp serve [--listen HOST:PORT] [--root DIR] [--exec CMD [--max-exec N]] [--add-keys PATH]…

Serves until SIGINT (Ctrl-C) or SIGTERM, then lets requests in flight finish and exits 0. When
ready it prints one line on standard output: "listening on HOST:PORT with key SHA256:…". Only
clients whose keys are in authorized_keys get in; the file is read again whenever it changes.

By default each message is answered {"status": true, "response": "received N bytes"}. With --exec CMD, each message runs CMD through
"sh -c" (one process per message): the message is its standard input, its standard output the
response, its exit code the status (0 is true), like ssh's forced command. CMD also gets
OVTP_PEER_FINGERPRINT, OVTP_PEER_COMMENT, OVTP_PEER_ADDRESS and OVTP_MESSAGE_TYPE.

Logs one JSON line per event on standard error: "message" (sender, type, size, status; the
content only with --verbose), "connection" (an authenticated connection ended: bytes, duration),
"refused" (which check or limit turned a connection away, and the key when known), "warning"
(authorized_keys changed and has a problem: a line skipped, or the file became writable by
others, which admits nobody), "error", "stopping" and "stopped".

Like sshd, it refuses to start when the group or others may write the ovtp folder, the
authorized_keys file or the folder holding it (exit code 1; fix with chmod go-w). It refuses to
start, too, when the queue database is corrupt, unreadable or used by another server: it never
starts empty in its place.

Options:
  -l, --listen HOST:PORT   where to listen (default ${defaultListenHost}:${defaultListenPort}); port 0 picks a free
                           port; a bare PORT listens on every address
  --root DIR               serve this folder's files (put, get, hash); without it, every file
                           operation is refused
  --threaded-file-calls    make the file system calls of uploads on worker threads, so that a
                           hung network file system under --root holds only its own transfers
                           (default: inline, faster for many small files on a local disk)
  --forward-allow HOST:PORT
                           let clients forward to HOST:PORT (HOST:* for any port), as with
                           "ovtp forward -L"; may be repeated; without it, every forward is
                           refused
  --exec CMD               answer each message with CMD, as above (needs --allow-run)
  --max-exec N             run at most N commands at once (default ${defaultMaxExecProcesses}), and at most half
                           of N (at least 1) for one client key; further messages wait
                           their turn
  --add-keys PATH          authorize the keys of a .pub file or of a folder of them first
                           (as ovtp authorize does); may be repeated
  --queue-db FILE          keep the work queues in this SQLite file (default
                           $OVTP_HOME/queues.db, created with mode 0600); a push is answered once
                           its item is on disk, and items survive a restart or a crash.
                           :memory: keeps them in memory only (lost when the server stops)
  --max-deliveries N       hand an item out at most N times (default ${defaultMaxDeliveries}); after N failed
                           deliveries it moves to the queue QUEUE.dead
  --retry-delay SECONDS    wait before a failed item is handed out again (default ${
      defaultRetryDelayMs / msPerSecond
    }); it
                           doubles with each failure, with jitter, up to 5 minutes
  -i, --identity FILE      the server's private key (default $OVTP_HOME/id_ovtp)
  --authorized-keys FILE   the client keys let in (default $OVTP_HOME/authorized_keys)
  --home DIR               the ovtp folder (default $OVTP_HOME, else ~/.ovtp)
  -q, --quiet              log only refusals and failures
  -v, --verbose            log the start of each message's content, and stack traces

Needs --allow-net --allow-read --allow-env --allow-write (--allow-write only for --root or
--add-keys with --queue-db :memory:), and --allow-run=sh with --exec.`,

  async run(args, io) {
    const { values } = parseCommandArgs("serve", args, options, { min: 0, max: 0, names: "" });
    const { hostname, port } = parseListen(values.listen);
    const files = ovtpHomeFiles(values);
    await checkPermissions(files.home, files.authorizedKeys);
    const root = values.root === undefined ? undefined : await checkRoot(values.root);
    const forwardAllow = parseForwardAllow(values["forward-allow"] ?? []);
    if (values.exec !== undefined) checkRunPermission("serve", "message", values.exec);
    const maxProcesses = parseMaxExec(values["max-exec"], values.exec);
    const queueStore = values["queue-db"] ??
      join(ovtpHomeFiles({ home: values.home }).home!, queueDbName);
    const maxDeliveries = parseMaxDeliveries(values["max-deliveries"]);
    const retryDelayMs = parseRetryDelay(values["retry-delay"]);
    const identity = await loadIdentityFile(files.identity);
    if (values["add-keys"] !== undefined) {
      for (const { key, added } of await addKeys(values["add-keys"], files.authorizedKeys)) {
        if (!values.quiet) {
          io.printError(`ovtp: ${added ? "authorized" : "already authorized"} ${formatKey(key)}`);
        }
      }
    }

    const log = (event: string, fields: Record<string, unknown>, failure = false) => {
      if (values.quiet && !failure) return;
      // Fields hold a client's text (key comment, error reasons, message previews).
      io.printError(
        terminalSafeJson(JSON.stringify({ event, time: new Date().toISOString(), ...fields })),
      );
    };
    const authorizedKeys = await openAuthorizedKeys(files.authorizedKeys, io, log);
    const answer = values.exec === undefined
      ? receiveHandler
      : execHandler(values.exec, { maxProcesses });
    const handler: OvtpHandler = async (message, peer) => {
      const reply = await answer(message, peer);
      log("message", {
        ...describePeer(peer),
        type: message.type,
        bytes: message.data.length,
        status: reply.status,
        ...(values.verbose ? { preview: preview(message) } : {}),
      });
      return reply;
    };
    let server;
    try {
      server = serveOvtp({
        identity,
        authorizedKeys,
        hostname,
        port,
        root,
        fileCalls: values["threaded-file-calls"] ? "threaded" : "inline",
        forwardAllow,
        queueStore,
        messaging: { maxDeliveries, retryDelayMs },
        ticketKeyFile: ticketKeyFile(files.home, files.identity),
        onLog: (event) => {
          const failure = event.event !== "connection" || event.result === "error";
          if (!values.quiet || failure) io.printError(terminalSafeJson(formatLogLine(event)));
        },
        onError: (error, peer) => {
          log("error", {
            ...(peer === undefined ? {} : describePeer(peer)),
            error: error instanceof Error ? error.message : String(error),
            ...(values.verbose && error instanceof Error ? { stack: error.stack } : {}),
          }, true);
        },
      }, handler);
    } catch (error) {
      if (error instanceof QueueStoreError) {
        throw new CliError(error.message, ExitCode.failure, { cause: error });
      }
      throw new CliError(
        `Cannot listen on ${formatHostPort({ hostname, port })}: ${(error as Error).message}; ` +
          `pick another address or port with --listen`,
        ExitCode.failure,
        { cause: error },
      );
    }
    // The "listening on" line is printed once the stop signals are caught, so a supervisor that
    // sends SIGTERM as soon as it reads the line gets a graceful stop (exit 0), not a kill.
    return await untilStopped(server, log, () =>
      io.print(
        `listening on ${formatHostPort(server.addr)} with key ${identity.publicKey.fingerprint}, ` +
          (root === undefined ? "serving no files (no --root)" : `serving files from ${root}`),
      ));
  },
};

function parseForwardAllow(entries: string[]): string[] {
  try {
    ForwardAllowList.parse(entries);
  } catch (error) {
    throw CliError.usage("serve", (error as Error).message);
  }
  return entries;
}

function parseMaxDeliveries(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const count = /^\d{1,9}$/.test(text) ? Number(text) : 0;
  if (count < 1) {
    throw CliError.usage("serve", `--max-deliveries takes a whole number above 0, not "${text}"`);
  }
  return count;
}

function parseRetryDelay(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (text.trim() === "" || !Number.isFinite(seconds) || seconds < 0 || seconds > maxRetryDelayS) {
    throw CliError.usage(
      "serve",
      `--retry-delay takes a number of seconds from 0 to ${maxRetryDelayS}, not "${text}"`,
    );
  }
  return Math.round(seconds * msPerSecond);
}

function parseMaxExec(text: string | undefined, exec: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (exec === undefined) throw CliError.usage("serve", "--max-exec applies only with --exec CMD");
  const count = /^\d{1,9}$/.test(text) ? Number(text) : 0;
  if (count < 1) {
    throw CliError.usage("serve", `--max-exec takes a whole number above 0, not "${text}"`);
  }
  return count;
}

function parseListen(text: string | undefined): HostPort {
  if (text === undefined) return { hostname: defaultListenHost, port: defaultListenPort };
  const bare = /^:?(\d{1,5})$/.exec(text);
  try {
    return parseHostPort(bare === null ? text : `${defaultListenHost}:${bare[1]}`);
  } catch {
    throw CliError.usage("serve", `--listen takes HOST:PORT, [IPv6]:PORT or PORT, not "${text}"`);
  }
}

async function checkRoot(root: string): Promise<string> {
  const path = resolve(root);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw new CliError(`Cannot serve ${path}: ${(error as Error).message}`, undefined, {
      cause: error,
    });
  }
  if (!info.isDirectory) throw new CliError(`Cannot serve ${path}: it is not a folder`);
  return await Deno.realPath(path);
}

/**
 * Refuses to serve, like sshd's StrictModes, when the group or others may write the ovtp folder,
 * the authorized_keys file or its folder: they could let their own key in.
 */
/**
 * `$OVTP_HOME/ticket_keys` (next to the identity when no home is used), if we may write it:
 * without --allow-write the session ticket keys stay in memory (clients then resume only until
 * the server restarts).
 */
function ticketKeyFile(home: string | undefined, identity: string): string | undefined {
  const path = join(home ?? dirname(identity), "ticket_keys");
  const query = Deno.permissions.querySync({ name: "write", path });
  return query.state === "granted" ? path : undefined;
}

async function checkPermissions(home: string | undefined, authorizedKeys: string): Promise<void> {
  if (home !== undefined) await assertNotWritableByOthers(home, `The ovtp folder "${home}"`);
  await AuthorizedKeys.checkPermissions(authorizedKeys);
}

/**
 * Follows the authorized_keys file and reads it once now: its problems are printed at start, and
 * those of later reads (a line skipped, the file made writable by others) logged as "warning".
 */
async function openAuthorizedKeys(
  path: string,
  io: CliIo,
  log: (event: string, fields: Record<string, unknown>, failure?: boolean) => void,
): Promise<AuthorizedKeys> {
  let started = false;
  const authorizedKeys = AuthorizedKeys.fromFile(path, {
    onWarning: (warning) => {
      if (started) log("warning", { file: path, detail: warning }, true);
      else io.printError(`ovtp: ${path}: ${warning}`);
    },
  });
  await authorizedKeys.refresh();
  started = true;
  if (authorizedKeys.size === 0) {
    io.printError(
      `ovtp: no client key is authorized yet in ${path}: add one with ovtp authorize CLIENT.pub ` +
        `(no restart needed)`,
    );
  }
  return authorizedKeys;
}

const receiveHandler: OvtpHandler = (message) => ({
  status: true,
  response: `received ${message.data.length} bytes`,
});

function describePeer(peer: PeerInfo): Record<string, string> {
  return {
    remote: formatHostPort(peer.remoteAddr),
    fingerprint: peer.fingerprint,
    comment: peer.comment,
  };
}

/** The start of a text or JSON message, for --verbose; never bytes. */
function preview(message: OvtpMessage): string | null {
  if (message.type === "bytes") return null;
  try {
    const text = message.text();
    return text.length > previewChars ? `${text.slice(0, previewChars)}…` : text;
  } catch {
    return null;
  }
}

/**
 * Serves until a stop signal: the first closes the server and lets requests in flight finish
 * (exit code 0), a second stops at once (exit code 1).
 */
async function untilStopped(
  server: { close(): Promise<void>; finished: Promise<void> },
  log: (event: string, fields: Record<string, unknown>) => void,
  ready: () => void,
): Promise<number> {
  using stopping = new StopSignals({
    onSignal: (count) => {
      if (count > 1) {
        log("stopping", { detail: "second signal: not waiting for requests in flight" });
        return true;
      }
      log("stopping", { detail: "no new connections; letting requests in flight finish" });
      server.close();
      return false;
    },
  });
  ready();
  const outcome = await stopping.until(server.finished.then(() => ExitCode.ok)) ??
    ExitCode.failure;
  if (outcome === ExitCode.ok) log("stopped", {});
  return outcome;
}
