/**
 * `ovtp ls`: lists a remote folder (LIST, SPEC.md 11.6) as `ls` does: names, or with `-l` mode,
 * size, time and name; `-R` for every level, `--json` for programs. This file holds the command's
 * help and output; parsing, the target, connecting and closing are the client-command skeleton's
 * (`client_command.ts`).
 *
 * @module
 */

import { FileError } from "../errors.ts";
import type { ListEntry } from "../transfer/file_protocol.ts";
import { modeString, remotePathOrRoot, remoteProblem } from "./_remote_files.ts";
import { terminalSafe, terminalSafeJson } from "./_terminal_text.ts";
import type { CliCommand } from "./cli_command.ts";
import type { CliIo } from "./cli_io.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";

/** Files older (or newer) than this show their year instead of their time, as `ls -l` does. */
const recentMs = 182 * 24 * 60 * 60 * 1000;
const monthNames = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");

/**
 * `ovtp ls [-l] [-a] [-R] HOST[:PORT][:PATH]`: lists the folder PATH on the server (default:
 * the served folder), one level unless `-R`.
 *
 * @example List the served folder in detail
 * ```ts ignore
 * await lsCommand.run(["-l", "files.example"], denoIo());
 * ```
 */
export const lsCommand: CliCommand = clientCommand({
  name: "ls",
  summary: "list a remote folder (-l: modes, sizes, times; -R: every level)",
  help: `Usage: ovtp ls [options] HOST[:PORT][:PATH]

Lists the folder PATH in the folder the server serves (HOST or HOST: alone: the served folder
itself), one name per line, sorted; names starting with "." only with -a. A PATH that is a file
lists that file. Names are printed with control characters escaped.

Options:
  -l, --long              mode, size, modification time and name, as ls -l
                          ("drwxr-xr-x  4096 Nov 29 10:00 www"; links: "name -> target")
  -a, --all               also names that start with "."
  -R, --recursive         every level below PATH, one section per folder, as ls -R
  --json                  one JSON object per entry and line: {"path", "type", "size", "mode",
                          "mtime", "target"?} (mtime as ISO 8601 or null)

${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  options: {
    long: { type: "boolean", short: "l" },
    all: { type: "boolean", short: "a" },
    recursive: { type: "boolean", short: "R" },
  },
  arguments: { min: 1, max: 1, names: "HOST[:PORT][:PATH]" },
  target: { argument: 0, withPath: "optional" },
  prepare({ values, target }, io) {
    const path = remotePathOrRoot(target.path);
    let single = false; // PATH is a file: shown as named, whatever -a says
    return {
      async use(client): Promise<ListEntry[]> {
        try {
          return await client.list(path, values.recursive ? {} : { depth: 1 });
        } catch (error) {
          if (!(error instanceof FileError && error.reason === "unsupported_type")) {
            throw remoteProblem(error, path);
          }
          // Not a folder: list the file itself, as ls does.
          try {
            const info = await client.stat(path);
            single = true;
            return [{
              path,
              type: info.type,
              size: info.size,
              mtimeMs: info.mtime?.getTime() ?? null,
              mode: info.mode,
            }];
          } catch (statError) {
            throw remoteProblem(statError, path);
          }
        }
      },
      report(entries) {
        const shown = entries.filter((entry) =>
          single || values.all || !entry.path.split("/").some((name) => name.startsWith("."))
        ).sort((a, b) => compare(a.path, b.path));
        if (values.json) {
          for (const entry of shown) io.print(terminalSafeJson(JSON.stringify(jsonEntry(entry))));
        } else if (values.recursive) {
          printSections(shown, values.long ?? false, io);
        } else {
          printEntries(shown, values.long ?? false, io, (entry) => entry.path);
        }
        return ExitCode.ok;
      },
    };
  },
});

/** `ls -R`: the listed folder's entries, then one `path:` section per folder below it. */
function printSections(entries: ListEntry[], long: boolean, io: CliIo): void {
  const byFolder = new Map<string, ListEntry[]>([["", []]]);
  for (const entry of entries) {
    if (entry.type === "directory") byFolder.set(entry.path, []);
  }
  for (const entry of entries) {
    const slash = entry.path.lastIndexOf("/");
    byFolder.get(slash < 0 ? "" : entry.path.slice(0, slash))?.push(entry);
  }
  let first = true;
  for (const [folder, children] of [...byFolder].sort(([a], [b]) => compare(a, b))) {
    if (!first) io.print("");
    first = false;
    io.print(`${terminalSafe(folder === "" ? "." : `./${folder}`)}:`);
    printEntries(children, long, io, (entry) => entry.path.slice(entry.path.lastIndexOf("/") + 1));
  }
}

function printEntries(
  entries: ListEntry[],
  long: boolean,
  io: CliIo,
  nameOf: (entry: ListEntry) => string,
): void {
  if (!long) {
    for (const entry of entries) io.print(terminalSafe(nameOf(entry)));
    return;
  }
  const sizeWidth = Math.max(1, ...entries.map((entry) => String(entry.size).length));
  const now = Date.now();
  for (const entry of entries) {
    const link = entry.target === undefined ? "" : ` -> ${terminalSafe(entry.target)}`;
    io.print(
      `${modeString(entry.type, entry.mode)}  ${String(entry.size).padStart(sizeWidth)} ` +
        `${lsTime(entry.mtimeMs, now)} ${terminalSafe(nameOf(entry))}${link}`,
    );
  }
}

/** `ls -l`'s time: `Nov 29 10:00` within six months of now, else `Nov 29  2023` (local time). */
function lsTime(mtimeMs: number | null, now: number): string {
  if (mtimeMs === null) return "           -";
  const date = new Date(mtimeMs);
  const day = `${monthNames[date.getMonth()]} ${String(date.getDate()).padStart(2)}`;
  if (Math.abs(now - mtimeMs) < recentMs) {
    const pad = (value: number) => String(value).padStart(2, "0");
    return `${day} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }
  return `${day}  ${date.getFullYear()}`;
}

function jsonEntry(entry: ListEntry): Record<string, unknown> {
  return {
    path: entry.path,
    type: entry.type,
    size: entry.size,
    mode: entry.mode,
    mtime: entry.mtimeMs === null ? null : new Date(entry.mtimeMs).toISOString(),
    ...(entry.target === undefined ? {} : { target: entry.target }),
  };
}

/** Code-point order, the same on every machine (ls's order depends on the locale). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
