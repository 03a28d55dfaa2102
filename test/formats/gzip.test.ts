import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { gzipFormat, openGzip } from '../../src/formats/gzip/index.js';
import { hasTool, scratch } from '../helpers/tools.js';
import { TempFiles } from '../../src/io/spill.js';
import { containerFields } from '../../src/model.js';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const { dir, cleanup } = scratch('reprodiff-gzip-');
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { cwd: dir, encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
let sample: Buffer;
beforeAll(() => {
  sample = readFileSync('/usr/share/common-licenses/GPL-3');
  writeFileSync(join(dir, 'initrd.img'), sample);
});
afterAll(() => cleanup());
const open = (f: string) => openGzip(new BufferSource(f, new Uint8Array(readFileSync(join(dir, f)))), ctx);
const all = (c: ReturnType<typeof open>) => [...containerFields(c)];
const v = (c: ReturnType<typeof open>, n: string): unknown => all(c).find((f) => f.name === n)?.value;

describe('gzip container', () => {
  it.skipIf(!hasTool('gzip'))('reads the stored mtime and name, and the CRC gzip -lv reports', () => {
    sh("touch -d '2021-03-04 05:06:07Z' initrd.img && gzip -k -f initrd.img");
    const src = new BufferSource('initrd.img.gz', new Uint8Array(readFileSync(join(dir, 'initrd.img.gz'))));
    expect(gzipFormat.detect(src)).toBeGreaterThan(0);
    const c = openGzip(src, ctx);
    expect(v(c, 'gzip.header.mtime')).toBe('2021-03-04T05:06:07Z');
    expect(v(c, 'gzip.header.fname')).toBe('initrd.img');
    const mt = c.fields.find((f) => f.name === 'gzip.header.mtime')!;
    expect(mt.hint).toMatch(/gzip -n/);
    expect(mt.spans).toEqual([{ offset: 4, length: 4 }]);
    const crc = /^\S+\s+([0-9a-f]{8})/m.exec(sh('gzip -lv initrd.img.gz').split('\n')[1]!)![1];
    expect(v(c, 'gzip.trailer.crc32')).toBe(crc);
    expect(c.fields.find((f) => f.name === 'gzip.trailer.crc32')!.covers).toEqual([{ stream: 'initrd.img.gz#gzip', offset: 0, length: sample.length }]);
    expect(v(c, 'gzip.trailer.isize')).toBe(sample.length);
    expect(c.notes).toEqual([]);
  });
  it.skipIf(!hasTool('gzip'))('gzip -n stores neither', () => {
    sh('gzip -n -c initrd.img > n.gz');
    const c = open('n.gz');
    expect(v(c, 'gzip.header.mtime')).toBeNull();
    expect(v(c, 'gzip.header.fname')).toBeUndefined();
  });
  it.skipIf(!hasTool('gzip'))('reads concatenated members and trailing zero padding', () => {
    sh('gzip -n -c initrd.img > m.gz && head -c 100 initrd.img | gzip -c >> m.gz && head -c 512 /dev/zero >> m.gz');
    const c = open('m.gz');
    expect(c.entries[0]!.size).toBe(sample.length + 100);
    expect(v(c, 'gzip.member[1].trailer.isize')).toBe(100);
    expect(all(c).find((f) => f.name === 'gzip.member[1].trailer.crc32')!.covers).toEqual([{ stream: 'm.gz#gzip', offset: sample.length, length: 100 }]);
    const pad = c.regions.find((r) => r.role === 'padding')!;
    expect(pad.spans[0]!.length).toBe(512);
  });
  it.skipIf(!hasTool('gzip'))('stops a gzip bomb at maxDecodedBytes', () => {
    sh('head -c 64M /dev/zero | gzip -c > bomb.gz');
    expect(() => openGzip(new BufferSource('bomb.gz', new Uint8Array(readFileSync(join(dir, 'bomb.gz')))), { limits: { ...DEFAULT_LIMITS, maxDecodedBytes: 1 << 20 } })).toThrow(
      expect.objectContaining({ code: 'E_LIMIT' }),
    );
  });
  it.skipIf(!hasTool('gzip'))('a trailer whose ISIZE lies changes nothing but the note', () => {
    sh('gzip -n -c initrd.img > lie.gz');
    const honest = open('lie.gz');
    const bytes = new Uint8Array(readFileSync(join(dir, 'lie.gz')));
    for (const lie of [0, 1, 1000, sample.length - 1, sample.length + 1, 0xffffffff]) {
      const b = bytes.slice();
      new DataView(b.buffer).setUint32(b.length - 4, lie, true);
      const c = openGzip(new BufferSource('lie.gz', b), ctx);
      const src = c.entries[0]!.contentSource!;
      expect(Buffer.from(src.read(0, src.size)).equals(sample)).toBe(true);
      expect(c.notes).toEqual([`gzip member 0: ISIZE ${lie} does not match the data (${sample.length})`]);
    }
    expect(honest.notes).toEqual([]);
  });
  it.skipIf(!hasTool('gzip'))('inflates a stream past the memory allowance into a temporary file, as gzip -dc does', () => {
    // about 6 MB of text in two members, with 1 MiB allowed in memory: most of it goes to the file
    sh('for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do cat initrd.img; done > big.img && for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do cat big.img; done | head -c 6000000 > big.img.2 && mv big.img.2 big.img');
    sh('head -c 4000000 big.img | gzip -n -c > big.gz && tail -c +4000001 big.img | gzip -1 -c >> big.gz');
    const expected = execFileSync('gzip', ['-dc', join(dir, 'big.gz')], { maxBuffer: 64 << 20 });
    const temp = new TempFiles();
    try {
      const c = openGzip(new BufferSource('big.gz', new Uint8Array(readFileSync(join(dir, 'big.gz')))), { limits: { ...DEFAULT_LIMITS, memoryDecodedBytes: 1 << 20 }, temp });
      expect(c.notes).toEqual(['2 gzip members']);
      const src = c.entries[0]!.contentSource!;
      expect(src.size).toBe(expected.length);
      for (let at = 0; at < src.size; at += 1 << 20) {
        const n = Math.min(1 << 20, src.size - at);
        expect(Buffer.from(src.read(at, n)).equals(expected.subarray(at, at + n))).toBe(true);
      }
      expect(v(c, 'gzip.member[1].trailer.isize')).toBe(2_000_000);
      expect(all(c).find((f) => f.name === 'gzip.member[1].trailer.crc32')!.covers).toEqual([{ stream: 'big.gz#gzip', offset: 4_000_000, length: 2_000_000 }]);
    } finally {
      temp.close();
    }
  });
  it.skipIf(!hasTool('gzip'))('names a truncated trailer and a truncated deflate stream', () => {
    sh('gzip -n -c initrd.img > cut.gz');
    const whole = new Uint8Array(readFileSync(join(dir, 'cut.gz')));
    // the deflate data ends exactly where the input does: only the trailer is missing
    expect(() => openGzip(new BufferSource('cut.gz', whole.subarray(0, whole.length - 8)), ctx)).toThrow(/gzip trailer is truncated/);
    expect(() => openGzip(new BufferSource('cut.gz', whole.subarray(0, whole.length - 3)), ctx)).toThrow(/gzip trailer is truncated/);
    expect(() => openGzip(new BufferSource('cut.gz', whole.subarray(0, whole.length >> 1)), ctx)).toThrow(
      expect.objectContaining({ code: 'E_FORMAT', message: expect.stringMatching(/corrupt deflate data: unexpected end of file/) }),
    );
  });
  it('rejects a truncated member', () => {
    const b = new Uint8Array([0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69]);
    expect(() => openGzip(new BufferSource('t.gz', b), ctx)).toThrow(/not terminated/);
  });
});
