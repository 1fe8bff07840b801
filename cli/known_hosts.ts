/**
 * `ovtp known-hosts list` and `ovtp known-hosts remove HOST[:PORT]`: show the server keys we
 * trust, and forget one, as `ssh-keygen -R` does. The file itself is the library's
 * (`KnownHosts` in `crypto/known_hosts.ts`); this file parses the arguments and prints.
 *
 * @module
 */

import { formatHostPort, parseHostPort } from "../address.ts";
import { type KnownHostEntry, KnownHosts } from "../crypto/known_hosts.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import { ExitCode } from "./exit_codes.ts";
import { ovtpHomeFiles } from "./ovtp_home.ts";
import { parseCommandArgs } from "./parse_command_args.ts";

const options = {
  home: { type: "string" },
  "known-hosts": { type: "string" },
  json: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean", short: "v" },
} as const;

/**
 * `ovtp known-hosts list` prints one line per trusted server key; `ovtp known-hosts remove
 * HOST[:PORT]` forgets the keys of one server and prints each one it removed.
 *
 * @example Forget a server whose key changed
 * ```ts ignore
 * await knownHostsCommand.run(["remove", "files.example:4822"], denoIo());
 * ```
 */
export const knownHostsCommand: CliCommand = {
  name: "known-hosts",
  summary: "list the server keys we trust, or forget one (as ssh-keygen -R)",
  help: `Usage: ovtp known-hosts list
       ovtp known-hosts remove HOST[:PORT]

list prints each server key in known_hosts: the server, the key's fingerprint and its comment.
remove forgets every key recorded for HOST[:PORT] (port 4242 by default), as ssh-keygen -R does,
and prints "Removed HOST:PORT SHA256:…" for each; the file is rewritten in one step, keeping its
comments, its other lines and its mode. It exits 1 when no key of that server was recorded. Use it
when a server's key changed on purpose, then connect again with --accept-new or --fingerprint.

Options:
  --known-hosts FILE   the file (default $OVTP_HOME/known_hosts)
  --home DIR           the ovtp folder (default $OVTP_HOME, else ~/.ovtp)
  --json               print one JSON line per key: {"host", "fingerprint", "comment", "line"}
  -q, --quiet          remove prints nothing

Needs --allow-read --allow-env (and --allow-write for remove).`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs("known-hosts", args, options, {
      min: 1,
      max: 2,
      names: "list | remove HOST[:PORT]",
    });
    const [action, server] = positionals;
    const knownHosts = new KnownHosts(ovtpHomeFiles(values).knownHosts);
    const print = (entry: KnownHostEntry, host: string, prefix: string) => {
      io.print(
        values.json
          ? JSON.stringify({
            host,
            fingerprint: entry.fingerprint,
            comment: entry.comment,
            line: entry.lineNumber,
          })
          : `${prefix}${host} ${entry.fingerprint}${
            entry.comment === "" ? "" : ` ${entry.comment}`
          }`,
      );
    };
    if (action === "list" && server === undefined) {
      for (const entry of await knownHosts.list()) {
        print(entry, entry.patterns.map(readablePattern).join(","), "");
      }
      return ExitCode.ok;
    }
    if (action !== "remove" || server === undefined) {
      throw CliError.usage("known-hosts", `expected list, or remove HOST[:PORT]`);
    }
    let address;
    try {
      address = parseHostPort(server);
    } catch {
      throw CliError.usage("known-hosts", `"${server}" is not HOST, HOST:PORT or [IPv6]:PORT`);
    }
    const host = formatHostPort(address);
    const removed = await knownHosts.remove(address.hostname, address.port);
    if (removed.length === 0) {
      throw new CliError(`${host} is not in ${knownHosts.path}; ovtp known-hosts list shows it`);
    }
    if (!values.quiet) { for (const entry of removed) print(entry, host, "Removed "); }
    return ExitCode.ok;
  },
};

/** `[127.0.0.1]:4822` as people write it: `127.0.0.1:4822`, `[::1]:4822`. */
function readablePattern(pattern: string): string {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(pattern);
  return match === null ? pattern : formatHostPort({ hostname: match[1], port: Number(match[2]) });
}
