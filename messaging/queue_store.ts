/**
 * Where the work queues keep their items (SPEC.md, "Work queues", durability): the
 * {@linkcode QueueStore} interface that `work_queue.ts` writes through, and
 * {@linkcode openQueueStore}, which gives the SQLite store for a file path
 * (`sqlite_queue_store.ts`) or the memory store for `":memory:"` (nothing survives the process).
 *
 * The protocol side (`WorkQueues`) keeps every item in memory as well and decides everything; the
 * store only makes its changes survive a restart. Changes are staged and committed together
 * (group commit): {@linkcode QueueStore.committed} resolves once what was staged before it is on
 * disk, which is when a PUSH is answered.
 *
 * @module
 */

import type { MessageType } from "../message.ts";
import { SqliteQueueStore, type SqliteQueueStoreOptions } from "./sqlite_queue_store.ts";

/** The path that asks for no file at all: the queues live in memory only. */
export const memoryQueueStorePath = ":memory:";

/** One item as the store keeps it. */
export interface StoredItem {
  /** Its id, unique in the store, handed to workers. */
  id: number;
  /** The queue it is in (`<queue>.dead` once dead-lettered). */
  queue: string;
  /** The fingerprint of the key that pushed it, or `undefined` for the server's own. */
  owner: string | undefined;
  /** Its message type. */
  type: MessageType;
  /** Its body. */
  data: Uint8Array;
  /** How many times it was handed to a worker. */
  attempts: number;
  /** Epoch milliseconds before which it is not handed out (its back-off); 0 for at once. */
  readyAtMs: number;
  /** The reason of its last failed delivery, if any. */
  lastError: string | undefined;
}

/** What may change of a stored item (all of it is written each time). */
export type StoredItemChange = Pick<StoredItem, "queue" | "attempts" | "readyAtMs" | "lastError">;

/** Where work-queue items are kept: memory, or a SQLite file. */
export interface QueueStore {
  /** Whether items survive a restart (a file), or not (memory). */
  readonly durable: boolean;
  /** Every stored item, in id order (at start). */
  load(): StoredItem[];
  /** Stages a new item. */
  insert(item: StoredItem): void;
  /** Stages a change of an item. */
  update(id: number, change: StoredItemChange): void;
  /** Stages the removal of an item (acknowledged). */
  delete(id: number): void;
  /**
   * Resolves once everything staged so far is committed (a commit is scheduled if none is);
   * rejects when that commit failed, and then nothing of it was kept.
   */
  committed(): Promise<void>;
  /** Commits what is staged now, synchronously. @throws {QueueStoreError} The commit failed. */
  commit(): void;
  /** Commits what is staged and closes the store. */
  close(): void;
}

/**
 * Opens the store of the work queues: a SQLite database at `path` (created with mode 0600 when
 * absent; WAL, `synchronous=FULL`), or memory for `":memory:"`.
 *
 * @param path A file path, or `":memory:"`.
 * @param options Where failures of commits no push waits for go.
 * @returns The store; close it when done.
 * @throws {QueueStoreError} The file cannot be created or opened, is corrupt, is not an ovtp queue
 * database, or is held by another server; the message names the file.
 *
 * @example Keep items in memory
 * ```ts
 * import { openQueueStore } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const store = openQueueStore(":memory:");
 * assert.equal(store.durable, false);
 * assert.deepEqual(store.load(), []);
 * await store.committed();
 * store.close();
 * ```
 */
export function openQueueStore(path: string, options: SqliteQueueStoreOptions = {}): QueueStore {
  return path === memoryQueueStorePath
    ? new MemoryQueueStore()
    : SqliteQueueStore.open(path, options);
}

/** Keeps nothing: the items live only in `WorkQueues`' memory. */
class MemoryQueueStore implements QueueStore {
  readonly durable = false;
  load(): StoredItem[] {
    return [];
  }
  insert(): void {}
  update(): void {}
  delete(): void {}
  committed(): Promise<void> {
    return Promise.resolve();
  }
  commit(): void {}
  close(): void {}
}
