/**
 * The durable store of the work queues: one SQLite file per server, through Deno's built-in
 * `node:sqlite` (`DatabaseSync`). `WorkQueues` stages its changes here; they are committed
 * together a moment later (group commit: one transaction, one fsync, for all the pushes, acks and
 * deliveries that arrived meanwhile), and a PUSH is answered only once its item is committed.
 *
 * The file is created with mode 0600 (SQLite gives its `-wal` file the same mode), opened in WAL
 * mode with `synchronous=FULL` and an exclusive lock, so that a second server cannot open it while
 * the first runs. A file that is corrupt, unreadable or not an ovtp queue database stops the
 * server at start ({@linkcode QueueStoreError}): never a silent fresh start that drops items.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { QueueStoreError } from "../errors.ts";
import type { MessageType } from "../message.ts";
import type { QueueStore, StoredItem, StoredItemChange } from "./queue_store.ts";

/** Marks a SQLite file as an ovtp queue database (`PRAGMA application_id`: "ovtq"). */
const applicationId = 0x6f767471;
/** The layout of the items table; a newer layout is refused rather than misread. */
const schemaVersion = 1;
const fileMode = 0o600;

type Op =
  | { kind: "insert"; item: StoredItem }
  | { kind: "update"; id: number; change: StoredItemChange }
  | { kind: "delete"; id: number };

interface Batch {
  promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

/** Options of {@linkcode SqliteQueueStore.open}. */
export interface SqliteQueueStoreOptions {
  /** Called when a commit of changes no push waits for (acks, deliveries) failed. */
  onError?: (error: unknown) => void;
}

/**
 * A {@linkcode QueueStore} in a SQLite file. Made by `openQueueStore(path)`.
 *
 * @example Items survive closing and opening again
 * ```ts
 * import { SqliteQueueStore } from "./sqlite_queue_store.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const path = `${dir}/queues.db`;
 *   let store = SqliteQueueStore.open(path);
 *   const item = {
 *     id: 1, queue: "jobs", owner: undefined, type: "text" as const,
 *     data: new TextEncoder().encode("a"), attempts: 0, readyAtMs: 0, lastError: undefined,
 *   };
 *   store.insert(item);
 *   await store.committed();
 *   store.close();
 *   store = SqliteQueueStore.open(path);
 *   assert.deepEqual(store.load(), [item]);
 *   store.close();
 *   if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class SqliteQueueStore implements QueueStore {
  readonly durable = true;
  /** The file. */
  readonly path: string;
  #db: DatabaseSync;
  #insert: StatementSync;
  #update: StatementSync;
  #delete: StatementSync;
  #staged: Op[] = [];
  #batch: Batch | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #onError: ((error: unknown) => void) | undefined;

  private constructor(path: string, db: DatabaseSync, options: SqliteQueueStoreOptions) {
    this.path = path;
    this.#db = db;
    this.#onError = options.onError;
    this.#insert = db.prepare(
      "INSERT INTO items (id, queue, owner, type, body, attempts, ready_at, last_error) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#update = db.prepare(
      "UPDATE items SET queue = ?, attempts = ?, ready_at = ?, last_error = ? WHERE id = ?",
    );
    this.#delete = db.prepare("DELETE FROM items WHERE id = ?");
  }

  /**
   * Opens (or creates) the database at `path`.
   *
   * @throws {QueueStoreError} It cannot be created or opened, is corrupt, is not an ovtp queue
   * database, or another server holds it.
   */
  static open(path: string, options: SqliteQueueStoreOptions = {}): SqliteQueueStore {
    const fail = (problem: string, cause?: unknown, todo = moveAway): never => {
      throw new QueueStoreError(`Cannot use the queue database ${path}: ${problem}; ${todo}`, {
        cause,
      });
    };
    try {
      Deno.openSync(path, { write: true, createNew: true, mode: fileMode }).close();
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) {
        fail(
          (error as Error).message,
          error,
          "check that its folder exists and may be written (--allow-write), or pass another file",
        );
      }
    }
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      // Exclusive: a second server on the same file fails here instead of sharing it.
      db.exec("PRAGMA locking_mode = EXCLUSIVE");
      db.exec("PRAGMA busy_timeout = 0");
      const mode = db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode: string };
      if (mode.journal_mode !== "wal") fail(`it cannot use WAL mode (${mode.journal_mode})`);
      db.exec("PRAGMA synchronous = FULL");
      const check = db.prepare("PRAGMA quick_check").all() as { quick_check: string }[];
      if (check.length !== 1 || check[0].quick_check !== "ok") {
        fail(`it is corrupt (${check.map((row) => row.quick_check).join("; ")})`);
      }
      prepareSchema(db, fail);
      return new SqliteQueueStore(path, db, options);
    } catch (error) {
      try {
        db?.close();
      } catch {
        // Closing a database that failed to open.
      }
      if (error instanceof QueueStoreError) throw error;
      const message = (error as Error).message;
      if (/locked|busy/i.test(message)) {
        fail("another process holds it", error, "stop the other server, or pass another file");
      }
      return fail(message, error);
    }
  }

  load(): StoredItem[] {
    const rows = this.#db.prepare(
      "SELECT id, queue, owner, type, body, attempts, ready_at, last_error FROM items ORDER BY id",
    ).all() as unknown as Row[];
    return rows.map((row) => ({
      id: row.id,
      queue: row.queue,
      owner: row.owner ?? undefined,
      type: row.type as MessageType,
      data: row.body,
      attempts: row.attempts,
      readyAtMs: row.ready_at,
      lastError: row.last_error ?? undefined,
    }));
  }

  insert(item: StoredItem): void {
    this.#stage({ kind: "insert", item });
  }

  update(id: number, change: StoredItemChange): void {
    this.#stage({ kind: "update", id, change });
  }

  delete(id: number): void {
    this.#stage({ kind: "delete", id });
  }

  committed(): Promise<void> {
    if (this.#staged.length === 0 && this.#batch === undefined) return Promise.resolve();
    this.#batch ??= newBatch();
    this.#schedule();
    return this.#batch.promise;
  }

  commit(): void {
    const ops = this.#staged;
    const batch = this.#batch;
    this.#staged = [];
    this.#batch = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (ops.length === 0) {
      batch?.resolve();
      return;
    }
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      for (const op of ops) this.#run(op);
      this.#db.exec("COMMIT");
    } catch (cause) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // Nothing was begun, or SQLite rolled back already.
      }
      const error = new QueueStoreError(
        `Cannot write the queue database ${this.path}: ${(cause as Error).message}; free disk ` +
          `space or check the file, then push again`,
        { cause },
      );
      batch?.reject(error);
      throw error;
    }
    batch?.resolve();
  }

  close(): void {
    if (this.#closed) return;
    try {
      this.commit();
    } catch (error) {
      this.#onError?.(error);
    }
    this.#closed = true;
    this.#db.close();
  }

  #run(op: Op): void {
    if (op.kind === "insert") {
      const { item } = op;
      this.#insert.run(
        item.id,
        item.queue,
        item.owner ?? null,
        item.type,
        item.data,
        item.attempts,
        item.readyAtMs,
        item.lastError ?? null,
      );
    } else if (op.kind === "update") {
      const { change } = op;
      this.#update.run(
        change.queue,
        change.attempts,
        change.readyAtMs,
        change.lastError ?? null,
        op.id,
      );
    } else {
      this.#delete.run(op.id);
    }
  }

  #stage(op: Op): void {
    if (this.#closed) return;
    this.#staged.push(op);
    this.#schedule();
  }

  /**
   * Commits on the next turn of the event loop: whatever arrived meanwhile (every push, ack and
   * delivery read from the sockets in this turn) goes into the same transaction.
   */
  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      try {
        this.commit();
      } catch (error) {
        this.#onError?.(error);
      }
    }, 0);
  }
}

const moveAway = "move it away (or restore a backup) to start with an empty one, or pass another " +
  "file with --queue-db";

interface Row {
  id: number;
  queue: string;
  owner: string | null;
  type: string;
  body: Uint8Array;
  attempts: number;
  ready_at: number;
  last_error: string | null;
}

/** Creates the items table in a new file; checks that an existing file is ours. */
function prepareSchema(db: DatabaseSync, fail: (problem: string) => never): void {
  const id = (db.prepare("PRAGMA application_id").get() as { application_id: number })
    .application_id;
  const version = (db.prepare("PRAGMA user_version").get() as { user_version: number })
    .user_version;
  const tables = (db.prepare("SELECT count(*) AS n FROM sqlite_master").get() as { n: number }).n;
  if (id === 0 && tables === 0) {
    db.exec(`BEGIN IMMEDIATE;
      CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        queue TEXT NOT NULL,
        owner TEXT,
        type TEXT NOT NULL,
        body BLOB NOT NULL,
        attempts INTEGER NOT NULL,
        ready_at INTEGER NOT NULL,
        last_error TEXT
      );
      PRAGMA application_id = ${applicationId};
      PRAGMA user_version = ${schemaVersion};
      COMMIT;`);
    return;
  }
  if (id !== applicationId) fail("it is not an ovtp queue database");
  if (version !== schemaVersion) {
    fail(`it has layout version ${version}, and this ovtp reads only version ${schemaVersion}`);
  }
  // Take the exclusive lock now (WAL with locking_mode=EXCLUSIVE keeps it until closed).
  db.exec("BEGIN IMMEDIATE; COMMIT;");
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
