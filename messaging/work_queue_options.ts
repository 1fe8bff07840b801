/**
 * What `WorkQueues` (work_queue.ts) is configured with and reads off the wire: its options and
 * their resolved limits, the rule for a queue's name, and a worker's answer to the item it holds
 * (ack, nack with its reason, release; SPEC §13). Split out of work_queue.ts, which keeps the
 * queues themselves.
 *
 * @module
 */

import type { PeerInfo } from "../session/peer_info.ts";
import { defaultMaxMessageBytes } from "../session/settings.ts";
import type { Head } from "../session/stream.ts";
import {
  defaultMaxDeliveries,
  defaultMaxQueueBytes,
  defaultMaxQueueBytesPerKey,
  defaultMaxQueueItems,
  defaultMaxQueueItemsPerKey,
  defaultMaxQueues,
  defaultMaxQueuesPerKey,
  defaultMaxRetryDelayMs,
  defaultMaxTotalQueueBytes,
  defaultMaxTotalQueueItems,
  defaultRetryDelayMs,
  maxNackReasonChars,
  maxQueueNameBytes,
} from "./messaging_protocol.ts";
import type { QueueStore } from "./queue_store.ts";
import { checkTopic } from "./topic_pattern.ts";

/** Options of {@linkcode WorkQueues}: the bounds of one queue, of one key and of the server. */
export interface WorkQueueOptions {
  /**
   * Where items are kept (`openQueueStore()`): memory, or a SQLite file whose items survive a
   * restart. `WorkQueues` closes it when it closes. Default: memory.
   */
  store?: QueueStore;
  /** Items one queue may hold (waiting or held by a worker); pushes past it are refused. Default 10,000. */
  maxQueueItems?: number;
  /** Bytes one queue may hold; pushes past it are refused. Default 64 MiB. */
  maxQueueBytes?: number;
  /**
   * Items one client key may have in all queues together (pushed and not yet acknowledged).
   * Items the server pushes itself count for no key. Default 10,000.
   */
  maxQueueItemsPerKey?: number;
  /** Bytes one client key may have in all queues together. Default 64 MiB. */
  maxQueueBytesPerKey?: number;
  /**
   * Queues one client key may use at once: those holding items it pushed or where it has a
   * worker. Default 100.
   */
  maxQueuesPerKey?: number;
  /** Bytes all queues together may hold, whoever pushed them. Default 256 MiB. */
  maxTotalQueueBytes?: number;
  /** Items all queues together may hold, whoever pushed them. Default 100,000. */
  maxTotalQueueItems?: number;
  /** Queues the server keeps at once (empty ones without workers are forgotten). Default 10,000. */
  maxQueues?: number;
  /**
   * Deliveries of one item: after this many failed ones (nacks or lost workers) it moves to the
   * dead-letter queue `<queue>.dead`. At least 1. Default 5.
   */
  maxDeliveries?: number;
  /**
   * Wait before a failed item is handed out again the first time; it doubles after each further
   * failure, with up to half of it again as jitter. 0 hands it out again at once. Default 1 s.
   */
  retryDelayMs?: number;
  /** Longest such wait. Default 5 minutes. */
  maxRetryDelayMs?: number;
  /** Largest pushed body accepted. Default 16 MiB. */
  maxMessageBytes?: number;
  /** Called when a worker's stream fails. */
  onError?: (error: unknown, peer?: PeerInfo) => void;
}

/** Every limit of {@linkcode WorkQueueOptions}, resolved. */
export type Limits = Required<Omit<WorkQueueOptions, "onError" | "store">>;

/**
 * Fills and checks the limits of `options`.
 *
 * @throws {RangeError} A limit that is not a non-negative integer, or `maxDeliveries` 0.
 */
export function resolveLimits(options: WorkQueueOptions): Limits {
  const limits: Limits = {
    maxQueueItems: options.maxQueueItems ?? defaultMaxQueueItems,
    maxQueueBytes: options.maxQueueBytes ?? defaultMaxQueueBytes,
    maxQueueItemsPerKey: options.maxQueueItemsPerKey ?? defaultMaxQueueItemsPerKey,
    maxQueueBytesPerKey: options.maxQueueBytesPerKey ?? defaultMaxQueueBytesPerKey,
    maxQueuesPerKey: options.maxQueuesPerKey ?? defaultMaxQueuesPerKey,
    maxTotalQueueBytes: options.maxTotalQueueBytes ?? defaultMaxTotalQueueBytes,
    maxTotalQueueItems: options.maxTotalQueueItems ?? defaultMaxTotalQueueItems,
    maxQueues: options.maxQueues ?? defaultMaxQueues,
    maxDeliveries: options.maxDeliveries ?? defaultMaxDeliveries,
    retryDelayMs: options.retryDelayMs ?? defaultRetryDelayMs,
    maxRetryDelayMs: options.maxRetryDelayMs ?? defaultMaxRetryDelayMs,
    maxMessageBytes: options.maxMessageBytes ?? defaultMaxMessageBytes,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`WorkQueueOptions.${name} must be a non-negative integer, got ${value}`);
    }
  }
  if (limits.maxDeliveries < 1) {
    throw new RangeError(`WorkQueueOptions.maxDeliveries must be at least 1, got 0`);
  }
  return limits;
}

/**
 * Checks a work-queue name: a topic without wildcards (SPEC.md section 12) of at most 250 bytes,
 * so that its dead-letter queue `<queue>.dead` is a valid name too.
 *
 * @throws {TypeError} It is not one.
 */
export function checkQueueName(name: unknown): string {
  checkTopic(name);
  const text = name as string;
  if (text.length > maxQueueNameBytes) {
    throw new TypeError(
      `"${
        text.slice(0, 20)
      }…" is not a valid queue name: it is longer than ${maxQueueNameBytes} bytes`,
    );
  }
  return text;
}

/** A worker's answer to the item it holds (SPEC.md, "PULL"). */
export type Answer =
  | { kind: "ack"; id: unknown }
  | { kind: "release"; id: unknown }
  | { kind: "nack"; id: unknown; reason: string | undefined };

/** Reads `{"ack": I}`, `{"nack": I, "error"?: "…"}` or `{"release": I}`. */
export function readAnswer(head: Head): Answer {
  if (head.ack !== undefined) return { kind: "ack", id: head.ack };
  if (head.release !== undefined) return { kind: "release", id: head.release };
  if (head.nack !== undefined) {
    const reason = typeof head.error === "string" && head.error !== ""
      ? head.error.slice(0, maxNackReasonChars)
      : undefined;
    return { kind: "nack", id: head.nack, reason };
  }
  throw new TypeError("A worker's frame holds no ack, nack or release");
}
