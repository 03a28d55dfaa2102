/**
 * Decoded streams past the memory allowance go to an unnamed temporary file: the bytes read back are the
 * bytes written, the file never appears in the temporary folder, and closing it releases its descriptor.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DecodedSource } from '../../src/io/source.js';
import { DecodedSink, SpillFile, storeDecoded, TempFiles } from '../../src/io/spill.js';
import { prng } from '../helpers/mutate.js';
import { scratch } from '../helpers/tools.js';

const { dir, cleanup } = scratch('reprodiff-spill-');
afterAll(() => cleanup());
let savedTmp: string | undefined;
beforeEach(() => {
  savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = dir;
});
afterEach(() => {
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
});

function randomBytes(n: number, seed: number): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = next() & 0xff;
  return out;
}

/** Descriptors of this process that point at deleted files in `dir` (an O_TMPFILE shows as "/dir/#123 (deleted)"). */
function spillDescriptors(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir) && target.endsWith('(deleted)')) n++;
    } catch {
      // closed meanwhile (the descriptor used to list the folder)
    }
  }
  return n;
}

describe('DecodedSink', () => {
  it('keeps a stream within the allowance in memory, copying chunks the caller reuses', () => {
    const sink = new DecodedSink('s', 1000, undefined);
    const chunk = new Uint8Array([1, 2, 3]);
    sink.write(chunk);
    chunk[0] = 9; // the caller reuses its buffer
    sink.write(new Uint8Array([4, 5]));
    const out = sink.finish();
    expect(out).toBeInstanceOf(Uint8Array);
    expect([...(out as Uint8Array)]).toEqual([1, 2, 3, 4, 5]);
  });

  it('moves a stream past the allowance to a file that has no name, and reads it back exactly', () => {
    const data = randomBytes(300_000, 7);
    const temp = new TempFiles();
    const sink = new DecodedSink('big', 50_000, temp);
    const piece = new Uint8Array(7_777);
    for (let at = 0; at < data.length; at += piece.length) {
      const n = Math.min(piece.length, data.length - at);
      piece.set(data.subarray(at, at + n));
      sink.write(piece.subarray(0, n)); // one reused buffer, as zlib's output is
    }
    expect(sink.size).toBe(data.length);
    const out = sink.finish();
    expect(out).toBeInstanceOf(SpillFile);
    expect(readdirSync(dir)).toEqual([]);
    expect(spillDescriptors()).toBe(1);
    const src = new DecodedSource('big', out, 'big#test', []);
    expect(src.size).toBe(data.length);
    const next = prng(11);
    // small reads through the block cache (some across blocks), large ones straight from the file
    for (let i = 0; i < 400; i++) {
      const len = i % 4 === 0 ? next() % 70_000 : next() % 600;
      const off = next() % (data.length - len);
      expect(Buffer.from(src.read(off, len)).equals(data.subarray(off, off + len))).toBe(true);
    }
    // a scan going forward in short reads (a listing's headers), served by the block cache
    for (let off = 1_000; off < 200_000; off += 1_234) {
      expect(Buffer.from(src.read(off, 110)).equals(data.subarray(off, off + 110))).toBe(true);
    }
    const into = new Uint8Array(40_000);
    src.readInto(123_456, into);
    expect(Buffer.from(into).equals(data.subarray(123_456, 163_456))).toBe(true);
    expect(() => src.read(data.length - 10, 11)).toThrow(expect.objectContaining({ code: 'E_TRUNCATED' }));
    temp.close();
    expect(spillDescriptors()).toBe(0);
    expect(() => src.read(0, 1)).toThrow(/closed/);
  });

  it('goes to the file from the first byte when the expected size is over the allowance', () => {
    const temp = new TempFiles();
    const sink = new DecodedSink('hinted', 10, temp, 1000);
    sink.write(new Uint8Array([1, 2, 3]));
    expect(spillDescriptors()).toBe(1);
    const out = sink.finish();
    expect(out).toBeInstanceOf(SpillFile);
    expect([...(out as SpillFile).read(0, 3)]).toEqual([1, 2, 3]);
    temp.close();
    expect(spillDescriptors()).toBe(0);
  });

  it('storeDecoded leaves small data as it is and moves large data out', () => {
    const small = new Uint8Array(10);
    expect(storeDecoded('s', small, 10, undefined)).toBe(small);
    const temp = new TempFiles();
    const large = randomBytes(5000, 3);
    const stored = storeDecoded('l', large, 100, temp);
    expect(stored).toBeInstanceOf(SpillFile);
    expect(Buffer.from((stored as SpillFile).read(0, 5000)).equals(large)).toBe(true);
    temp.close();
  });

  it('names the folder when no temporary file can be made there', () => {
    process.env.TMPDIR = `${dir}/missing`;
    expect(() => new DecodedSink('x', 0, undefined).write(new Uint8Array(1))).toThrow(
      expect.objectContaining({ code: 'E_IO', message: expect.stringMatching(/missing.*TMPDIR/) }),
    );
  });
});
