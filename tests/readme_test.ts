/**
 * README.md's command sequences run as written: every fenced `sh` block with an `ovtp` command
 * (the two-terminal walkthrough above all) runs line by line through `sh`, with `ovtp` being
 * `deno run -A cli.ts`, in two temporary homes (terminal A, the server, and terminal B, the
 * client), against the real `ovtp serve` the walkthrough starts. A block that cannot run here
 * (it needs root, a container engine, another machine) is marked with the info string
 * `sh no-run`. Only what the README leaves to the reader is done here: B's own files to send,
 * B's public key mailed to A as `b.pub`, A's fingerprint for the placeholder, the host
 * `a.example` and the port.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cliPath } from "./cli/_cli.ts";

const readmePath = join(import.meta.dirname!, "..", "README.md");

/** One fenced shell block: its first line number and its lines. */
export interface ShellBlock {
  line: number;
  lines: string[];
}

/**
 * The fenced `sh` blocks of `markdown` that hold an `ovtp` command, without those whose info
 * string says `no-run`.
 */
export function readmeShellBlocks(markdown: string): ShellBlock[] {
  const blocks: ShellBlock[] = [];
  let current: (ShellBlock & { run: boolean }) | undefined;
  markdown.split("\n").forEach((text, index) => {
    const fence = /^```(.*)$/.exec(text);
    if (current === undefined) {
      if (fence === null) return;
      const info = fence[1].trim().split(/\s+/);
      current = {
        line: index + 2,
        lines: [],
        run: ["sh", "bash", "shell"].includes(info[0]) && !info.includes("no-run"),
      };
    } else if (fence !== null && fence[1].trim() === "") {
      if (current.run && current.lines.some((line) => /^ovtp\s/.test(line))) {
        blocks.push({ line: current.line, lines: current.lines });
      }
      current = undefined;
    } else {
      current.lines.push(text);
    }
  });
  return blocks;
}

/** One of the walkthrough's terminals. */
interface Terminal {
  name: "A" | "B";
  home: string;
  env: Record<string, string>;
}

const prelude = 'ovtp() { "$OVTP_TEST_DENO" run -A --no-prompt "$OVTP_TEST_CLI" "$@"; }\n';

Deno.test("readmeShellBlocks() keeps sh blocks with ovtp commands and skips those marked no-run", () => {
  const markdown = [
    "```sh",
    "./denow task demo",
    "```",
    "```sh",
    "ovtp keygen",
    "```",
    "```sh no-run",
    "sudo systemctl enable --now ovtp",
    "ovtp serve",
    "```",
    "```ts",
    "ovtp keygen",
    "```",
  ].join("\n");
  assert.deepEqual(readmeShellBlocks(markdown), [{ line: 5, lines: ["ovtp keygen"] }]);
});

Deno.test("README's ovtp command blocks run as written against a real server", async () => {
  const blocks = readmeShellBlocks(await Deno.readTextFile(readmePath));
  assert.ok(blocks.some((block) => block.lines.some((line) => /^ovtp serve\b/.test(line))));
  const dir = await Deno.makeTempDir({ prefix: "ovtp_readme_test_" });
  const terminal = async (name: "A" | "B", user: string): Promise<Terminal> => {
    const home = join(dir, name);
    await Deno.mkdir(home);
    return {
      name,
      home,
      env: {
        HOME: home,
        USER: user,
        NO_COLOR: "1",
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        OVTP_TEST_DENO: Deno.execPath(),
        OVTP_TEST_CLI: cliPath,
      },
    };
  };
  const a = await terminal("A", "alice");
  const b = await terminal("B", "bob");
  // B's own files, which the walkthrough sends.
  await Deno.writeTextFile(join(b.home, "report.csv"), "day,count\nmonday,3\n");
  await Deno.mkdir(join(b.home, "site", "css"), { recursive: true });
  await Deno.writeTextFile(join(b.home, "site", "index.html"), "<h1>hi</h1>\n");
  await Deno.writeTextFile(join(b.home, "site", "css", "a.css"), "h1 { color: red }\n");

  let server: Deno.ChildProcess | undefined;
  let serverOut: Promise<void> | undefined;
  let port = 0;
  let fingerprintA = "";
  const decoder = new TextDecoder();
  try {
    for (const block of blocks) {
      let at = b; // the client's terminal, unless the block says otherwise
      let last: { line: string; stdout: string } | undefined;
      for (const [offset, raw] of block.lines.entries()) {
        const where = `README.md line ${block.line + offset}`;
        const text = raw.trim();
        if (/^#\s*(Terminal A|A:)/.test(text)) at = a;
        if (/^#\s*(Terminal B|B:)/.test(text)) at = b;
        const shown = /^#\s{3,}(.*)$/.exec(text)?.[1];
        if (shown !== undefined && !shown.includes("…") && !shown.startsWith("<-") && last) {
          // An output line written out in full: the command printed exactly that.
          assert.ok(
            last.stdout.split("\n").includes(shown),
            `${where}: "${last.line}" printed ${JSON.stringify(last.stdout)}, not ${shown}`,
          );
        }
        if (text === "" || text.startsWith("#")) continue;
        const line = text
          .replaceAll(/SHA256:\S*…\S*/g, fingerprintA)
          .replaceAll("0.0.0.0:4242", "127.0.0.1:0")
          .replaceAll("a.example", `127.0.0.1:${port}`);
        if (/^ovtp serve\b/.test(line)) {
          assert.equal(server, undefined, `${where}: a second server`);
          server = new Deno.Command("sh", {
            args: ["-c", prelude.replace('{ "$', '{ exec "$') + line],
            cwd: at.home,
            env: at.env,
            clearEnv: true,
            stdin: "null",
            stdout: "piped",
            stderr: "null",
          }).spawn();
          const ready = Promise.withResolvers<number>();
          serverOut = (async () => {
            let out = "";
            for await (const chunk of server!.stdout.pipeThrough(new TextDecoderStream())) {
              out += chunk;
              const found = /listening on 127\.0\.0\.1:(\d+) /.exec(out);
              if (found) ready.resolve(Number(found[1]));
            }
            ready.reject(new Error(`${where}: ovtp serve ended before it was ready: ${out}`));
          })();
          const timer = setTimeout(() => ready.reject(new Error(`${where}: not ready`)), 20_000);
          port = await ready.promise.finally(() => clearTimeout(timer));
          last = undefined;
          continue;
        }
        const run = await new Deno.Command("sh", {
          args: ["-c", prelude + line],
          cwd: at.home,
          env: at.env,
          clearEnv: true,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stdout = decoder.decode(run.stdout);
        assert.equal(
          run.code,
          0,
          `${where}, terminal ${at.name}: "${raw.trim()}" exited ${run.code}: ${
            decoder.decode(run.stderr)
          }(mark a block that cannot run here as \`\`\`sh no-run)`,
        );
        last = { line: text, stdout };
        if (/^ovtp keygen\b/.test(line)) {
          if (at === a) fingerprintA = /SHA256:\S+/.exec(stdout)?.[0] ?? "";
          // Each side mails its public key to the other's owner: B's reaches A as b.pub.
          else await Deno.copyFile(join(b.home, ".ovtp", "id_ovtp.pub"), join(a.home, "b.pub"));
        }
      }
    }
    // What the walkthrough sent arrived whole.
    assert.equal(
      await Deno.readTextFile(join(a.home, "shared", "report.csv")),
      await Deno.readTextFile(join(b.home, "report.csv")),
    );
    assert.equal(
      await Deno.readTextFile(join(b.home, "copy.csv")),
      await Deno.readTextFile(join(b.home, "report.csv")),
    );
    assert.equal(
      await Deno.readTextFile(join(a.home, "shared", "www", "css", "a.css")),
      "h1 { color: red }\n",
    );
    // Ctrl-C or SIGTERM in terminal A: the server exits 0.
    assert.ok(server, "no block started ovtp serve");
    server.kill("SIGTERM");
    assert.equal((await server.status).code, 0);
  } finally {
    if (server) {
      try {
        server.kill("SIGKILL");
      } catch {
        // It ended.
      }
      await server.status;
      await serverOut?.catch(() => {});
    }
    await Deno.remove(dir, { recursive: true });
  }
});
