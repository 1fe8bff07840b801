/**
 * The last step of every command: turns whatever it threw into one terminal-safe line for standard
 * error and an exit code (`exit_codes.ts`), telling the library's errors apart by class (a refused
 * key is 3, a server key problem 4, a refused operation 5, a connection failure 6).
 *
 * @module
 */

import {
  AuthenticationError,
  ConnectionError,
  FileError,
  HostKeyError,
  KeyFileError,
  ProtocolError,
  RemoteError,
  TimeoutError,
} from "../errors.ts";
import { terminalSafe } from "./_terminal_text.ts";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { StreamError } from "../wire/protocol_codes.ts";

/** What the command says about a failure. */
export interface ErrorReport {
  /** The exit code. */
  exitCode: ExitCode;
  /** One line, without the `ovtp: ` prefix: what happened and what to do next. */
  message: string;
}

/**
 * What a client command was doing when it failed, so that the line names it in the user's terms
 * rather than the protocol's.
 */
export interface ErrorContext {
  /** The server as the user named it (`files.example:4822`). */
  server?: string;
  /** What was asked of the server, after "refused to" (`publish to "x"`). */
  request?: string;
  /** `--timeout` as the user gave it, in seconds (`10`). */
  timeoutSeconds?: string;
  /** Whether it failed while connecting (`connect`) or on a request once connected. */
  phase?: "connect" | "request";
}

/**
 * Turns any failure into an exit code and one line for standard error, naming what to do next.
 * Library errors are told apart by class, never by message text: a refused key is 3, a server key
 * that is unknown or changed is 4, a refused operation is 5 (a file error the server reported,
 * or a failed handler), a failed or timed-out connection is 6, and anything else is 1.
 *
 * The line is safe for a terminal ({@linkcode terminalSafe}): error messages carry text a peer
 * chose (a RESET's reason, a listed name), and the library keeps that text as it came.
 *
 * @param error What was thrown.
 * @returns The exit code and the line.
 *
 * @example Map a refused upload to exit code 5
 * ```ts
 * import { reportError } from "./report_error.ts";
 * import { FileError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const report = reportError(
 *   new FileError('The server refused "a.txt": it exists', {
 *     reason: "exists",
 *     path: "a.txt",
 *     remote: true,
 *   }),
 * );
 * assert.equal(report.exitCode, 5);
 * assert.match(report.message, /--force/);
 * ```
 */
export function reportError(error: unknown, context: ErrorContext = {}): ErrorReport {
  const { exitCode, message } = classify(error, context);
  return { exitCode, message: terminalSafe(oneLine(withoutOsErrorNumber(message))) };
}

/**
 * The same report as a {@linkcode CliError} (its cause the original error), for a step that
 * knows the context and lets `cli.ts` print it.
 *
 * @param error What was thrown.
 * @param context What the command was doing.
 * @returns A `CliError` unchanged, else a new one with the report's line and exit code.
 *
 * @example Name the request a server refused
 * ```ts
 * import { asCliError } from "./report_error.ts";
 * import { RemoteError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const error = asCliError(
 *   new RemoteError('The peer aborted stream 7: This key may not publish to "x"', { remoteCode: 13 }),
 *   { request: 'publish to "x"' },
 * );
 * assert.match(error.message, /^the server refused to publish to "x": not allowed for this key/);
 * assert.equal(error.exitCode, 5);
 * ```
 */
export function asCliError(error: unknown, context: ErrorContext): CliError {
  if (error instanceof CliError) return error;
  const { exitCode, message } = reportError(error, context);
  return new CliError(message, exitCode, { cause: error });
}

function classify(error: unknown, context: ErrorContext): ErrorReport {
  if (error instanceof CliError) return { exitCode: error.exitCode, message: error.message };
  if (error instanceof AuthenticationError) {
    return {
      exitCode: ExitCode.keyRefused,
      message: `${error.message}; the server's owner adds it with: ovtp authorize YOUR_KEY.pub`,
    };
  }
  if (error instanceof HostKeyError) return { exitCode: ExitCode.hostKey, message: hostKey(error) };
  if (error instanceof FileError) {
    return {
      exitCode: error.remote ? ExitCode.refused : ExitCode.failure,
      message: fileProblem(error),
    };
  }
  if (error instanceof RemoteError) return remoteProblem(error, context);
  if (error instanceof TimeoutError) {
    return { exitCode: ExitCode.connection, message: timeoutProblem(error, context) };
  }
  if (error instanceof ConnectionError) {
    // ssh's words for a name that does not resolve: the advice about the port would mislead.
    const lookup = /failed to lookup address information: ([^;]*)/.exec(error.message);
    if (lookup !== null && context.server !== undefined) {
      return {
        exitCode: ExitCode.connection,
        message: `Could not resolve hostname ${context.server.replace(/:\d+$/, "")}: ${
          lookup[1]
        }; check the name, or give it a HostName in $OVTP_HOME/config`,
      };
    }
    return {
      exitCode: ExitCode.connection,
      message: `${error.message}; check that \`ovtp serve\` runs there and the port is right`,
    };
  }
  if (error instanceof KeyFileError || error instanceof ProtocolError) {
    return { exitCode: ExitCode.failure, message: error.message };
  }
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return { exitCode: ExitCode.failure, message: permissionProblem(error as Error) };
  }
  if (error instanceof Error) return { exitCode: ExitCode.failure, message: error.message };
  return { exitCode: ExitCode.failure, message: String(error) };
}

function hostKey(error: HostKeyError): string {
  switch (error.problem) {
    case "unknown":
      return `The server ${error.host} presented an unknown key ${error.presented}; check it ` +
        `with the server's owner (\`ovtp fingerprint\` there prints it), then run again with ` +
        `--fingerprint ${error.presented} to pin it or --accept-new to record it in known_hosts`;
    case "mismatch":
      // The library's message names both fingerprints and, for known_hosts, the line to remove.
      return error.message.includes(error.presented) && error.expected !== undefined &&
          error.message.includes(error.expected)
        ? error.message
        : `The server ${error.host} presented key ${error.presented}, but ${
          error.expected ?? "another key"
        } was expected: someone may be intercepting the connection; check with the server's owner`;
    default:
      return `${error.message}; someone may be intercepting the connection`;
  }
}

/**
 * A file problem in scp's and sftp's words (`x.csv: No such file or directory`,
 * `www: Directory not empty`), with no stream numbers, OS error numbers or server paths: the one
 * wording of file errors for every command, those that transfer and the remote file commands.
 *
 * @param error What the library threw.
 * @param shownPath The path as the user typed it (default: the error's own).
 * @param forceOption The flag of the command that replaces an existing file, or null when it has
 *   none (`mkdir`).
 * @returns One line, without the `ovtp: ` prefix.
 *
 * @example
 * ```ts
 * import { fileProblem } from "./report_error.ts";
 * import { FileError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const gone = new FileError('The server refused "x.csv": Cannot read "x.csv": gone', {
 *   reason: "not_found",
 *   path: "x.csv",
 *   remote: true,
 * });
 * assert.equal(fileProblem(gone), "x.csv: No such file or directory");
 * ```
 */
export function fileProblem(
  error: FileError,
  shownPath: string = error.path,
  forceOption: string | null = "--force",
): string {
  const path = readablePath(shownPath);
  switch (error.reason) {
    case "not_found":
      return `${path}: No such file or directory`;
    case "exists":
      if (!error.remote) return `${path} already exists here; pass --force to replace it`;
      return forceOption === null
        ? `${path}: File exists`
        : `${path} already exists on the server; pass ${forceOption} to replace it`;
    case "not_empty":
      return `${path}: Directory not empty`;
    case "permission": {
      if (!error.remote) return `${path}: Permission denied`;
      // The server names the key's authorized_keys option ("its authorized_keys option
      // \"read-only\"", or "key is read-only" from older servers).
      const keyOption = /\b(?:key is |option ")(read-only|write-only|restrict)\b/.exec(
        error.message,
      )
        ?.[1];
      if (keyOption !== undefined) {
        return `${path}: Permission denied (the server lets this key ${
          keyOption === "write-only" ? "only write" : "only read"
        })`;
      }
      // The server's own rule ("This server serves no files") says what to ask its owner; an OS
      // error there would only repeat the path.
      const detail = peerDetail(error.message, error.path);
      return /^This (key|server) /.test(detail)
        ? `${path}: Permission denied by the server: ${detail}`
        : `${path}: Permission denied by the server`;
    }
    case "outside_root":
      return `${path}: Outside the folder the server serves; name a path inside it`;
    case "unsupported_type":
      if (!error.remote) return error.message;
      return /not a regular file|is a folder/.test(error.message)
        ? `${path}: not a regular file (put and get take -r for folders)`
        : `${path}: ${serverDetail(error.message)}`;
    case "io":
      return error.remote
        ? `The server could not store or read ${path}: ${
          peerDetail(error.message, error.path)
        }; the server's log says more`
        : error.message;
    default:
      return error.remote ? `${path}: ${serverDetail(error.message)}` : error.message;
  }
}

/**
 * The server's own explanation, without the library's `The server refused "x": ` and the
 * server's `Cannot VERB "x": ` prefixes: `it is more than 128 folders deep; remove …`.
 */
function serverDetail(message: string): string {
  const detail = withoutOsErrorNumber(message)
    .replace(/^The server refused "(?:[^"\\]|\\.)*": /, "")
    .replace(/^Cannot [a-z ]+ "(?:[^"\\]|\\.)*"(?: to "(?:[^"\\]|\\.)*")?: /, "");
  return detail.charAt(0).toUpperCase() + detail.slice(1);
}

/**
 * A reset from the server, in the user's terms: what it refused and why, with no stream number.
 * A refused request is exit code 5, one the server gave up on (it is stopping) 6.
 */
function remoteProblem(error: RemoteError, context: ErrorContext): ErrorReport {
  const request = context.request ?? "do this";
  const reason = streamReason(error.message);
  switch (error.remoteCode) {
    case StreamError.permission:
      return {
        exitCode: ExitCode.refused,
        message: `the server refused to ${request}: ${keyRule(reason)}`,
      };
    case StreamError.full:
      return {
        exitCode: ExitCode.refused,
        message: `the server refused to ${request}: ${reason}; try again later`,
      };
    case StreamError.unsupported:
      return {
        exitCode: ExitCode.refused,
        message: `the server cannot ${request}: it does not know this request (an older ovtp?)`,
      };
    case StreamError.cancel:
      // The server gave up on a stream it had accepted: it is stopping, or the other end of a
      // forward or a transfer went away. Not a refusal: exit 6, as a lost connection.
      return {
        exitCode: ExitCode.connection,
        message: `the server stopped the request to ${request}: ${reason}; run the command ` +
          `again once the server is back`,
      };
    case StreamError.internal:
      return {
        exitCode: ExitCode.refused,
        message: `the server failed to ${request}: ${reason}; the server's log may say more`,
      };
    case StreamError.connectFailed:
      return {
        exitCode: ExitCode.refused,
        message: `the server could not ${request}: ${reason}`,
      };
    default:
      return {
        exitCode: ExitCode.refused,
        message: `the server refused to ${request}: ${reason}`,
      };
  }
}

/** A timeout in the user's own unit: "timed out after 10 s" for `--timeout 10`. */
function timeoutProblem(error: TimeoutError, context: ErrorContext): string {
  const server = context.server ?? "the server";
  const advice = "check that the server is up, or allow more time with --timeout";
  if (context.timeoutSeconds === undefined) return `${error.message}; ${advice}`;
  const after = `timed out after ${context.timeoutSeconds} s`;
  return context.phase === "request"
    ? `${server}: no answer ${after.replace("timed out ", "")} (asked to ${
      context.request ?? "answer"
    }); ${advice}`
    : `${server}: connection ${after}; ${advice}`;
}

/**
 * Deno's refusal. Reading a path under `/dev` (`/dev/stdin`, `/dev/shm/…`) needs all
 * permissions, which a user of the `ovtp` task or binary cannot give: say what they can do.
 */
function permissionProblem(error: Error): string {
  const special = /^Requires all access to "(\/dev\/[^"]*)"/.exec(error.message);
  if (special === null) return error.message;
  const path = special[1];
  if (/^\/dev\/(stdin|stdout|fd\/[012])$/.test(path)) {
    return `${path}: ovtp cannot open files under /dev; write - for standard input or output`;
  }
  return `${path}: ovtp cannot open files under /dev; copy the file elsewhere first, or pipe ` +
    `it: cat ${path} | ovtp put - HOST:PATH`;
}

/**
 * A key's refusal without repeating the request: `This key may not publish to "x"` becomes
 * "not allowed for this key", keeping a parenthesis that names the option; other reasons (a
 * forward allow-list) are kept as they are.
 */
function keyRule(reason: string): string {
  const match = /^This key may not [^(]*?(\s*\(.*\))?$/.exec(reason);
  if (match === null) return reason;
  return `not allowed for this key${match[1] ?? ""}; the server's owner sets what it may do in ` +
    `authorized_keys`;
}

/** The reason a peer gave for a reset, without the library's "The peer aborted stream N: ". */
function streamReason(message: string): string {
  return message.replace(/^The peer aborted stream \d+: /, "");
}

/** The peer's detail after "The server refused "x": ", without repeating the path. */
function peerDetail(message: string, path: string): string {
  return message.replace(`The server refused ${JSON.stringify(path)}: `, "");
}

/** A path as scp prints it: bare, or in JSON quotes when it is empty or holds spaces, quotes or controls. */
function readablePath(path: string): string {
  // deno-lint-ignore no-control-regex -- control characters are what it looks for
  return path === "" || /[\s"\\\x00-\x1f\x7f-\x9f\u2028-\u202e]/.test(path)
    ? JSON.stringify(path)
    : path;
}

/** Deno's " (os error 2)" suffix says nothing to a user. */
function withoutOsErrorNumber(text: string): string {
  return text.replace(/ \(os error \d+\)/g, "");
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}
