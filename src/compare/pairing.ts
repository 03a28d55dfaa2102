/**
 * Pairing: the views of one source pair by format, and the entries of two containers by path. Each pair of
 * entries has its fields compared (fields.ts) and its contents (content.ts); what one build lists alone is
 * added or removed. Ordering, placement and stream roll-up close each container.
 */
import { entryFields, type Container, type Entry } from '../model.js';
import { Inflight, Walker } from '../walk/walker.js';
import type { Comparer } from './compare.js';
import { compareContent } from './content.js';
import { compareFields } from './fields.js';
import { findOrdering } from './ordering.js';
import { addPlacement, noteShift } from './placement.js';
import { bytesEqual, extentSpans, readSpans, reportSpans } from './spans.js';
import { rollUpStreams } from './streams.js';
import { newScope, Placed, type RawFinding, type Scope } from './types.js';
import { baseName, findRenames, renamedPath, type Rename } from './renames.js';
import type { EntryValue } from './values.js';
import { pairPattern, viewExclusions, type ViewExclusions } from './exclude.js';
import { excludeEntry, leftUnexamined } from './skip.js';
import { memoryShort } from '../limits.js';

/** Compares the views of one source pair; `prefix` is '' for the inputs, `<entry path>/` for nested ones. */
export async function compareViews(cx: Comparer, viewsA: Container[], viewsB: Container[], prefix: string, depth: number): Promise<void> {
  const containerPath = prefix === '' ? '/' : prefix.slice(0, -1);
  const byFormatB = new Map(viewsB.map((v) => [v.format, v]));
  const seen = new Set<string>();
  // what --exclude leaves out in any view of these sources, to leave it out in every view that sees the same bytes
  const rules = cx.exclude;
  const ex = rules?.hasPatterns ? viewExclusions(rules, [viewsA, viewsB], (c, e) => Walker.entryPath(c.format, e.path, prefix, containerPath)) : undefined;
  for (const va of viewsA) {
    seen.add(va.format);
    const vb = byFormatB.get(va.format);
    const scope = newScope(containerPath, va.format);
    cx.scopes.push(scope);
    if (!vb) {
      cx.add({ path: containerPath, format: va.format, field: null, kind: 'removed', root: true, a: va.format, b: null, spans: [], scope, detail: `only the first input holds a ${va.format} structure here` });
      continue;
    }
    await compareContainer(cx, va, vb, prefix, depth, scope, ex);
  }
  for (const vb of viewsB) {
    if (seen.has(vb.format)) continue;
    const scope = newScope(containerPath, vb.format);
    cx.scopes.push(scope);
    cx.add({ path: containerPath, format: vb.format, field: null, kind: 'added', root: true, a: null, b: vb.format, spans: [], scope, detail: `only the second input holds a ${vb.format} structure here` });
  }
}

function entryValue(e: Entry): EntryValue {
  return { type: 'entry', entryType: e.type, size: e.size };
}

/** Pairs and findings of the directories renamed between two listings. */
function renamesOf(
  cx: Comparer,
  ca: Container,
  cb: Container,
  findB: (path: string, i: number) => number | undefined,
  pathOf: (e: Entry) => string,
  scope: Scope,
): (Rename & { finding: RawFinding })[] {
  const onlyA = new Set<string>();
  for (const [i, e] of ca.entries.entries()) if (findB(e.path, i) === undefined) onlyA.add(e.path);
  if (!onlyA.size) return [];
  const inA = new Set(ca.entries.map((e) => e.path));
  const onlyB = new Set<string>();
  for (const e of cb.entries) if (!inA.has(e.path)) onlyB.add(e.path);
  const byPathA = new Map(ca.entries.map((e) => [e.path, e]));
  const byPathB = new Map(cb.entries.map((e) => [e.path, e]));
  return findRenames(ca.entries, cb.entries, onlyA, onlyB).map((r) => {
    const ea = byPathA.get(r.from)!;
    const eb = byPathB.get(r.to)!;
    const from = baseName(r.from);
    const to = baseName(r.to);
    const below = [...onlyA].filter((p) => p.startsWith(`${r.from}/`)).length;
    const finding = cx.add({
      path: pathOf(ea),
      format: ca.format,
      field: 'name',
      kind: randomName(from, to) ? 'random-id' : 'content',
      root: true,
      a: from,
      b: to,
      spans: [...reportSpans('a', ea.records ?? []), ...reportSpans('b', eb.records ?? [])],
      scope,
      entry: ea.path,
      detail: `the directory is named ${to} in the second build; the ${below} entr${below === 1 ? 'y' : 'ies'} below it are paired through the rename`,
      hint: 'the build ran in a folder with a random name (mktemp): build in a fixed path, or map it away (`-ffile-prefix-map=OLD=NEW`, `tar --transform`)',
    });
    return { ...r, finding };
  });
}

/** Two names that share a stem and end in random-looking characters (`equivs.TyCgZ2`, `tmp.b0DMbr`). */
function randomName(a: string, b: string): boolean {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const ta = a.slice(i);
  const tb = b.slice(i);
  const random = (t: string): boolean => t.length >= 4 && /^[A-Za-z0-9_-]+$/.test(t) && /[A-Za-z]/.test(t) && (/[0-9]/.test(t) || /[a-z]/.test(t) && /[A-Z]/.test(t));
  return random(ta) && random(tb);
}

/** Fields of an entry below a renamed directory that differ only by the new name follow from the rename. */
function followRename(scope: Scope, from: number, rename: RawFinding): void {
  const oldName = String(rename.a);
  const newName = String(rename.b);
  for (let i = from; i < scope.findings.length; i++) {
    const f = scope.findings[i]!;
    if (!f.root || typeof f.a !== 'string' || typeof f.b !== 'string') continue;
    if (f.a.split(oldName).join(newName) !== f.b) continue;
    f.root = false;
    f.causes = [rename];
  }
}

/**
 * Whether a field of this entry already reported this change (a symlink target in `rr.sl`, `tar.linkname`,
 * `squashfs.inode.target`): the entry's `target` is the same bytes seen again, not a second cause.
 */
function saidAlready(scope: Scope, entry: string, a: string | null, b: string | null): boolean {
  for (let i = scope.findings.length - 1; i >= 0; i--) {
    const f = scope.findings[i]!;
    if (f.entry !== entry) break; // the entry's own findings are the last ones made in its scope
    if (f.field !== null && f.a === a && f.b === b) return true;
  }
  return false;
}

/**
 * The containers' field groups, group `i` with group `i`: a group at the same offsets in both builds over no
 * differing byte holds the same fields, and is not made; one only a build has is compared with nothing.
 */
function compareFieldGroups(cx: Comparer, ca: Container, cb: Container, scope: Scope): void {
  const ga = ca.fieldGroups;
  const gb = cb.fieldGroups;
  if (!ga && !gb) return;
  const n = Math.max(ga?.count ?? 0, gb?.count ?? 0);
  for (let i = 0; i < n; i++) {
    const has = { a: ga !== undefined && i < ga.count, b: gb !== undefined && i < gb.count };
    if (has.a && has.b) {
      const ra = ga!.records(i);
      if (cx.sameSpans(ra, gb!.records(i)) && cx.untouched(ra)) continue;
    }
    compareFields(cx, has.a ? ga!.fields(i) : [], has.b ? gb!.fields(i) : [], scope.path, ca.format, scope);
  }
}

/** A note both builds share is said once; one only a build has names that build. */
function mergeNotes(cx: Comparer, ca: Container, cb: Container, scope: Scope): void {
  const format = ca.format;
  const inB = new Set(cb.notes);
  const inA = new Set(ca.notes);
  for (const n of ca.notes) cx.notes.push(inB.has(n) ? `${scope.path} (${format}): ${n}` : `${cx.rootA.name}: ${scope.path} (${format}): ${n}`);
  for (const n of cb.notes) if (!inA.has(n)) cx.notes.push(`${cx.rootB.name}: ${scope.path} (${format}): ${n}`);
}

/** how many entries the comparison pairs between two looks at the heap */
const COMPARE_CHECK_EVERY = 4096;

async function compareContainer(cx: Comparer, ca: Container, cb: Container, prefix: string, depth: number, scope: Scope, ex?: ViewExclusions): Promise<void> {
  const format = ca.format;
  compareFields(cx, ca.fields, cb.fields, scope.path, format, scope);
  compareFieldGroups(cx, ca, cb, scope);
  mergeNotes(cx, ca, cb, scope);

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
  if (cut) cx.notes.push(`${scope.path} (${format}): a limit stopped the listing, so entries only one build lists are not reported as added or removed; their differing bytes count as unexplained`);
  const pathOf = (e: Entry): string => Walker.entryPath(format, e.path, prefix, scope.path);
  const placed = new Placed(Math.min(ca.entries.length, cb.entries.length));
  // contents that need hashing or opening run in the pool, a bounded number at a time
  const inflight = new Inflight();

  // directories renamed between the builds (a random build folder): their entries pair through the rename
  const renames = cut ? [] : renamesOf(cx, ca, cb, findB, pathOf, scope);
  const rules = cx.exclude?.hasPatterns ? cx.exclude : undefined;
  let timedOut = false;

  for (const [ia, ea] of ca.entries.entries()) {
    if (cx.deadline?.reached()) {
      // the run's time is up: what is left of both listings is named, not compared
      timedOut = true;
      const left = ca.entries.slice(ia);
      for (const e of left) {
        const j = findB(e.path, -1);
        if (j !== undefined) listedInA[j] = 1;
      }
      leftUnexamined(cx, ca, cb, { a: left, b: cb.entries.filter((_, j) => !listedInA[j]) }, scope, pathOf, { text: cx.deadline.limitText(), hint: 'raise --timeout to compare them' });
      break;
    }
    const short = ia % COMPARE_CHECK_EVERY === COMPARE_CHECK_EVERY - 1 ? memoryShort() : undefined;
    if (short) {
      // the heap is near its limit: the rest of both listings is named, not compared (build B's entries not
      // paired yet, with no map of their paths made now), instead of an out-of-memory abort
      timedOut = true;
      leftUnexamined(cx, ca, cb, { a: ca.entries.slice(ia), b: cb.entries.filter((_, j) => !listedInA[j]) }, scope, pathOf, {
        text: `memory limit reached while comparing: the heap held ${short.usedMiB} MiB of the ${short.limitMiB} MiB it may grow to`,
        hint: 'give node more heap: NODE_OPTIONS=--max-old-space-size=MiB',
      });
      break;
    }
    let ib = findB(ea.path, ia);
    let rename: RawFinding | undefined;
    if (ib === undefined && renames.length) {
      const to = renamedPath(ea.path, renames);
      if (to !== undefined) {
        ib = findB(to, -1);
        rename = renames.find((r) => ea.path === r.from || ea.path.startsWith(`${r.from}/`))?.finding;
      }
    }
    const eb = ib === undefined ? undefined : cb.entries[ib]!;
    const path = pathOf(ea);
    if (ib !== undefined) listedInA[ib] = 1;
    const pattern = rules && pairPattern(rules, ex, ca, ea, cb, eb, path);
    if (pattern !== undefined) {
      if (eb || !cut) excludeEntry(cx, { ca, cb, ea, eb, path, scope }, pattern);
      cx.entryDone();
      continue;
    }
    if (!eb) {
      if (cut) continue;
      cx.add({ path, format, field: null, kind: 'removed', root: true, a: entryValue(ea), b: null, spans: [...extentSpans('a', ea.contentSource ?? ca.source, ea.extents), ...entryFields(ea).flatMap((f) => reportSpans('a', f.spans))], scope, entry: ea.path });
      continue;
    }
    // records at the same offsets with no differing byte hold the same fields: do not read them
    const ra = ea.records;
    const rb = eb.records;
    const here = ra !== undefined && rb !== undefined && cx.sameSpans(ra, rb);
    if (here && cx.untouched(ra)) {
      // the same bytes in the same place can still be another place among the entries (others moved around it)
      if (ea.placeFields && eb.placeFields && (ea.order !== eb.order || ea.placeRank !== eb.placeRank)) {
        compareFields(cx, ea.placeFields(), eb.placeFields(), path, format, scope, ea.path);
      }
    } else {
      // records at the same offsets: only fields over differing bytes can differ, so only those are made
      const touching = here && ea.fieldsTouching !== undefined && eb.fieldsTouching !== undefined;
      const fa = touching ? ea.fieldsTouching!(cx.touchedIn(ca.source)) : entryFields(ea);
      const fb = touching ? eb.fieldsTouching!(cx.touchedIn(cb.source)) : entryFields(eb);
      const before = scope.findings.length;
      compareFields(cx, fa, fb, path, format, scope, ea.path);
      if (rename) followRename(scope, before, rename);
      // records that moved with their bytes unchanged (names and padding included) are the same bytes elsewhere
      if (ra !== undefined && rb !== undefined && !here) {
        const ba = readSpans(ra, cx.rootA);
        const bb = readSpans(rb, cx.rootB);
        if (ba && bb && bytesEqual(ba, bb)) noteShift(scope, reportSpans('a', ra), reportSpans('b', rb), 'fields');
      }
    }
    if (ea.type !== eb.type) {
      cx.add({ path, format, field: 'type', kind: 'content', root: true, a: ea.type, b: eb.type, spans: [], scope, entry: ea.path });
      continue;
    }
    if ((ea.meta.target ?? null) !== (eb.meta.target ?? null) && !saidAlready(scope, ea.path, ea.meta.target ?? null, eb.meta.target ?? null)) {
      cx.add({ path, format, field: 'target', kind: 'content', root: true, a: ea.meta.target ?? null, b: eb.meta.target ?? null, spans: [], scope, entry: ea.path });
    }
    if (ea.type === 'file' || ea.extents.length || eb.extents.length) {
      const pending = compareContent(cx, { ca, cb, ea, eb, path, prefix, depth, scope, placed });
      if (pending) {
        const full = inflight.add(pending);
        if (full) await full;
      }
    }
    cx.entryDone();
  }
  for (const [i, eb] of cb.entries.entries()) {
    if (listedInA[i] || cut || timedOut) continue;
    const pattern = rules && pairPattern(rules, ex, ca, undefined, cb, eb, pathOf(eb));
    if (pattern !== undefined) {
      excludeEntry(cx, { ca, cb, eb, path: pathOf(eb), scope }, pattern);
      continue;
    }
    cx.add({ path: pathOf(eb), format, field: null, kind: 'added', root: true, a: null, b: entryValue(eb), spans: [...extentSpans('b', eb.contentSource ?? cb.source, eb.extents), ...entryFields(eb).flatMap((f) => reportSpans('b', f.spans))], scope, entry: eb.path });
  }
  await inflight.settled();
  findOrdering(cx, ca, cb, scope, placed);
  addPlacement(cx, scope, format);
  rollUpStreams(cx, ca, cb, scope);
}
