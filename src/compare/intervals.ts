/** Sorted, non-overlapping half-open intervals over byte offsets. */

export type Interval = [number, number];

/** Sorts and merges (touching intervals merge). */
export function normalize(list: Interval[]): Interval[] {
  const sorted = list.filter(([s, e]) => e > s).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: Interval[] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** `a` minus `b`; both normalized. */
export function subtract(a: Interval[], b: Interval[]): Interval[] {
  const out: Interval[] = [];
  let j = 0;
  for (const [s0, e] of a) {
    let s = s0;
    while (j < b.length && (b[j] as Interval)[1] <= s) j++;
    let k = j;
    while (s < e && k < b.length && (b[k] as Interval)[0] < e) {
      const [bs, be] = b[k] as Interval;
      if (bs > s) out.push([s, bs]);
      s = Math.max(s, be);
      k++;
    }
    if (s < e) out.push([s, e]);
  }
  return out;
}

/** `a` intersected with `b`; both normalized. */
export function intersect(a: Interval[], b: Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [as, ae] = a[i] as Interval;
    const [bs, be] = b[j] as Interval;
    const s = Math.max(as, bs);
    const e = Math.min(ae, be);
    if (s < e) out.push([s, e]);
    if (ae < be) i++;
    else j++;
  }
  return out;
}

export function total(list: Interval[]): number {
  let n = 0;
  for (const [s, e] of list) n += e - s;
  return n;
}

/** True when [s, e) overlaps any interval of the normalized list (binary search). */
export function overlaps(list: Interval[], s: number, e: number): boolean {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as Interval)[1] <= s) lo = mid + 1;
    else hi = mid;
  }
  const iv = list[lo];
  return iv !== undefined && iv[0] < e;
}
