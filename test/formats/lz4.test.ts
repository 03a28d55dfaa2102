import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { lz4Format, openLz4 } from '../../src/formats/lz4/index.js';
import { hasTool, scratch } from '../helpers/tools.js';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const { dir, cleanup } = scratch('reprodiff-lz4-');
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
let sample: Buffer;
beforeAll(() => {
  sample = Buffer.concat([readFileSync('/usr/share/common-licenses/GPL-3'), Buffer.alloc(9 << 20, 7)]);
  writeFileSync(join(dir, 's'), sample);
});
afterAll(() => cleanup());

describe('lz4 container', () => {
  it.skipIf(!hasTool('lz4'))('reads the legacy frame lz4 -l writes (as initramfs uses)', () => {
    sh('lz4 -q -l -f s s.lz4');
    const src = new BufferSource('s.lz4', new Uint8Array(readFileSync(join(dir, 's.lz4'))));
    expect(lz4Format.detect(src)).toBeGreaterThan(0);
    const c = openLz4(src, ctx);
    expect(c.fields.find((f) => f.name === 'lz4.frame.kind')?.value).toBe('legacy');
    // 8 MiB legacy blocks: two of them
    expect(c.fields.find((f) => f.name === 'lz4.frame.blocks')?.value).toBe(2);
    expect(Buffer.from(c.entries[0]!.contentSource!.read(0, sample.length)).equals(sample)).toBe(true);
  });
  it.skipIf(!hasTool('lz4'))('reads the frame format with a content checksum', () => {
    sh('lz4 -q --content-size -f s f.lz4');
    const c = openLz4(new BufferSource('f.lz4', new Uint8Array(readFileSync(join(dir, 'f.lz4')))), ctx);
    expect(c.fields.find((f) => f.name === 'lz4.frame.kind')?.value).toBe('frame');
    expect(c.fields.find((f) => f.name === 'lz4.frame.content_size')?.value).toBe(sample.length);
    expect(c.fields.find((f) => f.name === 'lz4.frame.content_checksum')?.covers).toEqual([{ stream: 'f.lz4#lz4', offset: 0, length: sample.length }]);
    expect(c.entries[0]!.size).toBe(sample.length);
  });
  it('rejects a legacy block claiming more bytes than remain', () => {
    const b = new Uint8Array([0x02, 0x21, 0x4c, 0x18, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3]);
    expect(() => openLz4(new BufferSource('t.lz4', b), ctx)).toThrow(/runs past/);
  });
});
