/**
 * `ovtp keygen`: makes an identity (`crypto/identity.ts`), writes FILE (mode 0600) and FILE.pub,
 * prints the fingerprint, and never overwrites a key.
 *
 * @module
 */

import { defaultRsaBits, generateIdentity, saveIdentity } from "../crypto/identity.ts";
import { maxRsaBits, minRsaBits } from "../crypto/public_key.ts";
import { formatKey } from "./_format.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import { ExitCode } from "./exit_codes.ts";
import { ovtpHomeFiles } from "./ovtp_home.ts";
import { parseCommandArgs } from "./parse_command_args.ts";

const options = {
  file: { type: "string", short: "f" },
  bits: { type: "string", short: "b" },
  comment: { type: "string", short: "C" },
  home: { type: "string" },
  json: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean", short: "v" },
} as const;

/**
 * `ovtp keygen`: creates an identity key pair, FILE (private, mode 0600) and FILE.pub, prints its
 * fingerprint, and never overwrites an existing key.
 *
 * @example Create a key (writes files)
 * ```ts ignore
 * await keygenCommand.run(["-f", "/tmp/k/id_ovtp", "--bits", "2048"], denoIo());
 * ```
 */
export const keygenCommand: CliCommand = {
  name: "keygen",
  summary: "create a key pair (id_ovtp and id_ovtp.pub) and print its fingerprint",
  help: `Usage: ovtp keygen [-f FILE] [--bits N] [-C COMMENT]

Creates an RSA identity key: FILE, the private key (PKCS#8 PEM, mode 0600), and FILE.pub, the
public key line to give to peers. Prints the fingerprint (SHA256:…) on standard output. An existing
key is never overwritten: remove it first, or pick another file.

Options:
  -f, --file FILE       the private key file (default $OVTP_HOME/id_ovtp)
  -b, --bits N          RSA modulus size: 2048 to 8192, a multiple of 8 (default ${defaultRsaBits})
  -C, --comment TEXT    names the key in peers' files and logs (default USER@HOST; without $USER,
                        $LOGNAME or uid-N)
  --home DIR            the ovtp folder (default $OVTP_HOME, else ~/.ovtp)
  --json                print {"fingerprint", "file", "publicFile", "bits", "comment"}
  -q, --quiet           print only the fingerprint

Needs --allow-read --allow-write --allow-env (and --allow-sys=hostname,uid for the default comment
without $USER).`,

  async run(args, io) {
    const { values } = parseCommandArgs("keygen", args, options, { min: 0, max: 0, names: "" });
    const file = values.file ?? ovtpHomeFiles({ home: values.home }).identity;
    const bits = values.bits === undefined ? defaultRsaBits : Number(values.bits);
    if (!Number.isInteger(bits) || bits < minRsaBits || bits > maxRsaBits || bits % 8 !== 0) {
      throw CliError.usage(
        "keygen",
        `--bits must be a multiple of 8 from ${minRsaBits} to ${maxRsaBits}, not "${values.bits}"`,
      );
    }
    for (const path of [file, `${file}.pub`]) {
      if (await exists(path)) {
        throw new CliError(
          `${path} already exists; ovtp keygen never overwrites a key: remove it first, or pick another file with -f`,
        );
      }
    }
    const comment = values.comment ?? defaultComment();
    if (/[\r\n]/.test(comment)) throw CliError.usage("keygen", "--comment must be one line");
    const identity = await generateIdentity({ bits, comment });
    await saveIdentity(identity, file);
    const key = identity.publicKey;
    if (values.json) {
      io.print(JSON.stringify({
        fingerprint: key.fingerprint,
        file,
        publicFile: `${file}.pub`,
        bits: key.bits,
        comment: key.comment,
      }));
    } else {
      io.print(formatKey(key));
    }
    if (!values.quiet && !values.json) {
      io.printError(
        `ovtp: wrote the private key ${file} (mode 0600; keep it secret) and the public key ${file}.pub (give it to peers)`,
      );
    }
    return ExitCode.ok;
  },
};

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * `USER@HOST` from what may be read without prompting for a permission: the user from `$USER`
 * (`$USERNAME` on Windows), else `$LOGNAME`, else `uid-N` from the process's user id; the host
 * from the system's host name, else `$HOSTNAME`, `$COMPUTERNAME` or `/etc/hostname`. A part that
 * cannot be read is left out.
 */
function defaultComment(): string {
  const user = readEnv("USER") ?? readEnv("USERNAME") ?? readEnv("LOGNAME") ?? readUid();
  const host = readHostname() ?? readEnv("HOSTNAME") ?? readEnv("COMPUTERNAME") ??
    readHostnameFile();
  if (user === undefined) return host ?? "";
  return host === undefined ? user : `${user}@${host}`;
}

function readUid(): string | undefined {
  if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state !== "granted") {
    return undefined;
  }
  const uid = Deno.uid();
  return uid === null ? undefined : `uid-${uid}`;
}

function readHostname(): string | undefined {
  if (Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state !== "granted") {
    return undefined;
  }
  try {
    return Deno.hostname().trim() || undefined;
  } catch {
    return undefined;
  }
}

function readEnv(variable: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") return undefined;
  const value = Deno.env.get(variable)?.trim();
  return value === "" ? undefined : value;
}

function readHostnameFile(): string | undefined {
  const path = "/etc/hostname";
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return undefined;
  try {
    return Deno.readTextFileSync(path).trim().split(/\s/)[0] || undefined;
  } catch {
    return undefined;
  }
}
