// The command line is the one place that prints: the library never writes to the console.
// deno-lint-ignore-file no-console

/**
 * The `ovtp` command. Thin: it parses arguments, calls the library and formats the output.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runDemo } from "./cli/demo.ts";
import denoJson from "./deno.json" with { type: "json" };

const usage =
  `ovtp ${denoJson.version}: encrypted messages between servers that trust each other's keys

Usage:
  ovtp demo        run a server and a client on loopback with throwaway keys
  ovtp --help      show this help
  ovtp --version   show the version
`;

/**
 * Runs the command line `args` and returns the exit code.
 *
 * @example Print the version
 * ```ts ignore
 * const code = await main(["--version"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { help: { type: "boolean", short: "h" }, version: { type: "boolean" } },
    });
  } catch (error) {
    console.error(`ovtp: ${(error as Error).message}; see ovtp --help`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    console.log(denoJson.version);
    return 0;
  }
  if (values.help || positionals.length === 0) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  switch (positionals[0]) {
    case "demo":
      await runDemo((line) => console.log(line));
      return 0;
    default:
      console.error(`ovtp: unknown command "${positionals[0]}"; see ovtp --help`);
      return 2;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
