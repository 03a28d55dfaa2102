/**
 * Root versus derived, and byte accounting.
 *
 * - A checksum finding (a field with `covers`) follows from the findings whose bytes lie in what it covers.
 * - A layout or size field follows from the ordering finding of its container, from the content change of
 *   its own entry, or from size changes, additions and removals in the same container.
 * - Every differing byte range of the two outer files is attributed to the spans of the findings; what no
 *   finding claims becomes an `unknown` finding with its offsets, the region it lies in and a hex excerpt.
 */
import type { Kind } from '../model.js';
import { KINDS } from '../model.js';
import type { Finding, Report, ReportSpan } from '../report/types.js';
import type { CompareResult, RawFinding, Scope } from './types.js';
import { normalize, subtract, total, type Interval, type Ranges } from './intervals.js';
import { msOfIso } from '../util/time.js';
import { pushAll } from '../util/array.js';
import { isCopyField, presenceHint } from '../walk/rules.js';
import { sameChangeKey, type Folded } from './fold.js';
import { normalValue, presentValue, sizeChanged, valuesDiffer } from './values.js';
import { excludedMember, takeExcluded } from './excluded.js';
import { differingWithin, placeOrder, spanOrder, spanRuns, summarizeDerived } from './summary.js';
import { unknownFindings } from './unknown.js';


function outerIntervals(spans: ReportSpan[], side?: 'a' | 'b'): Interval[] {
  const out: Interval[] = [];
  for (const s of spans) if (s.stream === undefined && (side === undefined || s.side === side)) out.push([s.offset, s.offset + s.length]);
  return out;
}


function fieldPriority(format: string, name: string): number {
  // an entry's own record before the copies its format names (the '.' and '..' records); modification times first
  const copy = isCopyField(format, name) ? 10 : 0;
  if (/modif|mtime/.test(name)) return copy;
  if (/creation|ctime/.test(name)) return copy + 1;
  return copy + 2;
}

/**
 * Fields that changed the same way are one cause (see fold.ts for what "the same way" is): the same file time
 * stored in the primary record, the Joliet record and three Rock Ridge TF slots; the times of every file of
 * a tree copied afresh. The most telling field stays root; the others become derived from it (kept, with
 * their own spans). Copies the comparer folded past the kept ones become one derived finding with their spans.
 */
function groupSameChange(all: RawFinding[], folded: Map<string, Folded>, diff: Ranges): void {
  const groups = new Map<string, RawFinding[]>();
  for (const f of all) {
    const key = sameChangeKey(f);
    if (key !== undefined) (groups.get(key) ?? groups.set(key, []).get(key)!).push(f);
  }
  for (const [key, list] of groups) {
    if (list.length < 2) continue;
    list.sort((x, y) => fieldPriority(x.format, x.field!) - fieldPriority(y.format, y.field!) || (x.path < y.path ? -1 : x.path > y.path ? 1 : 0) || (x.field! < y.field! ? -1 : 1));
    const primary = list[0]!;
    const others = list.slice(1);
    const rest = folded.get(key);
    const elsewhere = new Set(others.filter((o) => o.path !== primary.path).map((o) => o.path));
    const here = others.filter((o) => o.path === primary.path).map((o) => o.field);
    const sameValues = others.every((o) => normalValue(o.a) === normalValue(primary.a) && normalValue(o.b) === normalValue(primary.b));
    const parts: string[] = [];
    if (here.length) parts.push(`the same change is stored again in ${here.join(', ')}`);
    if (elsewhere.size || rest) {
      const names = [...elsewhere].sort();
      const more = rest ? rest.entries : 0;
      const n = names.length + more;
      const what = sameValues && !rest ? 'the same change' : `the same kind of change (${primary.kind})`;
      parts.push(`${what} is made in ${n}${rest ? ' or more' : ''} other entr${n === 1 ? 'y' : 'ies'}: ${names.slice(0, 8).join(', ')}${n > 8 ? ', …' : ''}`);
    }
    primary.detail = [primary.detail, ...parts].filter(Boolean).join('; ');
    for (const o of others) {
      o.root = false;
      o.causes = [primary];
      o.detail = o.path === primary.path ? `a copy of ${primary.field}` : `the same change as ${primary.path} ${primary.field}`;
    }
    if (rest) {
      all.push({
        path: primary.scope.path,
        format: primary.format,
        field: `${primary.field} (and ${rest.count - 1} more copies)`,
        kind: primary.kind,
        root: false,
        causes: [primary],
        a: { type: 'range', lo: rest.min[0], hi: rest.max[0] },
        b: { type: 'range', lo: rest.min[1], hi: rest.max[1] },
        spans: spanRuns(rest.runs.spans, diff),
        scope: primary.scope,
        folded: { findings: rest.count, entries: rest.entries, bytes: differingWithin(rest.runs.spans, diff) },
        detail: `the same ${primary.kind} change in ${rest.count} more fields (${[...rest.fields].slice(0, 6).join(', ')}${rest.fields.size > 6 ? ', …' : ''}) of ${rest.entries} entries, folded into one finding; its spans cover those fields and the equal bytes between them`,
      });
    }
  }
}

/**
 * A field that only says "the content here is different" (a UKI's command line as text) follows from the
 * more specific findings inside the same bytes (the random UUID in it).
 */
function contentFieldsFromSpecifics(all: RawFinding[]): void {
  const specific = all.filter((g) => g.root && g.kind !== 'content' && g.kind !== 'unknown' && g.spans.length);
  let index: SpanIndex | undefined;
  for (const f of all) {
    if (!f.root || f.kind !== 'content' || f.field === null) continue;
    index ??= new SpanIndex(specific);
    const inside = [...index.touching(f.spans)].filter((g) => g !== f);
    if (!inside.length) continue;
    f.root = false;
    f.causes = inside;
  }
}

/**
 * The same content stored in several places (an initrd in the ISO, in the squashfs and in the UKI) that
 * differs the same way in each: one cause, not one per copy. Nested containers whose root findings are the
 * same (path inside, field, kind and both values) are copies; the one nearest the top (then first by path)
 * keeps the roots, and the others' roots follow from them, with every place listed.
 */
function nestedCopies(all: RawFinding[], scopes: Scope[]): void {
  const roots = all.filter((f) => f.root).sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  if (roots.length < 2) return;
  const paths = [...new Set(scopes.map((s) => s.path))].filter((p) => p !== '/').sort();
  /** the roots under a nested container, found by binary search in the sorted roots */
  const under = (p: string): RawFinding[] => {
    let lo = 0;
    let hi = roots.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (roots[mid]!.path < p) lo = mid + 1;
      else hi = mid;
    }
    const out: RawFinding[] = [];
    for (let i = lo; i < roots.length && roots[i]!.path.startsWith(p); i++) {
      const q = roots[i]!.path;
      if (q.length === p.length || q.charCodeAt(p.length) === 47) out.push(roots[i]!);
    }
    return out;
  };
  /** a root as it reads from the nested container at `p`: path inside, format, field, kind and both values */
  const copyKey = (f: RawFinding, p: string): string => JSON.stringify([f.path.slice(p.length), f.format, f.field, f.kind, f.a, f.b]);
  const signature = (p: string, list: RawFinding[]): string =>
    list
      .map((f) => copyKey(f, p))
      .sort()
      .join('\n');
  const groups = new Map<string, { path: string; list: RawFinding[] }[]>();
  for (const p of paths) {
    const list = under(p);
    if (!list.length) continue;
    const sig = signature(p, list);
    (groups.get(sig) ?? groups.set(sig, []).get(sig)!).push({ path: p, list });
  }
  const depth = (p: string): number => p.split('//').length;
  // the largest groups of copies first: an initrd's copies, then (already settled) the layers inside each
  const ordered = [...groups.values()].filter((g) => g.length > 1).sort((x, y) => y[0]!.list.length - x[0]!.list.length || (x[0]!.path < y[0]!.path ? -1 : 1));
  for (const group of ordered) {
    group.sort((x, y) => depth(x.path) - depth(y.path) || (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
    const [primary, ...copies] = group as [(typeof group)[number], ...(typeof group)[number][]];
    if (primary.list.some((f) => !f.root)) continue; // settled by a larger group
    const byKey = new Map(primary.list.map((f) => [copyKey(f, primary.path), f]));
    const places = copies.map((c) => c.path);
    for (const c of copies) {
      for (const f of c.list) {
        const p = byKey.get(copyKey(f, c.path));
        if (!p || !f.root) continue;
        f.root = false;
        f.causes = [p];
        f.detail = [f.detail, `the same change as ${p.path}${p.field ? ` ${p.field}` : ''}: ${c.path} holds the same content as ${primary.path}`].filter(Boolean).join('; ');
      }
    }
    for (const f of primary.list) {
      f.detail = [f.detail, `the same content, differing the same way, is also stored at ${places.slice(0, 8).join(', ')}${places.length > 8 ? ', …' : ''}`].filter(Boolean).join('; ');
    }
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How many bytes two GUIDs of the text form differ in. */
function guidDistance(x: string, y: string): number {
  const hx = x.replace(/-/g, '');
  const hy = y.replace(/-/g, '');
  let n = 0;
  for (let i = 0; i < 32; i += 2) if (hx.slice(i, i + 2) !== hy.slice(i, i + 2)) n++;
  return n;
}

/**
 * GUIDs made from another GUID (xorriso writes each GPT partition's GUID as the disk GUID with a few bits
 * changed by the partition number) are that GUID again, not causes of their own: a random id whose values on
 * both sides are within two bytes of another random GUID follows from it. The GUID a header holds comes first,
 * then entries' fields, then GUIDs found in content (an Apple partition map's partition that holds the GPT's
 * bytes sees the same GUIDs as content); two random GUIDs that close on both sides by chance do not occur.
 */
function derivedGuids(all: RawFinding[]): void {
  const list = all.filter((f) => f.root && f.kind === 'random-id' && typeof f.a === 'string' && typeof f.b === 'string' && GUID.test(f.a) && GUID.test(f.b));
  if (list.length < 2) return;
  const rank = (f: RawFinding): number => (f.field === null ? 2 : f.entry === undefined ? 0 : 1);
  const depth = (f: RawFinding): number => f.path.split('//').length;
  const cmp = (x: string | null, y: string | null): number => ((x ?? '') < (y ?? '') ? -1 : (x ?? '') > (y ?? '') ? 1 : 0);
  list.sort((x, y) => rank(x) - rank(y) || depth(x) - depth(y) || cmp(x.path, y.path) || cmp(x.field, y.field) || cmp(x.a as string, y.a as string));
  const primaries: RawFinding[] = [];
  const made = new Map<RawFinding, RawFinding[]>();
  const name = (f: RawFinding, from: RawFinding): string => (f.scope === from.scope ? (f.field ?? '(content)') : `${f.path} ${f.field ?? '(content)'}`);
  for (const g of list.slice(0, MAX_GUIDS)) {
    const p = primaries.find((q) => guidDistance(g.a as string, q.a as string) <= 2 && guidDistance(g.b as string, q.b as string) <= 2);
    if (!p) {
      primaries.push(g);
      continue;
    }
    g.root = false;
    g.causes = [p];
    const same = g.a === p.a && g.b === p.b;
    g.detail = [g.detail, same ? `the same GUID as ${name(p, g)}: it changes because that one does` : `made from ${name(p, g)} (the same GUID with a few bits changed): it changes because that one does`].filter(Boolean).join('; ');
    (made.get(p) ?? made.set(p, []).get(p)!).push(g);
  }
  for (const [p, derived] of made) {
    p.detail = [p.detail, `${derived.length} GUID${derived.length === 1 ? ' is' : 's are'} made from it: ${derived.map((g) => `${g.path} ${g.field ?? '(content)'}`).slice(0, 8).join(', ')}${derived.length > 8 ? ', …' : ''}`].filter(Boolean).join('; ');
  }
}

/** random GUIDs looked at for being made from each other (each is compared with the few distinct ones before it) */
const MAX_GUIDS = 4096;

/**
 * Views are not causes: a file's content that differs only where another view parses fields (an El Torito
 * catalog or an isolinux boot-info-table, as an ISO 9660 file; a partition table inside a partition) differs
 * because those fields do. The content finding follows from them.
 */
function contentFromOtherViews(all: RawFinding[], diff: Ranges): void {
  let index: SpanIndex | undefined;
  for (const f of all) {
    if (!f.root || f.kind !== 'content' || f.field !== null || !f.spans.length) continue;
    const own = outerIntervals(f.spans);
    if (own.length !== f.spans.length) continue; // spans in decoded streams: not a view over the same bytes
    index ??= new SpanIndex(all.filter((g) => g.field !== null && g.kind !== 'content' && g.kind !== 'unknown' && g.spans.length));
    const inside = [...index.touching(f.spans)].filter((g) => g.format !== f.format);
    if (!inside.length) continue;
    const fields: Interval[] = [];
    for (const g of inside) pushAll(fields, outerIntervals(g.spans));
    // some byte of it differs, and every differing byte lies in those fields
    if (diff.coveredWithin(normalize(own), normalize(fields)) !== true) continue;
    f.root = false;
    f.causes = inside;
    f.detail = [f.detail, `the differing bytes are ${inside.map((g) => `${g.format} ${g.field}`).slice(0, 4).join(', ')}`].filter(Boolean).join('; ');
  }
}

/**
 * Fields that exist in one build only (extra fields dropped by `zip -X`, an attribute one packer writes) are
 * one cause per container and kind of field, not one per entry: the first stays root, the rest follow it.
 */
function groupPresence(all: RawFinding[]): void {
  const groups = new Map<string, RawFinding[]>();
  for (const f of all) {
    if (!f.root || f.field === null || (f.kind !== 'added' && f.kind !== 'removed')) continue;
    const key = [f.scope.path, f.format, f.kind].join('\u0000');
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(f);
  }
  for (const list of groups.values()) {
    if (list.length < 2) continue;
    list.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : x.field! < y.field! ? -1 : 1));
    const primary = list[0]!;
    const names = [...new Set(list.map((f) => f.field!.replace(/\.\d+\./g, '.N.')))].sort();
    const entries = new Set(list.map((f) => f.path));
    primary.detail = [
      primary.detail,
      `${list.length} fields ${primary.kind === 'removed' ? 'only the first' : 'only the second'} build has, in ${entries.size} entr${entries.size === 1 ? 'y' : 'ies'}: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', …' : ''}`,
    ]
      .filter(Boolean)
      .join('; ');
    primary.hint ??=
      presenceHint(primary.format) ??
      'one build writes these fields and the other does not: run the producing tool with the same version and options for both';
    for (const o of list.slice(1)) {
      o.root = false;
      o.causes = [primary];
    }
  }
}

/**
 * The findings whose spans touch a given span, found without scanning every finding: spans are kept sorted by
 * start per side and stream; the few very long ones (placement, ordering) are scanned apart.
 */
class SpanIndex {
  private readonly lists = new Map<string, { start: number; end: number; f: RawFinding }[]>();
  private readonly long: { key: string; start: number; end: number; f: RawFinding }[] = [];
  private static readonly LONG = 1 << 20;

  constructor(findings: RawFinding[]) {
    for (const f of findings) {
      for (const sp of f.spans) {
        const key = `${sp.side}\u0000${sp.stream ?? ''}`;
        const item = { start: sp.offset, end: sp.offset + sp.length, f };
        if (sp.length > SpanIndex.LONG) this.long.push({ key, ...item });
        else (this.lists.get(key) ?? this.lists.set(key, []).get(key)!).push(item);
      }
    }
    for (const list of this.lists.values()) list.sort((x, y) => x.start - y.start);
  }

  /** Findings with a span overlapping any of `spans`. */
  touching(spans: ReportSpan[]): Set<RawFinding> {
    const out = new Set<RawFinding>();
    for (const q of spans) {
      const key = `${q.side}\u0000${q.stream ?? ''}`;
      const qs = q.offset;
      const qe = q.offset + q.length;
      const list = this.lists.get(key);
      if (list) {
        // first item starting at or after qs - LONG: earlier ones end before qs
        let lo = 0;
        let hi = list.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (list[mid]!.start < qs - SpanIndex.LONG) lo = mid + 1;
          else hi = mid;
        }
        for (let i = lo; i < list.length && list[i]!.start < qe; i++) if (list[i]!.end > qs) out.add(list[i]!.f);
      }
      for (const l of this.long) if (l.key === key && l.start < qe && l.end > qs) out.add(l.f);
    }
    return out;
  }
}

/** A root that moves what follows it: an entry added or removed, another order, a content of another size. */
function shifterOf(g: RawFinding): boolean {
  return g.root && (g.kind === 'added' || g.kind === 'removed' || g.kind === 'ordering' || (g.field === null && g.kind === 'content' && sizeChanged(g.a, g.b)));
}

/** An entry's size field that differs, root or not: what grew inside it made it grow. */
function resized(g: RawFinding): boolean {
  return g.kind === 'size' && g.entry !== undefined && g.field !== null;
}

/**
 * By container path: the roots that move things in any of the views of that container (the ISO 9660 order and
 * the GPT, MBR and El Torito views over the same image): orderings first, then other movers, at most 8.
 */
function moversOfSiblings(all: RawFinding[], mover: (g: RawFinding) => boolean): Map<string, RawFinding[]> {
  const out = new Map<string, RawFinding[]>();
  for (const g of all) {
    if (!mover(g)) continue;
    const list = out.get(g.scope.path) ?? out.set(g.scope.path, []).get(g.scope.path)!;
    list.push(g);
  }
  for (const list of out.values()) {
    list.sort((x, y) => Number(y.kind === 'ordering') - Number(x.kind === 'ordering'));
    list.splice(8);
  }
  return out;
}

/** Finds causes for derived findings; a derived finding with no cause found becomes a root. */
function linkCauses(all: RawFinding[]): void {
  let index: SpanIndex | undefined;
  let siblingMovers: Map<string, RawFinding[]> | undefined;
  let siblingSizes: Map<string, RawFinding[]> | undefined;
  // per container, built once: findings by entry, and the candidates for "something else moved it"
  const byEntry = new Map<Scope, Map<string, RawFinding[]>>();
  const shiftersOf = new Map<Scope, RawFinding[]>();
  const rootsOf = new Map<Scope, RawFinding[]>();
  const entryFindings = (scope: Scope, entry: string): RawFinding[] => {
    let m = byEntry.get(scope);
    if (!m) {
      m = new Map();
      for (const g of scope.findings) if (g.entry !== undefined && g.field === null) (m.get(g.entry) ?? m.set(g.entry, []).get(g.entry)!).push(g);
      byEntry.set(scope, m);
    }
    return m.get(entry) ?? [];
  };
  for (const f of all) {
    if (f.root) continue;
    if (f.causes.length) continue;
    if (f.covers) {
      index ??= new SpanIndex(all);
      const touching = [...index.touching(f.covers)].filter((g) => g !== f);
      f.causes = touching.filter((g) => g.kind !== 'checksum');
      // checksums over checksums (a GPT header CRC covers the entries CRC)
      if (!f.causes.length) f.causes = touching;
    } else if (f.derivedField) {
      const scope = f.scope;
      const own = f.entry !== undefined ? entryFindings(scope, f.entry).filter((g) => g !== f) : [];
      if (f.entry !== undefined) pushAll(own, scope.changed?.get(f.entry) ?? []);
      if (f.kind === 'size' && own.length) f.causes = own;
      else if (f.entry !== undefined && scope.moved.has(f.entry) && scope.ordering) f.causes = [scope.ordering];
      else {
        let shifters = shiftersOf.get(scope);
        if (!shifters) {
          shifters = scope.findings.filter(shifterOf).slice(0, 8);
          // or an entry whose content changed size inside (an initrd whose compressed size changed): its size field
          // leads to the changes that made it
          if (!shifters.length) shifters = scope.findings.filter((g) => g.kind === 'size' && g.entry !== undefined && g.field !== null).slice(0, 9);
          shiftersOf.set(scope, shifters);
        }
        // (a size field is not its own cause: a partition's size alone in its table follows what grew beside it)
        const others = shifters.filter((g) => g !== f).slice(0, 8);
        if (others.length) f.causes = others;
        else if (scope.ordering) f.causes = [scope.ordering];
        else if (own.length) f.causes = own;
        else if ((siblingMovers ??= moversOfSiblings(all, shifterOf)).get(scope.path)?.some((g) => g.scope !== scope)) {
          // a partition table or boot catalog over the same bytes as a file system: what moved the files there
          // (their order, a file that grew) moved the partitions and boot images that point at them
          f.causes = siblingMovers.get(scope.path)!.filter((g) => g.scope !== scope);
        } else if ((siblingSizes ??= moversOfSiblings(all, resized)).get(scope.path)?.some((g) => g.scope !== scope)) {
          // or the files there grew because of changes inside them (an initrd whose times differ): their size
          // fields lead to those changes
          f.causes = siblingSizes.get(scope.path)!.filter((g) => g.scope !== scope);
        } else {
          // something earlier in the same container changed size (a longer name, a header field)
          let roots = rootsOf.get(scope);
          if (!roots) {
            roots = scope.findings.filter((g) => g.root && g.kind !== 'unknown').slice(0, 8);
            // or the changes inside a nested container (a compressed stream whose data differs moves its trailer)
            if (!roots.length) for (const inner of scope.changed?.values() ?? []) pushAll(roots, inner.filter((g) => g.root).slice(0, 8 - roots.length));
            rootsOf.set(scope, roots);
          }
          f.causes = roots.filter((g) => g !== f);
        }
      }
    }
    if (!f.causes.length) f.root = true;
  }
  resolveToRoots(all);
}

/** Causes point at roots where possible (a chain CRC -> CRC -> GUID resolves to the GUID). */
function resolveToRoots(all: RawFinding[]): void {
  for (const f of all) {
    if (f.root) continue;
    const roots = new Set<RawFinding>();
    const stack = [...f.causes];
    const seen = new Set<RawFinding>();
    while (stack.length) {
      const g = stack.pop()!;
      if (seen.has(g)) continue;
      seen.add(g);
      if (g.root) roots.add(g);
      else pushAll(stack, g.causes);
    }
    if (roots.size) f.causes = [...roots];
  }
}

const KIND_RANK = new Map<string, number>(KINDS.map((k, i) => [k, i]));

/**
 * The two files differ in size: a derived finding for the total, caused by what grew or shrank (added and
 * removed entries, contents of another size, sizes of structures), claiming the bytes only one file has.
 */
function addImageSize(all: RawFinding[], res: CompareResult): void {
  const longer: 'a' | 'b' = res.sizeA > res.sizeB ? 'a' : 'b';
  const start = Math.min(res.sizeA, res.sizeB);
  const roots = (f: RawFinding): RawFinding[] => (f.root ? [f] : f.causes.filter((c) => c.root));
  const growers = new Set<RawFinding>();
  for (const f of all) {
    if (f.kind === 'added' || f.kind === 'removed' || f.kind === 'size' || (f.field === null && f.kind === 'content' && valuesDiffer(f.a, f.b))) {
      for (const r of roots(f)) growers.add(r);
    }
  }
  const scope: Scope = { path: '/', format: 'raw', findings: [], moved: new Set() };
  let causes = [...growers];
  // nothing was added or resized as such: a field of another length (a longer stored name) made the difference
  if (!causes.length) causes = all.filter((f) => f.root && f.kind !== 'unknown').slice(0, 8);
  all.push({
    path: '/',
    format: 'raw',
    field: 'file.size',
    kind: 'size',
    root: causes.length === 0,
    causes,
    a: res.sizeA,
    b: res.sizeB,
    spans: [{ side: longer, offset: start, length: Math.max(res.sizeA, res.sizeB) - start }],
    scope,
    detail: `the ${longer === 'a' ? 'first' : 'second'} file is ${Math.abs(res.sizeA - res.sizeB)} bytes longer`,
  });
}

/** Seconds of an ISO 8601 time value, or undefined. */
function timeSeconds(v: unknown): number | undefined {
  if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT/.test(v)) return undefined;
  const ms = msOfIso(v);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/**
 * With a SOURCE_DATE_EPOCH: a time equal to it is what a reproducible build writes; the side that differs
 * from it is the one to fix. Fields carry decoded times; content evidence says so itself.
 */
function markSourceDateEpoch(all: RawFinding[], sde: number): void {
  for (const f of all) {
    if (f.kind !== 'timestamp') continue;
    if (!f.sde) {
      const a = timeSeconds(presentValue(f.a));
      const b = timeSeconds(presentValue(f.b));
      if (a === undefined && b === undefined) continue;
      f.sde = { a: a === sde, b: b === sde };
    }
    const { a, b } = f.sde;
    const note = a && b ? 'both sides equal SOURCE_DATE_EPOCH' : a ? 'only the first build honours SOURCE_DATE_EPOCH' : b ? 'only the second build honours SOURCE_DATE_EPOCH' : `neither side equals SOURCE_DATE_EPOCH (${sde}): this time does not follow it`;
    f.detail = f.detail ? `${note}; ${f.detail}` : note;
  }
}

export function buildReport(
  res: CompareResult,
  inputs: { path: string; size: number; sha256: string | null }[],
  version: string,
  opts: { sourceDateEpoch?: number } = {},
): Report {
  const all = [...res.findings];
  if (opts.sourceDateEpoch !== undefined) markSourceDateEpoch(all, opts.sourceDateEpoch);
  groupSameChange(all, res.folded, res.diff);
  derivedGuids(all);
  groupPresence(all);
  contentFieldsFromSpecifics(all);
  contentFromOtherViews(all, res.diff);
  linkCauses(all);
  // after the causes inside each copy are found: copies of one content then follow the first copy's roots
  nestedCopies(all, res.scopes);
  resolveToRoots(all);
  if (res.sizeA !== res.sizeB) addImageSize(all, res);
  // what --exclude and --exclude-directory-metadata left out is taken out here and counted apart
  const excluded = takeExcluded(all, res.diff);
  // many derived findings of one cause: the first few listed, the rest one summary finding each
  summarizeDerived(all, res.diff);

  // byte accounting over the outer files
  const diff = res.diff;
  // what a limit kept the comparer from examining is named by its own unknown finding and stays unexplained
  const claimed: Interval[] = [];
  const unexamined: Interval[] = [];
  // (and so do the bytes that differ only because of it: the compressed stream around content not examined)
  const unexaminedOnly = (f: RawFinding): boolean => f.kind === 'unknown' || (!f.root && f.causes.length > 0 && f.causes.every((c) => c.kind === 'unknown'));
  for (const f of all) pushAll(unexaminedOnly(f) ? unexamined : claimed, outerIntervals(f.spans));
  // an excluded byte is never explained, even where a finding kept in the report also covers it
  const excludedIv = excluded.intervals;
  const claimedIv = excludedIv.length ? subtract(normalize(claimed), excludedIv) : normalize(claimed);
  const unexplainedIv = excludedIv.length ? subtract(diff.minus(claimedIv), excludedIv) : diff.minus(claimedIv);
  const unexaminedIv = normalize(unexamined);
  const capped = res.capped;
  const excludedBytes = excludedIv.length ? diff.totalWithin(excludedIv) : 0;
  let unexplainedBytes = total(unexplainedIv);
  let differing = res.differing;
  let explained = Math.max(0, differing - unexplainedBytes - excludedBytes);
  if (!capped) {
    differing = diff.total();
    explained = diff.totalWithin(claimedIv);
    unexplainedBytes = total(unexplainedIv);
  }

  // unexplained runs -> unknown findings (grouped by proximity; never dropped)
  pushAll(all, unknownFindings(res, unexaminedIv.length ? subtract(unexplainedIv, unexaminedIv) : unexplainedIv));

  // deterministic order: roots first by kind, then path, field; derived after
  all.sort((x, y) => {
    if (x.root !== y.root) return x.root ? -1 : 1;
    const k = (KIND_RANK.get(x.kind) ?? 99) - (KIND_RANK.get(y.kind) ?? 99);
    return k || placeOrder(x, y);
  });
  const ids = new Map<RawFinding, string>();
  all.forEach((f, i) => ids.set(f, `f${i + 1}`));

  // bytes per root cause: differing bytes inside its own spans and those of the findings derived from it
  const causes: Partial<Record<Kind, { findings: number; bytes: number }>> = {};
  const derivedOf = new Map<RawFinding, RawFinding[]>();
  for (const f of all) if (!f.root) for (const c of f.causes) (derivedOf.get(c) ?? derivedOf.set(c, []).get(c)!).push(f);
  // a byte shared by several causes of one kind (a compressed stream several changes inside it rewrote) counts once
  const kindIvs = new Map<Kind, Interval[]>();
  for (const f of all) {
    if (!f.root) continue;
    const ivs = kindIvs.get(f.kind) ?? kindIvs.set(f.kind, []).get(f.kind)!;
    pushAll(ivs, f.claims ?? outerIntervals(f.spans));
    for (const d of derivedOf.get(f) ?? []) pushAll(ivs, d.claims ?? outerIntervals(d.spans));
    const c = (causes[f.kind] ??= { findings: 0, bytes: 0 });
    c.findings++;
  }
  for (const [kind, ivs] of kindIvs) causes[kind]!.bytes = diff.totalWithin(normalize(ivs));

  const findings: Finding[] = all.map((f) => {
    const out: Finding = {
      id: ids.get(f)!,
      path: f.path,
      format: f.format as Finding['format'],
      field: f.field,
      kind: f.kind,
      root: f.root,
      causedBy: f.root ? [] : f.causes.map((c) => ids.get(c)!).filter(Boolean).sort((p, q) => +p.slice(1) - +q.slice(1)),
      a: presentValue(f.a),
      b: presentValue(f.b),
      spans: [...f.spans].sort(spanOrder),
    };
    if (f.hint) out.hint = f.hint;
    if (f.confidence !== undefined) out.confidence = f.confidence;
    if (f.detail) out.detail = f.detail;
    if (f.sde) out.sourceDateEpoch = f.sde;
    if (f.folded) out.folded = f.folded;
    return out;
  });

  const notes = [...new Set(res.notes)].sort();
  if (capped) notes.push('more differing ranges than could be listed: later ranges were merged, so explained/unexplained counts are approximate');

  return {
    schemaVersion: 1,
    tool: { name: 'reprodiff', version },
    inputs,
    identical: differing === 0 && res.sizeA === res.sizeB && findings.length === 0,
    bytes: { differing, explained, unexplained: unexplainedBytes, ...(res.exclude ? { excluded: excludedBytes } : {}) },
    causes: Object.fromEntries(Object.entries(causes).sort(([a], [b]) => (KIND_RANK.get(a) ?? 0) - (KIND_RANK.get(b) ?? 0))),
    findings,
    notes,
    ...(opts.sourceDateEpoch !== undefined ? { sourceDateEpoch: opts.sourceDateEpoch } : {}),
    ...(res.exclude ? { excluded: excludedMember(res.exclude, excluded.entries) } : {}),
  };
}
