/**
 * Alignment of two contents, text diffs, excerpts, speed on 16 MiB pairs and hostile inputs
 * (identical, empty, all different, repetitive, a difference every few bytes).
 */
import { describe, expect, it } from 'vitest';
import { alignContents } from '../../src/classify/content-align.js';
import { explainContent, hexExcerpt } from '../../src/classify/content.js';
import { expectCovers } from './cover.js';

/**
 * Speed is measured by `npm run bench`; these bounds only catch a run-away (quadratic) alignment, generous
 * enough for a loaded machine.
 */
const HANG_MS = 30_000;
import { prng } from '../helpers/mutate.js';


const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Deterministic random-looking bytes, one stream across calls, so that every run sees the same inputs. */
const byteStream = prng(2463534242);
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = byteStream() & 255;
  return out;
}
const T1 = 1795329917;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe('alignment', () => {
  it('identical contents: nothing differs, no diff', () => {
    const a = enc('same\n');
    const e = explainContent(a, a.slice());
    expect(e.evidence).toEqual([]);
    expect(e.unexplained).toEqual([]);
    expect(e.differingBytes).toBe(0);
    expect(e.diff).toBeUndefined();
  });

  it('empty against something: one insertion', () => {
    const b = enc('hello\n');
    const e = explainContent(new Uint8Array(0), b);
    expect(e.unexplained).toEqual([{ aOffset: 0, aLength: 0, bOffset: 0, bLength: 6 }]);
    expect(e.evidence[0]?.description).toBe('6 bytes only in B (inserted)');
    expect(e.diff).toContain('+hello');
    expectCovers(new Uint8Array(0), b, e);
  });

  it('binary runs inserted and removed are found exactly in 1 MiB', () => {
    const a = new Uint8Array(randomBytes(1 << 20));
    const ins = new Uint8Array(randomBytes(100));
    const b = concat(a.subarray(0, 300_000), ins, a.subarray(300_000, 700_000), a.subarray(700_050));
    const { ranges } = alignContents(a, b);
    expect(ranges).toEqual([
      { aOffset: 300_000, aLength: 0, bOffset: 300_000, bLength: 100 },
      { aOffset: 700_000, aLength: 50, bOffset: 700_100, bLength: 0 },
    ]);
    const e = explainContent(a, b);
    expect(e.evidence.map((x) => x.description)).toEqual(['100 bytes only in B (inserted)', '50 bytes only in A (removed)']);
    expectCovers(a, b, e);
  });

  it('a changed value inside a shifted region keeps its own range', () => {
    // a table of small records (index, flags), like metadata
    const a = new Uint8Array(64 * 1024).map((_, i) => (i % 8 === 0 ? (i >> 3) & 0xff : i % 8 === 4 ? 0x11 : 0));
    const b = concat(a.subarray(0, 1000), enc('INSERTED'), a.subarray(1000));
    const dv = new DataView(b.buffer);
    new DataView(a.buffer).setUint32(40_000, T1, true);
    dv.setUint32(40_008, T1 + 3600, true);
    const e = explainContent(a, b);
    const t = e.evidence.find((x) => x.kind === 'timestamp');
    expect(t?.ranges).toEqual([{ aOffset: 40_000, aLength: 4, bOffset: 40_008, bLength: 4 }]);
    expectCovers(a, b, e);
  });

  it('a text line added and one changed: diff and ranges', () => {
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i} of the manifest\n`);
    const a = enc(lines.join(''));
    const bl = [...lines];
    bl.splice(50, 0, 'an added line\n');
    bl[150] = 'line 149 changed by hand\n';
    const b = enc(bl.join(''));
    const e = explainContent(a, b);
    expect(e.text).toBe(true);
    expect(e.diff).toContain('+an added line');
    expect(e.diff).toContain('-line 149 of the manifest');
    expect(e.diff).toContain('+line 149 changed by hand');
    expect(e.diff).toMatch(/^--- a\n\+\+\+ b\n@@ -48,6 \+48,7 @@\n/);
    expect(e.evidence.every((x) => x.kind === 'content')).toBe(true);
    expectCovers(a, b, e);
  });

  it('the text diff is capped with a marker', () => {
    const mk = (v: string): Uint8Array => enc(Array.from({ length: 2000 }, (_, i) => `key${i} = ${v}${i}\n`).join(''));
    const a = mk('x'), b = mk('yy');
    const e = explainContent(a, b, { maxDiffChars: 2000 });
    expect(e.diff?.length).toBeLessThan(2100);
    expect(e.diff).toMatch(/… \d+ more lines\n$/);
    expectCovers(a, b, e);
  });

  it('labels name the two sides of the diff', () => {
    const e = explainContent(enc('a 1\n'), enc('a 2\n'), { labels: ['build-1/etc/issue', 'build-2/etc/issue'] });
    expect(e.diff?.startsWith('--- build-1/etc/issue\n+++ build-2/etc/issue\n')).toBe(true);
  });
});

describe('hexExcerpt', () => {
  it('two lines, the range in brackets, ASCII beside', () => {
    const a = enc('....ABCD....'), b = enc('....ABXD....');
    const x = hexExcerpt(a, b, 6, 1);
    const [la, lb] = x.split('\n');
    expect(la).toBe('a 00000000  2e 2e 2e 2e 41 42 [43] 44 2e 2e 2e 2e  |....ABCD....|');
    expect(lb).toBe('b 00000000  2e 2e 2e 2e 41 42 [58] 44 2e 2e 2e 2e  |....ABXD....|');
  });

  it('at most 64 bytes, around the range, with another place in B', () => {
    const a = new Uint8Array(4096), b = new Uint8Array(4100);
    const x = hexExcerpt(a, b, 2000, 200, 2004, 200);
    const [la, lb] = x.split('\n') as [string, string];
    expect(la.startsWith('a 000007d0  [00')).toBe(true);
    expect(lb.startsWith('b 000007d4  [00')).toBe(true);
    expect((/\|(.*)\|$/.exec(la)?.[1] ?? '').length).toBe(64);
  });
});

describe('speed and hostile inputs', () => {
  it('two 16 MiB buffers with 300 differences (times, random ids, noise) without blowing up', () => {
    // warm the code up on a small pair first: the time measured is the steady state, not the JIT's
    explainContent(new Uint8Array(1 << 20).fill(1), new Uint8Array(1 << 20).fill(2));
    const n = 16 << 20;
    const a = new Uint8Array(n);
    // compressible but not flat content
    for (let i = 0; i < n; i += 4096) a.set(enc(`block ${i} `.padEnd(64, '.')), i);
    const b = a.slice();
    const da = new DataView(a.buffer), db = new DataView(b.buffer);
    for (let k = 0; k < 300; k++) {
      const off = 8192 + k * 53_000;
      if (k % 3 === 0) {
        da.setUint32(off, T1 + k, true);
        db.setUint32(off, T1 + k + 90, true);
      } else if (k % 3 === 1) {
        a.set(randomBytes(16), off);
        b.set(randomBytes(16), off);
        a[off + 6] = 0x40 | ((a[off + 6] as number) & 0xf);
        b[off + 6] = 0x40 | ((b[off + 6] as number) & 0xf);
        a[off + 8] = 0x80 | ((a[off + 8] as number) & 0x3f);
        b[off + 8] = 0x80 | ((b[off + 8] as number) & 0x3f);
      } else {
        b[off] = (a[off] as number) ^ 0x5a;
      }
    }
    const t0 = performance.now();
    const e = explainContent(a, b);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(HANG_MS);
    expect(e.evidence.filter((x) => x.kind === 'timestamp')).toHaveLength(100);
    expect(e.evidence.filter((x) => x.kind === 'random-id')).toHaveLength(100);
    expect(e.unexplained).toHaveLength(100);
    expectCovers(a, b, e);
  });

  it('16 MiB with insertions and deletions (different lengths) without blowing up', () => {
    const a = new Uint8Array(randomBytes(16 << 20));
    const parts: Uint8Array[] = [];
    let at = 0;
    for (let k = 1; k <= 50; k++) {
      const cut = k * 300_000;
      parts.push(a.subarray(at, cut), enc(`<ins ${k}>`));
      at = cut + (k % 2) * 7; // every other insertion also drops 7 bytes
    }
    parts.push(a.subarray(at));
    const b = concat(...parts);
    const t0 = performance.now();
    const e = explainContent(a, b);
    expect(performance.now() - t0).toBeLessThan(HANG_MS);
    expect(e.unexplained).toHaveLength(50);
    expectCovers(a, b, e);
  });

  it('two unrelated 4 MiB random buffers: a few high-entropy regions', () => {
    const a = new Uint8Array(randomBytes(4 << 20)), b = new Uint8Array(randomBytes(4 << 20));
    const t0 = performance.now();
    const e = explainContent(a, b);
    expect(performance.now() - t0).toBeLessThan(HANG_MS);
    expect(e.unexplained.length).toBeLessThan(10);
    expect(e.evidence[0]?.description).toMatch(/high-entropy/);
    expectCovers(a, b, e);
  });

  it('unrelated random buffers of different lengths', () => {
    const a = new Uint8Array(randomBytes(3 << 20)), b = new Uint8Array(randomBytes((3 << 20) + 5));
    const t0 = performance.now();
    const e = explainContent(a, b);
    expect(performance.now() - t0).toBeLessThan(HANG_MS);
    expectCovers(a, b, e);
  });

  it('repetitive data with an insertion: bounded time, exact range', () => {
    const unit = enc('0123456789abcdef');
    const a = new Uint8Array(8 << 20);
    for (let i = 0; i < a.length; i += 16) a.set(unit, i);
    const b = concat(a.subarray(0, 4_000_003), enc('X'), a.subarray(4_000_003, 6_000_000), a.subarray(6_000_016));
    const t0 = performance.now();
    const e = explainContent(a, b);
    expect(performance.now() - t0).toBeLessThan(HANG_MS);
    expectCovers(a, b, e);
  });

  it('zeros against zeros with one byte changed and one inserted', () => {
    const a = new Uint8Array(16 << 20);
    const b = concat(a.subarray(0, 1 << 23), Uint8Array.of(1), a.subarray(1 << 23));
    b[100] = 7;
    const e = explainContent(a, b);
    expect(e.unexplained).toEqual([
      { aOffset: 100, aLength: 1, bOffset: 100, bLength: 1 },
      { aOffset: 1 << 23, aLength: 0, bOffset: 1 << 23, bLength: 1 },
    ]);
    expectCovers(a, b, e);
  });

  it('a difference every 8 bytes over 16 MiB: capped, noted, still accounted for', () => {
    const a = new Uint8Array(16 << 20), b = new Uint8Array(16 << 20);
    for (let i = 0; i < b.length; i += 8) b[i] = 1;
    const t0 = performance.now();
    const e = explainContent(a, b);
    expect(performance.now() - t0).toBeLessThan(HANG_MS);
    expect(e.notes.length).toBeGreaterThan(0);
    expectCovers(a, b, e);
  });

  it('long runs of the characters the patterns look for do not make them slow', () => {
    for (const ch of ['a', '7', 'f', '/a', 'Ab9+', '@x.', '-', ' ', '2026-11-22 ']) {
      const body = ch.repeat(Math.ceil((256 * 1024) / ch.length));
      const a = enc(`${body}X${body}`), b = enc(`${body}Y${body}`);
      const t0 = performance.now();
      const e = explainContent(a, b);
      expect(performance.now() - t0, `runs of ${JSON.stringify(ch)}`).toBeLessThan(HANG_MS);
      expectCovers(a, b, e);
    }
  });

  it('small random pairs and mutations never throw and always account for every byte', () => {
    const r = prng(88172645);
    const alphabet = enc('0123456789abcdefABCDEF:-/ .\0\nNovSun@T');
    const pick = (): number => (r() % 3 === 0 ? r() & 255 : (alphabet[r() % alphabet.length] as number));
    for (let iter = 0; iter < 1500; iter++) {
      const a = Uint8Array.from({ length: r() % 96 }, pick);
      const b = Array.from(a);
      for (let m = r() % 6; m > 0; m--) {
        const at = b.length ? r() % b.length : 0;
        const op = r() % 3;
        if (op === 0 && b.length) b[at] = pick();
        else if (op === 1) b.splice(at, 0, ...Array.from({ length: 1 + (r() % 12) }, pick));
        else b.splice(at, 1 + (r() % 8));
      }
      const bb = Uint8Array.from(b);
      const e = explainContent(a, bb, { sourceDateEpoch: T1 });
      expectCovers(a, bb, e);
      for (const ev of e.evidence) expect(ev.confidence).toBeGreaterThanOrEqual(0);
    }
  });

  it('text and binary mixed: a NUL makes it binary; invalid UTF-8 but printable Latin-1 is text', () => {
    expect(explainContent(enc('a\0b'), enc('a\0c')).text).toBe(false);
    expect(explainContent(Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), Uint8Array.from([0x63, 0x61, 0x66, 0xe8, 0x0a])).text).toBe(true);
  });
});

describe('false positives', () => {
  const claimed = (a: Uint8Array, b: Uint8Array): number => {
    const e = explainContent(a, b);
    expectCovers(a, b, e);
    return e.evidence.filter((v) => v.kind !== 'content').length;
  };

  it('single bytes changed inside random-looking data are not times or ids', () => {
    for (const seed of [1, 2, 3]) {
      const r = prng(seed * 7919);
      const a = new Uint8Array(1 << 20).map(() => r() & 255);
      const b = a.slice();
      for (let k = 0; k < 200; k++) {
        const off = 1000 + k * 5000;
        b[off] = ((a[off] as number) + 1 + (r() % 255)) & 255;
      }
      expect(claimed(a, b)).toBe(0);
    }
  });

  it('random 32-bit fields (CRCs, seeds) among zeros and small numbers: at most a few in a hundred read as times', () => {
    for (const seed of [1, 2, 3]) {
      const r = prng(seed * 104729);
      const n = 1 << 20;
      const a = new Uint8Array(n).map((_, i) => (i % 16 === 0 ? (i >> 4) & 255 : i % 7 === 0 ? 1 : 0));
      const b = a.slice();
      for (let k = 0; k < 200; k++) {
        const off = 1024 + k * 4096;
        for (let j = 0; j < 4; j++) {
          a[off + j] = r() & 255;
          b[off + j] = r() & 255;
        }
      }
      expect(claimed(a, b)).toBeLessThanOrEqual(8);
    }
  });
});
