/**
 * `ovtp stat`: type, size, mode and time of a remote path (STAT, SPEC.md 11.6). This file holds
 * the command's help and output; parsing, the target, connecting and closing are the
 * client-command skeleton's (`client_command.ts`).
 *
 * @module
 */

import { modeString, remotePathOrRoot, remoteProblem } from "./_remote_files.ts";
import { terminalSafe, terminalSafeJson } from "./_terminal_text.ts";
import type { CliCommand } from "./cli_command.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";

/**
 * `ovtp stat HOST[:PORT]:PATH`: prints what PATH is (symbolic links followed), its size, mode and
 * modification time.
 *
 * @example Describe a remote file
 * ```ts ignore
 * await statCommand.run(["files.example:in/report.csv"], denoIo());
 * ```
 */
export const statCommand: CliCommand = clientCommand({
  name: "stat",
  summary: "print a remote path's type, size, mode and modification time",
  help: `Usage: ovtp stat [options] HOST[:PORT]:PATH

Prints what PATH is in the folder the server serves (a symbolic link is followed), as stat does:

    File: in/report.csv
    Type: regular file
    Size: 1234
  Access: (0644/-rw-r--r--)
  Modify: 2024-11-29T10:00:00.000Z

HOST: alone names the served folder. With --json, one JSON object:
{"path", "type": "file" | "directory", "size", "mode", "mtime"}.

${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  options: {},
  arguments: { min: 1, max: 1, names: "HOST[:PORT]:PATH" },
  target: { argument: 0, withPath: true },
  prepare({ values, target }, io) {
    const path = remotePathOrRoot(target.path);
    return {
      async use(client) {
        try {
          return await client.stat(path);
        } catch (error) {
          throw remoteProblem(error, path);
        }
      },
      report(info) {
        const mtime = info.mtime?.toISOString() ?? null;
        if (values.json) {
          io.print(terminalSafeJson(JSON.stringify({
            path,
            type: info.type,
            size: info.size,
            mode: info.mode,
            mtime,
          })));
          return 0;
        }
        const octal = info.mode === null ? "?" : info.mode.toString(8).padStart(4, "0");
        io.print(`    File: ${terminalSafe(path)}`);
        io.print(`    Type: ${info.type === "directory" ? "directory" : "regular file"}`);
        io.print(`    Size: ${info.size}`);
        io.print(`  Access: (${octal}/${modeString(info.type, info.mode)})`);
        io.print(`  Modify: ${mtime ?? "-"}`);
        return 0;
      },
    };
  },
});
