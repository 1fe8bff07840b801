/**
 * `ovtp hash`: a remote file's digest, size and time (OVTP's verify), compared with a local file
 * when one is named. This file holds the command's help, the local hash and the output; parsing,
 * the target, connecting and closing are the client-command skeleton's (`client_command.ts`).
 *
 * @module
 */

import { formatDigest } from "../files/chunk_tree.ts";
import { hashFile } from "../files/hash_file.ts";
import { formatRemote } from "./_transfer.ts";
import type { CliCommand } from "./cli_command.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";

/**
 * `ovtp hash HOST[:PORT]:REMOTE [LOCAL]`: prints a remote file's digest, size and modification
 * time (OVTP's verify); with LOCAL, also compares it with a local file.
 *
 * @example Check an upload
 * ```ts ignore
 * await hashCommand.run(["files.example:in/report.csv", "report.csv"], denoIo());
 * ```
 */
export const hashCommand: CliCommand = clientCommand({
  name: "hash",
  summary: "print a remote file's digest, size and time; compare it with a local file",
  help: `Usage: ovtp hash [options] HOST[:PORT]:REMOTE [LOCAL]

Prints the digest (SHA-256 chunk tree, SPEC.md 11.2), size in bytes and modification time of the
file REMOTE on the server, as "DIGEST  SIZE  MTIME  REMOTE" (OVTP's verify). With LOCAL, also
hashes the local file and says whether both are the same; exits 1 when they differ.

${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  options: {},
  arguments: { min: 1, max: 2, names: "HOST[:PORT]:REMOTE [LOCAL]" },
  target: { argument: 0, withPath: true },
  request: ({ target }) => `hash "${target.path}"`,
  prepare({ values, positionals: [, local], target }, io) {
    const localDigest = local === undefined ? undefined : hashLocal(local);
    localDigest?.catch(() => {});
    return {
      use: (client) => client.hash(target.path),
      async report(info) {
        const ours = await localDigest;
        const same = ours === undefined ? undefined : ours.digest === info.digest;
        const mtime = info.mtime?.toISOString() ?? null;
        if (values.json) {
          io.print(JSON.stringify({
            path: target.path,
            digest: info.digest,
            size: info.size,
            mtime,
            mode: info.mode,
            ...(ours === undefined ? {} : { local: { path: local, ...ours, same } }),
          }));
        } else {
          io.print(
            `${info.digest}  ${info.size}  ${mtime ?? "-"}  ${
              formatRemote(target.address, target.path)
            }`,
          );
          if (ours !== undefined && !values.quiet) {
            io.print(
              same
                ? `same content as ${local}`
                : `differs from ${local} (${ours.size} bytes, digest ${ours.digest})`,
            );
          }
        }
        return same === false ? ExitCode.failure : ExitCode.ok;
      },
    };
  },
});

async function hashLocal(path: string): Promise<{ digest: string; size: number }> {
  const { root, size } = await hashFile(path);
  return { digest: formatDigest(root), size };
}
