/**
 * The server's resource budgets: one place that holds the limits and counts what each
 * connection, each client key and the whole process holds now. Every service that spends
 * memory, a file descriptor or a process on behalf of a peer takes it from the connection's
 * {@linkcode Allowance} first, and gives it back when done; a peer over a budget is refused
 * (its stream reset, never the connection of another key), before the memory or the descriptor
 * is spent. An allowance is closed with its connection and then gives back whatever it still
 * holds, so a service that forgets to give something back cannot leak it past the connection.
 *
 * Where it sits: `OvtpServer` owns one {@linkcode Budget}; each authenticated connection gets an
 * `Allowance` from it (which counts the connection against its key), hands it to its channel
 * (stream windows, message bodies being read) and to the file, messaging and forwarding
 * services through the `PeerConnection`.
 *
 * @module
 */

/** What a server counts for each connection, each key and the whole process. */
export type Resource =
  /** Authenticated connections (counted per key and per process). */
  | "connections"
  /** Bytes a peer may make the server hold: stream receive windows and message bodies read. */
  | "bufferedBytes"
  /** Files open for a transfer. */
  | "fileHandles"
  /** Message handler calls running at once (each `--exec` command is one). */
  | "handlerCalls"
  /** Publish/subscribe subscriptions. */
  | "subscriptions";

/** The resources, in the order error messages and SECURITY.md list them. */
export const resources: readonly Resource[] = [
  "connections",
  "bufferedBytes",
  "fileHandles",
  "handlerCalls",
  "subscriptions",
];

/** How much of each resource one scope may hold at once. */
export type ResourceLimits = Record<Resource, number>;

/** The three scopes of a budget. */
export interface BudgetLimits {
  /** What one connection may hold. */
  connection: ResourceLimits;
  /** What all connections of one client key together may hold. */
  key: ResourceLimits;
  /** What the whole server may hold. */
  process: ResourceLimits;
}

const MiB = 1024 * 1024;

/**
 * Default budgets, chosen so that a 2-core VM with 1 GiB of memory survives 1,000 connected
 * clients and one hostile key cannot take more than a small share (SECURITY.md, "Budgets").
 */
export const defaultBudgetLimits: BudgetLimits = {
  connection: {
    connections: 1,
    bufferedBytes: 64 * MiB,
    fileHandles: 32,
    handlerCalls: 256,
    subscriptions: 256,
  },
  key: {
    connections: 256,
    bufferedBytes: 128 * MiB,
    fileHandles: 128,
    handlerCalls: 512,
    subscriptions: 1024,
  },
  process: {
    connections: 1024,
    bufferedBytes: 256 * MiB,
    fileHandles: 256,
    handlerCalls: 2048,
    subscriptions: 65536,
  },
};

/**
 * Merges overrides into the defaults, checking every figure.
 *
 * @throws {RangeError} A limit that is not a non-negative safe integer.
 *
 * @example Lower one figure
 * ```ts
 * import { budgetLimits } from "./budget.ts";
 * import assert from "node:assert/strict";
 *
 * const limits = budgetLimits({ key: { fileHandles: 4 } });
 * assert.equal(limits.key.fileHandles, 4);
 * assert.equal(limits.connection.fileHandles, 32);
 * ```
 */
export function budgetLimits(
  overrides: { [S in keyof BudgetLimits]?: Partial<ResourceLimits> } = {},
): BudgetLimits {
  const merged = {} as BudgetLimits;
  for (const scope of ["connection", "key", "process"] as const) {
    merged[scope] = { ...defaultBudgetLimits[scope] };
    for (const [name, value] of Object.entries(overrides[scope] ?? {})) {
      if (value === undefined) continue;
      if (!(resources as string[]).includes(name)) {
        throw new RangeError(`Unknown budget resource "${name}"`);
      }
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(
          `Budget ${scope}.${name} must be a non-negative integer, got ${value}`,
        );
      }
      merged[scope][name as Resource] = value;
    }
  }
  return merged;
}

/** Why something was refused: the scope and resource that were full. */
export interface BudgetRefusal {
  /** Which scope was full. */
  scope: keyof BudgetLimits;
  /** Which resource. */
  resource: Resource;
  /** Its limit. */
  limit: number;
  /** One line for the peer and the log: what was full and what to do. */
  message: string;
}

type Counts = Record<Resource, number>;

function zeroCounts(): Counts {
  return {
    connections: 0,
    bufferedBytes: 0,
    fileHandles: 0,
    handlerCalls: 0,
    subscriptions: 0,
  };
}

interface KeyEntry {
  counts: Counts;
  allowances: number;
}

/**
 * A server's budgets: hands out one {@linkcode Allowance} per authenticated connection and
 * counts what they hold per key and for the whole process.
 *
 * @example One key cannot take more than its share
 * ```ts
 * import { type Allowance, Budget, budgetLimits } from "./budget.ts";
 * import assert from "node:assert/strict";
 *
 * const budget = new Budget(budgetLimits({ key: { fileHandles: 2 } }));
 * const open = (key: string) => budget.open(key) as Allowance;
 * const a = open("SHA256:a");
 * const b = open("SHA256:a");
 * assert.equal(a.take("fileHandles", 2), undefined);
 * assert.equal(b.take("fileHandles", 1)?.scope, "key");
 * const other = open("SHA256:b");
 * assert.equal(other.take("fileHandles", 1), undefined);
 * a.close();
 * assert.equal(b.take("fileHandles", 1), undefined);
 * ```
 */
export class Budget {
  /** The limits in force. */
  readonly limits: BudgetLimits;
  #process = zeroCounts();
  #keys = new Map<string, KeyEntry>();

  /** @param limits From {@linkcode budgetLimits}; the defaults without it. */
  constructor(limits: BudgetLimits = defaultBudgetLimits) {
    this.limits = limits;
  }

  /** What the whole process holds now. */
  get held(): Readonly<ResourceLimits> {
    return { ...this.#process };
  }

  /** What one key's connections hold now (all zero for a key with none). */
  heldBy(fingerprint: string): Readonly<ResourceLimits> {
    return { ...(this.#keys.get(fingerprint)?.counts ?? zeroCounts()) };
  }

  /**
   * Opens the allowance of a new connection of `fingerprint`, counting the connection; returns
   * the refusal instead when the key or the process holds its most connections.
   */
  open(fingerprint: string): Allowance | BudgetRefusal {
    let entry = this.#keys.get(fingerprint);
    if (entry === undefined) {
      entry = { counts: zeroCounts(), allowances: 0 };
      this.#keys.set(fingerprint, entry);
    }
    const allowance = new Allowance(this, entry, this.limits);
    entry.allowances++;
    const refusal = allowance.take("connections", 1);
    if (refusal !== undefined) {
      allowance.close();
      return refusal;
    }
    return allowance;
  }

  /** @internal */
  processCounts(): Counts {
    return this.#process;
  }

  /** @internal An allowance closed: forget its key once nothing of it is left. */
  closed(entry: KeyEntry): void {
    entry.allowances--;
    if (entry.allowances > 0) return;
    for (const [fingerprint, candidate] of this.#keys) {
      if (candidate === entry) this.#keys.delete(fingerprint);
    }
  }
}

/**
 * What one connection may still take, counted against itself, its key and the process. Taking
 * is all or nothing across the three scopes.
 */
export class Allowance {
  #budget: Budget;
  #key: KeyEntry;
  #limits: BudgetLimits;
  #counts = zeroCounts();
  #closed = false;

  /** @internal Made by {@linkcode Budget.open}. */
  constructor(budget: Budget, key: KeyEntry, limits: BudgetLimits) {
    this.#budget = budget;
    this.#key = key;
    this.#limits = limits;
  }

  /** What this connection holds now. */
  get held(): Readonly<ResourceLimits> {
    return { ...this.#counts };
  }

  /**
   * Takes `amount` of `resource` if every scope has room; returns `undefined` when taken, else
   * the refusal (nothing is taken). After `close()`, everything is refused.
   */
  take(resource: Resource, amount: number): BudgetRefusal | undefined {
    if (amount <= 0) return undefined;
    // Taken once per message and per chunk: the refusal and its message are built only when
    // something is refused.
    if (this.#closed || this.left(resource) < amount) {
      return this.room(resource).refusal ?? refusal("connection", resource, 0);
    }
    this.#add(resource, amount);
    return undefined;
  }

  /** Takes as much of `amount` as every scope has room for (possibly 0); returns what it took. */
  takeUpTo(resource: Resource, amount: number): number {
    if (this.#closed || amount <= 0) return 0;
    const taken = Math.min(amount, this.left(resource));
    if (taken > 0) this.#add(resource, taken);
    return taken;
  }

  /** Gives back `amount` of `resource` (never more than this connection holds). */
  give(resource: Resource, amount: number): void {
    const given = Math.min(amount, this.#counts[resource]);
    if (given <= 0) return;
    this.#counts[resource] -= given;
    this.#key.counts[resource] -= given;
    this.#budget.processCounts()[resource] -= given;
  }

  /**
   * How much of `resource` could be taken now (what {@linkcode Allowance.room} says, without
   * building its refusal).
   */
  left(resource: Resource): number {
    const connection = this.#limits.connection[resource] - this.#counts[resource];
    const key = this.#limits.key[resource] - this.#key.counts[resource];
    const process = this.#limits.process[resource] - this.#budget.processCounts()[resource];
    return Math.max(0, Math.min(connection, key, process));
  }

  /** How much of `resource` could be taken now, and which scope is the tightest. */
  room(resource: Resource): { amount: number; refusal?: BudgetRefusal } {
    const scopes: [keyof BudgetLimits, Counts][] = [
      ["connection", this.#counts],
      ["key", this.#key.counts],
      ["process", this.#budget.processCounts()],
    ];
    let amount = Infinity;
    let tightest: BudgetRefusal | undefined;
    for (const [scope, counts] of scopes) {
      const limit = this.#limits[scope][resource];
      const left = Math.max(0, limit - counts[resource]);
      if (left < amount) {
        amount = left;
        tightest = refusal(scope, resource, limit);
      }
    }
    return { amount, refusal: tightest };
  }

  /** Gives back everything this connection holds and refuses all further takes. */
  close(): void {
    if (this.#closed) return;
    for (const resource of resources) this.give(resource, this.#counts[resource]);
    this.#closed = true;
    this.#budget.closed(this.#key);
  }

  #add(resource: Resource, amount: number): void {
    this.#counts[resource] += amount;
    this.#key.counts[resource] += amount;
    this.#budget.processCounts()[resource] += amount;
  }
}

const what: Record<Resource, string> = {
  connections: "connections",
  bufferedBytes: "bytes of buffered data",
  fileHandles: "open files",
  handlerCalls: "requests being handled",
  subscriptions: "subscriptions",
};

const whose: Record<keyof BudgetLimits, string> = {
  connection: "this connection",
  key: "this client key",
  process: "the server",
};

function refusal(scope: keyof BudgetLimits, resource: Resource, limit: number): BudgetRefusal {
  return {
    scope,
    resource,
    limit,
    message: `Over the budget of ${whose[scope]}: at most ${limit} ${what[resource]} at once; ` +
      `wait for some to finish and retry`,
  };
}

/** True when `value` is a refusal rather than an allowance. */
export function isBudgetRefusal(value: Allowance | BudgetRefusal): value is BudgetRefusal {
  return !(value instanceof Allowance);
}
