/**
 * Compare two inputs: one lockstep pass over both files finds the differing byte ranges (in the pool) while
 * the main thread parses both; entries are paired by path; fields are compared by value and, where values
 * agree but bytes differ, by bytes; contents are compared without hashing when they sit at the same offsets
 * and no differing range touches them, otherwise by hash in the pool; differing contents are opened as
 * nested containers and compared in turn. Findings are then classified root or derived and every differing
 * byte is attributed (see account.ts).
 */
import type { FileSource } from '../io/file.js';
import { DecodedSource, type ByteSource, type Extent } from '../io/source.js';
import type { Limits } from '../limits.js';
import type { Container, Entry, Field, Kind, OpenContext, Span, Value } from '../model.js';
import type { ReportSpan } from '../report/types.js';
import { explainContent } from '../classify/content.js';
import { entrySource, isTransparent, NestGuard, openViews, sourceKey } from '../walk/open.js';
import { normalize, Ranges, subtract, type Interval } from './intervals.js';
import { hashContent, sameContent, type WorkerPool } from './pool.js';
import { pushAll } from '../util/array.js';
import { Folder, type Folded } from './fold.js';

/** contents up to this size are decoded for embedded values when they differ */
const EXPLAIN_MAX = 16 * 1024 * 1024;
/** findings per entry from content heuristics; the rest are summarised in one */
const MAX_EVIDENCE = 50;
/** contents being hashed or opened at once, per container */
const MAX_INFLIGHT = 64;

/** Formats whose entries (partitions, boot images) may lie over structures another view of the same source compares. */
const CO_RESIDENT = new Set(['mbr', 'gpt', 'apm', 'eltorito']);


export interface CompareOptions {
  jobs?: number;
  limits?: Limits;
  /** also compute SHA-256 of both whole inputs for the report */
  sha256?: boolean;
  /** called as work progresses */
  onProgress?: (p: { entries: number }) => void;
  /** the SOURCE_DATE_EPOCH the builds were meant to use (seconds) */
  sourceDateEpoch?: number;
  /** called once both inputs are open */
  onSizes?: (a: number, b: number) => void;
}

/** A finding before ids are assigned. */
export interface RawFinding {
  path: string;
  format: string;
  field: string | null;
  kind: Kind;
  root: boolean;
  causes: RawFinding[];
  a: Value;
  b: Value;
  spans: ReportSpan[];
  hint?: string;
  detail?: string;
  confidence?: number;
  /** checksum fields: the spans they are computed over, per side */
  covers?: ReportSpan[];
  /** layout/size fields whose cause the comparer looks for */
  derivedField?: boolean;
  /** the container this finding belongs to (for cause lookup) */
  scope: Scope;
  /** the entry path within its container, when the finding is about an entry */
  entry?: string;
  /** whether each side's time equals SOURCE_DATE_EPOCH */
  sde?: { a: boolean; b: boolean };
}

/** One pair of compared containers. */
export interface Scope {
  path: string;
  format: string;
  findings: RawFinding[];
  ordering?: RawFinding;
  /** entries whose content moved, by entry path */
  moved: Set<string>;
  /** entries whose nested containers differ, with the findings made inside them */
  changed?: Map<string, RawFinding[]>;
  /** bytes that are the same on both sides but sit at other offsets (shifted records, moved contents) */
  shifted?: { spans: ReportSpan[]; fields: number; contents: number };
  /** findings made in this scope, kept or folded */
  made?: number;
}

/** An entry found in both builds, with where its content starts in each (for placement order). */
interface Placed {
  path: string;
  a: number;
  b: number;
  ea: Entry;
  eb: Entry;
}

/** Two entries of one path whose contents are compared, and where the result goes. */
interface ContentPair {
  ca: Container;
  cb: Container;
  ea: Entry;
  eb: Entry;
  /** the entry's report path */
  path: string;
  /** the container's path prefix, and its nesting depth */
  prefix: string;
  depth: number;
  scope: Scope;
  placed: Placed[];
}

/** Records bytes that moved; adjacent spans of one side are merged as they come (records are read in order). */
function noteShift(scope: Scope, a: ReportSpan[], b: ReportSpan[], what: 'fields' | 'contents'): void {
  const sh = (scope.shifted ??= { spans: [], fields: 0, contents: 0 });
  sh[what]++;
  for (const s of [...a, ...b]) {
    let merged = false;
    for (let i = sh.spans.length - 1; i >= Math.max(0, sh.spans.length - 2); i--) {
      const last = sh.spans[i]!;
      if (last.side === s.side && last.stream === s.stream && s.offset >= last.offset && s.offset <= last.offset + last.length + 64) {
        last.length = Math.max(last.length, s.offset + s.length - last.offset);
        merged = true;
        break;
      }
    }
    if (!merged) sh.spans.push({ ...s });
  }
}

/**
 * The moved spans of a container in a fixed order, neighbours (up to 64 bytes apart) merged: contents are
 * compared concurrently, so the order they were noted in varies from run to run.
 */
function mergeShifted(spans: ReportSpan[]): ReportSpan[] {
  const sorted = [...spans].sort((x, y) => (x.side < y.side ? -1 : x.side > y.side ? 1 : (x.stream ?? '') < (y.stream ?? '') ? -1 : (x.stream ?? '') > (y.stream ?? '') ? 1 : x.offset - y.offset || x.length - y.length));
  const out: ReportSpan[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && last.side === s.side && last.stream === s.stream && s.offset <= last.offset + last.length + 64) {
      last.length = Math.max(last.length, s.offset + s.length - last.offset);
    } else out.push({ ...s });
  }
  return out;
}

export interface CompareResult {
  sizeA: number;
  sizeB: number;
  diff: Ranges;
  differing: number;
  capped: boolean;
  findings: RawFinding[];
  /** copies of one change past the kept ones, by group (see fold.ts) */
  folded: Map<string, Folded>;
  scopes: Scope[];
  notes: string[];
  sourceA: ByteSource;
  sourceB: ByteSource;
  viewsA: Container[];
  viewsB: Container[];
  /** closes both inputs; call after the report is built (it reads excerpts) */
  close(): void;
}

function reportSpans(side: 'a' | 'b', spans: Span[]): ReportSpan[] {
  return spans.map((s) => (s.stream === undefined ? { side, offset: s.offset, length: s.length } : { side, stream: s.stream, offset: s.offset, length: s.length }));
}

function extentSpans(side: 'a' | 'b', src: ByteSource, extents: Extent[]): ReportSpan[] {
  const out: ReportSpan[] = [];
  for (const e of extents) pushAll(out, reportSpans(side, src.spans(e.offset, e.length)));
  return out;
}

/**
 * Whether spans of the two builds sit at the same place: the same offsets in the inputs, or in corresponding
 * decoded streams. A stream's id starts with its input's name (`a.iso//efi.img#gzip`), so ids are compared
 * past the names `nameA` and `nameB`: a squashfs metadata block or a gzip layer at the same place in both
 * builds is one stream.
 */
function sameSpans(a: Span[], b: Span[], nameA = '', nameB = ''): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.offset !== y.offset || x.length !== y.length) return false;
    if (x.stream !== y.stream && !sameStream(x.stream, y.stream, nameA, nameB)) return false;
  }
  return true;
}

function sameStream(x: string | undefined, y: string | undefined, nameA: string, nameB: string): boolean {
  if (x === undefined || y === undefined || !nameA || !x.startsWith(nameA) || !y.startsWith(nameB)) return false;
  return x.length - nameA.length === y.length - nameB.length && x.endsWith(y.slice(nameB.length));
}

function sameExtents(a: readonly Extent[], b: readonly Extent[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.offset !== b[i]!.offset || a[i]!.length !== b[i]!.length) return false;
  return true;
}

function readSpans(spans: Span[], root: ByteSource): Uint8Array | undefined {
  // only outer-file spans can be read back from the root source
  let n = 0;
  for (const s of spans) {
    if (s.stream !== undefined) return undefined;
    n += s.length;
  }
  if (n > 1 << 20) return undefined;
  const out = new Uint8Array(n);
  let at = 0;
  for (const s of spans) {
    out.set(root.read(s.offset, s.length, 'field'), at);
    at += s.length;
  }
  return out;
}

/** The spans of the encoded bytes behind decoded contents (compressed blocks), on both sides. */
function encodedSpans(srcA: ByteSource, srcB: ByteSource): ReportSpan[] {
  const out: ReportSpan[] = [];
  if (srcA instanceof DecodedSource) pushAll(out, reportSpans('a', srcA.origin));
  if (srcB instanceof DecodedSource) pushAll(out, reportSpans('b', srcB.origin));
  return out;
}

/**
 * The encoded bytes a content is decoded from, when they are its own (a zip member, not a file inside a
 * compressed archive) and lie in the outer file: the content is all of its decoded stream.
 */
function ownEncoding(e: Entry, src: ByteSource): Extent[] | undefined {
  if (e.contentSource === undefined || !(src instanceof DecodedSource) || e.size !== src.size) return undefined;
  let n = 0;
  for (const x of e.extents) n += x.length;
  if (n !== src.size || src.origin.some((o) => o.stream !== undefined)) return undefined;
  return src.origin.map((o) => ({ offset: o.offset, length: o.length }));
}

/** Where a content starts, for placement order: its first span, or the first encoded span of a decoded content. */
function placementSpan(src: ByteSource, spans: Span[]): Span | undefined {
  const first = spans[0];
  if (first?.stream !== undefined && src instanceof DecodedSource) return src.origin[0] ?? first;
  return first;
}

function spanKey(spans: Span[]): string {
  return spans.map((s) => `${s.stream ?? ''}@${s.offset}+${s.length}`).join(',');
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hexShort(b: Uint8Array): string {
  const h = Buffer.from(b.subarray(0, 32)).toString('hex');
  return b.length > 32 ? `${h}…` : h;
}

export class Comparer {
  readonly findings: RawFinding[] = [];
  readonly scopes: Scope[] = [];
  readonly notes: string[] = [];
  private diff = new Ranges([]);
  private folder = new Folder(new Ranges([]));
  /** findings made, kept or folded */
  private made = 0;
  private readonly nestedSeen = new Map<string, string>();
  /** the keys of the sources above each nested source, to refuse a container inside itself */
  private readonly ancestors = new Map<ByteSource, string[]>();
  private readonly guard: NestGuard;
  sourceDateEpoch: number | undefined;
  private entriesDone = 0;

  constructor(
    private readonly rootA: FileSource,
    private readonly rootB: FileSource,
    private readonly pool: WorkerPool,
    private readonly ctx: OpenContext,
    private readonly onProgress?: (p: { entries: number }) => void,
  ) {
    this.guard = new NestGuard(ctx.limits.maxContainers, (n) => this.notes.push(n));
  }

  setDiff(diff: Ranges): void {
    this.diff = diff;
    this.folder = new Folder(diff);
  }

  get folded(): Map<string, Folded> {
    return this.folder.folded;
  }

  /**
   * Findings inside decoded streams of this container (fields in a compressed metadata block) explain the
   * encoded bytes of those streams: one derived finding per container claims them.
   */
  private rollUpStreams(ca: Container, cb: Container, scope: Scope): void {
    if (!ca.streams?.length && !cb.streams?.length) return;
    const origins = new Map<string, ReportSpan[]>();
    for (const [side, c] of [
      ['a', ca],
      ['b', cb],
    ] as const) {
      for (const st of c.streams ?? []) origins.set(`${side}\u0000${st.id}`, reportSpans(side, st.origin));
    }
    const causes: RawFinding[] = [];
    const spans: ReportSpan[] = [];
    const touched = new Set<string>();
    for (const f of scope.findings) {
      let hit = false;
      for (const sp of f.spans) {
        if (sp.stream === undefined) continue;
        const key = `${sp.side}\u0000${sp.stream}`;
        const o = origins.get(key);
        if (!o) continue;
        hit = true;
        if (!touched.has(key)) {
          touched.add(key);
          pushAll(spans, o);
        }
      }
      if (hit) causes.push(f);
    }
    if (!causes.length) return;
    this.add({
      path: scope.path,
      format: ca.format,
      field: 'encoded',
      kind: 'content',
      root: false,
      causes,
      a: null,
      b: null,
      spans,
      scope,
      detail: `${touched.size} compressed block${touched.size === 1 ? '' : 's'} differ because the data decoded from them differs`,
    });
  }

  /**
   * Whether a field of this entry already reported this change (a symlink target in `rr.sl`, `tar.linkname`,
   * `squashfs.inode.target`): the entry's `target` is the same bytes seen again, not a second cause.
   */
  private saidAlready(scope: Scope, entry: string, a: Value, b: Value): boolean {
    for (let i = scope.findings.length - 1; i >= 0; i--) {
      const f = scope.findings[i]!;
      if (f.entry !== entry) break; // the entry's own findings are the last ones made in its scope
      if (f.field !== null && f.a === a && f.b === b) return true;
    }
    return false;
  }

  /** sameSpans for spans of build A and build B, streams matched past the inputs' names */
  private sameSpans(a: Span[], b: Span[]): boolean {
    return sameSpans(a, b, this.rootA.name, this.rootB.name);
  }

  /** True when the differing bytes inside these outer spans all lie in spans of findings made so far. */
  private explainedAlready(spansA: Span[], spansB: Span[]): boolean {
    if (!sameSpans(spansA, spansB) || spansA.some((s) => s.stream !== undefined)) return false;
    const inside = this.diff.within(normalize(spansA.map((s) => [s.offset, s.offset + s.length] as Interval)));
    if (!inside.length) return false;
    const claimed: Interval[] = [];
    for (const f of this.findings) for (const s of f.spans) if (s.stream === undefined) claimed.push([s.offset, s.offset + s.length]);
    for (const g of this.folder.folded.values()) for (const s of g.runs.spans) if (s.stream === undefined) claimed.push([s.offset, s.offset + s.length]);
    return subtract(inside, normalize(claimed)).length === 0;
  }

  /**
   * Whether a differing byte may touch `length` bytes at `offset` of `src` (a span in a decoded stream
   * always may). The inputs themselves are checked without mapping spans: most records are there.
   */
  private touchedIn(src: ByteSource): (offset: number, length: number) => boolean {
    if (src === this.rootA || src === this.rootB) return this.touchedOuter;
    return (offset, length) => !this.untouched(src.spans(offset, length));
  }

  private readonly touchedOuter = (offset: number, length: number): boolean => this.diff.overlaps(offset, offset + length);

  /** True when no differing byte touches these outer spans (which must be the same on both sides). */
  private untouched(spans: Span[]): boolean {
    for (const s of spans) {
      if (s.stream !== undefined) return false;
      if (this.diff.overlaps(s.offset, s.offset + s.length)) return false;
    }
    return true;
  }

  private add(f: Omit<RawFinding, 'causes'> & { causes?: RawFinding[] }): RawFinding {
    // every caller passes a fresh object literal: complete it in place rather than copy it
    const full = f as RawFinding;
    full.causes ??= [];
    this.made++;
    f.scope.made = (f.scope.made ?? 0) + 1;
    if (!this.folder.offer(full)) return full;
    this.findings.push(full);
    f.scope.findings.push(full);
    return full;
  }

  /** Compares the views of one source pair; `prefix` is '' for the inputs, `<entry path>/` for nested ones. */
  async compareViews(viewsA: Container[], viewsB: Container[], prefix: string, depth: number): Promise<void> {
    const containerPath = prefix === '' ? '/' : prefix.slice(0, -1);
    const byFormatB = new Map(viewsB.map((v) => [v.format, v]));
    const seen = new Set<string>();
    for (const va of viewsA) {
      seen.add(va.format);
      const vb = byFormatB.get(va.format);
      const scope: Scope = { path: containerPath, format: va.format, findings: [], moved: new Set() };
      this.scopes.push(scope);
      if (!vb) {
        this.add({ path: containerPath, format: va.format, field: null, kind: 'removed', root: true, a: va.format, b: null, spans: [], scope, detail: `only the first input holds a ${va.format} structure here` });
        continue;
      }
      await this.compareContainer(va, vb, prefix, depth, scope);
    }
    for (const vb of viewsB) {
      if (seen.has(vb.format)) continue;
      const scope: Scope = { path: containerPath, format: vb.format, findings: [], moved: new Set() };
      this.scopes.push(scope);
      this.add({ path: containerPath, format: vb.format, field: null, kind: 'added', root: true, a: null, b: vb.format, spans: [], scope, detail: `only the second input holds a ${vb.format} structure here` });
    }
  }

  private compareFields(fa: Field[], fb: Field[], path: string, format: string, scope: Scope, entry?: string): void {
    // the common case: both sides hold the same fields in the same order (one record layout)
    if (fa.length === fb.length) {
      let aligned = true;
      for (let i = 0; i < fa.length; i++) {
        if (fa[i]!.name !== fb[i]!.name) {
          aligned = false;
          break;
        }
      }
      if (aligned) {
        for (let i = 0; i < fa.length; i++) this.compareField(fa[i]!, fb[i]!, path, format, scope, entry);
        return;
      }
    }
    const key = (list: Field[]): Map<string, Field> => {
      const m = new Map<string, Field>();
      const count = new Map<string, number>();
      for (const f of list) {
        const n = count.get(f.name) ?? 0;
        count.set(f.name, n + 1);
        m.set(n === 0 ? f.name : `${f.name}#${n}`, f);
      }
      return m;
    };
    const ma = key(fa);
    const mb = key(fb);
    for (const [k, a] of ma) {
      const b = mb.get(k);
      if (!b) {
        this.add({ path, format, field: a.name, kind: a.kind === 'checksum' || a.derived ? a.kind : 'removed', root: !(a.covers || a.derived), a: a.value, b: null, spans: reportSpans('a', a.spans), scope, entry, hint: a.hint, derivedField: a.derived, covers: a.covers && reportSpans('a', a.covers) });
        continue;
      }
      this.compareField(a, b, path, format, scope, entry);
    }
    for (const [k, b] of mb) {
      if (ma.has(k)) continue;
      this.add({ path, format, field: b.name, kind: b.kind === 'checksum' || b.derived ? b.kind : 'added', root: !(b.covers || b.derived), a: null, b: b.value, spans: reportSpans('b', b.spans), scope, entry, hint: b.hint, derivedField: b.derived, covers: b.covers && reportSpans('b', b.covers) });
    }
  }

  /** One field both sides hold: by value, and where values agree but bytes may not, by bytes. */
  private compareField(a: Field, b: Field, path: string, format: string, scope: Scope, entry?: string): void {
    let va: Value = a.value;
    let vb: Value = b.value;
    let differs = va !== vb;
    const same = this.sameSpans(a.spans, b.spans);
    if (!differs && !(same && this.untouched(a.spans))) {
      // same decoded value: compare the bytes themselves (a value may not show every bit)
      const ra = readSpans(a.spans, this.rootA);
      const rb = readSpans(b.spans, this.rootB);
      if (ra && rb && !bytesEqual(ra, rb)) {
        differs = true;
        va = `${String(a.value)} (bytes ${hexShort(ra)})`;
        vb = `${String(b.value)} (bytes ${hexShort(rb)})`;
      }
    }
    if (!differs) {
      if (!same) noteShift(scope, reportSpans('a', a.spans), reportSpans('b', b.spans), 'fields');
      return;
    }
    const covers = a.covers || b.covers ? [...reportSpans('a', a.covers ?? []), ...reportSpans('b', b.covers ?? [])] : undefined;
    // sizes, offsets and extents follow from something else; the accounting looks for the cause
    const derived = a.derived || b.derived || a.kind === 'size' || a.kind === 'layout' || a.kind === 'ordering';
    this.add({
      path,
      format,
      field: a.name,
      kind: a.kind,
      root: !(covers || derived),
      a: va,
      b: vb,
      spans: [...reportSpans('a', a.spans), ...reportSpans('b', b.spans)],
      hint: a.hint ?? b.hint,
      covers,
      derivedField: derived,
      scope,
      entry,
    });
  }

  private async compareContainer(ca: Container, cb: Container, prefix: string, depth: number, scope: Scope): Promise<void> {
    const format = ca.format;
    this.compareFields(ca.fields, cb.fields, scope.path, format, scope);
    // a note both builds share is said once; one only a build has names that build
    const inB = new Set(cb.notes);
    const inA = new Set(ca.notes);
    for (const n of ca.notes) this.notes.push(inB.has(n) ? `${scope.path} (${format}): ${n}` : `${this.rootA.name}: ${scope.path} (${format}): ${n}`);
    for (const n of cb.notes) if (!inA.has(n)) this.notes.push(`${this.rootB.name}: ${scope.path} (${format}): ${n}`);

    // which of build B's entries build A lists too; listings in the same order (the usual case) pair by
    // position, and build B's entries are mapped by path only once a position does not match
    const listedInA = new Uint8Array(cb.entries.length);
    let indexB: Map<string, number> | undefined;
    const findB = (path: string, i: number): number | undefined => {
      if (cb.entries[i]?.path === path) return i;
      if (!indexB) {
        indexB = new Map();
        for (const [j, e] of cb.entries.entries()) indexB.set(e.path, j);
      }
      return indexB.get(path);
    };
    // a listing a limit cut short: an entry only one side lists may lie past the other side's cut
    const cut = ca.partial !== undefined || cb.partial !== undefined;
    if (cut) this.notes.push(`${scope.path} (${format}): a limit stopped the listing, so entries only one build lists are not reported as added or removed; their differing bytes count as unexplained`);
    const pathOf = (e: Entry): string => (isTransparent(format, e.path) ? scope.path : prefix + e.path);
    const placed: Placed[] = [];
    // contents that need hashing or opening run in the pool, a bounded number at a time
    const inflight = new Set<Promise<void>>();

    for (const [ia, ea] of ca.entries.entries()) {
      const ib = findB(ea.path, ia);
      const eb = ib === undefined ? undefined : cb.entries[ib]!;
      const path = pathOf(ea);
      if (ib !== undefined) listedInA[ib] = 1;
      if (!eb) {
        if (cut) continue;
        this.add({ path, format, field: null, kind: 'removed', root: true, a: describeEntry(ea), b: null, spans: [...extentSpans('a', ea.contentSource ?? ca.source, ea.extents), ...ea.fields.flatMap((f) => reportSpans('a', f.spans))], scope, entry: ea.path });
        continue;
      }
      // records at the same offsets with no differing byte hold the same fields: do not read them
      const ra = ea.records;
      const rb = eb.records;
      const here = ra !== undefined && rb !== undefined && this.sameSpans(ra, rb);
      if (!(here && this.untouched(ra))) {
        // records at the same offsets: only fields over differing bytes can differ, so only those are made
        const touching = here && ea.fieldsTouching !== undefined && eb.fieldsTouching !== undefined;
        const fa = touching ? ea.fieldsTouching!(this.touchedIn(ca.source)) : ea.fields;
        const fb = touching ? eb.fieldsTouching!(this.touchedIn(cb.source)) : eb.fields;
        this.compareFields(fa, fb, path, format, scope, ea.path);
        // records that moved with their bytes unchanged (names and padding included) are the same bytes elsewhere
        if (ra !== undefined && rb !== undefined && !here) {
          const ba = readSpans(ra, this.rootA);
          const bb = readSpans(rb, this.rootB);
          if (ba && bb && bytesEqual(ba, bb)) noteShift(scope, reportSpans('a', ra), reportSpans('b', rb), 'fields');
        }
      }
      if (ea.type !== eb.type) {
        this.add({ path, format, field: 'type', kind: 'content', root: true, a: ea.type, b: eb.type, spans: [], scope, entry: ea.path });
        continue;
      }
      if ((ea.meta.target ?? null) !== (eb.meta.target ?? null) && !this.saidAlready(scope, ea.path, ea.meta.target ?? null, eb.meta.target ?? null)) {
        this.add({ path, format, field: 'target', kind: 'content', root: true, a: ea.meta.target ?? null, b: eb.meta.target ?? null, spans: [], scope, entry: ea.path });
      }
      if (ea.type === 'file' || ea.extents.length || eb.extents.length) {
        const pending = this.compareContent({ ca, cb, ea, eb, path, prefix, depth, scope, placed });
        if (pending) {
          const tracked: Promise<void> = pending.finally(() => inflight.delete(tracked));
          tracked.catch(() => undefined); // observed through race/all below
          inflight.add(tracked);
          if (inflight.size >= MAX_INFLIGHT) await Promise.race(inflight);
        }
      }
      this.entriesDone++;
      if (this.onProgress && this.entriesDone % 1024 === 0) this.onProgress({ entries: this.entriesDone });
    }
    for (const [i, eb] of cb.entries.entries()) {
      if (listedInA[i] || cut) continue;
      this.add({ path: pathOf(eb), format, field: null, kind: 'added', root: true, a: null, b: describeEntry(eb), spans: [...extentSpans('b', eb.contentSource ?? cb.source, eb.extents), ...eb.fields.flatMap((f) => reportSpans('b', f.spans))], scope, entry: eb.path });
    }
    await Promise.all(inflight);
    this.findOrdering(ca, cb, scope, placed);
    const sh = scope.shifted;
    if (sh) {
      const parts = [sh.contents ? `${sh.contents} content${sh.contents === 1 ? '' : 's'}` : '', sh.fields ? `${sh.fields} field${sh.fields === 1 ? '' : 's'}` : ''].filter(Boolean);
      this.add({
        path: scope.path,
        format,
        field: 'placement',
        kind: 'layout',
        root: false,
        derivedField: true,
        a: null,
        b: null,
        spans: mergeShifted(sh.spans),
        scope,
        detail: `${parts.join(' and ')} with the same bytes sit at other offsets`,
      });
    }
    this.rollUpStreams(ca, cb, scope);
  }

  /** Compares two contents; undefined when that was settled at once (same bytes at the same offsets). */
  private compareContent(pair: ContentPair): Promise<void> | undefined {
    const { ca, cb, ea, eb, placed } = pair;
    const srcA = ea.contentSource ?? ca.source;
    const srcB = eb.contentSource ?? cb.source;
    const spansA: Span[] = [];
    const spansB: Span[] = [];
    for (const e of ea.extents) pushAll(spansA, srcA.spans(e.offset, e.length));
    for (const e of eb.extents) pushAll(spansB, srcB.spans(e.offset, e.length));
    if (ea.size === eb.size && ((this.sameSpans(spansA, spansB) && this.untouched(spansA)) || this.sameDecoded(srcA, srcB, ea, eb))) {
      const first = placementSpan(srcA, spansA);
      if (first) placed.push({ path: ea.path, a: first.offset, b: first.offset, ea, eb });
      return undefined;
    }
    return this.compareContentBytes(pair, srcA, srcB, spansA, spansB);
  }

  /**
   * A decoded content (a squashfs file) whose encoded bytes sit at the same places, unchanged, and decode the
   * same way, holds the same bytes: it needs no decoding.
   */
  private sameDecoded(srcA: ByteSource, srcB: ByteSource, ea: Entry, eb: Entry): boolean {
    return (
      srcA instanceof DecodedSource &&
      srcB instanceof DecodedSource &&
      sameExtents(ea.extents, eb.extents) &&
      srcA.sameEncoding(srcB) &&
      sameSpans(srcA.origin, srcB.origin) &&
      this.untouched(srcA.origin)
    );
  }

  /** The contents' bytes differ or moved: hash them, then look inside when they differ. */
  private async compareContentBytes(pair: ContentPair, srcA: ByteSource, srcB: ByteSource, spansA: Span[], spansB: Span[]): Promise<void> {
    const { ca, cb, ea, eb, path, prefix, depth, scope, placed } = pair;
    let equal = false;
    let hashes: Promise<[string, string]> | undefined;
    const hashBoth = (): Promise<[string, string]> =>
      (hashes ??= Promise.all([
        hashContent(this.pool, this.rootA.path, srcA, ea.extents, spansA),
        hashContent(this.pool, this.rootB.path, srcB, eb.extents, spansB),
      ]));
    if (ea.size === eb.size) {
      // contents in the inputs are hashed by the pool, which reads them itself; those in decoded streams are
      // compared here byte by byte (stopping at the first difference), and hashed only for a report that
      // shows their digests
      const inFiles = spansA.every((s) => s.stream === undefined) && spansB.every((s) => s.stream === undefined);
      if (inFiles) {
        const [ha, hb] = await hashBoth();
        equal = ha === hb;
      } else equal = sameContent(srcA, ea.extents, srcB, eb.extents);
    }
    // placement in the outer file: a decoded content (a squashfs file, a deflated zip member) sits where its
    // encoded bytes are
    const firstA = placementSpan(srcA, spansA);
    const firstB = placementSpan(srcB, spansB);
    if (equal) {
      if (firstA && firstB) placed.push({ path: ea.path, a: firstA.offset, b: firstB.offset, ea, eb });
      if (!this.sameSpans(spansA, spansB)) noteShift(scope, reportSpans('a', spansA), reportSpans('b', spansB), 'contents');
      // a member decoded from bytes of its own (a deflated zip member): its encoded bytes moved with it
      const oa = ownEncoding(ea, srcA);
      const ob = ownEncoding(eb, srcB);
      if (oa && ob && !sameExtents(oa, ob) && sameContent(this.rootA, oa, this.rootB, ob)) noteShift(scope, reportSpans('a', oa), reportSpans('b', ob), 'contents');
      return;
    }
    if (firstA && firstB) placed.push({ path: ea.path, a: firstA.offset, b: firstB.offset, ea, eb });

    // a partition or boot image that spans structures another view already compared (the ISO 9660 volume
    // inside an isohybrid partition): when every differing byte in it is explained, it adds nothing
    if (CO_RESIDENT.has(ca.format) && this.explainedAlready(spansA, spansB)) return;

    // contents differ: open both as nested containers where a format recognises them
    const nested = await this.compareNested(ca, cb, ea, eb, path, prefix, depth, scope);
    if (nested === true) return;
    if (nested !== false) {
      // a limit stopped the look inside: its bytes are not explained by calling them "content"
      this.add({
        path,
        format: ca.format,
        field: null,
        kind: 'unknown',
        root: true,
        a: `${ea.size} bytes`,
        b: `${eb.size} bytes`,
        spans: [...reportSpans('a', spansA), ...reportSpans('b', spansB), ...encodedSpans(srcA, srcB)],
        scope,
        entry: ea.path,
        detail: `not examined: ${nested.limit}`,
        hint: 'raise the limit named here to look inside',
      });
      return;
    }
    if (this.explainDiffering(ca, cb, ea, eb, path, scope)) return;
    // a partition or boot image is a view of bytes the file system over them parses: a whole-partition root
    // would claim every differing byte in it; what no structure explains is left to the accounting (unknown)
    if (CO_RESIDENT.has(ca.format)) {
      this.notes.push(`${path} (${ca.format}): its content differs and no format opens it; the differing bytes in it that no other view explains are reported as unknown`);
      return;
    }
    const [hashA, hashB] = ea.size === eb.size ? await hashBoth() : ['', ''];
    this.add({
      path,
      format: ca.format,
      field: null,
      kind: 'content',
      root: true,
      a: ea.size === eb.size ? `sha256:${hashA.slice(0, 16)}` : `${ea.size} bytes`,
      b: ea.size === eb.size ? `sha256:${hashB.slice(0, 16)}` : `${eb.size} bytes`,
      // a decoded content also claims its encoded bytes: they differ because it does
      spans: [...reportSpans('a', spansA), ...reportSpans('b', spansB), ...encodedSpans(srcA, srcB)],
      scope,
      entry: ea.path,
    });
  }

  /**
   * Names what differs inside two contents that no format opens: embedded times, UUIDs, tokens, build paths,
   * with a text diff for text. One finding per recognised value. False when the contents are too large.
   */
  private explainDiffering(ca: Container, cb: Container, ea: Entry, eb: Entry, path: string, scope: Scope): boolean {
    if (ea.size > EXPLAIN_MAX || eb.size > EXPLAIN_MAX) {
      this.notes.push(`${path}: contents over ${EXPLAIN_MAX} bytes are compared by hash only; the values inside are not decoded`);
      return false;
    }
    const sa = entrySource(ca, ea);
    const sb = entrySource(cb, eb);
    if (!sa || !sb) return false;
    const da = sa.read(0, sa.size, 'content');
    const db = sb.read(0, sb.size, 'content');
    const ex = explainContent(da, db, { labels: [`a${path}`, `b${path}`], sourceDateEpoch: this.sourceDateEpoch });
    if (!ex.evidence.length) return false;
    const shown = ex.evidence.slice(0, MAX_EVIDENCE);
    const rest = ex.evidence.slice(MAX_EVIDENCE);
    /** where an evidence's ranges of each content sit */
    const evidenceSpans = (ev: (typeof rest)[number], into: ReportSpan[] = []): ReportSpan[] => {
      for (const r of ev.ranges) {
        if (r.aLength) pushAll(into, reportSpans('a', sa.spans(r.aOffset, r.aLength)));
        if (r.bLength) pushAll(into, reportSpans('b', sb.spans(r.bOffset, r.bLength)));
      }
      return into;
    };
    const made: RawFinding[] = [];
    shown.forEach((ev, i) => {
      const spans = evidenceSpans(ev);
      const detail = i === 0 && ex.diff ? `${ev.description}\n${ex.diff}` : ev.description;
      const sde = ev.sdeA !== undefined && ev.sdeB !== undefined ? { a: ev.sdeA, b: ev.sdeB } : undefined;
      made.push(this.add({ path, format: ca.format, field: null, kind: ev.kind, root: true, a: ev.a, b: ev.b, spans, scope, entry: ea.path, detail, confidence: ev.confidence, hint: ev.hint, sde }));
    });
    if (ex.shifted.length) {
      // the bytes after an insertion or a deletion are the same bytes one place further on: moved by it
      const shifters = made.filter((f, i) => shown[i]!.ranges.some((r) => r.aLength !== r.bLength));
      const spans: ReportSpan[] = [];
      let bytes = 0;
      for (const r of ex.shifted) {
        pushAll(spans, reportSpans('a', sa.spans(r.aOffset, r.aLength)));
        pushAll(spans, reportSpans('b', sb.spans(r.bOffset, r.bLength)));
        bytes += r.aLength;
      }
      const runs = ex.shifted.length;
      this.add({
        path,
        format: ca.format,
        field: 'moved',
        kind: 'layout',
        root: false,
        causes: shifters.length ? shifters : made,
        a: null,
        b: null,
        spans,
        scope,
        entry: ea.path,
        detail: `${bytes} byte${bytes === 1 ? '' : 's'} of this content ${bytes === 1 ? 'is' : 'are'} the same in both builds at another offset (${runs} run${runs === 1 ? '' : 's'}), moved by the bytes inserted or removed before them`,
      });
    }
    const encoded = encodedSpans(sa, sb);
    if (encoded.length) {
      this.add({
        path,
        format: ca.format,
        field: null,
        kind: 'content',
        root: false,
        causes: made,
        a: null,
        b: null,
        spans: encoded,
        scope,
        entry: ea.path,
        detail: 'the encoded (compressed) bytes differ because the decoded content differs',
      });
    }
    if (rest.length) {
      const spans: ReportSpan[] = [];
      for (const ev of rest) evidenceSpans(ev, spans);
      const kinds = [...new Set(rest.map((e) => e.kind))].join(', ');
      this.add({ path, format: ca.format, field: null, kind: 'content', root: true, a: null, b: null, spans, scope, entry: ea.path, confidence: 0.3, detail: `${rest.length} more differing regions (${kinds}) beyond the first ${MAX_EVIDENCE}` });
    }
    return true;
  }

  /**
   * Opens both contents as containers; compares them when both open as the same formats. True when it did;
   * `{ limit }` when a limit kept it from looking inside (which one, and where).
   */
  private async compareNested(ca: Container, cb: Container, ea: Entry, eb: Entry, path: string, prefix: string, depth: number, scope: Scope): Promise<boolean | { limit: string }> {
    if (depth + 1 > this.ctx.limits.maxDepth) {
      const limit = `${path}: nesting deeper than ${this.ctx.limits.maxDepth} levels is not opened (limit maxDepth; raise --max-depth)`;
      this.notes.push(limit);
      return { limit };
    }
    const sa = entrySource(ca, ea);
    const sb = entrySource(cb, eb);
    if (!sa || !sb) return false;
    // the same bytes reached by two paths (an El Torito boot image that is also an ISO file) are compared once
    const key = `${spanKey(sa.spans(0, sa.size))}|${spanKey(sb.spans(0, sb.size))}`;
    const already = this.nestedSeen.get(key);
    if (already !== undefined) return true; // compared under the other path
    this.nestedSeen.set(key, path);
    const ancA = [...(this.ancestors.get(ca.source) ?? []), sourceKey(ca.source)];
    const ancB = [...(this.ancestors.get(cb.source) ?? []), sourceKey(cb.source)];
    const allowA = this.guard.allow(sa, ancA, path);
    const allowB = allowA === 'ok' ? this.guard.allow(sb, ancB, path) : allowA;
    if (allowA === 'limit' || allowB === 'limit') return { limit: `more than ${this.ctx.limits.maxContainers} nested containers (limit maxContainers; raise --max-containers)` };
    if (allowA !== 'ok' || allowB !== 'ok') return false;
    this.ancestors.set(sa, ancA);
    this.ancestors.set(sb, ancB);
    const nestedCtx: OpenContext = { ...this.ctx, timeLimited: true };
    const [oa, ob] = [await openViews(sa, nestedCtx), await openViews(sb, nestedCtx)];
    for (const f of oa.failures) this.notes.push(`${sa.name}: not opened as ${f.format}: ${f.error.describe()}`);
    for (const f of ob.failures) this.notes.push(`${sb.name}: not opened as ${f.format}: ${f.error.describe()}`);
    if (!oa.views.length || !ob.views.length) {
      // a side a limit kept closed (too much decoded data, too long): what it holds is not examined
      const limited = [...oa.failures, ...ob.failures].find((f) => f.error.code === 'E_LIMIT');
      return limited ? { limit: `${limited.error.describe()}` } : false;
    }
    const formatsA = oa.views.map((v) => v.format).join(',');
    const formatsB = ob.views.map((v) => v.format).join(',');
    if (formatsA !== formatsB) return false;
    const before = this.findings.length;
    const scopesBefore = this.scopes.length;
    const transparent = isTransparent(ca.format, ea.path);
    // through a compression layer the inner container keeps the layer's own prefix (no path step)
    await this.compareViews(oa.views, ob.views, transparent ? prefix : `${path}/`, depth + 1);
    // other entries' contents are compared meanwhile: what this one found is what lies under its path
    const under = (p: string): boolean => p === path || (p.startsWith(path) && p.charCodeAt(path.length) === 47);
    const inner = this.findings.slice(before).filter((f) => under(f.scope.path));
    let made = 0;
    for (const sc of this.scopes.slice(scopesBefore)) if (under(sc.path)) made += sc.made ?? 0;
    if (made === 0) {
      // formats saw no difference; the bytes still differ somewhere: let the caller report content
      return false;
    }
    (scope.changed ??= new Map()).set(ea.path, inner);
    // differences inside a decoded stream: the encoded bytes differ because of them
    const encoded = encodedSpans(sa, sb);
    if (encoded.length) {
      this.add({
        path,
        format: ca.format,
        field: null,
        kind: 'content',
        root: false,
        causes: inner.filter((f) => f.root),
        a: `${ea.size} bytes decoded`,
        b: `${eb.size} bytes decoded`,
        spans: encoded,
        scope,
        entry: ea.path,
        detail: 'the encoded (compressed) bytes differ because the decoded data differs',
      });
    }
    return true;
  }

  /**
   * Entries placed in another relative order: one ordering root finding per container, the moved entries
   * (outside the longest run kept in order) named in its detail, their bytes explained by it.
   */
  private findOrdering(ca: Container, cb: Container, scope: Scope, placed: Placed[]): void {
    if (placed.length < 2) return;
    // entries that share a place (files packed into one squashfs fragment block, placed by that block) keep
    // their order when they share it on both sides: ties sort by their other side, and equal places do not
    // count as a reversal
    // the common case, nothing moved, is settled without copying or sorting: entries are met in order
    const byA = sortedBy(placed, (x, y) => x.a - y.a || x.b - y.b);
    const inPlace = byA.every((p, i) => i === 0 || byA[i - 1]!.b <= p.b);
    const keep = inPlace ? undefined : longestIncreasing(byA.map((p) => p.b), false);
    if (!keep) {
      // also compare the container's own order (directory or member order): each path once, so the same order
      // is build B's order rising along build A's
      const byOrder = sortedBy(placed, (x, y) => x.ea.order - y.ea.order);
      if (byOrder.every((p, i) => i === 0 || byOrder[i - 1]!.eb.order < p.eb.order)) return;
    }
    const moved = keep ? byA.filter((_, i) => !keep.has(i)) : [];
    // every entry whose placement changed is displaced by the new order, not only those outside the kept run
    const displaced = placed.filter((p) => p.a !== p.b);
    for (const m of displaced) scope.moved.add(m.path);
    const list = moved.slice(0, 10).map((m) => m.path);
    const spans: ReportSpan[] = [];
    for (const m of displaced) {
      pushAll(spans, extentSpans('a', m.ea.contentSource ?? ca.source, m.ea.extents));
      pushAll(spans, extentSpans('b', m.eb.contentSource ?? cb.source, m.eb.extents));
    }
    const f = this.add({
      path: scope.path,
      format: ca.format,
      field: 'order',
      kind: 'ordering',
      root: true,
      a: byA.map((p) => p.path).slice(0, 5).join(', ') + (byA.length > 5 ? ', …' : ''),
      b: [...placed].sort((x, y) => x.b - y.b).map((p) => p.path).slice(0, 5).join(', ') + (placed.length > 5 ? ', …' : ''),
      spans,
      scope,
      detail: `${moved.length || 'all'} of ${placed.length} entries are placed in another order${list.length ? `: ${list.join(', ')}${moved.length > list.length ? `, and ${moved.length - list.length} more` : ''}` : ''}`,
      hint: orderingHint(ca),
    });
    scope.ordering = f;
  }
}

/** `list` when already in `cmp` order, else a sorted copy. */
function sortedBy<T>(list: T[], cmp: (x: T, y: T) => number): T[] {
  for (let i = 1; i < list.length; i++) if (cmp(list[i - 1]!, list[i]!) > 0) return [...list].sort(cmp);
  return list;
}

function orderingHint(c: Container): string {
  switch (c.format) {
    case 'iso9660':
      return 'file placement follows the order files are added: give xorriso a fixed order (`-sort_weight`, or mkisofs `-sort FILE`) and build from a tree walked in sorted order';
    case 'cpio':
      return 'sort the member list: `find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --reproducible`';
    case 'tar':
      return 'use `tar --sort=name`';
    case 'zip':
      return 'add files in sorted order (`find . | LC_ALL=C sort | zip -X -@ out.zip`)';
    default:
      return 'make the producing tool add members in a sorted, fixed order';
  }
}

function describeEntry(e: Entry): string {
  return e.type === 'file' ? `file, ${e.size} bytes` : e.type;
}

/** Indices of one longest strictly (or, with `strict` false, non-strictly) increasing subsequence (O(n log n)). */
export function longestIncreasing(seq: number[], strict = true): Set<number> {
  const tails: number[] = [];
  const tailIdx: number[] = [];
  const prev = new Array<number>(seq.length).fill(-1);
  for (let i = 0; i < seq.length; i++) {
    const v = seq[i]!;
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tails[mid]! < v || (!strict && tails[mid] === v)) lo = mid + 1;
      else hi = mid;
    }
    tails[lo] = v;
    tailIdx[lo] = i;
    prev[i] = lo > 0 ? tailIdx[lo - 1]! : -1;
  }
  const out = new Set<number>();
  let k = tailIdx[tails.length - 1] ?? -1;
  while (k >= 0) {
    out.add(k);
    k = prev[k]!;
  }
  return out;
}

export { compareFiles } from './run.js';
