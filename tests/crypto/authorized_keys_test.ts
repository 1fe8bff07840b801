import assert from "node:assert/strict";
import { join } from "node:path";
import {
  addAuthorizedKey,
  AuthorizedKeys,
  parseAuthorizedKeys,
} from "../../crypto/authorized_keys.ts";
import { encodeBase64 } from "../../crypto/base64.ts";
import { formatPublicKey } from "../../crypto/public_key.ts";
import { KeyFileError } from "../../errors.ts";
import { fixtureIdentity, withTempDir } from "../_fixtures.ts";

const isWindows = Deno.build.os === "windows";

async function keys() {
  const alice = (await fixtureIdentity("alice")).publicKey;
  const bob = (await fixtureIdentity("bob")).publicKey;
  const server = (await fixtureIdentity("server")).publicKey;
  return { alice, bob, server };
}

Deno.test("parseAuthorizedKeys() reads options, comments and keys, and skips bad lines", async () => {
  const { alice, bob, server } = await keys();
  const serverBase64 = encodeBase64(server.spki);
  const text = [
    "# ovtp authorized keys",
    "",
    `read-only,From="10.0.0.1,10.0.0.2",root="my \\"data\\" dir" ${formatPublicKey(alice)}`,
    `ssh-rsa ${serverBase64} old@laptop`,
    `${"ovtp-rsa"} ${serverBase64.slice(0, 40)}`,
    `from="10.0.0.1 ${formatPublicKey(server)}`,
    `read-only,read-only ${formatPublicKey(server)}`,
    `read-only, ${formatPublicKey(server)}`,
    "   # indented comment",
    `\t${formatPublicKey(bob)}\r`,
    `restrict ${formatPublicKey(alice)}`,
    "read-only",
    "",
  ].join("\n");
  const { keys: found, warnings } = await parseAuthorizedKeys(text);

  assert.deepEqual(found.map((key) => [key.publicKey.fingerprint, key.lineNumber]), [
    [alice.fingerprint, 3],
    [bob.fingerprint, 10],
  ]);
  assert.deepEqual(
    [...found[0].options],
    [["read-only", true], ["from", "10.0.0.1,10.0.0.2"], ["root", 'my "data" dir']],
  );
  assert.equal(found[0].publicKey.comment, "alice@test");
  assert.equal(found[1].options.size, 0);
  assert.equal(found[1].publicKey.comment, "bob@test");
  assert.deepEqual(warnings, [
    "authorized_keys line 4: not an ovtp-rsa key; skipped",
    "authorized_keys line 5: not a DER SubjectPublicKeyInfo of an RSA key; skipped",
    "authorized_keys line 6: an option value has no closing quote; skipped",
    'authorized_keys line 7: the option "read-only" is given twice; skipped',
    "authorized_keys line 8: malformed options before the key type; skipped",
    "authorized_keys line 11: the same key as line 3; skipped",
    "authorized_keys line 12: the key is missing after the options; skipped",
  ]);
  for (const warning of warnings) assert.ok(!warning.includes(serverBase64.slice(0, 20)));
});

Deno.test("parseAuthorizedKeys() never throws on garbage", async () => {
  const garbage = [
    "\u0000\u0001\u0002",
    '"""',
    "=,=,=",
    'a=b,c="d" ovtp-rsa',
    "ovtp-rsa ====",
    "ovtp-rsa AAAA",
    "x".repeat(100_000),
    "ovtp-rsa " + "A".repeat(100_000),
  ].join("\n");
  const { keys: found, warnings } = await parseAuthorizedKeys(garbage);
  assert.equal(found.length, 0);
  assert.equal(warnings.length, 8);
});

Deno.test("parseAuthorizedKeys() authorizes nothing from text over 1 MiB", async () => {
  const { alice } = await keys();
  const line = `${formatPublicKey(alice)}\n`;
  const text = line + "#".repeat(1_048_577);
  const { keys: found, warnings } = await parseAuthorizedKeys(text);
  assert.equal(found.length, 0);
  assert.match(warnings[0], /larger than 1048576 bytes; no key is authorized/);
});

Deno.test("AuthorizedKeys.fromFile() treats a missing file as no key, and sees it appear", async () => {
  const { alice } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "authorized_keys");
    const authorized = AuthorizedKeys.fromFile(path);
    assert.equal(await authorized.find(alice.fingerprint), undefined);
    assert.deepEqual(authorized.warnings, []);

    await Deno.writeTextFile(path, `${formatPublicKey(alice)}\n`);
    assert.equal((await authorized.find(alice.fingerprint))?.lineNumber, 1);

    await Deno.remove(path);
    assert.equal(await authorized.find(alice.fingerprint), undefined);
  });
});

Deno.test("AuthorizedKeys.find() sees a revocation as soon as the file changes", async () => {
  const { alice, bob } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "authorized_keys");
    const aliceLine = formatPublicKey(alice);
    const bobLine = formatPublicKey(bob);
    await Deno.writeTextFile(path, `${aliceLine}\n${bobLine}\n`);
    const authorized = AuthorizedKeys.fromFile(path);
    assert.ok(await authorized.find(alice.fingerprint));
    assert.ok(await authorized.find(bob.fingerprint));

    // Same size, same inode, within the same millisecond or so: the status may not change.
    await Deno.writeTextFile(path, `#${aliceLine.slice(1)}\n${bobLine}\n`);
    assert.equal(await authorized.find(alice.fingerprint), undefined);
    assert.ok(await authorized.find(bob.fingerprint));

    // Removing a line changes the size.
    await Deno.writeTextFile(path, `${aliceLine}\n`);
    assert.equal(await authorized.find(bob.fingerprint), undefined);
    assert.ok(await authorized.find(alice.fingerprint));

    // Replacing the file (a new inode), as editors do.
    await Deno.writeTextFile(`${path}.new`, `${bobLine}\n`);
    await Deno.rename(`${path}.new`, path);
    assert.equal(await authorized.find(alice.fingerprint), undefined);
    assert.ok(await authorized.find(bob.fingerprint));
  });
});

Deno.test("AuthorizedKeys.find() sees a same-size change even when the modification time is set back", async () => {
  const { alice, bob } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "authorized_keys");
    const aliceLine = formatPublicKey(alice);
    const bobLine = formatPublicKey(bob);
    const old = new Date(Date.now() - 60_000);
    await Deno.writeTextFile(path, `${aliceLine}\n${bobLine}\n`);
    await Deno.utime(path, old, old);
    const authorized = AuthorizedKeys.fromFile(path);
    assert.ok(await authorized.find(alice.fingerprint));

    // As `cp -p` would: same size, same inode, same modification time.
    await Deno.writeTextFile(path, `#${aliceLine.slice(1)}\n${bobLine}\n`);
    await Deno.utime(path, old, old);
    assert.equal(await authorized.find(alice.fingerprint), undefined);
    assert.ok(await authorized.find(bob.fingerprint));
  });
});

Deno.test("AuthorizedKeys.find() handles concurrent lookups", async () => {
  const { alice, bob } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "authorized_keys");
    await Deno.writeTextFile(path, `${formatPublicKey(alice)}\n`);
    const authorized = AuthorizedKeys.fromFile(path);
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        (_, index) => authorized.find(index % 2 ? alice.fingerprint : bob.fingerprint),
      ),
    );
    assert.deepEqual(
      results.map((result) => result?.lineNumber),
      Array(10).fill([undefined, 1]).flat(),
    );
  });
});

Deno.test("AuthorizedKeys.warnings reports the problems of the last read", async () => {
  const { alice } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "authorized_keys");
    await Deno.writeTextFile(path, `bad line\n${formatPublicKey(alice)}\n`);
    const authorized = AuthorizedKeys.fromFile(path);
    assert.ok(await authorized.find(alice.fingerprint));
    assert.deepEqual(authorized.warnings, [
      "authorized_keys line 1: not an ovtp-rsa key; skipped",
    ]);
    await Deno.writeTextFile(path, `${formatPublicKey(alice)}\n`);
    assert.ok(await authorized.find(alice.fingerprint));
    assert.deepEqual(authorized.warnings, []);
  });
});

Deno.test("AuthorizedKeys.fromFile() authorizes nothing from a file over 1 MiB", async () => {
  const { alice } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "authorized_keys");
    await Deno.writeTextFile(path, `${formatPublicKey(alice)}\n${"#".repeat(1_048_576)}\n`);
    const authorized = AuthorizedKeys.fromFile(path);
    assert.equal(await authorized.find(alice.fingerprint), undefined);
    assert.match(authorized.warnings[0], /larger than 1048576 bytes; no key is authorized/);
  });
});

Deno.test("AuthorizedKeys.fromKeys() holds a fixed set of public and authorized keys", async () => {
  const { alice, bob, server } = await keys();
  const options = new Map<string, string | true>([["read-only", true]]);
  const authorized = AuthorizedKeys.fromKeys([alice, { publicKey: bob, options, lineNumber: 7 }]);
  const foundAlice = await authorized.find(alice.fingerprint);
  assert.equal(foundAlice?.publicKey, alice);
  assert.equal(foundAlice?.lineNumber, 0);
  assert.equal(foundAlice?.options.size, 0);
  assert.equal((await authorized.find(bob.fingerprint))?.options.get("read-only"), true);
  assert.equal(await authorized.find(server.fingerprint), undefined);
  assert.deepEqual(authorized.warnings, []);
});

Deno.test("addAuthorizedKey() creates the file 0600 in a 0700 folder and adds a key once", async () => {
  const { alice, bob } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "ovtp", "authorized_keys");
    assert.equal(await addAuthorizedKey(path, alice), true);
    assert.equal(await addAuthorizedKey(path, alice), false);
    assert.equal(await addAuthorizedKey(path, bob), true);
    assert.equal(
      await Deno.readTextFile(path),
      `${formatPublicKey(alice)}\n${formatPublicKey(bob)}\n`,
    );
    if (!isWindows) {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(join(dir, "ovtp"))).mode! & 0o077, 0);
    }
    const authorized = AuthorizedKeys.fromFile(path);
    assert.equal((await authorized.find(bob.fingerprint))?.lineNumber, 2);
  });
});

Deno.test("addAuthorizedKey() sees a key written with options, and ends an unfinished line", async () => {
  const { alice, bob } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "authorized_keys");
    await Deno.writeTextFile(path, `read-only ${formatPublicKey(alice)}`);
    assert.equal(await addAuthorizedKey(path, alice), false);
    assert.equal(await addAuthorizedKey(path, bob), true);
    assert.equal(
      await Deno.readTextFile(path),
      `read-only ${formatPublicKey(alice)}\n${formatPublicKey(bob)}\n`,
    );
  });
});

Deno.test("parseAuthorizedKeys() skips a whole line with an unknown or malformed option", async () => {
  const { alice, bob } = await keys();
  const aliceLine = formatPublicKey(alice);
  const lines = [
    `command="date" ${aliceLine}`,
    `no-port-forwarding,read-only ${aliceLine}`,
    `readonly ${aliceLine}`,
    `root ${aliceLine}`,
    `root="" ${aliceLine}`,
    `root=,read-only ${aliceLine}`,
    `read-only="yes" ${aliceLine}`,
    `Read-Only,read-only ${aliceLine}`,
    `from="10.0.0.1/8" ${aliceLine}`,
    `from="10.0.0.0/33" ${aliceLine}`,
    `from="*.example.com" ${aliceLine}`,
    `from="" ${aliceLine}`,
    `RESTRICT,Topics="metrics.>" ${formatPublicKey(bob)}`,
  ];
  const { keys: found, warnings } = await parseAuthorizedKeys(lines.join("\n"));
  assert.deepEqual(found.map((key) => [key.publicKey.fingerprint, key.lineNumber]), [
    [bob.fingerprint, 13],
  ]);
  assert.deepEqual([...found[0].options], [["restrict", true], ["topics", "metrics.>"]]);
  const problems = warnings.map((warning) => warning.replace(/ \(ovtp knows [^)]*\)/, ""));
  assert.deepEqual(problems, [
    'authorized_keys line 1: unknown option "command"; skipped',
    'authorized_keys line 2: unknown option "no-port-forwarding"; skipped',
    'authorized_keys line 3: unknown option "readonly"; skipped',
    'authorized_keys line 4: the option "root" needs a value: root="…"; skipped',
    'authorized_keys line 5: the option "root" needs a value: root="…"; skipped',
    'authorized_keys line 6: the option "root" needs a value: root="…"; skipped',
    'authorized_keys line 7: the option "read-only" takes no value; skipped',
    'authorized_keys line 8: the option "read-only" is given twice; skipped',
    'authorized_keys line 9: the option "from": "10.0.0.1/8" has bits set after its /8 prefix; ' +
    "write the block's first address; skipped",
    'authorized_keys line 10: the option "from": the prefix length of "10.0.0.0/33" must be a ' +
    "whole number from 0 to 32; skipped",
    'authorized_keys line 11: the option "from": the wildcard pattern "*.example.com" may hold ' +
    'only hex digits, ".", ":", "*" and "?"; skipped',
    'authorized_keys line 12: the option "from" needs a value: from="…"; skipped',
  ]);
  assert.match(warnings[0], /ovtp knows from, root, permitopen, topics, read-only/);
});

Deno.test("AuthorizedKeys.fromFile() admits nobody from a file with an ssh-only option", async () => {
  const { alice } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "authorized_keys");
    await Deno.writeTextFile(path, `no-port-forwarding,command="true" ${formatPublicKey(alice)}\n`);
    const reported: string[] = [];
    const authorized = AuthorizedKeys.fromFile(path, { onWarning: (w) => reported.push(w) });
    assert.equal(await authorized.find(alice.fingerprint), undefined);
    assert.equal(reported.length, 1);
    assert.match(reported[0], /^authorized_keys line 1: unknown option "no-port-forwarding"/);
  });
});

Deno.test("AuthorizedKeys.fromKeys() refuses options ovtp does not know", async () => {
  const { alice } = await keys();
  const options = new Map<string, string | true>([["command", "date"]]);
  assert.throws(
    () => AuthorizedKeys.fromKeys([{ publicKey: alice, options, lineNumber: 0 }]),
    (error: Error) => error instanceof TypeError && /unknown option "command"/.test(error.message),
  );
});

Deno.test("addAuthorizedKey() refuses to add again a key whose line is skipped for its options", async () => {
  const { alice } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "authorized_keys");
    const text = `# kept\nno-pty ${formatPublicKey(alice)}\n`;
    await Deno.writeTextFile(path, text);
    await assert.rejects(
      addAuthorizedKey(path, alice),
      (error: Error) =>
        error instanceof KeyFileError && /line 2 already holds it/.test(error.message),
    );
    assert.equal(await Deno.readTextFile(path), text);
  });
});

Deno.test({
  name:
    "AuthorizedKeys.find() admits nobody from a world-writable file, says to chmod go-w, and recovers",
  ignore: isWindows,
  fn: async () => {
    const { alice } = await keys();
    await withTempDir(async (dir) => {
      const path = join(dir, "authorized_keys");
      await Deno.writeTextFile(path, `${formatPublicKey(alice)}\n`);
      await Deno.chmod(path, 0o600);
      const reported: string[] = [];
      const authorized = AuthorizedKeys.fromFile(path, { onWarning: (w) => reported.push(w) });
      assert.ok(await authorized.find(alice.fingerprint));

      // Made writable after it was read: the next lookup sees it.
      await Deno.chmod(path, 0o666);
      assert.equal(await authorized.find(alice.fingerprint), undefined);
      assert.equal(await authorized.find(alice.fingerprint), undefined);
      assert.equal(reported.length, 1, "reported once, not on every lookup");
      assert.equal(
        reported[0],
        `authorized_keys: Authorized keys file "${path}" is writable by group or others ` +
          `(mode 0666), so they could change which keys are trusted; ovtp refuses it until you ` +
          `run: chmod go-w ${path}`,
      );
      assert.deepEqual(authorized.warnings, reported);

      await Deno.chmod(path, 0o644);
      assert.ok(await authorized.find(alice.fingerprint));
      assert.deepEqual(authorized.warnings, []);
    });
  },
});

Deno.test({
  name: "AuthorizedKeys.find() admits nobody from a file in a group-writable folder",
  ignore: isWindows,
  fn: async () => {
    const { alice } = await keys();
    await withTempDir(async (dir) => {
      const home = join(dir, "home");
      await Deno.mkdir(home, { mode: 0o700 });
      const path = join(home, "authorized_keys");
      await Deno.writeTextFile(path, `${formatPublicKey(alice)}\n`, { mode: 0o600 });
      const authorized = AuthorizedKeys.fromFile(path);
      assert.ok(await authorized.find(alice.fingerprint));
      await Deno.chmod(home, 0o770);
      assert.equal(await authorized.find(alice.fingerprint), undefined);
      assert.match(
        authorized.warnings[0],
        new RegExp(`The folder "${home}" holding .* \\(mode 0770\\).* run: chmod go-w ${home}$`),
      );
      await assert.rejects(AuthorizedKeys.checkPermissions(path), KeyFileError);

      // A link from a safe folder to a file in an unsafe one does not help.
      await Deno.chmod(home, 0o700);
      const safe = join(dir, "safe");
      await Deno.mkdir(safe, { mode: 0o700 });
      const shared = join(dir, "shared");
      await Deno.mkdir(shared);
      await Deno.chmod(shared, 0o1777);
      await Deno.rename(path, join(shared, "authorized_keys"));
      await Deno.symlink(join(shared, "authorized_keys"), join(safe, "authorized_keys"));
      await assert.rejects(
        AuthorizedKeys.checkPermissions(join(safe, "authorized_keys")),
        new RegExp(`The folder "${shared}" .*\\(mode 1777\\)`),
      );
    });
  },
});
