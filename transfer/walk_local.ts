/**
 * The local side of a folder upload: `uploadDirectory()` walks the tree it sends here, before
 * anything goes over the connection.
 *
 * @module
 */

import { join } from "node:path";

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
 * (a cycle) and a dangling link are skipped; devices, FIFOs and sockets are left out.
 *
 * @param root The folder.
 * @param keepSymlinks List links as links instead of following them.
 * @returns The folders, files and links below `root`.
 *
 * @example Walk a small tree
 * ```ts
 * import { walkLocal } from "./walk_local.ts";
 * import { join } from "node:path";
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
export async function walkLocal(root: string, keepSymlinks: boolean): Promise<LocalTree> {
  const tree: LocalTree = { folders: [], files: [], links: [] };
  const seen = new Set<string>([await Deno.realPath(root)]);
  const pending = [""];
  while (pending.length > 0) {
    const relative = pending.shift()!;
    const folder = relative === "" ? root : join(root, relative);
    const names: string[] = [];
    for await (const entry of Deno.readDir(folder)) names.push(entry.name);
    names.sort();
    for (const name of names) {
      const path = relative === "" ? name : `${relative}/${name}`;
      const localPath = join(folder, name);
      const linkInfo = await Deno.lstat(localPath);
      if (linkInfo.isSymlink && keepSymlinks) {
        tree.links.push({ path, target: await Deno.readLink(localPath) });
        continue;
      }
      const info = linkInfo.isSymlink
        ? await Deno.stat(localPath).catch(() => undefined)
        : linkInfo;
      if (info?.isFile) {
        tree.files.push({ path, localPath, size: info.size });
      } else if (info?.isDirectory) {
        const real = await Deno.realPath(localPath);
        if (seen.has(real)) continue; // a link back up the tree
        seen.add(real);
        tree.folders.push(path);
        pending.push(path);
      }
    }
  }
  return tree;
}
