/**
 * The one walker of nested containers, used by compare, inspect and lint. It owns the policy of going
 * inside an entry: the depth limit, the cap on nested containers in one run, a container that holds its own
 * bytes again (not reopened inside itself), the same bytes reached by two paths (looked into once), the time
 * limit on opening one entry's content, compression layers that add no path step, and how many contents are
 * worked on at once. Compare drives it over pairs of entries; `walk()` goes through one image.
 */
import type { ByteSource } from '../io/source.js';
import type { Container, Entry, Format, OpenContext } from '../model.js';
import { FORMATS } from '../formats/index.js';
import { entrySource, openViews, sourceKey, type OpenResult } from './open.js';
import { isTransparent } from './rules.js';

/** contents being hashed or opened at once, per container */
export const MAX_INFLIGHT = 64;

/**
 * Work in flight, bounded: `add` hands back a promise to wait for when `max` tasks are pending (and nothing
 * when there is room, so a caller that does not wait is not delayed), `settled` waits for all. The first
 * task that fails is raised by `settled` (or by the wait `add` handed back), whenever it failed: a task that
 * fails while nobody waits is not lost.
 */
export class Inflight {
  private readonly pending = new Set<Promise<void>>();
  private failed: { error: unknown } | undefined;
  constructor(private readonly max = MAX_INFLIGHT) {}

  add(task: Promise<void>): Promise<unknown> | undefined {
    const tracked: Promise<void> = task.finally(() => this.pending.delete(tracked));
    // observed through race and settled; kept, so that a failure while nobody waits is raised by settled
    tracked.catch((error: unknown) => void (this.failed ??= { error }));
    this.pending.add(tracked);
    return this.pending.size >= this.max ? Promise.race(this.pending) : undefined;
  }

  async settled(): Promise<void> {
    await Promise.all(this.pending);
    if (this.failed) throw this.failed.error;
  }
}

/**
 * Guards nesting: a container that holds its own bytes again (a partition starting at sector 0, a section
 * covering the whole file, a zip that contains itself) is not reopened inside itself, and the number of
 * nested containers in one run is capped.
 */
export class NestGuard {
  private opened = 0;
  private capNoted = false;
  constructor(
    private readonly max: number,
    private readonly note: (text: string) => void,
  ) {}

  /**
   * 'ok' when `src` may be opened below `ancestors` (the keys of the sources above it); 'self' when it holds
   * the bytes of a container above it; 'limit' past maxContainers.
   */
  allow(src: ByteSource, ancestors: readonly string[], where: string): 'ok' | 'self' | 'limit' {
    const key = sourceKey(src);
    if (ancestors.includes(key)) {
      this.note(`${where} holds the same bytes as a container above it; it is not opened again inside itself`);
      return 'self';
    }
    if (this.opened >= this.max) {
      if (!this.capNoted) {
        this.note(`more than ${this.max} nested containers: the rest are not opened and their differing bytes count as unexplained (limit maxContainers)`);
        this.capNoted = true;
      }
      return 'limit';
    }
    this.opened++;
    return 'ok';
  }
}

/** What going inside one entry's content came to. */
export type Admission =
  | { kind: 'ok'; source: ByteSource }
  /** nothing to open: no content, opaque content, or a container inside itself */
  | { kind: 'none' }
  /** a limit kept it closed: which one, and where */
  | { kind: 'limit'; limit: string };

/** What `walk()` shows a visitor. */
export interface WalkVisitor {
  /** a container (a view of a source) at `path` (`/` for the input, else the entry path that holds it) */
  container?(c: Container, path: string, depth: number): void;
  /** an entry of `c` at report path `path`; a promise returned is waited for before the walk goes on (backpressure) */
  entry?(c: Container, e: Entry, path: string, depth: number): void | Promise<unknown>;
  /** a nested source opened (its failures, when a format recognised it but could not read it) */
  opened?(where: string, result: OpenResult): void;
  /** whether to look inside this entry's content (default: files with content) */
  descend?(c: Container, e: Entry): boolean;
}

export class Walker {
  private readonly guard: NestGuard;
  /** the keys of the sources above each nested source, to refuse a container inside itself */
  private readonly ancestors = new Map<ByteSource, string[]>();
  /** the bytes already looked into, by key (see firstVisit) */
  private readonly seen = new Map<string, string>();

  constructor(
    readonly ctx: OpenContext,
    private readonly note: (text: string) => void,
    /** the formats to open nested contents with (the registry; a test passes its own) */
    private readonly formats: readonly Format[] = FORMATS,
  ) {
    this.guard = new NestGuard(ctx.limits.maxContainers, note);
  }

  /** The report path of an entry of a container whose entries' paths start with `prefix`. */
  static entryPath(format: string, entryPath: string, prefix: string, containerPath: string): string {
    return isTransparent(format, entryPath) ? containerPath : prefix + entryPath;
  }

  /** The prefix of the paths inside the nested container of an entry at report path `path`. */
  static innerPrefix(format: string, entryPath: string, prefix: string, path: string): string {
    // through a compression layer the inner container keeps the layer's own prefix (no path step)
    return isTransparent(format, entryPath) ? prefix : `${path}/`;
  }

  /** The limit text when a container below `depth` may not be opened (noted once per place). */
  depthLimit(depth: number, path: string): string | undefined {
    if (depth + 1 <= this.ctx.limits.maxDepth) return undefined;
    const limit = `${path}: nesting deeper than ${this.ctx.limits.maxDepth} levels is not opened (limit maxDepth; raise --max-depth)`;
    this.note(limit);
    return limit;
  }

  /**
   * True the first time `key` (the sourceKey of one or both builds' contents) is met: the same bytes reached
   * by two paths (an El Torito boot image that is also an ISO file) are looked into once.
   */
  firstVisit(key: string, path: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.set(key, path);
    return true;
  }

  /**
   * Whether the content `src` of an entry of `c` may be opened: not a container inside itself, and within the
   * cap on nested containers. On 'ok' it is recorded below `c`.
   */
  admit(c: Container, src: ByteSource, where: string): 'ok' | 'self' | 'limit' {
    const above = [...(this.ancestors.get(c.source) ?? []), sourceKey(c.source)];
    const allowed = this.guard.allow(src, above, where);
    if (allowed === 'ok') this.ancestors.set(src, above);
    return allowed;
  }

  /** The limit text for a content not opened past maxContainers. */
  containersLimit(): string {
    return `more than ${this.ctx.limits.maxContainers} nested containers (limit maxContainers; raise --max-containers)`;
  }

  /** Opens a nested content under the time limit of one entry. */
  open(src: ByteSource): Promise<OpenResult> {
    return openViews(src, { ...this.ctx, timeLimited: true }, this.formats);
  }

  /**
   * Goes through `views` of one image and everything nested in them, depth first, in listing order: the
   * listing of inspect and lint. Contents are opened under the same limits as in a comparison.
   */
  async walk(views: Container[], visitor: WalkVisitor, prefix = '', depth = 0): Promise<void> {
    for (const c of views) {
      const cpath = prefix === '' ? '/' : prefix.slice(0, -1);
      visitor.container?.(c, cpath, depth);
      for (const e of c.entries) {
        const epath = Walker.entryPath(c.format, e.path, prefix, cpath);
        const wait = visitor.entry?.(c, e, epath, depth);
        if (wait) await wait;
        if (!(visitor.descend ? visitor.descend(c, e) : e.type === 'file' && e.size > 0)) continue;
        if (this.depthLimit(depth, epath) !== undefined) continue;
        const src = entrySource(c, e);
        if (!src) continue;
        if (this.admit(c, src, epath) !== 'ok') continue;
        const nested = await this.open(src);
        visitor.opened?.(epath, nested);
        if (nested.views.length) await this.walk(nested.views, visitor, Walker.innerPrefix(c.format, e.path, prefix, epath), depth + 1);
      }
    }
  }
}
