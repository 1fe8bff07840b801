import assert from "node:assert/strict";
import { join } from "node:path";
import { HostConfig } from "../../cli/host_config.ts";
import { fixtureFingerprint, installKey, makeWorld, runCli, startServe } from "./_cli.ts";

Deno.test("HostConfig.lookup() takes the first value of each keyword from the matching blocks", () => {
  const config = HostConfig.parse(
    [
      "# comment",
      "host db !db.old",
      "  HOSTNAME 10.0.0.5",
      "Host ?x *.lab",
      "  port=4822",
      '  IdentityFile "~/keys/lab key"',
      "Host *",
      "  Port 4000",
      "  KnownHostsFile hosts",
    ].join("\n"),
    "/etc/ovtp/config",
  );
  const db = config.lookup("DB");
  assert.equal(db.hostName, "10.0.0.5");
  assert.equal(db.port, 4000, "db matches neither ?x nor *.lab");
  assert.equal(db.knownHostsFile, "/etc/ovtp/hosts");
  assert.equal(config.lookup("db.old").hostName, undefined);
  const dx = config.lookup("dx");
  assert.equal(dx.port, 4822);
  assert.equal(dx.identityFile, join(Deno.env.get("HOME")!, "keys/lab key"));
  assert.deepEqual(config.lookup("dx").applied, [
    "/etc/ovtp/config line 4: applying options for dx",
    "/etc/ovtp/config line 7: applying options for dx",
  ]);
  assert.throws(
    () => HostConfig.parse("Host a\n  User root\n", "/x/config"),
    /^CliError: \/x\/config line 2: unknown keyword "User"; ovtp knows Host, HostName/,
  );
  assert.throws(() => HostConfig.parse("Port 70000", "c"), /c line 1: Port takes a number/);
  assert.throws(() => HostConfig.parse("Fingerprint abc", "c"), /c line 1: Fingerprint must/);
});

Deno.test("ovtp reads $OVTP_HOME/config: an alias names HostName, Port and IdentityFile; flags win; a Fingerprint pin that does not match exits 4", async () => {
  const world = await makeWorld();
  const server = await startServe(["--root", world.root], { env: world.env(world.serverHome) });
  try {
    // carol's home holds bob's key (not authorized) as its default, and alice's as id_alice.
    const home = join(world.dir, "carol");
    await installKey("bob", home);
    await installKey("alice", join(world.dir, "alice_key"));
    const env = world.env(home);
    const serverKey = await fixtureFingerprint("server");
    const bobKey = await fixtureFingerprint("bob");
    await Deno.writeTextFile(
      join(home, "config"),
      [
        "Host files",
        "  HostName 127.0.0.1",
        `  Port ${server.port}`,
        `  IdentityFile ${join(world.dir, "alice_key", "id_ovtp")}`,
        `  Fingerprint ${serverKey}`,
        "Host pinned-wrong",
        "  HostName 127.0.0.1",
        `  Port ${server.port}`,
        `  Fingerprint ${bobKey}`,
      ].join("\n"),
    );
    let run = await runCli(["send", "files", "hi"], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '{"status":true,"response":"received 2 bytes"}\n');

    run = await runCli(["send", "pinned-wrong", "hi"], { env });
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, new RegExp(`presented .*${escape(serverKey)}`));

    // --identity wins over IdentityFile: bob's key is refused (exit 3).
    run = await runCli(["send", "-i", join(home, "id_ovtp"), "files", "hi"], { env });
    assert.equal(run.code, 3, run.stderr);
    // A port on the command line wins over Port: nothing listens on port 1.
    run = await runCli(["send", "--timeout", "5", "files:1", "hi"], { env });
    assert.equal(run.code, 6, run.stderr);
    // --fingerprint wins over Fingerprint.
    run = await runCli(["send", "--fingerprint", serverKey, "pinned-wrong", "hi"], { env });
    assert.equal(run.code, 3, `bob's own key is then refused: ${run.stderr}`);

    // --config FILE names another file; an unknown keyword names the file and line.
    const other = join(world.dir, "other_config");
    await Deno.writeTextFile(other, "Host *\n  Hostname 127.0.0.1\n  ProxyJump gateway\n");
    run = await runCli(["send", "--config", other, "files", "hi"], { env });
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      `ovtp: ${other} line 3: unknown keyword "ProxyJump"; ovtp knows Host, HostName, Port, ` +
        `IdentityFile, Fingerprint, KnownHostsFile\n`,
    );
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp -v prints debug1 lines: the config, the address, both keys, how the server key was trusted, the handshake and each request", async () => {
  const world = await makeWorld();
  const server = await startServe(["--root", world.root], { env: world.env(world.serverHome) });
  try {
    const env = world.env(world.aliceHome);
    const serverKey = await fixtureFingerprint("server");
    const aliceKey = await fixtureFingerprint("alice");
    await Deno.writeTextFile(join(world.aliceHome, "config"), `Host srv\n  HostName 127.0.0.1\n`);
    let run = await runCli(["send", "-v", "--accept-new", `srv:${server.port}`, "hi"], { env });
    assert.equal(run.code, 0, run.stderr);
    const config = join(world.aliceHome, "config");
    const knownHosts = join(world.aliceHome, "known_hosts");
    const lines = run.stderr.split("\n").filter((line) => line.startsWith("debug1: "));
    assert.deepEqual(lines, [
      `debug1: Reading configuration data ${config}`,
      `debug1: ${config} line 1: applying options for srv`,
      `debug1: Connecting to ${server.address}`,
      `debug1: Our key: ${aliceKey} (${join(world.aliceHome, "id_ovtp")})`,
      `debug1: Server key: ${serverKey}`,
      `debug1: Server key was unknown: trusted on first use (--accept-new), recorded in ${knownHosts}`,
      lines[6],
      'debug1: request sendMessage "hi"',
    ]);
    assert.match(
      lines[6],
      /^debug1: Authenticated to 127\.0\.0\.1:\d+ in [\d.]+ ms \(full handshake, not resumed\)$/,
    );

    await Deno.writeTextFile(join(world.root, "a.txt"), "a");
    run = await runCli(["hash", "-v", `${server.address}:a.txt`], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `debug1: Host '\\[127\\.0\\.0\\.1\\]:${server.port}' is known and matches the key found in ${knownHosts}:1\n`,
      ),
    );
    assert.match(run.stderr, /debug1: request hash "a\.txt"\n/);
    run = await runCli(["hash", "-v", "--fingerprint", serverKey, `${server.address}:a.txt`], {
      env,
    });
    assert.match(
      run.stderr,
      /debug1: Server key matches the pinned fingerprint \(--fingerprint\)\n/,
    );
    run = await runCli(["hash", `${server.address}:a.txt`], { env });
    assert.doesNotMatch(run.stderr, /debug1/);
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
