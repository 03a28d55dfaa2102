import { linkSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReprodiffError } from '../../src/errors.js';
import { BufferSource } from '../../src/io/source.js';
import { FileSource } from '../../src/io/file.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container, Entry } from '../../src/model.js';
import { tarFormat } from '../../src/formats/tar/index.js';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { mutations } from '../helpers/mutate.js';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const utc = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };

async function openFile(path: string): Promise<Container> {
  const src = new FileSource(path);
  expect(tarFormat.detect(src)).toBeGreaterThan(0);
  return tarFormat.open(src, ctx);
}

function modeString(e: Entry): string {
  const t = { file: '-', dir: 'd', symlink: 'l', chardev: 'c', blockdev: 'b', fifo: 'p', socket: 's', other: 'h' }[e.type];
  const m = e.meta.mode ?? 0;
  const rwx = (v: number, s: boolean, sc: string): string =>
    (v & 4 ? 'r' : '-') + (v & 2 ? 'w' : '-') + (s ? (v & 1 ? sc : sc.toUpperCase()) : v & 1 ? 'x' : '-');
  return t + rwx(m >> 6, !!(m & 0o4000), 's') + rwx(m >> 3, !!(m & 0o2000), 's') + rwx(m, !!(m & 0o1000), 't');
}

/** `tar --full-time --numeric-owner -tvf` lines, as our listing would print them. */
function ourListing(c: Container): string[] {
  return c.entries.map((e) => {
    const date = (e.meta.mtime ?? '').replace('T', ' ').replace('Z', '');
    const name = e.fields.find((f) => f.name === 'tar.pax.GNU.sparse.name')?.value ?? e.fields.find((f) => f.name === 'tar.pax.path')?.value ?? e.fields.find((f) => f.name === 'tar.gnu.longname')?.value ?? null;
    const shown = (typeof name === 'string' ? name : rawName(e)).replace(/\/$/, '') + (e.type === 'dir' ? '/' : '');
    // tar -tv shows the expanded size of sparse members, and major,minor for devices
    const real = e.fields.find((f) => f.name === 'tar.gnu.realsize' || f.name === 'tar.pax.GNU.sparse.realsize' || f.name === 'tar.pax.GNU.sparse.size')?.value;
    let size: string | number = e.type === 'file' ? (real ?? e.size) as number : 0;
    if (e.type === 'chardev' || e.type === 'blockdev') size = `${e.fields.find((f) => f.name === 'tar.devmajor')?.value},${e.fields.find((f) => f.name === 'tar.devminor')?.value}`;
    let tail = '';
    if (e.type === 'symlink') tail = ` -> ${e.meta.target}`;
    if (e.type === 'other') tail = ` link to ${e.meta.target}`;
    return `${modeString(e)} ${e.meta.uid}/${e.meta.gid} ${size} ${date} ${shown}${tail}`;
  });
}

function rawName(e: Entry): string {
  const get = (n: string): string => String(e.fields.find((f) => f.name === n)?.value ?? '');
  const prefix = get('tar.prefix');
  return prefix ? `${prefix}/${get('tar.name')}` : get('tar.name');
}

function toolListing(path: string): string[] {
  return run('tar', ['--full-time', '--numeric-owner', '-tvf', path], { env: utc })
    .trim()
    .split('\n')
    .map((l) => {
      const m = /^(\S+) (\d+)\/(\d+) +(\d+|\d+,\d+) (\S+ \S+) (.*)$/.exec(l);
      if (!m) throw new Error(`unexpected tar line ${l}`);
      return `${m[1]} ${m[2]}/${m[3]} ${m[4]} ${m[5]} ${(m[6] as string).trimStart()}`;
    });
}

describe('tar written by GNU tar', () => {
  let dir = '';
  let cleanup = (): void => {};
  beforeAll(() => {
    ({ dir, cleanup } = scratch());
    const t = join(dir, 't');
    mkdirSync(join(t, 'sub'), { recursive: true });
    writeFileSync(join(t, 'a.txt'), 'hello\n');
    writeFileSync(join(t, 'sub', 'big.bin'), Buffer.alloc(70_000, 7));
    writeFileSync(join(t, 'sub', 'exec.sh'), '#!/bin/sh\n');
    run('chmod', ['4755', join(t, 'sub', 'exec.sh')]);
    symlinkSync('a.txt', join(t, 'link'));
    linkSync(join(t, 'a.txt'), join(t, 'hard'));
    if (hasTool('mkfifo')) run('mkfifo', [join(t, 'fifo')]);
    // names over 100 bytes: ustar splits them into prefix/name, gnu uses 'L', pax a path record
    const deep = join(t, 'd'.repeat(60), 'e'.repeat(60));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'f'.repeat(90)), 'long\n');
    symlinkSync('x'.repeat(120), join(t, 'longlink'));
    utimesSync(join(t, 'a.txt'), 1_700_000_000.25, 1_700_000_000.5); // atime, mtime
    // a sparse file (archived with -S) and a character device when we may create one
    writeFileSync(join(t, 'sparse.img'), '');
    run('truncate', ['-s', '1M', join(t, 'sparse.img')]);
    run('dd', ['of=' + join(t, 'sparse.img'), 'bs=1', 'seek=500000', 'conv=notrunc', 'status=none'], { input: 'data' });
    try {
      run('mknod', [join(t, 'null'), 'c', '1', '3']);
    } catch {
      // not permitted here: the device case is skipped
    }
  });
  afterAll(() => cleanup());

  for (const format of ['gnu', 'ustar', 'pax', 'v7'] as const) {
    it.skipIf(!hasTool('tar'))(`lists a --format=${format} archive as tar -tv does`, async () => {
      const path = join(dir, `${format}.tar`);
      const args = ['--format=' + format, ...(format === 'gnu' || format === 'pax' ? ['-S'] : []), '-cf', path, '-C', dir];
      // v7 and ustar cannot hold the long names: archive only what fits
      const members = format === 'gnu' || format === 'pax' ? ['t'] : ['t/a.txt', 't/sub', 't/link', 't/hard'];
      run('tar', [...args, ...members], { env: utc });
      const c = await openFile(path);
      expect(ourListing(c)).toEqual(toolListing(path));
      // a.txt and hard are one inode: whichever comes first holds the data
      const a = c.entries.find((e) => (e.path === '/t/a.txt' || e.path === '/t/hard') && e.type === 'file');
      expect(a?.extents).toEqual([{ offset: expect.any(Number), length: 6 }]);
      const src = new FileSource(path);
      const ext = a?.extents[0];
      expect(Buffer.from(src.read(ext?.offset ?? 0, 6)).toString()).toBe('hello\n');
      const mt = a?.fields.find((f) => f.name === 'tar.mtime');
      expect(mt?.kind).toBe('timestamp');
      expect(mt?.value).toBe('2023-11-14T22:13:20Z');
      expect(mt?.hint).toContain('--mtime');
      expect(c.entries.map((e) => e.order)).toEqual(c.entries.map((_, i) => i));
      // every byte of the archive is claimed by a header, member data, padding or the end marker
      let claimed = 0;
      for (const r of c.regions) for (const s of r.spans) claimed += s.length;
      for (const e of c.entries) for (const x of e.extents) claimed += x.length;
      expect(claimed).toBe(src.size);
      if (format === 'pax') {
        expect(a?.fields.find((f) => f.name === 'tar.pax.mtime')?.value).toBe('2023-11-14T22:13:20.5Z');
        expect(a?.fields.find((f) => f.name === 'tar.pax.atime')?.kind).toBe('timestamp');
        expect(a?.fields.find((f) => f.name === 'tar.pax.atime')?.hint).toContain('delete=atime');
      }
      if (format === 'gnu') {
        expect(c.entries.some((e) => e.fields.some((f) => f.name === 'tar.gnu.longlink'))).toBe(true);
        const sp = c.entries.find((e) => e.path === '/t/sparse.img');
        expect(sp?.fields.find((f) => f.name === 'tar.typeflag')?.value).toBe('S');
        expect(sp?.fields.find((f) => f.name === 'tar.gnu.realsize')?.value).toBe(1024 * 1024);
      }
      if (format === 'pax') {
        const sp = c.entries.find((e) => e.path === '/t/sparse.img');
        expect(sp?.fields.find((f) => f.name === 'tar.pax.GNU.sparse.realsize')?.value).toBe(1024 * 1024);
        // the header name carries tar's process id
        expect(sp?.fields.find((f) => f.name === 'tar.name')?.kind).toBe('random-id');
      }
      expect(c.producer).toBe(format === 'gnu' || format === 'pax' ? 'GNU tar' : undefined);
      if (format === 'ustar') expect(c.entries.every((e) => e.fields.some((f) => f.name === 'tar.magic' && f.value === 'ustar\\0'))).toBe(true);
    });
  }

  it.skipIf(!hasTool('tar'))('survives byte mutations of gnu and pax archives', async () => {
    for (const format of ['gnu', 'pax']) {
      const path = join(dir, `m-${format}.tar`);
      run('tar', [`--format=${format}`, '-cf', path, '-C', dir, 't/a.txt', 't/link', 't/sub/exec.sh', 't/' + 'd'.repeat(60)], { env: utc });
      const outcomes = await mutations(new Uint8Array(readFileSync(path)), 300, (src) => tarFormat.open(src, ctx));
      expect(outcomes.ok).toBeGreaterThan(0);
      expect(outcomes.E_FORMAT ?? 0).toBeGreaterThan(0);
    }
  });

  it.skipIf(!hasTool('tar'))('names the pid in an extended header name as a random id', async () => {
    const path = join(dir, 'pid.tar');
    run('tar', ['--format=pax', '--pax-option=exthdr.name=%d/PaxHeaders.%p/%f', '-cf', path, '-C', dir, 't/a.txt'], { env: utc });
    const c = await openFile(path);
    const f = c.entries[0]?.fields.find((x) => x.name === 'tar.pax_header.name');
    expect(f?.kind).toBe('random-id');
    expect(String(f?.value)).toMatch(/PaxHeaders\.\d+/);
  });

  it.skipIf(!hasTool('tar'))('shows the mtime and ownership of two builds made with different options', async () => {
    const a = join(dir, 'a.tar');
    const b = join(dir, 'b.tar');
    run('tar', ['--format=gnu', '-cf', a, '-C', dir, 't/a.txt'], { env: utc });
    run('tar', ['--format=gnu', '--mtime=@1600000000', '--owner=0', '--group=0', '--numeric-owner', '-cf', b, '-C', dir, 't/a.txt'], { env: utc });
    const ea = (await openFile(a)).entries[0];
    const eb = (await openFile(b)).entries[0];
    expect(ea?.fields.find((f) => f.name === 'tar.mtime')?.value).toBe('2023-11-14T22:13:20Z');
    expect(eb?.fields.find((f) => f.name === 'tar.mtime')?.value).toBe('2020-09-13T12:26:40Z');
    expect(eb?.fields.find((f) => f.name === 'tar.uname')?.value).toBe('');
    expect(eb?.fields.find((f) => f.name === 'tar.uid')?.value).toBe(0);
  });
});

/** A ustar header built in code, checksum filled in. */
function header(o: { name: string; size?: number; type?: string; sizeField?: Uint8Array; mode?: number }): Uint8Array {
  const h = new Uint8Array(512);
  const put = (off: number, s: string): void => {
    for (let i = 0; i < s.length; i++) h[off + i] = s.charCodeAt(i);
  };
  const oct = (off: number, len: number, v: number): void => put(off, v.toString(8).padStart(len - 1, '0') + '\0');
  put(0, o.name);
  oct(100, 8, o.mode ?? 0o644);
  oct(108, 8, 0);
  oct(116, 8, 0);
  if (o.sizeField) h.set(o.sizeField, 124);
  else oct(124, 12, o.size ?? 0);
  oct(136, 12, 1_700_000_000);
  put(156, o.type ?? '0');
  put(257, 'ustar\0');
  put(263, '00');
  put(148, '        ');
  let sum = 0;
  for (const c of h) sum += c;
  put(148, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

function archive(...parts: Uint8Array[]): BufferSource {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(len + 1024);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return new BufferSource('crafted.tar', out);
}

async function failure(src: BufferSource): Promise<ReprodiffError> {
  try {
    await tarFormat.open(src, ctx);
  } catch (e) {
    expect(e).toBeInstanceOf(ReprodiffError);
    return e as ReprodiffError;
  }
  throw new Error('expected the archive to be refused');
}

describe('crafted tar input', () => {
  it('parses a crafted archive and its padding', async () => {
    const data = new Uint8Array(512);
    data.set([104, 105]);
    const c = await tarFormat.open(archive(header({ name: 'x', size: 2 }), data), ctx);
    expect(c.entries.map((e) => [e.path, e.size, e.extents])).toEqual([['/x', 2, [{ offset: 512, length: 2 }]]]);
    expect(c.regions.find((r) => r.name === 'tar member padding')?.spans).toEqual([{ offset: 514, length: 510 }]);
  });

  it('refuses a member whose size says 8 GB', async () => {
    const e = await failure(archive(header({ name: 'huge', size: 8 * 1024 ** 3 - 1 })));
    expect(e.code).toBe('E_TRUNCATED');
    expect(e.offset).toBe(124);
  });

  it('refuses a base-256 size of 8 GB', async () => {
    const f = new Uint8Array(12);
    f[0] = 0x80;
    f[7] = 2; // 2 << 32 = 8 GiB
    const e = await failure(archive(header({ name: 'huge', sizeField: f })));
    expect(e.code).toBe('E_TRUNCATED');
  });

  it('refuses a bad header checksum', async () => {
    const h = header({ name: 'x' });
    h[0] = 0x79;
    const e = await failure(archive(header({ name: 'ok' }), h));
    expect(e.code).toBe('E_FORMAT');
    expect(e.offset).toBe(512 + 148);
  });

  it('refuses a pax record whose length runs past its data', async () => {
    const rec = new TextEncoder().encode('99 path=x\n');
    const data = new Uint8Array(512);
    data.set(rec);
    const e = await failure(archive(header({ name: 'PaxHeaders/x', size: rec.length, type: 'x' }), data, header({ name: 'x' })));
    expect(e.code).toBe('E_FORMAT');
  });

  it('refuses a GNU long name larger than the cap', async () => {
    const e = await failure(archive(header({ name: '././@LongLink', size: 2 * 1024 * 1024, type: 'L' }), new Uint8Array(2 * 1024 * 1024)));
    expect(e.code).toBe('E_LIMIT');
  });

  it('notes a truncated archive without an end marker', async () => {
    const h = header({ name: 'x' });
    const c = await tarFormat.open(new BufferSource('cut.tar', h), ctx);
    expect(c.entries).toHaveLength(1);
    expect(c.notes.join(' ')).toContain('end-of-archive');
  });

  it('detects ustar and rejects random bytes', () => {
    expect(tarFormat.detect(archive(header({ name: 'x' })))).toBeGreaterThan(0);
    const junk = new Uint8Array(1024).map((_, i) => (i * 31) & 0xff);
    expect(tarFormat.detect(new BufferSource('junk', junk))).toBe(0);
    expect(tarFormat.detect(new BufferSource('short', new Uint8Array(100)))).toBe(0);
  });
});

