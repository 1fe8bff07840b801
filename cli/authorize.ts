/**
 * `ovtp authorize PUBFILE|DIR…`: adds client keys to our `authorized_keys` (`add_keys.ts` does the
 * work), which a running server re-reads at its next handshake.
 *
 * @module
 */

import { formatKey } from "./_format.ts";
import { addKeys } from "./add_keys.ts";
import type { CliCommand } from "./cli_command.ts";
import { ExitCode } from "./exit_codes.ts";
import { ovtpHomeFiles } from "./ovtp_home.ts";
import { parseCommandArgs } from "./parse_command_args.ts";

const options = {
  home: { type: "string" },
  "authorized-keys": { type: "string" },
  json: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean", short: "v" },
} as const;

/**
 * `ovtp authorize PUBFILE|DIR…`: adds client keys to `authorized_keys`, skipping duplicates.
 *
 * @example Authorize a peer's key
 * ```ts ignore
 * await authorizeCommand.run(["alice.pub"], denoIo());
 * ```
 */
export const authorizeCommand: CliCommand = {
  name: "authorize",
  summary: "let the owners of public keys connect to our server (adds to authorized_keys)",
  help: `Usage: ovtp authorize PUBFILE|DIR…

Adds public keys to our authorized_keys, so their owners' clients may connect to our server
(OVTP's --add-keys). A DIR adds every *.pub file in it. Keys already there are skipped. A running
server sees the change at the next connection: no restart needed. To restrict a key, edit its line:
'read-only,root="alice" ovtp-rsa AAAA… alice@laptop' (see the README). To revoke it, delete its line.

Options:
  --authorized-keys FILE   the file to add to (default $OVTP_HOME/authorized_keys)
  --home DIR               the ovtp folder (default $OVTP_HOME, else ~/.ovtp)
  --json                   print one JSON line per key: {"fingerprint", "comment", "file", "added"}
  -q, --quiet              print nothing but errors

Needs --allow-read --allow-write (and --allow-env without --authorized-keys).`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs("authorize", args, options, {
      min: 1,
      max: Infinity,
      names: "PUBFILE|DIR…",
    });
    const { authorizedKeys } = ovtpHomeFiles(values);
    for (const { key, file, added } of await addKeys(positionals, authorizedKeys)) {
      if (values.json) {
        const { fingerprint, comment } = key;
        io.print(JSON.stringify({ fingerprint, comment, file, added }));
      } else if (!values.quiet) {
        io.print(`${added ? "added" : "already authorized"} ${formatKey(key)} from ${file}`);
      }
    }
    if (!values.quiet && !values.json) {
      io.printError(`ovtp: authorized keys are in ${authorizedKeys}`);
    }
    return ExitCode.ok;
  },
};
