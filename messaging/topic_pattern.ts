/**
 * Topics and subscription patterns (SPEC.md, "Publish/subscribe"): a topic is dot-separated
 * tokens of `[A-Za-z0-9_-]` (`metrics.cpu.host-1`), at most 255 bytes; a pattern may use `*`
 * for exactly one token and, as its last token only, `>` for one or more trailing tokens, as
 * NATS subjects do.
 *
 * @module
 */

/** Longest topic or pattern, in bytes (all allowed characters are ASCII). */
export const maxTopicBytes = 255;

const tokenPattern = /^[A-Za-z0-9_-]+$/;

/**
 * Whether `text` is a valid topic (or, with `wildcards`, a valid pattern); returns the problem,
 * or `undefined` when it is valid.
 */
function topicProblem(text: unknown, wildcards: boolean): string | undefined {
  if (typeof text !== "string") return "it is not a string";
  if (text.length === 0) return "it is empty";
  if (text.length > maxTopicBytes) return `it is longer than ${maxTopicBytes} bytes`;
  const tokens = text.split(".");
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (wildcards && token === "*") continue;
    if (wildcards && token === ">") {
      if (i !== tokens.length - 1) return `">" may only be its last token`;
      continue;
    }
    if (!tokenPattern.test(token)) {
      return token === ""
        ? "it has an empty token (a leading, trailing or double dot)"
        : `the token "${token}" has characters other than A-Z a-z 0-9 _ -${
          wildcards ? " (or is not a lone * or >)" : ""
        }`;
    }
  }
  return undefined;
}

/**
 * Throws a `TypeError` unless `topic` is a valid topic: dot-separated tokens of
 * `[A-Za-z0-9_-]`, at most 255 bytes, no wildcards.
 *
 * @example Check topics
 * ```ts
 * import { checkTopic } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(checkTopic("metrics.cpu"), "metrics.cpu");
 * assert.throws(() => checkTopic("metrics.*"), TypeError);
 * assert.throws(() => checkTopic("a..b"), TypeError);
 * ```
 */
export function checkTopic(topic: unknown): string {
  const problem = topicProblem(topic, false);
  if (problem !== undefined) {
    throw new TypeError(`${JSON.stringify(topic)} is not a valid topic: ${problem}`);
  }
  return topic as string;
}

/**
 * Throws a `TypeError` unless `pattern` is a valid subscription pattern: a topic whose tokens
 * may also be `*` (one token) or, last only, `>` (one or more tokens).
 *
 * @example Check patterns
 * ```ts
 * import { checkTopicPattern } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(checkTopicPattern("metrics.*.>"), "metrics.*.>");
 * assert.throws(() => checkTopicPattern("metrics.>.cpu"), TypeError);
 * assert.throws(() => checkTopicPattern("metrics.c*"), TypeError);
 * ```
 */
export function checkTopicPattern(pattern: unknown): string {
  const problem = topicProblem(pattern, true);
  if (problem !== undefined) {
    throw new TypeError(`${JSON.stringify(pattern)} is not a valid topic pattern: ${problem}`);
  }
  return pattern as string;
}

/**
 * Whether `topic` matches `pattern`: tokens are compared one by one, `*` matches any one token
 * and a final `>` any one or more. Both are assumed valid (see {@linkcode checkTopic}).
 *
 * @example Match topics
 * ```ts
 * import { topicMatches } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(topicMatches("metrics.*", "metrics.cpu"), true);
 * assert.equal(topicMatches("metrics.*", "metrics.cpu.host1"), false);
 * assert.equal(topicMatches("metrics.>", "metrics.cpu.host1"), true);
 * assert.equal(topicMatches("metrics.>", "metrics"), false);
 * ```
 */
export function topicMatches(pattern: string, topic: string): boolean {
  const wanted = pattern.split(".");
  const tokens = topic.split(".");
  for (let i = 0; i < wanted.length; i++) {
    if (wanted[i] === ">") return tokens.length > i;
    if (i >= tokens.length) return false;
    if (wanted[i] !== "*" && wanted[i] !== tokens[i]) return false;
  }
  return wanted.length === tokens.length;
}

/**
 * Whether every topic that `pattern` matches is also matched by `allowed`: how a key's
 * `topics=` option decides whether it may subscribe to a pattern. Both are assumed valid.
 *
 * @example A narrower pattern is covered, a wider one is not
 * ```ts
 * import { patternCovers } from "./topic_pattern.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(patternCovers("metrics.>", "metrics.*.cpu"), true);
 * assert.equal(patternCovers("metrics.*", "metrics.>"), false);
 * assert.equal(patternCovers("metrics.*", "metrics.cpu"), true);
 * ```
 */
export function patternCovers(allowed: string, pattern: string): boolean {
  const outer = allowed.split(".");
  const inner = pattern.split(".");
  for (let i = 0; i < inner.length; i++) {
    if (outer[i] === ">") return true;
    if (i >= outer.length) return false;
    if (inner[i] === ">") return false;
    if (outer[i] === "*") continue;
    if (inner[i] === "*" || inner[i] !== outer[i]) return false;
  }
  return outer.length === inner.length;
}
