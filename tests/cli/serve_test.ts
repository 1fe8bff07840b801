import assert from "node:assert/strict";
import { join } from "node:path";
import {
  exists,
  findEvent,
  fixtureFingerprint,
  makeWorld,
  runCli,
  startServe,
  waitFor,
} from "./_cli.ts";

Deno.test("ovtp serve prints a ready line with the real port and its key, and answers", async () => {
  const world = await makeWorld();
  const server = await startServe([], { env: world.env(world.serverHome) });
  try {
    const serverKey = await fixtureFingerprint("server");
    assert.ok(server.port > 0);
    assert.match(
      server.readyLine,
      /^listening on 127\.0\.0\.1:\d+ with key SHA256:\S+, serving no files/,
    );
    assert.ok(server.readyLine.includes(serverKey));
    const run = await runCli(["send", "--fingerprint", serverKey, server.address, "hi"], {
      env: world.env(world.aliceHome),
    });
    assert.equal(run.stdout, '{"status":true,"response":"received 2 bytes"}\n');
    await server.waitForEvent({ event: "message", comment: "alice@test", bytes: 2, status: true });

    // Without --root, file operations are refused (exit code 5).
    const file = join(world.dir, "a.txt");
    await Deno.writeTextFile(file, "a");
    const put = await runCli(["put", "--fingerprint", serverKey, file, `${server.address}:a.txt`], {
      env: world.env(world.aliceHome),
    });
    assert.equal(put.code, 5, put.stderr);
    assert.match(put.stderr, /serves no files/);
  } finally {
    const end = await server.stop("SIGINT");
    assert.equal(end.code, 0, end.stderr);
    await world.cleanup();
  }
});

Deno.test("ovtp serve stops gracefully on a SIGTERM sent as soon as it says it listens", async () => {
  const world = await makeWorld();
  try {
    // A supervisor may stop the server the moment it reads the ready line: the stop signals
    // must be caught by then (before, the default action killed it with 143, now and then).
    for (let round = 0; round < 3; round++) {
      const server = await startServe([], { env: world.env(world.serverHome) });
      const end = await server.stop("SIGTERM");
      assert.equal(end.code, 0, end.stderr);
      assert.ok(findEvent(end.stderr, { event: "stopped" }), end.stderr);
    }
  } finally {
    await world.cleanup();
  }
});

Deno.test("ovtp serve drains requests in flight on SIGTERM and exits 0", async () => {
  const world = await makeWorld();
  const started = join(world.dir, "started");
  const server = await startServe(
    ["--exec", `touch '${started}'; sleep 1; echo finished`],
    { env: world.env(world.serverHome) },
  );
  try {
    const sending = runCli(["send", "--accept-new", server.address, "slow"], {
      env: world.env(world.aliceHome),
    });
    await waitFor(() => exists(started));
    const stopping = server.stop("SIGTERM");
    const run = await sending;
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '{"status":true,"response":"finished\\n"}\n');
    const end = await stopping;
    assert.equal(end.code, 0, end.stderr);
    assert.ok(findEvent(end.stderr, { event: "stopping" }), end.stderr);
    assert.equal(JSON.parse(end.stderr.trim().split("\n").at(-1)!).event, "stopped");
  } finally {
    await server.stop("SIGKILL");
    await world.cleanup();
  }
});

Deno.test("ovtp serve --exec pipes each message through a command", async () => {
  const world = await makeWorld();
  const server = await startServe(
    [
      "--exec",
      'printf "%s|%s|%s|" "$OVTP_PEER_COMMENT" "$OVTP_MESSAGE_TYPE" "$OVTP_PEER_FINGERPRINT"; ' +
      'input=$(cat); printf "%s" "$input"; [ "$input" != fail ] || exit 3',
      "--quiet",
    ],
    { env: world.env(world.serverHome) },
  );
  const alice = world.env(world.aliceHome);
  try {
    const aliceKey = await fixtureFingerprint("alice");
    let run = await runCli(["send", "--accept-new", server.address, "ping"], { env: alice });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), {
      status: true,
      response: `alice@test|text|${aliceKey}|ping`,
    });
    run = await runCli(["send", server.address, "fail"], { env: alice });
    assert.equal(run.code, 1, "a false status exits 1");
    assert.deepEqual(JSON.parse(run.stdout).status, false);
    assert.equal(server.stderr(), "", "--quiet logs no messages");
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp serve --max-exec runs at most N commands at once; the others wait their turn", async () => {
  const world = await makeWorld();
  const log = join(world.dir, "log");
  const server = await startServe(
    [
      "--exec",
      `id=$(cat); echo "start $id" >> '${log}'; sleep 0.3; echo "end $id" >> '${log}'`,
      "--max-exec",
      "1",
      "--quiet",
    ],
    { env: world.env(world.serverHome) },
  );
  try {
    const serverKey = await fixtureFingerprint("server");
    const runs = await Promise.all(
      ["one", "two", "three"].map((id) =>
        runCli(["send", "--fingerprint", serverKey, server.address, id], {
          env: world.env(world.aliceHome),
        })
      ),
    );
    for (const run of runs) assert.equal(run.code, 0, run.stderr);
    const lines = (await Deno.readTextFile(log)).trim().split("\n");
    assert.equal(lines.length, 6, lines.join("\n"));
    for (let n = 0; n < lines.length; n += 2) {
      assert.match(lines[n], /^start /, lines.join("\n"));
      assert.equal(lines[n + 1], lines[n].replace("start", "end"), lines.join("\n"));
    }
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp send prints a bytes response as base64", async () => {
  const world = await makeWorld();
  const server = await startServe(["--exec", "printf '\\377\\376'"], {
    env: world.env(world.serverHome),
  });
  try {
    const run = await runCli(["send", "--accept-new", server.address, "x"], {
      env: world.env(world.aliceHome),
    });
    assert.equal(run.stdout, '{"status":true,"response":"//4=","encoding":"base64"}\n');
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp serve --add-keys authorizes keys at start; authorize works while it runs", async () => {
  const world = await makeWorld();
  await Deno.remove(join(world.serverHome, "authorized_keys"));
  const keys = join(world.dir, "keys");
  await Deno.mkdir(keys);
  await Deno.copyFile(join(world.aliceHome, "id_ovtp.pub"), join(keys, "alice.pub"));
  const server = await startServe(["--add-keys", keys], { env: world.env(world.serverHome) });
  try {
    await server.waitForStderr(/authorized SHA256:\S+ alice@test/);
    let run = await runCli(["send", "--accept-new", server.address, "x"], {
      env: world.env(world.aliceHome),
    });
    assert.equal(run.code, 0, run.stderr);

    const bob = world.env(world.bobHome);
    run = await runCli(["send", "--accept-new", server.address, "x"], { env: bob });
    assert.equal(run.code, 3, run.stderr);
    run = await runCli(["authorize", join(world.bobHome, "id_ovtp.pub")], {
      env: world.env(world.serverHome),
    });
    assert.equal(run.code, 0, run.stderr);
    run = await runCli(["send", server.address, "x"], { env: bob });
    assert.equal(run.code, 0, `no restart needed: ${run.stderr}`);
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp serve refuses bad settings before listening", async () => {
  const world = await makeWorld();
  const env = world.env(world.serverHome);
  try {
    let run = await runCli(["serve", "--listen", "nowhere:port"], { env });
    assert.equal(run.code, 2, run.stderr);
    run = await runCli(["serve", "--listen", "127.0.0.1:0", "--root", join(world.dir, "missing")], {
      env,
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^ovtp: Cannot serve .*missing/);
    run = await runCli(["serve", "--listen", "127.0.0.1:0"], {
      env: world.env(join(world.dir, "empty")),
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /ovtp keygen -f/);
    run = await runCli(["serve", "--listen", "127.0.0.1:0", "--exec", "cat"], {
      env,
      permissions: ["--allow-net", "--allow-read", "--allow-env"],
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--allow-run/);
    run = await runCli(["serve", "--listen", "127.0.0.1:0", "--exec", "cat", "--max-exec", "0"], {
      env,
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--max-exec takes a whole number above 0/);
    run = await runCli(["serve", "--listen", "127.0.0.1:0", "--max-exec", "2"], { env });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--max-exec applies only with --exec/);

    const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      run = await runCli(["serve", "--listen", `127.0.0.1:${(busy.addr as Deno.NetAddr).port}`], {
        env,
      });
    } finally {
      busy.close();
    }
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^ovtp: Cannot listen on 127\.0\.0\.1:\d+: .*--listen\n$/);
  } finally {
    await world.cleanup();
  }
});

Deno.test("ovtp serve runs with only the permissions the README lists", async () => {
  const world = await makeWorld();
  const server = await startServe(["--root", world.root], {
    env: world.env(world.serverHome),
    permissions: ["--allow-net", "--allow-read", "--allow-write", "--allow-env"],
  });
  try {
    const file = join(world.dir, "a.txt");
    await Deno.writeTextFile(file, "content");
    const run = await runCli(["put", "--accept-new", file, `${server.address}:`], {
      env: world.env(world.aliceHome),
      permissions: ["--allow-net", "--allow-read", "--allow-write", "--allow-env"],
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await Deno.readTextFile(join(world.root, "a.txt")), "content");
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp serve --threaded-file-calls serves uploads, and its help names the flag", async () => {
  const world = await makeWorld();
  const server = await startServe(["--root", world.root, "--threaded-file-calls"], {
    env: world.env(world.serverHome),
  });
  try {
    const file = join(world.dir, "a.txt");
    await Deno.writeTextFile(file, "threaded");
    const run = await runCli(["put", "--accept-new", file, `${server.address}:`], {
      env: world.env(world.aliceHome),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await Deno.readTextFile(join(world.root, "a.txt")), "threaded");
    const help = await runCli(["serve", "--help"], { env: world.env(world.serverHome) });
    assert.match(help.stdout + help.stderr, /--threaded-file-calls/);
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

/** Starts `ovtp serve` expecting it to refuse to start; returns its standard error. */
async function serveRefusal(env: Record<string, string>): Promise<string> {
  const outcome = await startServe([], { env }).then(
    async (server) => {
      await server.stop();
      return undefined;
    },
    (error: Error) => error.message,
  );
  assert.ok(outcome !== undefined, "ovtp serve started");
  return outcome;
}

Deno.test({
  name: "ovtp serve refuses to start when OVTP_HOME is group-writable, naming the chmod (exit 1)",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const world = await makeWorld();
    try {
      await Deno.chmod(world.serverHome, 0o770);
      const message = await serveRefusal(world.env(world.serverHome));
      assert.equal(
        message,
        `ovtp serve did not get ready (exit 1): ovtp: The ovtp folder "${world.serverHome}" is ` +
          `writable by group or others (mode 0770), so they could change which keys are trusted; ` +
          `ovtp refuses it until you run: chmod go-w ${world.serverHome}\n`,
      );
    } finally {
      await world.cleanup();
    }
  },
});

Deno.test({
  name: "ovtp serve refuses to start with a world-writable authorized_keys (exit 1)",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const world = await makeWorld();
    try {
      const keys = join(world.serverHome, "authorized_keys");
      await Deno.chmod(keys, 0o666);
      const message = await serveRefusal(world.env(world.serverHome));
      assert.match(message, /\(exit 1\): ovtp: Authorized keys file ".*" is writable by group/);
      assert.ok(message.endsWith(`run: chmod go-w ${keys}\n`), message);
    } finally {
      await world.cleanup();
    }
  },
});

Deno.test({
  name: "ovtp serve admits nobody once authorized_keys becomes world-writable, and logs why",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const world = await makeWorld();
    const keys = join(world.serverHome, "authorized_keys");
    const server = await startServe([], { env: world.env(world.serverHome) });
    const env = world.env(world.aliceHome);
    try {
      const first = await runCli(["send", "--accept-new", server.address, "hi"], { env });
      assert.equal(first.code, 0, first.stderr);
      await Deno.chmod(keys, 0o666);
      const refused = await runCli(["send", server.address, "hi"], { env });
      assert.equal(refused.code, 3, refused.stderr);
      const warning = await server.waitForEvent({ event: "warning", file: keys });
      assert.match(String(warning.detail), /writable by group or others.*chmod go-w/);
      await Deno.chmod(keys, 0o600);
      const again = await runCli(["send", server.address, "hi"], { env });
      assert.equal(again.code, 0, again.stderr);
    } finally {
      await server.stop();
      await world.cleanup();
    }
  },
});

Deno.test("ovtp serve prints the lines of authorized_keys it skips, once, at start", async () => {
  const world = await makeWorld();
  const keys = join(world.serverHome, "authorized_keys");
  await Deno.writeTextFile(keys, `readonly ${await Deno.readTextFile(keys)}`);
  const server = await startServe([], { env: world.env(world.serverHome) });
  try {
    const run = await runCli(["send", "--accept-new", server.address, "hi"], {
      env: world.env(world.aliceHome),
    });
    assert.equal(run.code, 3, run.stderr);
    await server.waitForEvent({ event: "refused", reason: "authentication" });
    const skipped = server.stderr().split("\n").filter((line) => line.includes("readonly"));
    assert.deepEqual(skipped.length, 1, server.stderr());
    assert.match(
      skipped[0],
      /^ovtp: .*authorized_keys: authorized_keys line 1: unknown option "readonly"/,
    );
    assert.match(server.stderr(), /no client key is authorized yet/);
  } finally {
    await server.stop();
    await world.cleanup();
  }
});
