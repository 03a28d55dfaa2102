import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { ReprodiffError } from './errors.js';

/** Named caps applied to untrusted input. Every count, length and depth read from an image is checked against one. */
export interface Limits {
  /** how deep containers may nest (ISO -> FAT -> ...) */
  maxDepth: number;
  /** bytes a decoder may produce for one decoded stream */
  maxDecodedBytes: number;
  /** entries one container may hold */
  maxEntries: number;
  /** directory nesting within one container */
  maxDirDepth: number;
  /** bytes of one metadata structure read at once (directory extent, FAT, table) */
  maxStructureBytes: number;
  /** links followed in one chain (CE areas, FAT clusters are bounded by their own size) */
  maxChain: number;
  /** nested containers opened in one run, all depths together (bounds archive quines and garbage tables) */
  maxContainers: number;
  /** seconds spent opening the contents of one entry (decoding, listing) */
  maxEntrySeconds: number;
  /** decoded bytes of one stream kept in memory; a larger stream goes to an unnamed temporary file (io/spill.ts) */
  memoryDecodedBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxDepth: 8,
  maxDecodedBytes: 1024 * 1024 * 1024,
  maxEntries: 2_000_000,
  maxDirDepth: 256,
  maxStructureBytes: 64 * 1024 * 1024,
  maxChain: 100_000,
  maxContainers: 20_000,
  maxEntrySeconds: 120,
  memoryDecodedBytes: 8 * 1024 * 1024,
});

/** Throws E_LIMIT when `value` exceeds `cap`. `what` names the thing counted. */
export function checkCap(value: number, cap: number, what: string, file?: string, offset?: number): void {
  if (!Number.isFinite(value) || value > cap) {
    throw new ReprodiffError('E_LIMIT', `${what} is ${value}, over the limit of ${cap}`, { file, offset });
  }
}

/**
 * The entry cap of one container was reached. Formats throw it where they add an entry and catch it where
 * they walk: the container keeps the entries read so far and says where it stopped (`Container.partial`).
 */
export class EntryLimit extends Error {
  constructor(
    readonly what: string,
    readonly cap: number,
    readonly offset: number | undefined,
  ) {
    super(`${what}: more than ${cap}`);
  }

  /** What the report says about it. */
  describe(): string {
    return `entry limit reached: more than ${this.cap} ${this.what}${this.offset !== undefined ? ` (stopped at offset ${this.offset})` : ''}; the rest is not examined and its differing bytes count as unexplained (raise --max-entries)`;
  }
}

/**
 * The heap was nearly full while a container was listed: it stops there, as at the entry cap, so that a
 * listing of millions of entries ends in a note and `unknown` findings, never in V8's out-of-memory abort.
 */
export class MemoryLimit extends EntryLimit {
  constructor(
    what: string,
    /** the entries listed when it stopped */
    count: number,
    offset: number | undefined,
    readonly usedMiB: number,
    readonly limitMiB: number,
  ) {
    super(what, count, offset);
  }

  override describe(): string {
    return `memory limit reached after ${this.cap} ${this.what}: the heap held ${this.usedMiB} MiB of the ${this.limitMiB} MiB it may grow to${this.offset !== undefined ? ` (stopped at offset ${this.offset})` : ''}; the rest is not examined and its differing bytes count as unexplained (give node more heap: NODE_OPTIONS=--max-old-space-size=MiB)`;
  }
}

/** how many entries a listing adds between two looks at the heap */
const HEAP_CHECK_EVERY = 4096;
/** the share of V8's heap limit past which a listing stops */
const HEAP_STOP_SHARE = 0.5;

/**
 * Why a container may not take its `count`th entry: the entry cap (`limits.maxEntries`), or the heap near its
 * limit (looked at every few thousand entries); undefined when it may.
 */
export function entryStop(count: number, limits: Limits, what: string, offset?: number): EntryLimit | undefined {
  if (count > limits.maxEntries) return new EntryLimit(what, limits.maxEntries, offset);
  if (count % HEAP_CHECK_EVERY === 0) {
    const { used, limit } = oldGeneration();
    if (used > HEAP_STOP_SHARE * limit) return new MemoryLimit(what, count - 1, offset, Math.round(used / 2 ** 20), Math.round(limit / 2 ** 20));
  }
  return undefined;
}

/**
 * V8's young generation at its largest (three 16 MiB semi-spaces on 64-bit): the heap limit less this is what
 * the old generation may grow to (--max-old-space-size), the limit an out-of-memory abort is about.
 */
const YOUNG_MAX = 48 * 2 ** 20;

/** How much the old generation (every space but the young ones) holds, and what it may grow to. */
function oldGeneration(): { used: number; limit: number } {
  let used = 0;
  for (const s of getHeapSpaceStatistics()) if (!s.space_name.startsWith('new_')) used += s.space_used_size;
  const total = getHeapStatistics().heap_size_limit;
  // V8 keeps its young generation at full size even under a small --max-old-space-size (20 MiB gives a heap
  // limit of 68 MiB): what is left is the old generation's limit; a quarter of the whole at the least
  return { used, limit: Math.max(total - YOUNG_MAX, total / 4) };
}

/**
 * the share of V8's heap limit past which a comparison stops pairing a container's entries: above the
 * listings' share, which leaves the listings of a container room to be compared
 */
const COMPARE_STOP_SHARE = 0.75;

/** The heap's old generation past COMPARE_STOP_SHARE of what it may grow to (in MiB), or undefined. */
export function memoryShort(): { usedMiB: number; limitMiB: number } | undefined {
  const { used, limit } = oldGeneration();
  return used > COMPARE_STOP_SHARE * limit ? { usedMiB: Math.round(used / 2 ** 20), limitMiB: Math.round(limit / 2 ** 20) } : undefined;
}

/** Throws EntryLimit (or MemoryLimit) when a container may not take its `count`th entry (see entryStop). */
export function checkEntries(count: number, limits: Limits, what: string, offset?: number): void {
  const stop = entryStop(count, limits, what, offset);
  if (stop) throw stop;
}

/**
 * The time limit of a whole run (--timeout): checked between entries, before a content is opened, between the
 * files of a folder and by the lockstep pass; and, through checkTime, by decoders and listings while an input
 * or an entry's content is opened. Whatever is left when it is reached is reported as not examined.
 */
export class Deadline {
  /** set once something was left unexamined because the time was up */
  fired = false;
  readonly at: number;
  constructor(
    readonly seconds: number,
    start = Date.now(),
  ) {
    this.at = start + seconds * 1000;
  }

  /** True once the time is up. */
  passed(): boolean {
    return Date.now() > this.at;
  }

  /** True once the time is up, and marks the run as cut short: the caller stops and reports what is left. */
  reached(): boolean {
    if (!this.passed()) return false;
    this.fired = true;
    return true;
  }

  /** What the report says about what it cut short. */
  limitText(): string {
    return `time limit reached: the run's --timeout of ${this.seconds} s passed before this was examined (raise --timeout)`;
  }
}

/** The deadline of the run in progress, if it has one. */
let runDeadline: Deadline | undefined;

/** Sets the deadline of the run in progress (undefined: none); returns the one before, to restore. */
export function setRunDeadline(d: Deadline | undefined): Deadline | undefined {
  const before = runDeadline;
  runDeadline = d;
  return before;
}

/** Whether the run in progress has a deadline: opening an input then runs under it (see openViews). */
export function hasRunDeadline(): boolean {
  return runDeadline !== undefined;
}

/** When the work on the entry being opened must end (ms since the epoch); Infinity outside such work. */
let deadline = Infinity;
let deadlineSeconds = 0;
/** whether checkTime is to honour the run's deadline: only inside withTimeLimit, whose callers turn a rejection into a finding */
let timed = false;

/**
 * Runs the synchronous part of `fn` under a time limit (Infinity: only the run's deadline): decoders and
 * listings call checkTime as they go and stop with E_LIMIT once it has passed.
 */
export function withTimeLimit<T>(seconds: number, fn: () => T): T {
  return withDeadline({ deadline: Date.now() + seconds * 1000, seconds }, fn);
}

/** The time limit in force (when it ends, and its length in seconds), to hand to work done in another thread. */
export function timeLimitNow(): { deadline: number; seconds: number } | undefined {
  return deadline === Infinity ? undefined : { deadline, seconds: deadlineSeconds };
}

/** Runs `fn` under a time limit handed over from another thread (see timeLimitNow). */
export function withDeadline<T>(limit: { deadline: number; seconds: number } | undefined, fn: () => T): T {
  const before = deadline;
  const beforeSeconds = deadlineSeconds;
  const beforeTimed = timed;
  deadline = limit?.deadline ?? Infinity;
  deadlineSeconds = limit?.seconds ?? 0;
  timed = true;
  try {
    return fn();
  } finally {
    deadline = before;
    deadlineSeconds = beforeSeconds;
    timed = beforeTimed;
  }
}

/** Throws E_LIMIT when the time limit of the entry being opened has passed. Cheap: call it per block or entry. */
export function checkTime(what: string, file?: string, offset?: number): void {
  if (!timed) return;
  if (deadline !== Infinity && Date.now() > deadline) {
    throw new ReprodiffError('E_LIMIT', `time limit reached: ${what} took over ${deadlineSeconds} s (limit maxEntrySeconds; raise --max-entry-seconds)`, { file, offset });
  }
  if (runDeadline?.reached()) throw new ReprodiffError('E_LIMIT', `${runDeadline.limitText()}: ${what}`, { file, offset });
}
