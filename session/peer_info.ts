/**
 * Who is on the other end of an authenticated connection, as the server's services see it: the
 * key's fingerprint and comment, the address, and the key's authorized_keys options. The
 * messaging and forwarding services take it; `PeerConnection` (peer_connection.ts) implements it.
 *
 * @module
 */

import type { TransportAddress } from "../wire/transport.ts";

/** Who is on the other end of a connection, as authenticated by the handshake. */
export interface PeerInfo {
  /** `SHA256:…` fingerprint of the peer's key. */
  fingerprint: string;
  /** The comment of the key's authorized_keys line (often `user@host`). */
  comment: string;
  /** The peer's address. */
  remoteAddr: TransportAddress;
  /** The options of the key's authorized_keys line. */
  options: ReadonlyMap<string, string | true>;
}
