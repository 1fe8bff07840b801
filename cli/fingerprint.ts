/**
 * `ovtp fingerprint [FILE]`: prints the fingerprint of each key in a key file (a `.pub`, a private
 * key, `authorized_keys` or `known_hosts`; by default our own key), read by `read_public_keys.ts`.
 *
 * @module
 */

import { formatKey } from "./_format.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import { ExitCode } from "./exit_codes.ts";
import { ovtpHomeFiles } from "./ovtp_home.ts";
import { parseCommandArgs } from "./parse_command_args.ts";
import { readPublicKeys } from "./read_public_keys.ts";

const options = {
  home: { type: "string" },
  json: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
} as const;

/**
 * `ovtp fingerprint [FILE]`: prints the fingerprint of each key in a public or private key file
 * (by default our own key).
 *
 * @example Print our key's fingerprint
 * ```ts ignore
 * await fingerprintCommand.run([], denoIo());
 * ```
 */
export const fingerprintCommand: CliCommand = {
  name: "fingerprint",
  summary: "print the fingerprint of a key file (by default our own key)",
  help: `Usage: ovtp fingerprint [FILE]

Prints the fingerprint (SHA256:…, as ssh shows them), comment and size of the key in FILE: a public
key (.pub), a private key (its public half), or every key of an authorized_keys or known_hosts
file. Without FILE: our own key, $OVTP_HOME/id_ovtp.pub. Compare fingerprints over a channel you
trust (in person, on the phone) before pinning or authorizing a key.

Options:
  --home DIR    the ovtp folder (default $OVTP_HOME, else ~/.ovtp)
  --json        print one JSON line per key: {"fingerprint", "comment", "bits", "file"}

Needs --allow-read (and --allow-env without FILE).`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs("fingerprint", args, options, {
      min: 0,
      max: 1,
      names: "[FILE]",
    });
    const file = positionals[0] ?? await ownKeyFile(values.home);
    for (const { key, prefix } of await readPublicKeys(file)) {
      if (values.json) {
        io.print(JSON.stringify({
          fingerprint: key.fingerprint,
          comment: key.comment,
          bits: key.bits,
          file,
          ...(prefix === "" ? {} : { prefix }),
        }));
      } else {
        io.print(prefix === "" ? formatKey(key) : `${formatKey(key)} ${prefix}`);
      }
    }
    return ExitCode.ok;
  },
};

/** Our public key file, or the private key when the .pub file is missing. */
async function ownKeyFile(home: string | undefined): Promise<string> {
  const { identity } = ovtpHomeFiles({ home });
  for (const file of [`${identity}.pub`, identity]) {
    try {
      await Deno.stat(file);
      return file;
    } catch {
      // Try the next one.
    }
  }
  throw new CliError(
    `There is no key at ${identity}; create one with: ovtp keygen, or name a key FILE`,
  );
}
