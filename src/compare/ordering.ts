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

export function findOrdering(cx: Comparer, ca: Container, cb: Container, scope: Scope, placed: Placed[]): void {
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
  const f = cx.add({
    path: scope.path,
    format: ca.format,
    field: 'order',
    kind: 'ordering',
    root: true,
    a: { type: 'order', paths: byA.slice(0, 5).map((p) => p.path), count: byA.length },
    b: { type: 'order', paths: [...placed].sort((x, y) => x.b - y.b).slice(0, 5).map((p) => p.path), count: placed.length },
    spans,
    scope,
    detail: `${moved.length || 'all'} of ${placed.length} entries are placed in another order${list.length ? `: ${list.join(', ')}${moved.length > list.length ? `, and ${moved.length - list.length} more` : ''}` : ''}`,
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
