/** Decoding once per run (walk/once.ts): found again by the encoded bytes, never by size alone; failures are not kept. */
import { afterAll, describe, expect, it } from 'vitest';
import { BufferSource, type ByteSource } from '../../src/io/source.js';
import { TempFiles } from '../../src/io/spill.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container } from '../../src/model.js';
import { DecodedOnce, MemberRows, type DecodedStream, type OpenWays } from '../../src/walk/once.js';

const temp = new TempFiles();
afterAll(() => temp.close());
const ctx = { limits: DEFAULT_LIMITS, temp };
const MiB = 1 << 20;

function bytes(seed: number, n: number, zeros = 0): Uint8Array {
  const b = new Uint8Array(n + zeros);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff || 1;
  return b;
}

/** Ways to open that count the decodes; `fail` makes decoding throw. */
function ways(src: ByteSource, count: { decoded: number; listed: number }, fail = false): OpenWays {
  const container = (): Container => ({ format: 'gzip', source: src, fields: [], entries: [], regions: [], notes: [] });
  return {
    here(keep?: (d: DecodedStream) => void): Container {
      count.decoded++;
      if (fail) throw new Error('corrupt');
      const store = temp.make(src.name);
      store.append(new Uint8Array(16));
      store.seal();
      const members = new MemberRows();
      members.add({ used: src.size, crc: 0, size: 16 });
      keep?.({ members: members.table(), store });
      return container();
    },
    list(known: DecodedStream): Container {
      expect(known.members.count).toBe(1);
      expect(known.members.used[0]).toBeGreaterThan(0);
      count.listed++;
      return container();
    },
    large: () => false,
  };
}

describe('DecodedOnce', () => {
  it('decodes the same bytes once, padded with zeros or not; other bytes of the same size are decoded', async () => {
    const once = new DecodedOnce();
    const count = { decoded: 0, listed: 0 };
    const first = new BufferSource('a//x', bytes(1, 2 * MiB));
    const again = new BufferSource('a//y', bytes(1, 2 * MiB));
    const padded = new BufferSource('a//z', bytes(1, 2 * MiB, 4096));
    const other = new BufferSource('a//w', bytes(2, 2 * MiB));
    for (const src of [first, again, padded, other]) await once.open(src, 'gzip', ctx, ways(src, count));
    expect(count).toEqual({ decoded: 2, listed: 2 });
  });

  it('finds a copy among many streams of its size (digests past a few), and tells apart streams that differ only in their last byte', async () => {
    const once = new DecodedOnce();
    const count = { decoded: 0, listed: 0 };
    // eight different streams of one size: the first few are compared byte by byte, the rest by digest
    for (let seed = 10; seed < 18; seed++) {
      const src = new BufferSource(`a//${seed}`, bytes(seed, 2 * MiB));
      await once.open(src, 'gzip', ctx, ways(src, count));
    }
    expect(count).toEqual({ decoded: 8, listed: 0 });
    for (const seed of [10, 13, 17]) {
      const copy = new BufferSource(`b//${seed}`, bytes(seed, 2 * MiB, 512));
      await once.open(copy, 'gzip', ctx, ways(copy, count));
    }
    expect(count).toEqual({ decoded: 8, listed: 3 });
    // a few streams of another size, the last byte of one changed: compared, not taken for a copy
    const fewer = new DecodedOnce();
    const c2 = { decoded: 0, listed: 0 };
    const base = bytes(20, 3 * MiB);
    const last = base.slice();
    last[last.length - 1] = 0x5a;
    for (const [name, b] of [['x', base], ['y', last], ['z', base.slice()]] as const) {
      const src = new BufferSource(name, b);
      await fewer.open(src, 'gzip', ctx, ways(src, c2));
    }
    expect(c2).toEqual({ decoded: 2, listed: 1 });
  });

  it('keeps nothing of a stream that failed to decode, and nothing under 1 MiB', async () => {
    const once = new DecodedOnce();
    const count = { decoded: 0, listed: 0 };
    const bad = new BufferSource('a//bad', bytes(3, 2 * MiB));
    expect(() => once.open(bad, 'gzip', ctx, ways(bad, count, true))).toThrow('corrupt');
    const copy = new BufferSource('b//bad', bytes(3, 2 * MiB));
    await once.open(copy, 'gzip', ctx, ways(copy, count));
    for (const name of ['s1', 's2']) {
      const small = new BufferSource(name, bytes(4, MiB / 2));
      await once.open(small, 'gzip', ctx, ways(small, count));
    }
    expect(count).toEqual({ decoded: 4, listed: 0 });
  });
});
