// Benchmark scripts print their figures.
// deno-lint-ignore-file no-console
// Resident memory of both ends while one large file moves each way (issue: "a 1 GiB file moves
// with the sender's and receiver's resident memory growing by less than 64 MiB").
//   deno run -A bench/transfer_memory.ts [SIZE_MIB]      (default 1024)
// Server and client run as separate processes; each reports its RSS before the transfer and its
// peak during it.
import { join } from "node:path";

const sizeMiB = Number(Deno.args[0] ?? 1024);
const peer = new URL("./_peer.ts", import.meta.url).pathname;
const deno = Deno.execPath();
const dir = await Deno.makeTempDir({ prefix: "ovtp_bench_" });
const mib = (bytes: number) => (bytes / 1048576).toFixed(1);

async function run(args: string[]): Promise<Record<string, number>> {
  const output = await new Deno.Command(deno, {
    args: [
      "run",
      "-A",
      ...(Deno.env.get("PEER_FLAGS") ?? "").split(" ").filter(Boolean),
      peer,
      ...args,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`peer ${args[0]} failed`);
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!);
}

try {
  const root = join(dir, "root");
  await Deno.mkdir(root);
  const source = join(dir, "source.bin");
  const block = new Uint8Array(1048576);
  for (let i = 0; i < block.length; i += 65536) {
    crypto.getRandomValues(block.subarray(i, i + 65536));
  }
  using file = await Deno.open(source, { write: true, create: true });
  for (let i = 0; i < sizeMiB; i++) {
    block[0] = i & 0xff;
    await file.write(block);
  }

  const server = new Deno.Command(deno, {
    args: [
      "run",
      "-A",
      ...(Deno.env.get("PEER_FLAGS") ?? "").split(" ").filter(Boolean),
      peer,
      "serve",
      root,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await reader.read();
  const { port } = JSON.parse(first.value!.split("\n")[0]);

  const put = await run(["put", String(port), source, "copy.bin"]);
  const get = await run(["get", String(port), "copy.bin", join(dir, "back.bin")]);
  await server.stdin.close();
  let rest = "";
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    rest += chunk.value;
  }
  await server.status;
  const serverRss = JSON.parse(rest.trim().split("\n").at(-1)!);

  console.log(`${sizeMiB} MiB each way over loopback, two processes (RSS in MiB)\n`);
  console.log("| transfer | side | RSS before | RSS peak | growth | MB/s |");
  console.log("|---|---|---|---|---|---|");
  for (const [name, result] of [["upload", put], ["download", get]] as const) {
    console.log(
      `| ${name} | client | ${mib(result.baselineRss)} | ${mib(result.peakRss)} | ${
        mib(result.peakRss - result.baselineRss)
      } | ${(result.bytes / result.seconds / 1e6).toFixed(0)} |`,
    );
  }
  console.log(
    `| both | server | ${mib(serverRss.baselineRss)} | ${mib(serverRss.peakRss)} | ${
      mib(serverRss.peakRss - serverRss.baselineRss)
    } | |`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
