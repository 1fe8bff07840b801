// File digest costs: the SHA-256 chunk tree over a 64 MiB file, and over bytes in memory.
import { join } from "node:path";
import { ChunkTreeHasher, fileChunkBytes } from "../files/chunk_tree.ts";
import { hashFile } from "../files/hash_file.ts";

const dir = await Deno.makeTempDir({ prefix: "ovtp_bench_" });
const path = join(dir, "64mib.bin");
const chunk = new Uint8Array(fileChunkBytes).fill(7);
{
  using file = await Deno.open(path, { write: true, create: true });
  for (let i = 0; i < 64; i++) await file.write(chunk);
}

Deno.bench("hashFile 64 MiB (chunk tree, from the page cache)", async () => {
  await hashFile(path);
});

Deno.bench("ChunkTreeHasher 16 MiB in 1 MiB pieces", async () => {
  const hasher = new ChunkTreeHasher();
  for (let i = 0; i < 16; i++) await hasher.update(chunk);
  await hasher.digest();
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
