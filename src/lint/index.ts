/**
 * `reprodiff lint IMAGE`: what will differ when the same image is built again, found in one build. The image
 * is walked as inspect walks it (the same walker and parsers); every field is judged (judge.ts), member order
 * and inode numbering are checked per archive, and small text files are read for random ids. Findings of one
 * cause are folded into one (all the file times of a tree, a serial seen through three views of one FAT), and
 * reported in the compare's JSON contract with `mode: "lint"`.
 */
import { createHash } from 'node:crypto';
import { FileSource } from '../io/file.js';
import { TempFiles } from '../io/spill.js';
import type { ByteSource } from '../io/source.js';
import { containerFields, entryFields, type Container, type Entry, type Field, type Kind, type OpenContext, type Span, type Value } from '../model.js';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import { entrySource, noViewsError, openViews, sourceKey } from '../walk/open.js';
import { Walker } from '../walk/walker.js';
import { FORMATS } from '../formats/index.js';
import { TEXT_ID_PATTERNS } from '../classify/values-id.js';
import type { Finding, Report, ReportSpan } from '../report/types.js';
import { HINT_SDE, judgeBuildPath, judgeRandomId, type Verdict } from './judge.js';

export interface LintOptions {
  /** the SOURCE_DATE_EPOCH the build was meant to use; without it, build-time-looking stamps are flagged */
  sourceDateEpoch?: number;
  limits?: Limits;
  /** every flagged place, before folding (for measuring against a compare) */
  onPlace?(place: { path: string; field: string | null; kind: Kind }): void;
}

const DAY_MS = 86_400_000;
/** spans kept per folded finding; the bytes of the rest are still counted */
const MAX_SPANS = 256;
/** paths named in a folded finding's detail */
const MAX_EXAMPLES = 5;
/** text files up to this size are read for random ids */
const SMALL_TEXT = 4096;
/** formats whose member order is the order the files were given in (the file system's, unless sorted) */
const ORDERED_FORMATS = new Set(['cpio', 'tar', 'zip']);
const HINT_UUID_FILE = 'write a fixed UUID (derived from a seed such as SOURCE_DATE_EPOCH), or create it on first boot instead of at build time';
const HINT_MACHINE_ID = 'leave machine ids empty in images (systemd fills /etc/machine-id on first boot)';

/** One flagged place before folding. */
interface Hit {
  path: string;
  format: Container['format'];
  field: string | null;
  kind: Kind;
  value: Value;
  confidence: number;
  why: string;
  hint?: string;
  spans: Span[];
  /** fold key */
  key: string;
  /** epoch ms, for times */
  ms?: number;
  entry: boolean;
  depth?: number;
}

interface Group {
  first: Hit;
  count: number;
  paths: Set<string>;
  examples: string[];
  fields: Set<string>;
  spans: ReportSpan[];
  bytes: number;
  min: string;
  max: string;
  confidence: number;
}

function timeMs(v: Value): number | undefined {
  if (typeof v !== 'string') return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}

function isoOf(sec: number): string {
  return new Date(sec * 1000).toISOString().replace('.000Z', 'Z');
}

/** Strips indices from field names, so per-record names fold (`gpt.part.1.unique_guid` → `gpt.part.#.unique_guid`). */
function fieldKind(name: string): string {
  return name.replace(/\d+/g, '#');
}

class Linter {
  private readonly groups = new Map<string, Group>();
  /** times that may be build times, decided at the end against the newest time seen (no SOURCE_DATE_EPOCH) */
  private readonly timeCandidates: Hit[] = [];
  private newest = -Infinity;
  private readonly now = Date.now() + DAY_MS;
  /** whether the outer volume's dates are flagged (derived ids follow them) */
  datesFlagged = false;
  xorriso = false;
  /** derived ids held until the dates are judged */
  private readonly derivedIds: Hit[] = [];
  readonly notes: string[] = [];

  constructor(
    private readonly sde: number | undefined,
    private readonly onPlace: LintOptions['onPlace'],
  ) {}

  /** UUID-valued groups, to fold ids one tool derives from one draw (xorriso's GPT GUIDs differ in one digit) */
  private readonly uuidGroups: { hex: string; key: string }[] = [];

  add(h: Hit): void {
    this.onPlace?.({ path: h.path, field: h.field, kind: h.kind });
    if (h.kind === 'random-id' && typeof h.value === 'string' && /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(h.value) && !this.groups.has(h.key)) {
      const hex = h.value.replace(/-/g, '').toLowerCase();
      const near = this.uuidGroups.find((u) => {
        let d = 0;
        for (let i = 0; i < 32 && d <= 4; i++) if (u.hex[i] !== hex[i]) d++;
        return d <= 4;
      });
      if (near) h.key = near.key;
      else if (this.uuidGroups.length < 1000) this.uuidGroups.push({ hex, key: h.key });
    }
    let g = this.groups.get(h.key);
    const value = h.value === null ? '' : String(h.value);
    if (!g) {
      g = { first: h, count: 0, paths: new Set(), examples: [], fields: new Set(), spans: [], bytes: 0, min: value, max: value, confidence: h.confidence };
      this.groups.set(h.key, g);
    }
    g.count++;
    if (!g.paths.has(h.path)) {
      if (g.paths.size < 100_000) g.paths.add(h.path);
      if (g.examples.length < MAX_EXAMPLES) g.examples.push(h.path);
    }
    if (h.field !== null && g.fields.size < 16) g.fields.add(h.field);
    if (value < g.min) g.min = value;
    if (value > g.max) g.max = value;
    g.confidence = Math.min(g.confidence, h.confidence);
    for (const s of h.spans) {
      g.bytes += s.length;
      const last = g.spans[g.spans.length - 1];
      if (last && last.stream === s.stream && last.offset + last.length === s.offset) last.length += s.length;
      else if (g.spans.length < MAX_SPANS) g.spans.push({ side: 'a', ...(s.stream !== undefined ? { stream: s.stream } : {}), offset: s.offset, length: s.length });
    }
  }

  /** A timestamp field: flagged against SOURCE_DATE_EPOCH, or held as a candidate build time. */
  time(c: Container, cpath: string, f: Field, path: string, entry: boolean, depth: number): void {
    const ms = timeMs(f.value);
    if (ms === undefined) return;
    // entries' times: one cause per container; a container's own: one per value (the dates a tool stamps at once)
    const key = entry ? `t\0${cpath}\0${c.format}` : `t\0${depth === 0 ? cpath : '(nested)'}\0${c.format}\0${Math.floor(ms / 1000)}`;
    const hit: Hit = { path, format: c.format, field: f.name, kind: 'timestamp', value: f.value, confidence: 0.95, why: '', hint: f.hint ?? HINT_SDE, spans: f.spans, key, ms, entry };
    if (this.sde !== undefined) {
      const sec = Math.floor(ms / 1000);
      const outer = depth === 0 && !entry;
      // the outer volume's own dates are the build's and must equal it; other times must not be newer
      // (older ones come from the inputs and are the same in every build)
      if (outer ? sec === this.sde : sec <= this.sde) return;
      hit.why = outer ? `not SOURCE_DATE_EPOCH (${isoOf(this.sde)})` : `newer than SOURCE_DATE_EPOCH (${isoOf(this.sde)}): not clamped`;
      if (outer) this.datesFlagged = true;
      this.add(hit);
      return;
    }
    hit.depth = depth;
    if (ms > this.now || ms < Date.UTC(1990, 0, 1)) return;
    if (ms > this.newest) this.newest = ms;
    // only times within a day of the newest can be build times (the rest come from the inputs); the newest only grows
    if (ms >= this.newest - DAY_MS) this.timeCandidates.push(hit);
  }

  /** A content finding that counts only when its file was made by the build (its time says so), decided in finish(). */
  ifBuildMade(h: Hit, fileMs: number | undefined): void {
    if (fileMs === undefined) return;
    if (this.sde !== undefined) {
      if (Math.floor(fileMs / 1000) > this.sde) this.add(h);
      return;
    }
    this.byFileTime.push({ h, ms: fileMs });
  }

  private readonly byFileTime: { h: Hit; ms: number }[] = [];

  derivedId(h: Hit): void {
    this.derivedIds.push(h);
  }

  finish(): void {
    // every recent time is one second, the newest, and not of the last day: the build fixed its times
    // (SOURCE_DATE_EPOCH, clamping), it did not stamp its clock (a build takes more than a second)
    const newestSec = Math.floor(this.newest / 1000);
    const recent = this.timeCandidates.filter((h) => (h.ms as number) >= this.newest - DAY_MS);
    // (a time of the last day may be the clock of a build just run, and is flagged)
    if (recent.length > 0 && this.newest < Date.now() - DAY_MS && recent.every((h) => Math.floor((h.ms as number) / 1000) === newestSec)) {
      this.notes.push(`every time stamped near the build is ${isoOf(newestSec)}: taken as a fixed SOURCE_DATE_EPOCH=${newestSec}, not flagged (give --source-date-epoch to check against the intended one)`);
      this.timeCandidates.length = 0;
      this.byFileTime.length = 0;
    }
    for (const h of this.timeCandidates) {
      if ((h.ms as number) < this.newest - DAY_MS) continue;
      const outer = h.depth === 0 && !h.entry;
      if (outer) this.datesFlagged = true;
      h.confidence = outer ? 0.8 : 0.6;
      h.why = `within a day of the newest time in the image (${new Date(this.newest).toISOString()}): stamped by the build, not taken from its inputs (give --source-date-epoch to check against it)`;
      this.add(h);
    }
    this.timeCandidates.length = 0;
    for (const { h, ms } of this.byFileTime) if (ms >= this.newest - DAY_MS && ms <= this.now) this.add(h);
    if (this.datesFlagged) for (const h of this.derivedIds) this.add(h);
  }

  findings(): Finding[] {
    const out: Finding[] = [];
    for (const g of this.groups.values()) {
      const h = g.first;
      const entries = g.paths.size;
      const parts = [h.why];
      if (g.count > 1) {
        parts.push(`${g.count} fields in ${entries} ${entries === 1 ? 'place' : 'places'} (${[...g.fields].join(', ')})`);
        if (g.min !== g.max) parts.push(`values from ${g.min} to ${g.max}`);
        parts.push(`e.g. ${g.examples.join(', ')}${entries > g.examples.length ? ', …' : ''}`);
      }
      if (g.bytes > g.spans.reduce((n, s) => n + s.length, 0)) parts.push(`${g.bytes} bytes in all; the first ${MAX_SPANS} spans listed`);
      const f: Finding = {
        id: '',
        path: h.path,
        format: h.format,
        field: h.field,
        kind: h.kind,
        root: true,
        causedBy: [],
        a: h.value,
        b: h.kind === 'timestamp' && this.sde !== undefined ? isoOf(this.sde) : null,
        spans: g.spans,
        confidence: Math.round(g.confidence * 100) / 100,
        detail: parts.filter((p) => p !== '').join('; '),
      };
      if (h.hint !== undefined) f.hint = h.hint;
      out.push(f);
    }
    out.forEach((f, i) => (f.id = `f${i + 1}`));
    return out;
  }
}

function verdictHit(v: Verdict, c: Container, f: Field, path: string, entry: boolean, cpath: string): Hit {
  const where = v.cause.startsWith('value:') || v.cause.startsWith('path:') || v.cause.startsWith('derived') ? '' : `${cpath}\0${c.format}\0`;
  const hit: Hit = { path, format: c.format, field: f.name, kind: v.kind, value: f.value, confidence: v.confidence, why: v.why, spans: f.spans, key: `${v.kind}\0${where}${v.cause}`, entry };
  const hint = v.hint ?? f.hint;
  if (hint !== undefined) hit.hint = hint;
  return hit;
}

/** Componentwise path order (`tar --sort=name`): `/a/b` before `/a-b`. */
function componentCompare(x: string, y: string): number {
  const a = x.split('/'), b = y.split('/');
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const p = a[i] as string, q = b[i] as string;
    if (p !== q) return p < q ? -1 : 1;
  }
  return a.length - b.length;
}

function descents(paths: string[], cmp: (x: string, y: string) => number): { count: number; at: number } {
  let count = 0, at = -1;
  for (let i = 1; i < paths.length; i++) {
    if (cmp(paths[i - 1] as string, paths[i] as string) > 0) {
      count++;
      if (at < 0) at = i;
    }
  }
  return { count, at };
}

/** Member order and inode numbering of one archive (cpio, tar, zip). */
function checkOrder(l: Linter, c: Container, cpath: string, prefix: string, scope: string): void {
  const members = [...c.entries].sort((x, y) => x.order - y.order);
  const paths = members.map((e) => e.path.replace(/\/+$/, ''));
  // concatenated cpio archives (early microcode, then the main one) each start over
  const archives = Math.max(1, c.fields.filter((f) => f.name.endsWith('trailer')).length);
  const plain = descents(paths, (x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const comp = descents(paths, componentCompare);
  const best = plain.count <= comp.count ? plain : comp;
  const format = FORMATS.find((f) => f.name === c.format);
  if (best.count > archives - 1) {
    const e = members[best.at] as Entry;
    const prev = members[best.at - 1] as Entry;
    l.add({
      path: cpath,
      format: c.format,
      field: null,
      kind: 'ordering',
      value: `${best.count} of ${members.length} members out of name order`,
      confidence: 0.8,
      why: `members are in the order the file system listed them, not sorted by name: ${prefix}${e.path} follows ${prefix}${prev.path}`,
      hint: format?.orderingHint ?? 'sort the members by name',
      spans: (e.records ?? []).slice(0, 4),
      key: `ordering\0${scope}`,
      entry: false,
    });
  }
  if (c.format !== 'cpio') return;
  // inode numbers a tool renumbers (cpio --reproducible) run 1, 2, 3 in member order; those of the build's
  // file system do not
  let last: number | undefined;
  let breaks = 0;
  let firstBreak: Entry | undefined;
  const seen = new Set<number>();
  for (const e of members) {
    const ino = e.meta.ino;
    if (ino === undefined || ino === 0 || seen.has(ino)) continue;
    seen.add(ino);
    if (last !== undefined && ino !== last + 1) {
      breaks++;
      firstBreak ??= e;
    }
    last = ino;
  }
  if (breaks > archives - 1 && firstBreak) {
    const f = entryFields(firstBreak).find((x) => x.name === 'cpio.ino');
    l.add({
      path: cpath,
      format: c.format,
      field: 'cpio.ino',
      kind: 'inode',
      value: `${breaks} breaks in the inode numbering of ${seen.size} files`,
      confidence: 0.85,
      why: `inode numbers are the build file system's, not renumbered in member order (first break at ${prefix}${firstBreak.path})`,
      ...(f?.hint !== undefined ? { hint: f.hint } : {}),
      spans: f?.spans ?? [],
      key: `inode\0${scope}`,
      entry: false,
    });
  }
}

/**
 * An ELF program or module: thousands of them in a root file system, each holding at most the build paths of
 * its compilation (DWARF), which lint does not look for (opening them all would stop at maxContainers).
 */
function programFile(c: Container, e: Entry): boolean {
  const src = entrySource(c, e);
  if (!src || src.size < 4) return false;
  try {
    const m = src.read(0, 4, 'magic');
    return m[0] === 0x7f && m[1] === 0x45 && m[2] === 0x4c && m[3] === 0x46;
  } catch {
    return false;
  }
}

/** Printable text (UTF-8 allowed), no NUL. */
function looksText(b: Uint8Array): boolean {
  let bad = 0;
  for (const x of b) {
    if (x === 0) return false;
    if (x < 0x09 || (x > 0x0d && x < 0x20) || x === 0x7f) bad++;
  }
  return bad <= b.length / 100;
}

/** Random UUIDs and machine ids in a small text file. */
function checkText(l: Linter, c: Container, e: Entry, path: string): void {
  const src: ByteSource | undefined = entrySource(c, e);
  if (!src || src.size === 0 || src.size > SMALL_TEXT) return;
  let bytes: Uint8Array;
  try {
    bytes = src.read(0, src.size, 'text content');
  } catch {
    return;
  }
  if (!looksText(bytes)) return;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const machine = /^([0-9a-f]{32})\s*$/.exec(text);
  if (machine) {
    l.add({ path, format: c.format, field: null, kind: 'random-id', value: machine[1] as string, confidence: 0.8, why: 'a file holding only a 128-bit random id (a machine id)', hint: HINT_MACHINE_ID, spans: src.spans(0, 32), key: `random-id\0file\0${path}`, entry: true });
    return;
  }
  const uuid = TEXT_ID_PATTERNS[0];
  if (!uuid) return;
  const re = new RegExp(uuid.re.source, 'g');
  const found: Hit[] = [];
  let idChars = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const d = uuid.decode(m, text);
    if (!d || d.tag !== '4') continue;
    idChars += m[0].length;
    found.push({ path, format: c.format, field: null, kind: 'random-id', value: d.value, confidence: 0.9, why: 'random UUID (version 4) in a text file', hint: HINT_UUID_FILE, spans: src.spans(m.index, m[0].length), key: `random-id\0value:${d.value}`, entry: true });
  }
  if (!found.length) return;
  // a file that is its ids (a uuid file, a seed) is made by the build; ids in longer text (an example fstab,
  // a licence) are the package's own unless the file's time says the build wrote it
  const dense = idChars >= 0.4 * text.replace(/\s+/g, '').length;
  for (const h of found) {
    if (dense) l.add(h);
    else l.ifBuildMade(h, timeMs(e.meta.mtime ?? null));
  }
}

export async function lintImage(path: string, opts: LintOptions = {}): Promise<Report> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const temp = new TempFiles();
  const ctx: OpenContext = { limits, temp };
  const root = new FileSource(path);
  const l = new Linter(opts.sourceDateEpoch, opts.onPlace);
  try {
    const top = await openViews(root, { ...ctx, timeLimited: true });
    if (!top.views.length) throw noViewsError(root, top);
    for (const f of top.failures) l.notes.push(`not opened as ${f.format}: ${f.error.describe()}`);
    l.xorriso = top.views.some((v) => /xorriso|libisofs|grub/i.test(v.producer ?? '') || v.fields.some((f) => f.name === 'pvd.preparer_id' && /xorriso/i.test(String(f.value))));
    // the same bytes seen through several views (an El Torito image that is also a GPT partition) are judged once
    const seenSources = new Set<string>();
    const skipped = new WeakSet<Container>();
    const prefixes = new WeakMap<Container, string>();
    const scopes = new WeakMap<Container, string>();
    const copies = new Map<string, string>();
    const walker = new Walker(ctx, (n) => l.notes.push(n));
    const judge = (c: Container, f: Field, where: string, entry: boolean, cpath: string, depth: number): void => {
      if (f.derived || f.covers) return;
      if (f.kind === 'timestamp') l.time(c, cpath, f, where, entry, depth);
      else if (f.kind === 'random-id') {
        const v = judgeRandomId(f, { xorriso: l.xorriso, datesFlagged: true });
        if (!v) return;
        const hit = verdictHit(v, c, f, where, entry, cpath);
        if (v.cause === 'derived-from-volume-date') l.derivedId(hit);
        else l.add(hit);
      } else if (f.kind === 'build-path') {
        const v = judgeBuildPath(f);
        if (v) l.add(verdictHit(v, c, f, where, entry, cpath));
      }
    };
    await walker.walk(top.views, {
      container(c, cpath, depth) {
        const key = `${c.format}\0${sourceKey(c.source)}`;
        if (seenSources.has(key)) {
          skipped.add(c);
          return;
        }
        seenSources.add(key);
        const prefix = cpath === '/' ? '' : `${cpath}/`;
        prefixes.set(c, prefix);
        // a copy of a nested container met before (the same initrd in a UKI and beside it) folds with it
        let scope = cpath;
        if (depth > 0) {
          const signature = `${c.format}\0${c.source.size}\0${c.entries.length}\0${fieldValues(c)}`;
          scope = copies.get(signature) ?? cpath;
          if (!copies.has(signature)) copies.set(signature, cpath);
        }
        scopes.set(c, scope);
        for (const f of containerFields(c)) judge(c, f, cpath, false, scope, depth);
        if (ORDERED_FORMATS.has(c.format) && c.entries.length > 1) checkOrder(l, c, cpath, prefix, scope);
      },
      entry(c, e, epath, depth) {
        if (skipped.has(c)) return;
        const scope = scopes.get(c) ?? '/';
        for (const f of entryFields(e)) judge(c, f, epath, true, scope, depth);
        if (e.type === 'file' && !e.opaque && e.size > 0 && e.size <= SMALL_TEXT) checkText(l, c, e, epath);
      },
      descend(c, e) {
        return !skipped.has(c) && e.type === 'file' && e.size > 0 && !programFile(c, e);
      },
      opened(epath, nested) {
        for (const f of nested.failures) l.notes.push(`${epath}: not opened as ${f.format}: ${f.error.describe()}`);
      },
    });
    l.finish();
    const findings = l.findings();
    const causes: Report['causes'] = {};
    for (const f of findings) {
      const c = (causes[f.kind] ??= { findings: 0, bytes: 0 });
      c.findings++;
      c.bytes += f.spans.reduce((n, s) => n + s.length, 0);
    }
    const report: Report = {
      schemaVersion: 1,
      mode: 'lint',
      tool: { name: 'reprodiff', version: '' },
      inputs: [{ path, size: root.size, sha256: null }],
      identical: findings.length === 0,
      bytes: { differing: 0, explained: 0, unexplained: 0 },
      causes,
      findings,
      notes: l.notes,
    };
    if (opts.sourceDateEpoch !== undefined) report.sourceDateEpoch = opts.sourceDateEpoch;
    return report;
  } finally {
    root.close();
    temp.close();
  }
}

/** The values of a container's own fields, joined; over field groups (a stream of many gzip members), a digest of them. */
function fieldValues(c: Container): string {
  if (!c.fieldGroups) return c.fields.map((f) => String(f.value)).join('\0');
  const h = createHash('sha256');
  for (const f of containerFields(c)) h.update(`${String(f.value)}\0`);
  return `${c.fieldGroups.count}\0${h.digest('hex')}`;
}
