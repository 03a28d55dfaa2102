import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { openZstd, zstdFormat } from '../../src/formats/zstd/index.js';
import { hasTool, scratch } from '../helpers/tools.js';
import { TempFiles } from '../../src/io/spill.js';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const { dir, cleanup } = scratch('reprodiff-zstd-');
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
let sample: Buffer;
beforeAll(() => {
  sample = Buffer.concat([readFileSync('/usr/share/common-licenses/GPL-3'), Buffer.from('x'.repeat(100_000))]);
  writeFileSync(join(dir, 's'), sample);
});
afterAll(() => cleanup());
const bytes = (f: string): Uint8Array => new Uint8Array(readFileSync(join(dir, f)));

describe('zstd container', () => {
  it.skipIf(!hasTool('zstd'))('decodes frames past the memory allowance into a temporary file as they come, as zstd -dc does', () => {
    // from a pipe, so the frame declares no content size and is decoded block by block; then a second frame
    sh('for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do cat s; done | zstd -q -c > big.zst && zstd -q -c s >> big.zst');
    const expected = execFileSync('zstd', ['-dc', join(dir, 'big.zst')], { maxBuffer: 64 << 20 });
    const temp = new TempFiles();
    try {
      const c = openZstd(new BufferSource('big.zst', bytes('big.zst')), { limits: { ...DEFAULT_LIMITS, memoryDecodedBytes: 1 << 20 }, temp });
      const src = c.entries[0]!.contentSource!;
      expect(src.size).toBe(expected.length);
      expect(src.size).toBeGreaterThan(4_000_000);
      for (let at = 0; at < src.size; at += 1 << 20) {
        const n = Math.min(1 << 20, src.size - at);
        expect(Buffer.from(src.read(at, n)).equals(expected.subarray(at, at + n))).toBe(true);
      }
      expect(c.notes).toEqual(['2 zstd frames']);
    } finally {
      temp.close();
    }
  });
  it.skipIf(!hasTool('zstd'))('stops frames streamed into the sink at maxDecodedBytes', () => {
    sh('head -c 8M /dev/zero | zstd -q -c > zeros.zst');
    expect(() => openZstd(new BufferSource('zeros.zst', bytes('zeros.zst')), { limits: { ...DEFAULT_LIMITS, maxDecodedBytes: 1 << 20 } })).toThrow(
      expect.objectContaining({ code: 'E_LIMIT' }),
    );
  });
  it.skipIf(!hasTool('zstd'))('reads the frame header and checksum zstd -lv reports', () => {
    sh('zstd -q --check -c s > s.zst');
    const src = new BufferSource('s.zst', bytes('s.zst'));
    expect(zstdFormat.detect(src)).toBeGreaterThan(0);
    const c = openZstd(src, ctx);
    const lv = sh('zstd -lv s.zst 2>&1');
    const check = /Check: XXH64 ([0-9a-f]+)/.exec(lv)![1]!;
    const stored = c.fields.find((f) => f.name === 'zstd.frame.content_checksum')!;
    // zstd prints the stored 32-bit value as a little-endian number
    expect(Buffer.from(stored.value as string, 'hex').readUInt32LE(0).toString(16).padStart(8, '0')).toBe(check.padStart(8, '0'));
    expect(stored.covers).toEqual([{ stream: 's.zst#zstd', offset: 0, length: sample.length }]);
    expect(c.fields.find((f) => f.name === 'zstd.frame.content_size')?.value).toBe(sample.length);
    expect(c.fields.find((f) => f.name === 'zstd.frame.checksum_flag')?.value).toBe(true);
    expect(Buffer.from(c.entries[0]!.contentSource!.read(0, sample.length)).equals(sample)).toBe(true);
  });
  it.skipIf(!hasTool('zstd'))('reads several frames, a skippable frame and zero padding', () => {
    sh('zstd -q --no-check -c s > a.zst && head -c 1000 s | zstd -q -c > b.zst');
    const skip = Buffer.alloc(8 + 5);
    skip.writeUInt32LE(0x184d2a53, 0);
    skip.writeUInt32LE(5, 4);
    skip.write('hello', 8);
    const all = Buffer.concat([skip, readFileSync(join(dir, 'a.zst')), readFileSync(join(dir, 'b.zst')), Buffer.alloc(16)]);
    const c = openZstd(new BufferSource('m.zst', new Uint8Array(all)), ctx);
    expect(c.fields.find((f) => f.name === 'zstd.skippable[0].magic')?.value).toBe('184d2a53');
    expect(c.fields.find((f) => f.name === 'zstd.frame.checksum_flag')?.value).toBe(false);
    expect(c.fields.find((f) => f.name === 'zstd.frame[1].checksum_flag')?.value).toBe(true);
    expect(c.entries[0]!.size).toBe(sample.length + 1000);
    expect(c.regions.some((r) => r.role === 'padding')).toBe(true);
  });
  it.skipIf(!hasTool('zstd'))('stops a zstd bomb at maxDecodedBytes', () => {
    sh('head -c 200M /dev/zero | zstd -q -c > bomb.zst');
    expect(() => openZstd(new BufferSource('bomb.zst', bytes('bomb.zst')), { limits: { ...DEFAULT_LIMITS, maxDecodedBytes: 4 << 20 } })).toThrow(
      expect.objectContaining({ code: 'E_LIMIT' }),
    );
  });
  it.skipIf(!hasTool('zstd'))('a copy padded to another length, listed over what decoding the first gave, is the container decoding it gives', () => {
    // two frames (the first declares its content size, the second from a pipe does not), then copies with 3000
    // zero bytes after them (as a PE section aligns a stream) and with 3 bytes that are not zero
    sh('zstd -q -c s > two.zst && cat s | zstd -q -c >> two.zst');
    const two = bytes('two.zst');
    let kept: Parameters<NonNullable<Parameters<typeof openZstd>[3]>>[0] | undefined;
    openZstd(new BufferSource('two.zst', two), ctx, undefined, (d) => (kept = d));
    expect(kept!.members.frames.length).toBe(2);
    for (const tail of [new Uint8Array(3000), new Uint8Array([0, 0, 7])]) {
      const copy = new Uint8Array(two.length + tail.length);
      copy.set(two);
      copy.set(tail, two.length);
      const fresh = openZstd(new BufferSource('copy.zst', copy), ctx);
      const listed = openZstd(new BufferSource('copy.zst', copy), ctx, kept);
      const shape = (c: typeof fresh): unknown => ({ fields: c.fields, regions: c.regions, notes: c.notes, size: c.entries[0]!.size });
      expect(shape(listed)).toEqual(shape(fresh));
      expect(fresh.regions.some((r) => r.role === 'padding')).toBe(tail[2] === 0);
      const src = listed.entries[0]!.contentSource!;
      expect(Buffer.from(src.read(0, src.size)).equals(Buffer.concat([sample, sample]))).toBe(true);
    }
  });

  it('rejects a frame whose blocks run past the end', () => {
    const b = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x05, 0xf0, 0xff, 0x0f]);
    expect(() => openZstd(new BufferSource('t.zst', b), ctx)).toThrow(/runs past|truncated/);
  });
});
