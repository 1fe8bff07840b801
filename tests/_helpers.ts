/**
 * Shared test helpers: handshakes over in-memory pairs, real servers on 127.0.0.1:0, and a
 * byte-level TCP relay that can tamper with traffic. Everything returned has a way to clean up.
 *
 * @module
 */

import { AuthorizedKeys } from "../crypto/authorized_keys.ts";
import type { Identity } from "../crypto/identity.ts";
import { OvtpClient, type OvtpClientOptions } from "../client.ts";
import { type OvtpHandler, OvtpServer, type OvtpServerOptions } from "../server.ts";
import type { ServerLogEvent } from "../server_log.ts";
import { Channel, type ChannelOptions } from "../session/channel.ts";
import {
  clientHandshake,
  type HandshakeResult,
  serverHandshake,
  type ServerHandshakeResult,
} from "../session/handshake.ts";
import { memoryTransportPair } from "../wire/memory_transport.ts";
import type { Transport } from "../wire/transport.ts";
import { DenoTransport } from "../wire/deno_transport.ts";
import { fixtureIdentity } from "./_fixtures.ts";

/** Hello parameters used by tests unless they say otherwise. */
export const testParameters = { maxRecordBytes: 65536, rekeyRecords: 1 << 20, maxStreams: 64 };

/** Both ends of a completed in-memory handshake. */
export interface HandshakePair {
  client: HandshakeResult;
  server: ServerHandshakeResult;
  clientTransport: Transport;
  serverTransport: Transport;
  close(): void;
}

/** Runs both handshakes over an in-memory pair with the fixture keys. */
export async function handshakePair(
  overrides: { client?: Partial<typeof testParameters>; server?: Partial<typeof testParameters> } =
    {},
): Promise<HandshakePair> {
  const [clientTransport, serverTransport] = memoryTransportPair({ highWaterBytes: 1 << 22 });
  const [alice, server] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("server")]);
  const authorized = AuthorizedKeys.fromKeys([alice.publicKey]);
  try {
    const [client, serverResult] = await Promise.all([
      clientHandshake(clientTransport, {
        identity: alice,
        verifyServerKey: () => Promise.resolve(),
        ...testParameters,
        ...overrides.client,
      }),
      serverHandshake(serverTransport, {
        identity: server,
        authorize: (fingerprint) => authorized.find(fingerprint),
        ...testParameters,
        ...overrides.server,
      }),
    ]);
    return {
      client,
      server: serverResult,
      clientTransport,
      serverTransport,
      close() {
        clientTransport.close();
        serverTransport.close();
      },
    };
  } catch (error) {
    clientTransport.close();
    serverTransport.close();
    throw error;
  }
}

/** Two channels joined in memory. */
export interface ChannelPair {
  client: Channel;
  server: Channel;
  /** Aborts both and waits for them to end. */
  close(): Promise<void>;
}

/** A handshake pair turned into channels. */
export async function channelPair(
  options: { client?: Partial<ChannelOptions>; server?: Partial<ChannelOptions> } = {},
  parameters: Parameters<typeof handshakePair>[0] = {},
): Promise<ChannelPair> {
  const pair = await handshakePair(parameters);
  const client = new Channel(pair.clientTransport, pair.client, {
    role: "client",
    ...options.client,
  });
  const server = new Channel(pair.serverTransport, pair.server, {
    role: "server",
    ...options.server,
  });
  return {
    client,
    server,
    async close() {
      client.abort(new Error("test over"));
      server.abort(new Error("test over"));
      await Promise.all([client.closed, server.closed]);
    },
  };
}

/** A real server on 127.0.0.1 with a port picked by the system. */
export interface TestServer {
  server: OvtpServer;
  identity: Identity;
  address: { hostname: string; port: number };
  /** Errors the server reported through onError. */
  errors: unknown[];
  /** Events the server reported through onLog. */
  events: ServerLogEvent[];
  /** Options for a client that pins this server's key. */
  clientOptions(identity: Identity, extra?: Partial<OvtpClientOptions>): OvtpClientOptions;
  close(): Promise<void>;
}

/** Starts a server with the fixture `server` key; `alice` is authorized unless told otherwise. */
export async function startServer(
  handler: OvtpHandler = (message) => ({ status: true, response: message.value() }),
  options: Partial<OvtpServerOptions> = {},
): Promise<TestServer> {
  const identity = await fixtureIdentity("server");
  const alice = await fixtureIdentity("alice");
  const errors: unknown[] = [];
  const events: ServerLogEvent[] = [];
  const server = new OvtpServer(handler, {
    identity,
    authorizedKeys: AuthorizedKeys.fromKeys([alice.publicKey]),
    hostname: "127.0.0.1",
    port: 0,
    onError: (error) => errors.push(error),
    onLog: (event) => events.push(event),
    ...options,
  });
  const address = server.listen();
  return {
    server,
    identity,
    address,
    errors,
    events,
    clientOptions: (clientIdentity, extra = {}) => ({
      identity: clientIdentity,
      fingerprint: identity.publicKey.fingerprint,
      ...extra,
    }),
    close: () => server.close(),
  };
}

/** Runs `fn` with a client, closing it afterwards whatever happens. */
export async function withClient<T>(
  address: { hostname: string; port: number },
  options: OvtpClientOptions,
  fn: (client: OvtpClient) => Promise<T>,
): Promise<T> {
  const client = new OvtpClient(address, options);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/**
 * A client channel to `address` made by hand (handshake and channel, no OvtpClient), for tests
 * that must open streams the client API would never open: an attacker's. Close it with
 * `channel.abort()` or `channel.close()`.
 */
export async function rawClientChannel(
  address: { hostname: string; port: number },
  identity: Identity,
  serverFingerprint: string,
): Promise<Channel> {
  const transport = new DenoTransport(await Deno.connect(address));
  const handshake = await clientHandshake(transport, {
    identity,
    verifyServerKey: (key) => {
      if (key.fingerprint !== serverFingerprint) throw new Error("not the test server");
      return Promise.resolve();
    },
    maxRecordBytes: 1024 * 1024 + 1024,
    rekeyRecords: 1 << 20,
    maxStreams: 64,
  });
  return new Channel(transport, handshake, { role: "client" });
}
