import { formatHostPort } from "../address.ts";
import type { OvtpHandler } from "../server.ts";
import { defaultMaxMessageBytes } from "../session/message_exchange.ts";
import { readUpTo } from "./_read_up_to.ts";

/** Options of {@linkcode execHandler}. */
export interface ExecHandlerOptions {
  /** Largest standard output taken as the response; beyond it the command is killed. Default 16 MiB. */
  maxOutputBytes?: number;
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
 * @param commandLine Run with {@linkcode execShell}.
 * @param options The output limit.
 * @returns The handler.
 *
 * @example Count the bytes of each message (needs --allow-run)
 * ```ts ignore
 * const server = serveOvtp({ identity, authorizedKeys }, execHandler("wc -c"));
 * ```
 */
export function execHandler(commandLine: string, options: ExecHandlerOptions = {}): OvtpHandler {
  const maxOutputBytes = options.maxOutputBytes ?? defaultMaxMessageBytes;
  const [program, ...args] = execShell(commandLine);
  return async (message, peer) => {
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
  };
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
