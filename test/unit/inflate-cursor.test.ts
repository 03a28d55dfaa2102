/**
 * A large deflated zip member is read forward through a cursor, not inflated into a temporary file: every read
 * (forward, backward, at its edges, across pieces) gives the bytes zlib gives, its digest comes from the pass,
 * a member that inflates to another size than declared is E_FORMAT wherever it is read, and reads that keep
 * going back fall back to one whole inflate.
 */
import { createHash, randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/io/source.js';
import { InflateSource } from '../../src/formats/zip/index.js';

/** 5 MiB that compress somewhat: random runs and repeats, so pieces of output come in odd sizes */
function data(n: number): Buffer {
  const out = Buffer.alloc(n);
  let at = 0;
  while (at < n) {
    const run = randomBytes(1 + (randomBytes(2).readUInt16LE(0) % 5000));
    const rep = randomBytes(1)[0]! % 4;
    for (let r = 0; r <= rep && at < n; r++) at += run.copy(out, at, 0, Math.min(run.length, n - at));
  }
  return out;
}

function member(plain: Buffer, declared = plain.length, inMemory = 1 << 20): InflateSource {
  const packed = deflateRawSync(plain, { level: 6 });
  const parent = new BufferSource('test.zip', Buffer.concat([Buffer.from('head'), packed, Buffer.from('tail')]));
  return new InflateSource('test.zip//m', { parent, offset: 4, compressedSize: packed.length, size: declared, maxOutput: 1 << 30, streamId: 'test#zip:0', inMemory });
}

/** whether the member was inflated whole (into memory or a temporary file) */
const held = (m: InflateSource): boolean => (m as unknown as { decodedData?: unknown }).decodedData !== undefined;

describe('a deflated member larger than --in-memory', () => {
  const plain = data(5 << 20);
  const sha = createHash('sha256').update(plain).digest('hex');

  it('reads forward, back, across pieces and at its edges give zlib\'s bytes', () => {
    const m = member(plain);
    const at = [0, 3, 1 << 20, (1 << 20) - 7, 4_000_000, 100, plain.length - 9, 65_536, 2_500_000, plain.length - 200_000, 0];
    for (const [i, o] of at.entries()) {
      const n = Math.min(1 + ((i * 7919) % 300_000), plain.length - o);
      expect(Buffer.from(m.read(o, n)).equals(plain.subarray(o, o + n)), `read at ${o}`).toBe(true);
      const into = new Uint8Array(n);
      m.readInto(o, into);
      expect(Buffer.from(into).equals(plain.subarray(o, o + n)), `readInto at ${o}`).toBe(true);
    }
    expect(m.sha256()).toBe(sha);
  });

  it('its digest comes from one pass, also when nothing was read before', () => {
    expect(member(plain).sha256()).toBe(sha);
    const m = member(plain);
    m.read(plain.length - 10, 10);
    expect(m.sha256()).toBe(sha);
    // nothing was inflated whole: the pass kept only the edges
    expect(held(m)).toBe(false);
  });

  it('reads that keep going back inflate it once, whole, and still give the same bytes', () => {
    const m = member(plain);
    for (let k = 0; k < 12; k++) {
      const o = plain.length - 1 - k * 300_000;
      expect(m.read(o, 1)[0]).toBe(plain[o]);
      expect(m.read(o - 500_000, 4)).toEqual(new Uint8Array(plain.subarray(o - 500_000, o - 500_000 + 4)));
    }
    expect(held(m)).toBe(true);
    expect(m.sha256()).toBe(sha);
  });

  it('a member that inflates to fewer or more bytes than declared is E_FORMAT', () => {
    const short = member(plain, plain.length + 10);
    expect(() => short.read(plain.length, 5)).toThrow(/inflates to 5242880 bytes, 5242890 declared/);
    expect(() => member(plain, plain.length + 10).sha256()).toThrow(/declared/);
    const long = member(plain, plain.length - 10);
    expect(() => long.read(plain.length - 20, 10)).toThrow(/more than its declared/);
    expect(() => member(plain, plain.length - 10).sha256()).toThrow(/more than its declared/);
  });

  it('a corrupt stream is E_FORMAT, not a crash', () => {
    const packed = Buffer.from(deflateRawSync(plain));
    packed.fill(0xff, 1000, 1100);
    const parent = new BufferSource('bad.zip', packed);
    const m = new InflateSource('bad.zip//m', { parent, offset: 0, compressedSize: packed.length, size: plain.length, maxOutput: 1 << 30, streamId: 'bad#zip:0', inMemory: 1 << 20 });
    expect(() => m.sha256()).toThrow(/corrupt deflate data|declared/);
  });
});
