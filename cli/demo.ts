/**
 * `ovtp demo` (`./denow task demo`): throwaway keys, a server and a client on loopback in one
 * process, a message, 1000 messages in flight and a 32 MiB file each way, with timings: the
 * library end to end, from `generateIdentity()` to `getFile()`.
 *
 * @module
 */

import { join } from "node:path";
import { OvtpClient } from "../client.ts";
import { generateIdentity, loadIdentity, saveIdentity } from "../crypto/identity.ts";
import { formatDigest } from "../files/chunk_tree.ts";
import { hashFile } from "../files/hash_file.ts";
import { serveOvtp } from "../server.ts";
import type { TransferResult } from "../transfer/file_transfer_options.ts";
import { formatBytes, formatMs } from "./_format.ts";
import type { CliIo } from "./cli_io.ts";
import { ProgressBar } from "./progress_bar.ts";

/** Size of the file the demo uploads and downloads. */
const demoFileBytes = 32 * 1024 * 1024;
/** `crypto.getRandomValues` fills at most this many bytes per call. */
const maxRandomBytes = 65536;
const messagesInFlight = 1000;

/**
 * Runs the demo: throwaway keys in a temporary folder, a server on loopback serving a folder, a
 * client authorized by key, a message round trip, 1000 messages in flight, and a 32 MiB file
 * uploaded and downloaded again (with a progress bar on a terminal), with timings. Everything it
 * made is removed at the end, whatever happens.
 *
 * @example Run it
 * ```ts ignore
 * await runDemo(denoIo());
 * ```
 */
export async function runDemo(io: CliIo): Promise<void> {
  const print = (line: string) => io.print(line);
  const dir = await Deno.makeTempDir({ prefix: "ovtp_demo_" });
  try {
    const started = performance.now();
    const [serverKey, clientKey] = await Promise.all([
      generateIdentity({ comment: "demo-server" }),
      generateIdentity({ comment: "demo-client" }),
    ]);
    await saveIdentity(serverKey, join(dir, "server_key"));
    await saveIdentity(clientKey, join(dir, "client_key"));
    print(`keys         2 x RSA-3072 in ${formatMs(performance.now() - started)} (in ${dir})`);
    print(`server key   ${serverKey.publicKey.fingerprint}`);
    print(`client key   ${clientKey.publicKey.fingerprint}`);

    const authorizedKeys = join(dir, "authorized_keys");
    await Deno.writeTextFile(
      authorizedKeys,
      await Deno.readTextFile(join(dir, "client_key.pub")),
    );
    const served = join(dir, "served");
    await Deno.mkdir(served);
    const server = serveOvtp({
      identity: await loadIdentity(join(dir, "server_key")),
      authorizedKeys,
      hostname: "127.0.0.1",
      port: 0,
      root: served,
    }, (message, peer) => ({
      status: true,
      response: `hello ${peer.comment}, you said ${JSON.stringify(message.text())}`,
    }));
    print(`server       listening on 127.0.0.1:${server.addr.port}, serving ${served}`);

    const client = new OvtpClient(server.addr, {
      identity: await loadIdentity(join(dir, "client_key")),
      knownHosts: join(dir, "known_hosts"),
      acceptNew: true,
    });
    try {
      let t = performance.now();
      await client.connect();
      print(`handshake    ${formatMs(performance.now() - t)} (server key recorded in known_hosts)`);
      t = performance.now();
      const { status, response } = await client.sendMessage("hi from the demo");
      print(
        `message      ${formatMs(performance.now() - t)} -> ${
          JSON.stringify({ status, response })
        }`,
      );
      t = performance.now();
      await Promise.all(
        Array.from({ length: messagesInFlight }, (_, i) => client.sendMessage({ i })),
      );
      const seconds = (performance.now() - t) / 1000;
      print(
        `${messagesInFlight} in flight ${formatMs(seconds * 1000)} (${
          Math.round(messagesInFlight / seconds)
        } messages/s)`,
      );

      const source = join(dir, "demo.bin");
      await writeRandomFile(source, demoFileBytes);
      const upload = await timed(
        io,
        (onProgress) => client.sendFile(source, "demo.bin", { onProgress }),
      );
      print(`upload       ${describe(upload)}`);
      const copy = join(dir, "copy.bin");
      const download = await timed(
        io,
        (onProgress) => client.getFile("demo.bin", copy, { onProgress }),
      );
      const same = formatDigest((await hashFile(copy)).root) === upload.result.digest;
      print(
        `download     ${describe(download)}; ${same ? "same digest" : "DIFFERENT DIGEST"} ${
          upload.result.digest?.slice(0, 16)
        }…`,
      );
    } finally {
      await client.close();
      await server.close();
    }
    print(`done         in ${formatMs(performance.now() - started)}; temporary files removed`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeRandomFile(path: string, size: number): Promise<void> {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += maxRandomBytes) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + maxRandomBytes)));
  }
  await Deno.writeFile(path, bytes);
}

interface Timed {
  result: TransferResult;
  ms: number;
}

/** Runs a transfer with a progress bar on a terminal, and times it. */
async function timed(
  io: CliIo,
  transfer: (
    onProgress: ((progress: Parameters<ProgressBar["update"]>[0]) => void) | undefined,
  ) => Promise<TransferResult>,
): Promise<Timed> {
  const bar = io.interactive
    ? new ProgressBar({ write: (text) => io.write(text), columns: () => io.columns() })
    : undefined;
  const started = performance.now();
  try {
    const result = await transfer(bar === undefined ? undefined : (p) => bar.update(p));
    return { result, ms: performance.now() - started };
  } finally {
    bar?.finish();
  }
}

function describe({ result, ms }: Timed): string {
  return `${formatBytes(result.bytes)} in ${formatMs(ms)} (${
    formatBytes(result.bytes / (ms / 1000))
  }/s)`;
}
