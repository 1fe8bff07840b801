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

/** What the command says about a failure. */
export interface ErrorReport {
  /** The exit code. */
  exitCode: ExitCode;
  /** One line, without the `ovtp: ` prefix: what happened and what to do next. */
  message: string;
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
export function reportError(error: unknown): ErrorReport {
  const { exitCode, message } = classify(error);
  return { exitCode, message: terminalSafe(oneLine(message)) };
}

function classify(error: unknown): ErrorReport {
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
  if (error instanceof RemoteError) {
    return {
      exitCode: ExitCode.refused,
      message: `${error.message}; the server's log may say more`,
    };
  }
  if (error instanceof TimeoutError) {
    return {
      exitCode: ExitCode.connection,
      message: `${error.message}; check that the server is up, or allow more time with --timeout`,
    };
  }
  if (error instanceof ConnectionError) {
    return {
      exitCode: ExitCode.connection,
      message: `${error.message}; check that \`ovtp serve\` runs there and the port is right`,
    };
  }
  if (error instanceof KeyFileError || error instanceof ProtocolError) {
    return { exitCode: ExitCode.failure, message: error.message };
  }
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return { exitCode: ExitCode.failure, message: (error as Error).message };
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

function fileProblem(error: FileError): string {
  const path = JSON.stringify(error.path);
  switch (error.reason) {
    case "exists":
      return `${path} already exists ${
        error.remote ? "on the server" : "here"
      }; pass --force to replace it`;
    case "outside_root":
      return `The server refused ${path}: it leads outside the folder the server serves; ` +
        `name a path inside it`;
    case "unsupported_type":
      return error.remote
        ? `The server refused ${path}: it is not a regular file (put and get take -r for folders)`
        : error.message;
    default:
      return error.message;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}
