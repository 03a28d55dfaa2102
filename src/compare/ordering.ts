/**
 * Entries placed in another relative order: one ordering root finding per container, the moved entries
 * (outside the longest run kept in order) named in its detail, their bytes explained by it.
 */
import type { Container } from '../model.js';
import type { ReportSpan } from '../report/types.js';
import { pushAll } from '../util/array.js';
import { orderingHint } from '../walk/rules.js';
import type { Comparer } from './compare.js';
import { extentSpans } from './spans.js';
import type { Placed, Scope } from './types.js';

export function findOrdering(cx: Comparer, ca: Container, cb: Container, scope: Scope, placed: Placed): void {
  const n = placed.length;
  if (n < 2) return;
  // entries that share a place (files packed into one squashfs fragment block, placed by that block) keep
  // their order when they share it on both sides: ties sort by their other side, and equal places do not
  // count as a reversal
  // the common case, nothing moved, is settled without copying or sorting: entries are met in order
  const rows = Array.from({ length: n }, (_, i) => i);
  const byA = sortedBy(rows, (x, y) => placed.a(x) - placed.a(y) || placed.b(x) - placed.b(y));
  let inPlace = true;
  for (let i = 1; i < n && inPlace; i++) if (placed.b(byA[i - 1]!) > placed.b(byA[i]!)) inPlace = false;
  const keep = inPlace ? undefined : longestIncreasing(byA.map((r) => placed.b(r)), false);
  if (!keep) {
    // also compare the container's own order (directory or member order): each path once, so the same order
    // is build B's order rising along build A's
    const byOrder = sortedBy(rows, (x, y) => placed.ea[x]!.order - placed.ea[y]!.order);
    let same = true;
    for (let i = 1; i < n && same; i++) if (placed.eb[byOrder[i - 1]!]!.order >= placed.eb[byOrder[i]!]!.order) same = false;
    if (same) return;
  }
  const moved = keep ? byA.filter((_, i) => !keep.has(i)) : [];
  // every entry whose placement changed is displaced by the new order, not only those outside the kept run
  const displaced = rows.filter((r) => placed.a(r) !== placed.b(r));
  for (const r of displaced) scope.moved.add(placed.path(r));
  const list = moved.slice(0, 10).map((r) => placed.path(r));
  const spans: ReportSpan[] = [];
  for (const r of displaced) {
    const ea = placed.ea[r]!;
    const eb = placed.eb[r]!;
    pushAll(spans, extentSpans('a', ea.contentSource ?? ca.source, ea.extents));
    pushAll(spans, extentSpans('b', eb.contentSource ?? cb.source, eb.extents));
  }
  const f = cx.add({
    path: scope.path,
    format: ca.format,
    field: 'order',
    kind: 'ordering',
    root: true,
    a: { type: 'order', paths: byA.slice(0, 5).map((r) => placed.path(r)), count: n },
    b: { type: 'order', paths: [...rows].sort((x, y) => placed.b(x) - placed.b(y)).slice(0, 5).map((r) => placed.path(r)), count: n },
    spans,
    scope,
    detail: `${moved.length || 'all'} of ${n} entries are placed in another order${list.length ? `: ${list.join(', ')}${moved.length > list.length ? `, and ${moved.length - list.length} more` : ''}` : ''}`,
    hint: orderingHint(ca.format),
  });
  scope.ordering = f;
}

/** `list` when already in `cmp` order, else a sorted copy. */
function sortedBy<T>(list: T[], cmp: (x: T, y: T) => number): T[] {
  for (let i = 1; i < list.length; i++) if (cmp(list[i - 1]!, list[i]!) > 0) return [...list].sort(cmp);
  return list;
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
