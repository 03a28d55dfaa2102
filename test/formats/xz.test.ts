import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReprodiffError } from '../../src/errors.js';
import { BufferSource, DecodedSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { openXz, xzFormat } from '../../src/formats/xz/index.js';
import { hasTool, scratch } from '../helpers/tools.js';
import { TempFiles } from '../../src/io/spill.js';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const { dir, cleanup } = scratch('reprodiff-xz-');
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { cwd: dir, encoding: 'utf8' });
let sample: Buffer;
beforeAll(() => {
  const parts = [readFileSync('/usr/share/common-licenses/GPL-3'), Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) & 0xff))];
  sample = Buffer.concat([...parts, ...parts, ...parts]);
  writeFileSync(join(dir, 's'), sample);
});
afterAll(() => cleanup());
const open = (f: string) => openXz(new BufferSource(f, new Uint8Array(readFileSync(join(dir, f)))), ctx);

describe('xz container', () => {
  it.skipIf(!hasTool('xz'))('hands each block to a temporary file once checked, past the memory allowance, as xz -dc decodes it', () => {
    // four blocks with a BCJ filter and SHA-256 checks, and 256 KiB allowed in memory
    sh('xz -c --check=sha256 --x86 --lzma2=preset=1 --block-size=300KiB s > blocks.xz');
    const expected = execFileSync('xz', ['-dc', join(dir, 'blocks.xz')], { maxBuffer: 64 << 20 });
    const temp = new TempFiles();
    try {
      const c = openXz(new BufferSource('blocks.xz', new Uint8Array(readFileSync(join(dir, 'blocks.xz')))), { limits: { ...DEFAULT_LIMITS, memoryDecodedBytes: 256 << 10 }, temp });
      const src = c.entries[0]!.contentSource!;
      expect(Buffer.from(src.read(0, src.size)).equals(expected)).toBe(true);
      const checks = c.fields.filter((f) => /^xz\.block\[\d+\]\.check$/.test(f.name));
      expect(checks.length).toBe(Math.ceil(sample.length / (300 << 10)));
      // each block's check covers its own part of the decoded stream
      expect(checks.map((f) => f.covers![0]!.offset)).toEqual(checks.map((_, i) => i * (300 << 10)));
    } finally {
      temp.close();
    }
  });
  it.skipIf(!hasTool('xz'))('lists the blocks and checks xz --robot -lvv lists', () => {
    sh('xz -c --block-size=400KiB s > s.xz');
    const src = new BufferSource('s.xz', new Uint8Array(readFileSync(join(dir, 's.xz'))));
    expect(xzFormat.detect(src)).toBeGreaterThan(0);
    const c = openXz(src, ctx);
    const blocks = sh('xz --robot -lvv s.xz').split('\n').filter((l) => l.startsWith('block\t')).map((l) => l.split('\t'));
    expect(blocks.length).toBeGreaterThan(1);
    blocks.forEach((b, i) => {
      // the field holds the stored bytes; xz prints the check as a little-endian number
      const stored = c.fields.find((f) => f.name === `xz.block[${i}].check`)?.value as string;
      expect(Buffer.from(stored, 'hex').reverse().toString('hex')).toBe(b[10]);
      expect(c.fields.find((f) => f.name === `xz.block[${i}].header_size`)?.value).toBe(Number(b[11]));
    });
    expect(c.fields.find((f) => f.name === 'xz.stream.check_type')?.value).toBe('crc64');
    const content = c.entries[0]!;
    expect(content.path).toBe('/content');
    expect(content.contentSource).toBeInstanceOf(DecodedSource);
    expect((content.contentSource as DecodedSource).origin).toEqual([{ offset: 0, length: src.size }]);
    expect(content.contentSource!.stream).toBe('s.xz#xz');
    expect(Buffer.from(content.contentSource!.read(0, content.size)).equals(sample)).toBe(true);
    // each check covers its block's decoded bytes
    const chk = c.fields.find((f) => f.name === 'xz.block[1].check')!;
    expect(chk.covers?.[0]).toMatchObject({ stream: 's.xz#xz', offset: Number(blocks[1]![5]), length: Number(blocks[1]![7]) });
  });
  it.skipIf(!hasTool('xz'))('reads two streams with padding between and a crc32 check', () => {
    sh('xz -c --check=crc32 s > a.xz && head -c 5000 s | xz -c > b.xz && cat a.xz > s2.xz && head -c 4 /dev/zero >> s2.xz && cat b.xz >> s2.xz');
    const c = open('s2.xz');
    expect(c.fields.find((f) => f.name === 'xz.stream[1].check_type')?.value).toBe('crc64');
    expect(c.fields.find((f) => f.name === 'xz.stream.check_type')?.value).toBe('crc32');
    expect(c.regions.some((r) => r.role === 'padding' && r.name.includes('stream 0'))).toBe(true);
    expect(c.entries[0]!.size).toBe(sample.length + 5000);
  });
  it.skipIf(!hasTool('xz'))('stops at maxDecodedBytes', () => {
    sh('head -c 32M /dev/zero | xz -c > bomb.xz');
    expect(() => openXz(new BufferSource('bomb.xz', new Uint8Array(readFileSync(join(dir, 'bomb.xz')))), { limits: { ...DEFAULT_LIMITS, maxDecodedBytes: 1 << 20 } })).toThrow(
      expect.objectContaining({ code: 'E_LIMIT' }),
    );
  });
  it.skipIf(!hasTool('xz'))('a copy padded to another length, listed over what decoding the first gave, is the container decoding it gives', () => {
    // two streams, then a copy of the file with 3000 zero bytes after it (as a PE section aligns a stream) and
    // one with 6 (4 of stream padding and 2 bytes after the stream)
    sh('xz -c --check=crc32 s > one.xz && cat one.xz one.xz > two.xz');
    const two = new Uint8Array(readFileSync(join(dir, 'two.xz')));
    let kept: Parameters<NonNullable<Parameters<typeof openXz>[3]>>[0] | undefined;
    openXz(new BufferSource('two.xz', two), ctx, undefined, (d) => (kept = d));
    expect(kept!.members.streams.length).toBe(2);
    for (const pad of [3000, 6]) {
      const copy = new Uint8Array(two.length + pad);
      copy.set(two);
      const fresh = openXz(new BufferSource('copy.xz', copy), ctx);
      const listed = openXz(new BufferSource('copy.xz', copy), ctx, kept);
      const shape = (c: typeof fresh): unknown => ({ fields: c.fields, regions: c.regions, notes: c.notes, size: c.entries[0]!.size });
      expect(shape(listed)).toEqual(shape(fresh));
      expect(fresh.notes.some((n) => n.includes('after the xz stream'))).toBe(pad === 6);
      const src = listed.entries[0]!.contentSource!;
      expect(Buffer.from(src.read(0, src.size)).equals(Buffer.concat([sample, sample]))).toBe(true);
    }
  });

  it('errors name the file on a broken header', () => {
    const b = new Uint8Array(64);
    b.set([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 0, 1, 0, 0, 0, 0]);
    try {
      openXz(new BufferSource('broken.xz', b), ctx);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ReprodiffError);
      expect((e as ReprodiffError).file).toBe('broken.xz');
    }
  });
});
