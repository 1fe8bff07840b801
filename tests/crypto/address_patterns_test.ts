import assert from "node:assert/strict";
import { normalizeAddress, parseAddressPatterns } from "../../crypto/address_patterns.ts";

function allows(patterns: string, address: string): boolean {
  return parseAddressPatterns(patterns).allows(address);
}

Deno.test("normalizeAddress() maps IPv4-mapped IPv6 to IPv4 and writes IPv6 canonically", () => {
  const cases: [string, string | undefined][] = [
    ["127.0.0.1", "127.0.0.1"],
    ["::ffff:127.0.0.1", "127.0.0.1"],
    ["::FFFF:7f00:1", "127.0.0.1"],
    ["0:0:0:0:0:ffff:10.1.2.3", "10.1.2.3"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::", "::"],
    ["::1", "::1"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
    ["localhost", undefined],
    ["256.0.0.1", undefined],
    ["010.0.0.1", undefined],
    ["1.2.3", undefined],
    ["1:2:3:4:5:6:7:8:9", undefined],
    ["1:2:3:4:5:6:7:8::", undefined],
    ["1::2::3", undefined],
    [":1::", undefined],
    ["12345::", undefined],
    ["", undefined],
  ];
  for (const [address, expected] of cases) {
    assert.equal(normalizeAddress(address), expected, address);
  }
});

Deno.test("parseAddressPatterns() matches an IPv4 client seen as ::ffff:a.b.c.d", () => {
  // What a server listening on [::] sees for a client on 127.0.0.1.
  const mapped = "::ffff:127.0.0.1";
  assert.equal(allows("!127.0.0.1,*", mapped), false);
  assert.equal(allows("!127.0.0.1,*", "10.0.0.1"), true);
  assert.equal(allows("127.0.0.1", mapped), true);
  assert.equal(allows("127.0.0.*", mapped), true);
  assert.equal(allows("127.0.0.0/8", mapped), true);
  assert.equal(allows("::ffff:127.0.0.1", "127.0.0.1"), true);
  assert.equal(allows("::ffff:127.0.0.0/104", "127.9.9.9"), true);
  assert.equal(allows("::ffff:127.0.0.0/104", "128.0.0.1"), false);
});

Deno.test("parseAddressPatterns() compares IPv6 addresses whatever their spelling", () => {
  assert.equal(allows("2001:DB8::1", "2001:db8:0:0::1"), true);
  assert.equal(allows("2001:db8:0:0:0:0:0:1", "2001:DB8::1"), true);
  assert.equal(allows("2001:db8::1", "2001:db8::2"), false);
  assert.equal(allows("fe80::1", "fe80::1%eth0"), true);
  assert.equal(allows("2001:db8::*", "2001:0DB8:0:0::5"), true);
  assert.equal(allows("::1", "127.0.0.1"), false);
});

Deno.test("parseAddressPatterns() matches CIDR blocks, IPv4 and IPv6", () => {
  assert.equal(allows("10.0.0.0/8", "10.255.0.1"), true);
  assert.equal(allows("10.0.0.0/8", "11.0.0.1"), false);
  assert.equal(allows("192.168.4.0/22", "192.168.7.255"), true);
  assert.equal(allows("192.168.4.0/22", "192.168.8.0"), false);
  assert.equal(allows("0.0.0.0/0", "203.0.113.9"), true);
  assert.equal(allows("0.0.0.0/0", "2001:db8::1"), false);
  assert.equal(allows("192.0.2.7/32", "192.0.2.7"), true);
  assert.equal(allows("2001:db8::/32", "2001:db8:ffff::1"), true);
  assert.equal(allows("2001:db8::/32", "2001:db9::1"), false);
  assert.equal(allows("2001:db8:8000::/33", "2001:db8:8000::1"), true);
  assert.equal(allows("2001:db8:8000::/33", "2001:db8:7fff::1"), false);
  assert.equal(allows("::/0", "::1"), true);
  assert.equal(allows("::/0", "10.0.0.1"), false);
});

Deno.test("parseAddressPatterns() lets a ! pattern win over every other", () => {
  assert.equal(allows("10.0.0.0/8,!10.0.0.9", "10.0.0.9"), false);
  assert.equal(allows("!10.0.0.9,10.0.0.0/8", "10.0.0.9"), false);
  assert.equal(allows("!10.0.0.0/8", "10.0.0.1"), false);
  assert.equal(allows("!10.0.0.0/8", "192.0.2.1"), false, "only ! patterns let nobody in");
  assert.equal(allows(" 10.0.0.1 , 10.0.0.2 ", "10.0.0.2"), true);
});

Deno.test("parseAddressPatterns() lets in nothing that is not an IP address", () => {
  assert.equal(allows("*", "localhost"), false);
  assert.equal(allows("*", ""), false);
});

Deno.test("parseAddressPatterns() refuses malformed patterns", () => {
  const bad: [string, RegExp][] = [
    ["10.0.0.0/33", /prefix length of "10.0.0.0\/33" must be a whole number from 0 to 32/],
    ["2001:db8::/129", /from 0 to 128/],
    ["10.0.0.0/", /prefix length/],
    ["10.0.0.0/-1", /prefix length/],
    ["10.0.0.0/08", /prefix length/],
    ["10.0.0.0/8/8", /prefix length/],
    ["10.0.0.1/8", /bits set after its \/8 prefix/],
    ["2001:db8::1/32", /bits set after its \/32 prefix/],
    ["10.0.0.*/8", /wildcard pattern/],
    ["host.example.com", /not an IP address, CIDR block or wildcard pattern/],
    ["*.example.com", /wildcard pattern "\*\.example\.com" may hold only/],
    ["10.0.0.256", /not an IP address/],
    ["fe80::1%eth0", /not an IP address/],
    ["", /empty pattern/],
    ["10.0.0.1,,10.0.0.2", /empty pattern/],
    ["!", /"!" must be followed by a pattern/],
    ["x".repeat(65_537), /longer than 65536 characters/],
  ];
  for (const [patterns, message] of bad) {
    assert.throws(
      () => parseAddressPatterns(patterns),
      (error: Error) => error instanceof TypeError && message.test(error.message),
      patterns.slice(0, 40),
    );
  }
});
