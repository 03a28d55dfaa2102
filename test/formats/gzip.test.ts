import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { gzipFormat, openGzip } from '../../src/formats/gzip/index.js';
import { hasTool, scratch } from '../helpers/tools.js';

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
const v = (c: ReturnType<typeof open>, n: string): unknown => c.fields.find((f) => f.name === n)?.value;

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
    expect(c.fields.find((f) => f.name === 'gzip.member[1].trailer.isize')?.value).toBe(100);
    expect(c.fields.find((f) => f.name === 'gzip.member[1].trailer.crc32')!.covers).toEqual([{ stream: 'm.gz#gzip', offset: sample.length, length: 100 }]);
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
  it('rejects a truncated member', () => {
    const b = new Uint8Array([0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69]);
    expect(() => openGzip(new BufferSource('t.gz', b), ctx)).toThrow(/not terminated/);
  });
});
