/**
 * The vocabulary shared by publish/subscribe and the work queues (SPEC.md, sections 12 and 13):
 * stream error codes, default limits, and the `topics=` key restriction.
 *
 * @module
 */

import { StreamError } from "../wire/protocol_codes.ts";
import { checkTopicPattern, patternCovers, topicMatches } from "./topic_pattern.ts";

/** Stream error codes of the messaging streams (besides SPEC.md's codes 1 to 5). */
export const messagingErrorCodes = {
  /** The key may not use this topic or queue (its `topics=` option), code shared with files. */
  permission: StreamError.permission,
  /**
   * A limit is reached: the queue, the key's share of the work queues or the server's is full,
   * or the connection, key or server holds too many subscriptions.
   */
  full: StreamError.full,
} as const;

/** Default events one subscription may hold for a slow subscriber before dropping the oldest. */
export const defaultSubscriberQueueEvents = 1000;
/** Default bytes one subscription may hold for a slow subscriber before dropping the oldest. */
export const defaultSubscriberQueueBytes = 8 * 1024 * 1024;
/**
 * Default bytes the subscriptions of one client key may hold together for slow subscribers
 * (queued or being written); past it they drop their oldest events.
 */
export const defaultSubscriberQueueBytesPerKey = 64 * 1024 * 1024;
/** Default bytes all slow subscriptions of all keys hold together (a dropped-oldest bound). */
export const defaultSubscriberQueueBytesTotal = 128 * 1024 * 1024;
/** Default subscription patterns one connection may hold. */
export const defaultMaxSubscriptionsPerConnection = 256;
/** Default items one work queue may hold (waiting or held by a worker); pushes past it are refused. */
export const defaultMaxQueueItems = 10_000;
/** Default bytes one work queue may hold; pushes past it are refused. */
export const defaultMaxQueueBytes = 64 * 1024 * 1024;
/**
 * Default items one client key may have in work queues at once (pushed by it and not yet
 * acknowledged by a worker, in any queue); its pushes past it are refused.
 */
export const defaultMaxQueueItemsPerKey = 10_000;
/** Default bytes of items one client key may have in work queues at once. */
export const defaultMaxQueueBytesPerKey = 64 * 1024 * 1024;
/**
 * Default work queues one client key may use at once: those that hold items it pushed, or in
 * which it has a worker. A push or pull that would make it use one more is refused.
 */
export const defaultMaxQueuesPerKey = 100;
/** Default bytes all work queues together may hold (every key's items and the server's own). */
export const defaultMaxTotalQueueBytes = 256 * 1024 * 1024;
/**
 * Default items all work queues together may hold: bounds the memory of many small items pushed
 * by many keys, which the byte bounds do not see.
 */
export const defaultMaxTotalQueueItems = 100_000;
/** Default work queues a server keeps (a queue with no items and no workers is forgotten). */
export const defaultMaxQueues = 10_000;

/**
 * Default deliveries of one item: an item handed out this many times and failed each time (a
 * nack, or its worker lost) moves to the dead-letter queue `<queue>.dead`.
 */
export const defaultMaxDeliveries = 5;
/**
 * Default wait before a failed item is handed out again the first time; it doubles with each
 * failure (with up to half of it again as jitter), up to {@linkcode defaultMaxRetryDelayMs}.
 */
export const defaultRetryDelayMs = 1000;
/** Default longest wait before a failed item is handed out again: 5 minutes. */
export const defaultMaxRetryDelayMs = 5 * 60 * 1000;
/** What the server adds to a queue's name to name its dead-letter queue. */
export const deadLetterSuffix = ".dead";
/** Longest work-queue name, in bytes: a topic's 255 less the dead-letter suffix. */
export const maxQueueNameBytes = 250;
/** Longest failure reason a worker's nack carries (longer ones are cut), in characters. */
export const maxNackReasonChars = 512;

/**
 * A key's `topics=` restriction: `undefined` when the key has no such option (it may use every
 * topic and queue), else the patterns it may use. A malformed value allows nothing (fails
 * closed).
 *
 * @example Read the option
 * ```ts
 * import { topicRestriction } from "./messaging_protocol.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(topicRestriction(new Map([["topics", "metrics.>,logs.*"]])), [
 *   "metrics.>",
 *   "logs.*",
 * ]);
 * assert.equal(topicRestriction(new Map()), undefined);
 * assert.deepEqual(topicRestriction(new Map([["topics", "bad..x"]])), []);
 * ```
 */
export function topicRestriction(
  options: ReadonlyMap<string, string | true>,
): string[] | undefined {
  const value = options.get("topics");
  if (value === undefined) return undefined;
  if (value === true) return [];
  const patterns = value.split(",").map((pattern) => pattern.trim());
  try {
    for (const pattern of patterns) checkTopicPattern(pattern);
  } catch {
    return [];
  }
  return patterns;
}

/**
 * Whether a key with restriction `allowed` (from {@linkcode topicRestriction}) may publish to
 * (or push to, or pull from) `topic`.
 *
 * @example
 * ```ts
 * import { mayUseTopic } from "./messaging_protocol.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(mayUseTopic(["metrics.>"], "metrics.cpu"), true);
 * assert.equal(mayUseTopic(["metrics.>"], "logs.cpu"), false);
 * assert.equal(mayUseTopic(undefined, "logs.cpu"), true);
 * ```
 */
export function mayUseTopic(allowed: readonly string[] | undefined, topic: string): boolean {
  return allowed === undefined || allowed.some((pattern) => topicMatches(pattern, topic));
}

/**
 * Whether a key with restriction `allowed` may subscribe to `pattern`: only if one of its
 * patterns matches every topic that `pattern` matches.
 *
 * @example
 * ```ts
 * import { maySubscribe } from "./messaging_protocol.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(maySubscribe(["metrics.>"], "metrics.*"), true);
 * assert.equal(maySubscribe(["metrics.>"], ">"), false);
 * ```
 */
export function maySubscribe(allowed: readonly string[] | undefined, pattern: string): boolean {
  return allowed === undefined || allowed.some((outer) => patternCovers(outer, pattern));
}
