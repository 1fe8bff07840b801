/**
 * The local side of a folder upload: `uploadDirectory()` walks the tree it sends here, before
 * anything goes over the connection.
 *
 * @module
 */

import { join } from "node:path";
import { type FileCalls, fileCalls } from "../files/file_calls.ts";

/** A local folder tree, as {@linkcode walkLocal} finds it; paths are relative, with `/`. */
export interface LocalTree {
  /** Folders, each before its contents. */
  folders: string[];
  /** Regular files (and, unless links are kept, what links point to). */
  files: { path: string; localPath: string; size: number }[];
  /** Symbolic links, when they are kept as links. */
  links: { path: string; target: string }[];
}

/**
 * Walks a local folder breadth first, names sorted: relative paths with `/`, folders before
 * their contents. Symbolic links are followed unless `keepSymlinks`; a link back up the tree
 * (a cycle) and a dangling link are skipped; devices, FIFOs and sockets are left out. The
 * folder listing's entry types decide what each name is: a regular file costs one `lstat()`
 * (for its size), a followed link one `stat()`, a kept link one `readlink()`, a folder one
 * `realpath()`.
 *
 * @param root The folder.
 * @param keepSymlinks List links as links instead of following them.
 * @param calls How the `lstat()`, `stat()` and `realpath()` calls are made. Default:
 * `fileCalls("threaded")`.
 * @returns The folders, files and links below `root`.
 *
 * @example Walk a small tree
 * ```ts
 * import { walkLocal } from "./walk_local.ts";
 * import { join } from "node:path";
import { type FileCalls, fileCalls } from "../files/file_calls.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   await Deno.mkdir(join(dir, "sub"));
 *   await Deno.writeTextFile(join(dir, "sub", "a.txt"), "abc");
 *   const tree = await walkLocal(dir, false);
 *   assert.deepEqual(tree.folders, ["sub"]);
 *   assert.deepEqual(tree.files.map((file) => [file.path, file.size]), [["sub/a.txt", 3]]);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function walkLocal(
  root: string,
  keepSymlinks: boolean,
  calls: FileCalls = fileCalls("threaded"),
): Promise<LocalTree> {
  const tree: LocalTree = { folders: [], files: [], links: [] };
  const seen = new Set<string>([await calls.realPath(root)]);
  const pending = [""];
  while (pending.length > 0) {
    const relative = pending.shift()!;
    const folder = relative === "" ? root : join(root, relative);
    const entries: Deno.DirEntry[] = [];
    for await (const entry of Deno.readDir(folder)) entries.push(entry);
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    for (const entry of entries) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      const localPath = join(folder, entry.name);
      if (entry.isSymlink && keepSymlinks) {
        tree.links.push({ path, target: await Deno.readLink(localPath) });
        continue;
      }
      let info: Deno.FileInfo | undefined;
      if (entry.isSymlink) {
        info = await Deno.stat(localPath).catch(() => undefined); // dangling: skipped
      } else if (entry.isFile) {
        // Gone since the listing: skipped, as a dangling link is.
        info = (await calls.lstatOrNull(localPath)) ?? undefined;
      }
      if (info?.isFile) {
        tree.files.push({ path, localPath, size: info.size });
      } else if (entry.isDirectory || info?.isDirectory) {
        const real = await calls.realPath(localPath);
        if (seen.has(real)) continue; // a link back up the tree
        seen.add(real);
        tree.folders.push(path);
        pending.push(path);
      }
    }
  }
  return tree;
}
