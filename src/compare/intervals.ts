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

/**
 * Sorted, non-overlapping [start, end) ranges held flat, two numbers per range: the differing ranges of two
 * release images run to millions, and a pair of numbers in one typed array costs 16 bytes where an
 * `Interval` costs some 80.
 */
export class Ranges {
  private readonly flat: Float64Array | Uint32Array;

  /**
   * `pairs`: [start0, end0, start1, end1, ...] in ascending order; touching or overlapping ranges are merged.
   * A Float64Array or Uint32Array is merged in place and kept (the lockstep pass hands over millions of numbers).
   */
  constructor(pairs: ArrayLike<number>) {
    const out = pairs instanceof Float64Array || pairs instanceof Uint32Array ? pairs : new Float64Array(pairs.length);
    let n = 0;
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const s = pairs[i]!;
      const e = pairs[i + 1]!;
      if (e <= s) continue;
      if (n > 0 && s <= out[n - 1]!) {
        if (s < out[n - 2]!) throw new Error('ranges out of order');
        out[n - 1] = Math.max(out[n - 1]!, e);
      } else {
        out[n++] = s;
        out[n++] = e;
      }
    }
    this.flat = out.subarray(0, n);
  }

  get count(): number {
    return this.flat.length / 2;
  }

  start(i: number): number {
    return this.flat[2 * i]!;
  }

  end(i: number): number {
    return this.flat[2 * i + 1]!;
  }

  /** the last answer of firstEndingAfter: queries mostly walk forward through neighbouring records */
  private hint = 0;

  /** Index of the first range ending after `s`. */
  private firstEndingAfter(s: number): number {
    const f = this.flat;
    const n = this.count;
    const h = this.hint;
    // range h or h + 1 is the answer when it ends after s and the one before it does not
    if (h < n && f[2 * h + 1]! > s && (h === 0 || f[2 * h - 1]! <= s)) return h;
    if (h + 1 < n && f[2 * h + 3]! > s && f[2 * h + 1]! <= s) return (this.hint = h + 1);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (f[2 * mid + 1]! <= s) lo = mid + 1;
      else hi = mid;
    }
    this.hint = Math.min(lo, Math.max(0, n - 1));
    return lo;
  }

  /** True when [s, e) overlaps any range. */
  overlaps(s: number, e: number): boolean {
    const i = this.firstEndingAfter(s);
    return i < this.count && this.flat[2 * i]! < e;
  }

  total(): number {
    let n = 0;
    for (let i = 0; i < this.flat.length; i += 2) n += this.flat[i + 1]! - this.flat[i]!;
    return n;
  }

  /**
   * Whether these ranges, clipped to the normalized `list`, all lie in the normalized `cover`: undefined when
   * none lies in `list`. Nothing is allocated, however many ranges there are (a moved partition holds a
   * million).
   */
  coveredWithin(list: Interval[], cover: Interval[]): boolean | undefined {
    let any = false;
    let j = 0;
    for (const [ls, le] of list) {
      for (let i = this.firstEndingAfter(ls); i < this.count && this.flat[2 * i]! < le; i++) {
        const s = Math.max(ls, this.flat[2 * i]!);
        const e = Math.min(le, this.flat[2 * i + 1]!);
        if (s >= e) continue;
        any = true;
        // touching cover intervals are merged, so one of them holds [s, e) whole or it is not covered
        while (j < cover.length && cover[j]![1] <= s) j++;
        if (j === cover.length || cover[j]![0] > s || cover[j]![1] < e) return false;
      }
    }
    return any ? true : undefined;
  }

  /** Bytes of these ranges inside the normalized `list`. */
  totalWithin(list: Interval[]): number {
    let n = 0;
    for (const [ls, le] of list) {
      for (let i = this.firstEndingAfter(ls); i < this.count && this.flat[2 * i]! < le; i++) {
        n += Math.min(le, this.flat[2 * i + 1]!) - Math.max(ls, this.flat[2 * i]!);
      }
    }
    return n;
  }

  /** These ranges minus the normalized `list`. */
  minus(list: Interval[]): Interval[] {
    const out: Interval[] = [];
    let j = 0;
    for (let i = 0; i < this.flat.length; i += 2) {
      let s = this.flat[i]!;
      const e = this.flat[i + 1]!;
      while (j < list.length && list[j]![1] <= s) j++;
      let k = j;
      while (s < e && k < list.length && list[k]![0] < e) {
        const [bs, be] = list[k]!;
        if (bs > s) out.push([s, bs]);
        s = Math.max(s, be);
        k++;
      }
      if (s < e) out.push([s, e]);
    }
    return out;
  }
}
