/**
 * A throwaway self-signed TLS certificate made with Web Crypto alone, so the TLS side of the
 * benchmark needs no openssl and no files from elsewhere: an X.509 v3 certificate with an ECDSA
 * P-256 key signed with SHA-256 (or an RSA key with PKCS#1 v1.5 and SHA-256), subject and
 * issuer `CN=<commonName>`, subjectAltName with the DNS names and IP addresses given, valid
 * from a day ago to a day ahead, `basicConstraints` CA:FALSE. Not part of the library.
 *
 * @module
 */

import {
  derBitString,
  derBoolean,
  derExplicit,
  derImplicitPrimitive,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derSmallInteger,
  derUnsignedInteger,
  derUtcTime,
  derUtf8String,
} from "./_der.ts";

/** Options of {@linkcode makeTlsCertificate}. */
export interface TlsCertificateOptions {
  /** Subject and issuer common name. Default `localhost`. */
  commonName?: string;
  /** subjectAltName DNS names. Default `["localhost"]`. */
  dnsNames?: string[];
  /** subjectAltName IPv4 addresses. Default `["127.0.0.1"]`. */
  ipAddresses?: string[];
  /** Validity before and after now. Default one day. */
  validityMs?: number;
  /** The key: ECDSA P-256 (default) or RSA with this many bits (e.g. 3072). */
  key?: "ecdsa-p256" | { rsaBits: number };
}

/** A certificate and its private key, both PEM, as `Deno.listenTls` takes them. */
export interface TlsCertificate {
  /** `-----BEGIN CERTIFICATE-----` … */
  cert: string;
  /** `-----BEGIN PRIVATE KEY-----` … (PKCS#8). */
  key: string;
}

const oids = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  sha256WithRsaEncryption: "1.2.840.113549.1.1.11",
  commonName: "2.5.4.3",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
} as const;
/** X.509 version 3 is encoded as 2. */
const x509Version3 = 2;
const serialBytes = 16;
const p256CoordinateBytes = 32;
const dayMs = 86_400_000;
const pemLineChars = 64;
/** GeneralName choices (RFC 5280 §4.2.1.6). */
const generalNameDns = 2;
const generalNameIp = 7;

/**
 * Makes a fresh key pair and a self-signed certificate for it.
 *
 * @example Listen and connect with it
 * ```ts ignore
 * const { cert, key } = await makeTlsCertificate();
 * const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
 * const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts: [cert] });
 * ```
 */
export async function makeTlsCertificate(
  options: TlsCertificateOptions = {},
): Promise<TlsCertificate> {
  const commonName = options.commonName ?? "localhost";
  const dnsNames = options.dnsNames ?? ["localhost"];
  const ipAddresses = options.ipAddresses ?? ["127.0.0.1"];
  const validityMs = options.validityMs ?? dayMs;

  const rsaBits = typeof options.key === "object" ? options.key.rsaBits : undefined;
  const keyAlgorithm = rsaBits === undefined ? { name: "ECDSA", namedCurve: "P-256" } : {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: rsaBits,
    publicExponent: Uint8Array.of(1, 0, 1),
    hash: "SHA-256",
  };
  const keys = await crypto.subtle.generateKey(keyAlgorithm, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));

  const serial = crypto.getRandomValues(new Uint8Array(serialBytes));
  serial[0] = (serial[0] & 0x7f) | 0x40; // positive, and no leading zero byte to strip
  // AlgorithmIdentifier: ECDSA takes no parameters, RSA an explicit NULL (RFC 4055).
  const algorithm = rsaBits === undefined
    ? derSequence(derOid(oids.ecdsaWithSha256))
    : derSequence(derOid(oids.sha256WithRsaEncryption), derNull());
  const name = derSequence(derSet(derSequence(derOid(oids.commonName), derUtf8String(commonName))));
  const now = Date.now();
  const altNames = derSequence(
    ...dnsNames.map((dns) => derImplicitPrimitive(generalNameDns, new TextEncoder().encode(dns))),
    ...ipAddresses.map((ip) => derImplicitPrimitive(generalNameIp, parseIpv4(ip))),
  );
  const extensions = derSequence(
    derSequence(derOid(oids.subjectAltName), derOctetString(altNames)),
    derSequence(derOid(oids.basicConstraints), derBoolean(true), derOctetString(derSequence())),
  );
  const tbs = derSequence(
    derExplicit(0, derSmallInteger(x509Version3)),
    derUnsignedInteger(serial),
    algorithm,
    name,
    derSequence(derUtcTime(new Date(now - validityMs)), derUtcTime(new Date(now + validityMs))),
    name,
    spki,
    derExplicit(3, extensions),
  );
  const signature = rsaBits === undefined
    ? ecdsaSignatureToDer(
      new Uint8Array(
        await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, tbs),
      ),
    )
    : new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", keys.privateKey, tbs));
  const certificate = derSequence(tbs, algorithm, derBitString(signature));
  return { cert: toPem("CERTIFICATE", certificate), key: toPem("PRIVATE KEY", pkcs8) };
}

/** Web Crypto's ECDSA signature is `r || s` (32 bytes each for P-256); X.509 wants DER. */
export function ecdsaSignatureToDer(raw: Uint8Array): Uint8Array {
  if (raw.length !== 2 * p256CoordinateBytes) {
    throw new RangeError(`Expected a ${2 * p256CoordinateBytes}-byte P-256 signature`);
  }
  return derSequence(
    derUnsignedInteger(raw.subarray(0, p256CoordinateBytes)),
    derUnsignedInteger(raw.subarray(p256CoordinateBytes)),
  );
}

function parseIpv4(text: string): Uint8Array {
  const parts = text.split(".").map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part > 255)) {
    throw new TypeError(`"${text}" is not an IPv4 address`);
  }
  return Uint8Array.from(parts);
}

function toPem(label: string, der: Uint8Array): string {
  const base64 = btoa(String.fromCharCode(...der));
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += pemLineChars) {
    lines.push(base64.slice(i, i + pemLineChars));
  }
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
