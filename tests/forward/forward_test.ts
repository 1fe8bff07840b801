import assert from "node:assert/strict";
import { join } from "node:path";
import { OvtpClient } from "../../client.ts";
import { AuthorizedKeys, parseAuthorizedKeys } from "../../crypto/authorized_keys.ts";
import { formatPublicKey } from "../../crypto/public_key.ts";
import { AuthenticationError, FileError, RemoteError } from "../../errors.ts";
import type { OvtpServerOptions } from "../../server.ts";
import { fixtureIdentity } from "../_fixtures.ts";
import { startServer, type TestServer } from "../_helpers.ts";

const largeBytes = 16 * 1024 * 1024;
const concurrentRequests = 50;

/** A byte pattern that a shifted or dropped chunk cannot match. */
function pattern(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >>> 11)) & 0xff;
  return bytes;
}

/** An HTTP server on 127.0.0.1:0: `/large` answers 16 MiB, anything else its path. */
function startHttp(): Deno.HttpServer<Deno.NetAddr> {
  const large = pattern(largeBytes);
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    return path === "/large" ? new Response(large) : new Response(`hello ${path}`);
  });
}

interface World {
  http: Deno.HttpServer<Deno.NetAddr>;
  server: TestServer;
  client: OvtpClient;
  /** An HTTP client that keeps no idle connections (nothing is left open after a test). */
  fetcher: Deno.HttpClient;
}

/**
 * Runs `fn` with an HTTP server, an ovtp server that authorizes alice with `keyOptions` (ssh-style
 * options before the key), and a client; cleans everything up.
 */
async function withWorld(
  keyOptions: string,
  serverOptions: (http: Deno.NetAddr) => Partial<OvtpServerOptions>,
  fn: (world: World) => Promise<void>,
): Promise<void> {
  const alice = await fixtureIdentity("alice");
  const line = `${keyOptions === "" ? "" : `${keyOptions} `}${formatPublicKey(alice.publicKey)}`;
  const { keys, warnings } = await parseAuthorizedKeys(line);
  assert.deepEqual(warnings, []);
  const http = startHttp();
  const fetcher = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  let server: TestServer | undefined;
  let client: OvtpClient | undefined;
  try {
    server = await startServer(undefined, {
      authorizedKeys: AuthorizedKeys.fromKeys(keys),
      ...serverOptions(http.addr),
    });
    client = new OvtpClient(server.address, server.clientOptions(alice, { reconnect: false }));
    await fn({ http, server, client, fetcher });
  } finally {
    await client?.close();
    await server?.close();
    fetcher.close();
    await http.shutdown();
  }
}

const allowHttp = (http: Deno.NetAddr) => ({ forwardAllow: [`127.0.0.1:${http.port}`] });

async function fetchText(fetcher: Deno.HttpClient, url: string): Promise<string> {
  const response = await fetch(url, { client: fetcher });
  return await response.text();
}

Deno.test("OvtpClient.forward() carries HTTP requests to a server on the allow-list", async () => {
  await withWorld("", allowHttp, async ({ http, client, fetcher, server }) => {
    const forward = await client.forward({
      localPort: 0,
      remoteHost: "127.0.0.1",
      remotePort: http.addr.port,
    });
    assert.equal(forward.addr.hostname, "127.0.0.1");
    const base = `http://127.0.0.1:${forward.addr.port}`;
    assert.equal(await fetchText(fetcher, `${base}/one`), "hello /one");

    const answers = await Promise.all(
      Array.from({ length: concurrentRequests }, (_, i) => fetchText(fetcher, `${base}/${i}`)),
    );
    assert.deepEqual(answers, Array.from({ length: concurrentRequests }, (_, i) => `hello /${i}`));

    const large = new Uint8Array(
      await (await fetch(`${base}/large`, { client: fetcher }))
        .arrayBuffer(),
    );
    assert.equal(large.length, largeBytes);
    assert.deepEqual(large, pattern(largeBytes));
    await forward.close();
    assert.deepEqual(server.errors, []);
  });
});

Deno.test("OvtpClient.forward() carries a TCP half-close both ways", async () => {
  // An echo service that answers only once the request ended: it needs the half-close.
  const echo = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of echo) {
      const chunks: Uint8Array[] = [];
      const buffer = new Uint8Array(4096);
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        chunks.push(buffer.slice(0, n));
      }
      for (const chunk of chunks.reverse()) await conn.write(chunk);
      conn.close();
    }
  })();
  try {
    await withWorld(
      "",
      () => ({ forwardAllow: [`127.0.0.1:${(echo.addr as Deno.NetAddr).port}`] }),
      async ({ client }) => {
        const forward = await client.forward({
          localPort: 0,
          remoteHost: "127.0.0.1",
          remotePort: (echo.addr as Deno.NetAddr).port,
        });
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: forward.addr.port });
        try {
          await conn.write(new TextEncoder().encode("ping"));
          await conn.closeWrite();
          const received: number[] = [];
          const buffer = new Uint8Array(4096);
          for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
            received.push(...buffer.subarray(0, n));
          }
          assert.equal(new TextDecoder().decode(new Uint8Array(received)), "ping");
        } finally {
          conn.close();
        }
      },
    );
  } finally {
    echo.close();
    await serving.catch(() => {});
  }
});

/** Asserts that `promise` rejects with a remote permission refusal (code 13) naming `pattern`. */
async function assertRefused(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof RemoteError, String(error));
    assert.equal(error.remoteCode, 13);
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("OvtpClient.forward() is refused by a server without an allow-list", async () => {
  await withWorld("", () => ({}), async ({ http, client }) => {
    await assertRefused(
      client.forward({ localPort: 0, remoteHost: "127.0.0.1", remotePort: http.addr.port }),
      /not on the server's forward allow-list/,
    );
  });
});

Deno.test("OvtpClient.forward() is refused for a destination not on the allow-list", async () => {
  await withWorld("", allowHttp, async ({ http, client }) => {
    await assertRefused(
      client.forward({ localPort: 0, remoteHost: "127.0.0.1", remotePort: http.addr.port + 1 }),
      /not on the server's forward allow-list/,
    );
    // Hosts are compared as text, never resolved.
    await assertRefused(
      client.forward({ localPort: 0, remoteHost: "localhost", remotePort: http.addr.port }),
      /allow-list/,
    );
  });
});

Deno.test("a key with no-forward may not forward", async () => {
  await withWorld("no-forward", allowHttp, async ({ http, client }) => {
    await assertRefused(
      client.forward({ localPort: 0, remoteHost: "127.0.0.1", remotePort: http.addr.port }),
      /"no-forward"/,
    );
    // The key still works for everything else.
    assert.equal((await client.sendMessage("hi")).status, true);
  });
});

Deno.test("a key's permitopen narrows the server's allow-list", async () => {
  const other = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const otherPort = (other.addr as Deno.NetAddr).port;
  other.close();
  await withWorld(
    `permitopen="127.0.0.1:${otherPort},db.invalid:5432"`,
    () => ({ forwardAllow: ["127.0.0.1:*"] }),
    async ({ http, client }) => {
      // On the server's list (any port of 127.0.0.1) but not on the key's.
      await assertRefused(
        client.forward({ localPort: 0, remoteHost: "127.0.0.1", remotePort: http.addr.port }),
        /permitopen/,
      );
      // On both lists: allowed (nothing needs to listen for the probe).
      const forward = await client.forward({
        localPort: 0,
        remoteHost: "127.0.0.1",
        remotePort: otherPort,
      });
      await forward.close();
      // On the key's list but not on the server's.
      await assertRefused(
        client.forward({ localPort: 0, remoteHost: "db.invalid", remotePort: 5432 }),
        /allow-list/,
      );
    },
  );
});

Deno.test("a forward whose destination refuses the connection fails with code 30", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  await withWorld("", () => ({ forwardAllow: [`127.0.0.1:${port}`] }), async ({ client }) => {
    const errors: unknown[] = [];
    const forward = await client.forward({
      localPort: 0,
      remoteHost: "127.0.0.1",
      remotePort: port,
      onError: (error) => errors.push(error),
    });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: forward.addr.port });
    try {
      // The local connection is closed without a byte.
      assert.equal(await conn.read(new Uint8Array(16)), null);
    } finally {
      conn.close();
    }
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof RemoteError);
    assert.equal(errors[0].remoteCode, 30);
    assert.match(errors[0].message, /Cannot connect to 127\.0\.0\.1:\d+/);
  });
});

Deno.test("a key with restrict may neither forward nor write files, but may read", async () => {
  const root = await Deno.makeTempDir({ prefix: "ovtp_restrict_" });
  try {
    await Deno.writeTextFile(join(root, "a.txt"), "content");
    await withWorld(
      "restrict",
      (http) => ({ root, forwardAllow: [`127.0.0.1:${http.port}`] }),
      async ({ http, client }) => {
        await assertRefused(
          client.forward({ localPort: 0, remoteHost: "127.0.0.1", remotePort: http.addr.port }),
          /"restrict"/,
        );
        await assert.rejects(
          client.sendFile(join(root, "a.txt"), "b.txt"),
          (error: unknown) =>
            error instanceof FileError && error.reason === "permission" &&
            /restrict/.test(error.message),
        );
        assert.equal((await client.stat("a.txt")).size, 7);
      },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test('a key\'s from="…" refuses the connection from other addresses', async () => {
  await withWorld('from="10.*,192.168.?.1"', allowHttp, async ({ client, server }) => {
    await assert.rejects(client.connect(), AuthenticationError);
    const refusal = server.events.find((event) => event.event === "refused");
    assert.equal(refusal?.event, "refused");
    assert.equal(refusal.reason, "from");
    assert.match(refusal.detail ?? "", /not allowed from 127\.0\.0\.1/);
  });
});

Deno.test('a key\'s from="…" lets the connection in from a matching address', async () => {
  await withWorld('from="10.0.0.1,127.0.0.*"', allowHttp, async ({ client }) => {
    assert.equal((await client.sendMessage("hi")).status, true);
  });
  await withWorld('from="127.0.0.1,!127.0.0.1"', allowHttp, async ({ client, server }) => {
    await assert.rejects(client.connect(), AuthenticationError);
    assert.ok(server.events.some((event) => event.event === "refused" && event.reason === "from"));
  });
});

Deno.test("OvtpClient.forward() slows a fast sender down to a slow reader", async () => {
  // The destination writes as fast as it can; nobody reads at our end of the tunnel.
  const chunkBytes = 64 * 1024;
  const limitBytes = 256 * 1024 * 1024;
  let written = 0;
  const source = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of source) {
      const chunk = new Uint8Array(chunkBytes);
      try {
        while (written < limitBytes) written += await conn.write(chunk);
      } catch {
        // The tunnel was cut.
      } finally {
        conn.close();
      }
    }
  })();
  try {
    const port = (source.addr as Deno.NetAddr).port;
    await withWorld("", () => ({ forwardAllow: [`127.0.0.1:${port}`] }), async ({ client }) => {
      const forward = await client.forward({
        localPort: 0,
        remoteHost: "127.0.0.1",
        remotePort: port,
      });
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: forward.addr.port });
      try {
        assert.notEqual(await conn.read(new Uint8Array(1)), null);
        await new Promise((resolve) => setTimeout(resolve, 500));
        const stalled = written;
        await new Promise((resolve) => setTimeout(resolve, 300));
        // Socket buffers on both hops plus the 1 MiB window, far below the 256 MiB on offer.
        assert.ok(stalled < 64 * 1024 * 1024, `${stalled} bytes written to an unread tunnel`);
        assert.equal(written, stalled, "the sender kept going while nobody read");
      } finally {
        conn.close();
        await forward.close();
      }
    });
  } finally {
    source.close();
    await serving;
  }
});
