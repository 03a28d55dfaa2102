import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReprodiffError } from '../../src/errors.js';
import { BufferSource, type ByteSource } from '../../src/io/source.js';
import { TempFiles } from '../../src/io/spill.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container } from '../../src/model.js';
import { bzip2Format, openBzip2 } from '../../src/formats/bzip2/index.js';
import { openViews } from '../../src/walk/open.js';
import { isTransparent } from '../../src/walk/rules.js';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { execFileSync } from 'node:child_process';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const { dir, cleanup } = scratch('reprodiff-bzip2-');
afterAll(() => cleanup());
const sh = (cmd: string): Buffer => execFileSync('sh', ['-c', cmd], { cwd: dir, maxBuffer: 1 << 28 });

function source(file: string): BufferSource {
  return new BufferSource(file, new Uint8Array(readFileSync(join(dir, file))));
}

function decoded(c: Container): Buffer {
  const e = c.entries[0]!;
  expect(e.path).toBe('/content');
  const s = e.contentSource as ByteSource;
  return Buffer.from(s.read(0, s.size));
}

beforeAll(() => {
  if (!hasTool('tar')) return;
  mkdirSync(join(dir, 'tree/etc'), { recursive: true });
  writeFileSync(join(dir, 'tree/etc/motd'), 'hello\n'.repeat(1000));
  // repetitive text, long runs (the initial run-length coding), and bytes of every value
  const mixed = Buffer.alloc(600_000);
  for (let i = 0; i < mixed.length; i++) mixed[i] = i % 7000 < 3000 ? 0x41 : (i * 2654435761) >>> 24;
  writeFileSync(join(dir, 'tree/mixed.bin'), mixed);
  writeFileSync(join(dir, 'tree/gpl'), readFileSync('/usr/share/common-licenses/GPL-3'));
  sh('tar --sort=name -cf tree.tar -C tree .');
});

describe('bzip2 streams against bzip2 -dc', () => {
  it.skipIf(!hasTool('bzip2') || !hasTool('tar')).each([['-1'], ['-9']])('bzip2 %s of a tar: the same bytes, block CRCs over the decoded blocks, tar inside', async (level) => {
    sh(`bzip2 ${level} -c tree.tar > t${level}.tar.bz2`);
    const src = source(`t${level}.tar.bz2`);
    expect(bzip2Format.detect(src)).toBeGreaterThan(0);
    const c = openBzip2(src, ctx);
    const ref = sh(`bzip2 -dc t${level}.tar.bz2`);
    expect(decoded(c).equals(ref)).toBe(true);
    expect(c.fields.find((f) => f.name === 'bzip2.stream.block_size')?.value).toBe(Number(level.slice(1)) * 100000);
    const crcs = c.fields.filter((f) => /^bzip2\.block\[\d+\]\.crc$/.test(f.name));
    // -1 cuts blocks of 100 kB (after the initial run-length coding): the 700 kB tar makes several
    expect(crcs.length).toBeGreaterThan(level === '-1' ? 2 : 0);
    let next = 0;
    for (const f of crcs) {
      expect(f.kind).toBe('checksum');
      const cov = f.covers![0]!;
      expect(cov.offset).toBe(next);
      next += cov.length;
    }
    expect(next).toBe(ref.length);
    expect(c.fields.find((f) => f.name === 'bzip2.stream.crc')?.covers?.length).toBeGreaterThan(0);
    // the walker opens the decoded tar, and the layer adds no path step
    expect(isTransparent('bzip2', '/content')).toBe(true);
    const { views } = await openViews(c.entries[0]!.contentSource!, ctx);
    expect(views[0]?.format).toBe('tar');
    expect(views[0]!.entries.map((e) => e.path)).toContain('/mixed.bin');
  });

  it.skipIf(!hasTool('bzip2'))('concatenated streams decode as one, each stream with its fields', () => {
    sh('bzip2 -c tree/etc/motd > multi.bz2 && bzip2 -2 -c tree/gpl >> multi.bz2 && printf "" | bzip2 -c >> multi.bz2 && bzip2 -c tree/mixed.bin >> multi.bz2');
    const c = openBzip2(source('multi.bz2'), ctx);
    expect(decoded(c).equals(sh('bzip2 -dc multi.bz2'))).toBe(true);
    expect(c.notes).toContain('4 bzip2 streams');
    expect(c.fields.find((f) => f.name === 'bzip2.stream[1].block_size')?.value).toBe(200000);
    // the empty stream has no block: its combined CRC is 0
    expect(c.fields.find((f) => f.name === 'bzip2.stream[2].crc')?.value).toBe('00000000');
  });

  it.skipIf(!hasTool('bzip2'))('a stream over the in-memory limit goes to a temporary file, block by block', () => {
    sh('bzip2 -9 -c tree.tar > spill.bz2');
    const temp = new TempFiles();
    try {
      const c = openBzip2(source('spill.bz2'), { limits: { ...DEFAULT_LIMITS, memoryDecodedBytes: 64 * 1024 }, temp });
      expect(decoded(c).equals(readFileSync(join(dir, 'tree.tar')))).toBe(true);
    } finally {
      temp.close();
    }
  });
});

describe('hostile bzip2', () => {
  const err = (bytes: Uint8Array, limits = DEFAULT_LIMITS): ReprodiffError => {
    try {
      openBzip2(new BufferSource('evil.bz2', bytes), { limits: { ...limits } });
    } catch (e) {
      return e as ReprodiffError;
    }
    throw new Error('no error');
  };
  it.skipIf(!hasTool('bzip2'))('every truncation, and flipped bytes, give a typed error', () => {
    const good = new Uint8Array(sh('bzip2 -c tree/gpl'));
    for (let n = 4; n < good.length; n += Math.max(1, Math.floor(good.length / 97))) {
      const e = err(good.subarray(0, n));
      expect(e).toBeInstanceOf(ReprodiffError);
      expect(['E_FORMAT', 'E_TRUNCATED']).toContain(e.code);
    }
    for (let at = 10; at < good.length; at += 37) {
      const bad = new Uint8Array(good);
      bad[at] = (bad[at] as number) ^ 0x10;
      let ok = true;
      try {
        openBzip2(new BufferSource('flip.bz2', bad), ctx);
      } catch (e) {
        ok = false;
        expect(e).toBeInstanceOf(ReprodiffError);
      }
      // a flipped bit either breaks the structure or the CRCs; it never decodes silently
      expect(ok).toBe(false);
    }
  });
  it.skipIf(!hasTool('bzip2'))('a bomb stops at the decoded-size limit', () => {
    const bomb = new Uint8Array(sh('head -c 50000000 /dev/zero | bzip2 -9'));
    expect(bomb.length).toBeLessThan(100);
    expect(err(bomb, { ...DEFAULT_LIMITS, maxDecodedBytes: 1024 * 1024 }).code).toBe('E_LIMIT');
  });
  it('a bad block size, and trailing bytes after a stream', () => {
    expect(bzip2Format.detect(new BufferSource('x', new Uint8Array(Buffer.from('BZh0\x31\x41\x59\x26\x53\x59xxxxxxx', 'latin1'))))).toBe(0);
    expect(err(new Uint8Array(Buffer.from('BZh0\x31\x41\x59\x26\x53\x59xxxxxxx', 'latin1'))).code).toBe('E_FORMAT');
    const empty = new Uint8Array(Buffer.from('425a683917724538509000000000', 'hex'));
    const c = openBzip2(new BufferSource('e.bz2', new Uint8Array([...empty, 1, 2, 3])), ctx);
    expect(c.entries[0]!.size).toBe(0);
    expect(c.notes).toContain('3 bytes after the bzip2 stream');
  });
});

void run;
