/**
 * The service recipes in contrib/ stay in step with the command: the systemd unit's and the
 * container's `ovtp serve` command lines are run for real (with a free port and temporary
 * folders in place of the system's), and the container copies every folder cli.ts imports.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeWorld, runCli, startServe } from "./cli/_cli.ts";

const repoRoot = join(import.meta.dirname!, "..");
const unitPath = join(repoRoot, "contrib", "ovtp.service");
const containerfilePath = join(repoRoot, "contrib", "Containerfile");

/** The `key=value` settings of a unit file, in order, without comments. */
function unitSettings(text: string): [string, string][] {
  return text.split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#") && !line.startsWith("["))
    .map((line) => {
      const at = line.indexOf("=");
      return [line.slice(0, at), line.slice(at + 1)];
    });
}

/**
 * Runs `ovtp serve ARGS` as the recipe wrote it, with `listen` replaced by a free loopback port,
 * the served folder `root` by a temporary one and `$OVTP_HOME` by a temporary home holding a
 * key; checks it gets ready serving that folder, answers a client, and stops with exit code 0
 * on SIGTERM.
 */
async function runServeLine(args: string[], listen: string, root: string): Promise<void> {
  assert.equal(args[0], "serve");
  const rest = args.slice(1);
  const listenAt = rest.indexOf("--listen");
  assert.ok(listenAt >= 0 && rest[listenAt + 1] === listen, `no --listen ${listen} in ${args}`);
  rest.splice(listenAt, 2); // startServe listens on 127.0.0.1:0
  const world = await makeWorld();
  try {
    const serve = await startServe(
      rest.map((arg) => arg === root ? world.root : arg),
      { env: world.env(world.serverHome) },
    );
    try {
      assert.match(serve.readyLine, new RegExp(`serving files from ${world.root}`));
      const send = await runCli(["send", "--accept-new", serve.address, "hello"], {
        env: world.env(world.aliceHome),
      });
      assert.equal(send.code, 0, send.stderr);
    } finally {
      const run = await serve.stop("SIGTERM");
      assert.equal(run.code, 0, run.stderr);
    }
  } finally {
    await world.cleanup();
  }
}

Deno.test("contrib/ovtp.service runs ovtp serve with options it accepts, hardened", async () => {
  const settings = unitSettings(await Deno.readTextFile(unitPath));
  const get = (key: string) => settings.filter(([k]) => k === key).map(([, v]) => v);
  const [execStart] = get("ExecStart");
  assert.equal(get("ExecStart").length, 1);
  const [program, ...args] = execStart.split(/\s+/);
  assert.match(program, /\/ovtp$/);
  const root = args[args.indexOf("--root") + 1];
  const home = /^OVTP_HOME=(.+)$/.exec(get("Environment").join("\n"))?.[1];
  assert.ok(home, "the unit sets no OVTP_HOME");
  // What the server writes is exactly what the hardening leaves writable.
  assert.deepEqual(get("ReadWritePaths").join(" ").split(/\s+/).sort(), [home, root].sort());
  for (
    const [key, value] of [
      ["User", "ovtp"],
      ["Restart", "on-failure"],
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["PrivateTmp", "yes"],
      ["WantedBy", "multi-user.target"],
    ]
  ) {
    assert.deepEqual(get(key), [value], `${key}=${value}`);
  }
  assert.deepEqual(get("MemoryDenyWriteExecute"), [], "V8's JIT needs W+X memory");
  await runServeLine(args, "0.0.0.0:4242", root);
});

Deno.test("contrib/Containerfile copies every folder cli.ts imports and runs ovtp serve with options it accepts", async () => {
  const text = await Deno.readTextFile(containerfilePath);
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "cli.ts"],
    cwd: repoRoot,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(info.code, 0, new TextDecoder().decode(info.stderr));
  const base = new URL(`file://${repoRoot}/`).href;
  const folders = new Set<string>();
  for (const { specifier } of JSON.parse(new TextDecoder().decode(info.stdout)).modules) {
    if (!specifier.startsWith(base)) continue;
    const path = specifier.slice(base.length);
    if (path.includes("/")) folders.add(path.split("/")[0]);
    else {assert.ok(
        /\.ts$|^deno\.json$/.test(path),
        `${path} is not copied by "COPY deno.json *.ts"`,
      );}
  }
  assert.ok(folders.size >= 5);
  for (const folder of folders) {
    assert.ok(
      text.includes(`\nCOPY ${folder}/ ${folder}/\n`),
      `the Containerfile does not copy ${folder}/`,
    );
  }
  assert.match(text, /\nCOPY deno\.json \*\.ts \.\/\n/);
  assert.match(text, /\nUSER deno\n/);
  assert.match(text, /\nEXPOSE 4242\n/);
  const home = /\nENV OVTP_HOME=(\S+)\n/.exec(text)?.[1];
  const volumes = JSON.parse(/\nVOLUME (\[.*\])\n/.exec(text)?.[1] ?? "[]");
  const cmd: string[] = JSON.parse(/\nCMD (\[.*\])\n/.exec(text)?.[1] ?? "[]");
  const root = cmd[cmd.indexOf("--root") + 1];
  assert.deepEqual(volumes.sort(), [home, root].sort());
  await runServeLine(cmd, "0.0.0.0:4242", root);
});
