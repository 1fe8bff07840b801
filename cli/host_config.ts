/**
 * `HostConfig`: the client's per-server settings, `$OVTP_HOME/config` in ssh_config style
 * (`Host` blocks of `HostName`, `Port`, `IdentityFile`, `Fingerprint`, `KnownHostsFile`). The
 * client-command skeleton (`client_command.ts`) looks the target up here before connecting, so
 * that every client command honours it; flags on the command line win over it.
 *
 * @module
 */

import { dirname, isAbsolute, join } from "node:path";
import { CliError } from "./cli_error.ts";

/** What the config file says about one server, after the first-match-wins rule. */
export interface HostSettings {
  /** The host to connect to instead of the name given (`HostName`). */
  hostName?: string;
  /** The port, when the command line gave none (`Port`). */
  port?: number;
  /** Our private key (`IdentityFile`, `~` expanded, relative to the config's folder). */
  identityFile?: string;
  /** The server key to expect, as `--fingerprint` (`Fingerprint`). */
  fingerprint?: string;
  /** The known_hosts file (`KnownHostsFile`, `~` expanded, relative to the config's folder). */
  knownHostsFile?: string;
  /** The lines of the `Host` blocks that applied, for `-v`: `config line 3: Host db`. */
  applied: string[];
}

type Keyword = "hostName" | "port" | "identityFile" | "fingerprint" | "knownHostsFile";

/** The keywords, lower-cased as they are compared, with the field each sets. */
const keywords: ReadonlyMap<string, Keyword> = new Map([
  ["hostname", "hostName"],
  ["port", "port"],
  ["identityfile", "identityFile"],
  ["fingerprint", "fingerprint"],
  ["knownhostsfile", "knownHostsFile"],
]);
const keywordNames = "Host, HostName, Port, IdentityFile, Fingerprint, KnownHostsFile";
const maxConfigBytes = 1_048_576;
const maxPort = 65_535;
const fingerprintPattern = /^SHA256:[A-Za-z0-9+/]{43}$/;

interface Block {
  /** The `Host` line's number (0 for the lines before the first `Host`, which apply to all). */
  lineNumber: number;
  patterns: { regex: RegExp; negated: boolean }[];
  settings: { keyword: Keyword; value: string | number }[];
}

/**
 * A parsed config file. As in ssh_config: `Host` starts a block that applies when one of its
 * patterns (`*` any run of characters, `?` one, `!pattern` excludes) matches the host as the
 * command line names it; for each keyword the first value met wins, so specific blocks go
 * first and `Host *` last. Keywords are case-insensitive; `Keyword value` and `Keyword=value`
 * are both accepted; `#` starts a comment line.
 *
 * @example Look up an alias
 * ```ts
 * import { HostConfig } from "./host_config.ts";
 * import assert from "node:assert/strict";
 *
 * const config = HostConfig.parse(
 *   "Host db db.example\n  HostName 10.0.0.5\n  Port 4822\nHost *\n  Port 4000\n",
 *   "/home/me/.ovtp/config",
 * );
 * const db = config.lookup("db");
 * assert.equal(db.hostName, "10.0.0.5");
 * assert.equal(db.port, 4822);
 * assert.equal(config.lookup("other").port, 4000);
 * assert.throws(() => HostConfig.parse("Hostname x\nProxyJump y", "c"), /c line 2: unknown keyword/);
 * ```
 */
export class HostConfig {
  /** The file it was read from. */
  readonly path: string;
  readonly #blocks: Block[];

  private constructor(path: string, blocks: Block[]) {
    this.path = path;
    this.#blocks = blocks;
  }

  /**
   * Parses the text of a config file.
   *
   * @param text The file's contents.
   * @param path The file, for messages and to resolve relative paths.
   * @returns The config.
   * @throws {CliError} For an unknown keyword, a missing or bad value, naming `path` and line.
   */
  static parse(text: string, path: string): HostConfig {
    const blocks: Block[] = [{ lineNumber: 0, patterns: [], settings: [] }];
    for (const [index, rawLine] of text.split(/\r?\n/).entries()) {
      const line = rawLine.trim();
      if (line === "" || line.startsWith("#")) continue;
      const where = `${path} line ${index + 1}`;
      const match = /^([^\s=]+)(?:\s*=\s*|\s+)(.*)$/.exec(line);
      if (match === null) throw new CliError(`${where}: "${line}" has no value`);
      const name = match[1].toLowerCase();
      const value = unquote(match[2].trim());
      if (value === "") throw new CliError(`${where}: ${match[1]} has no value`);
      if (name === "host") {
        blocks.push({ lineNumber: index + 1, patterns: parsePatterns(value), settings: [] });
        continue;
      }
      const keyword = keywords.get(name);
      if (keyword === undefined) {
        throw new CliError(
          `${where}: unknown keyword "${match[1]}"; ovtp knows ${keywordNames}`,
        );
      }
      blocks.at(-1)!.settings.push({ keyword, value: checkValue(keyword, value, where, path) });
    }
    return new HostConfig(path, blocks);
  }

  /**
   * Reads a config file.
   *
   * @param path The file.
   * @param required Whether a missing file is an error (`--config FILE`) or means no settings.
   * @returns The config, or `undefined` for a missing file that is not required.
   * @throws {CliError} When the file cannot be read or is malformed.
   *
   * @example A missing default config is no config
   * ```ts
   * import { HostConfig } from "./host_config.ts";
   * import assert from "node:assert/strict";
   *
   * assert.equal(await HostConfig.read("/nonexistent/config", false), undefined);
   * await assert.rejects(HostConfig.read("/nonexistent/config", true), /Cannot read/);
   * ```
   */
  static async read(path: string, required: boolean): Promise<HostConfig | undefined> {
    let text: string;
    try {
      const info = await Deno.stat(path);
      if (!info.isFile || info.size > maxConfigBytes) {
        throw new CliError(
          `Cannot read ${path}: not a regular file of at most ${maxConfigBytes} bytes`,
        );
      }
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (error instanceof CliError) throw error;
      if (error instanceof Deno.errors.NotFound && !required) return undefined;
      throw new CliError(
        `Cannot read ${path}: ${
          error instanceof Deno.errors.NotFound ? "No such file or directory" : String(error)
        }`,
        undefined,
        { cause: error },
      );
    }
    return HostConfig.parse(text, path);
  }

  /**
   * The settings for `host`, as the command line names it: for each keyword, the first value
   * of a block whose patterns match.
   *
   * @param host The host as given (`db`, `files.example.com`, `10.0.0.5`).
   * @returns The settings found (empty when no block applies).
   *
   * @example A negated pattern excludes a host
   * ```ts
   * import { HostConfig } from "./host_config.ts";
   * import assert from "node:assert/strict";
   *
   * const config = HostConfig.parse("Host *.example !test.example\n  Port 9\n", "config");
   * assert.equal(config.lookup("www.example").port, 9);
   * assert.equal(config.lookup("test.example").port, undefined);
   * ```
   */
  lookup(host: string): HostSettings {
    const settings: HostSettings = { applied: [] };
    const name = host.toLowerCase();
    for (const block of this.#blocks) {
      if (block.lineNumber !== 0 && !matches(block, name)) continue;
      if (block.lineNumber !== 0) {
        settings.applied.push(
          `${this.path} line ${block.lineNumber}: applying options for ${host}`,
        );
      }
      for (const { keyword, value } of block.settings) {
        // First match wins, per keyword (ssh_config).
        if (settings[keyword] === undefined) {
          (settings as unknown as Record<Keyword, unknown>)[keyword] = value;
        }
      }
    }
    return settings;
  }
}

function parsePatterns(value: string): Block["patterns"] {
  return value.split(/\s+/).map((word) => {
    const negated = word.startsWith("!");
    const glob = negated ? word.slice(1) : word;
    const source = glob.toLowerCase().replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")
      .replaceAll("?", ".");
    return { regex: new RegExp(`^${source}$`), negated };
  });
}

function matches(block: Block, host: string): boolean {
  let matched = false;
  for (const { regex, negated } of block.patterns) {
    if (!regex.test(host)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function checkValue(keyword: Keyword, value: string, where: string, path: string): string | number {
  switch (keyword) {
    case "port": {
      const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
      if (!(port >= 1 && port <= maxPort)) {
        throw new CliError(`${where}: Port takes a number from 1 to ${maxPort}, not "${value}"`);
      }
      return port;
    }
    case "fingerprint":
      if (!fingerprintPattern.test(value)) {
        throw new CliError(
          `${where}: Fingerprint must look like SHA256: and 43 base64 characters, as ovtp ` +
            `fingerprint prints it`,
        );
      }
      return value;
    case "identityFile":
    case "knownHostsFile":
      return expandPath(value, path);
    default:
      return value;
  }
}

/** `~/x` from `$HOME`; a relative path from the config's folder. */
function expandPath(value: string, configPath: string): string {
  if (value === "~" || value.startsWith("~/")) {
    const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
    if (home !== undefined && home !== "") return join(home, value.slice(1));
  }
  return isAbsolute(value) ? value : join(dirname(configPath), value);
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"')
    ? value.slice(1, -1)
    : value;
}
