import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReprodiffError } from '../../src/errors.js';
import { FileSource } from '../../src/io/file.js';
import { BufferSource, isDecoded, type ByteSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container, Entry } from '../../src/model.js';
import yauzl from 'yauzl';
import { InflateSource, zipFormat } from '../../src/formats/zip/index.js';
import { SourceReader } from '../../src/formats/zip/reader.js';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { mutations } from '../helpers/mutate.js';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const utc = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };
const canZip = hasTool('zip') && hasTool('zipinfo');

function value(e: Entry, name: string): unknown {
  return e.fields.find((f) => f.name === name)?.value;
}

function modeString(mode: number): string {
  const t = { 0o040000: 'd', 0o120000: 'l', 0o100000: '-' }[mode & 0o170000] ?? '?';
  const rwx = (v: number): string => (v & 4 ? 'r' : '-') + (v & 2 ? 'w' : '-') + (v & 1 ? 'x' : '-');
  return t + rwx(mode >> 6) + rwx(mode >> 3) + rwx(mode);
}

/** `zipinfo -T -l` lines as our fields would print them. */
function ourListing(c: Container): string[] {
  return c.entries.map((e) => {
    // zipinfo shows the extended timestamp when there is one (DOS times have 2-second steps)
    const t = String(value(e, 'zip.cd.ut.mtime') ?? value(e, 'zip.cd.mtime')).replace(/[-:Z]/g, '').replace('T', '.');
    const method = value(e, 'zip.cd.method') === 'stored' ? 'stor' : 'def';
    return `${modeString(Number(value(e, 'zip.cd.unix_mode')))} ${value(e, 'zip.cd.uncompressed_size')} ${value(e, 'zip.cd.compressed_size')} ${method} ${t} ${value(e, 'zip.cd.name')}`;
  });
}

function toolListing(path: string): string[] {
  return run('zipinfo', ['-T', '-l', path], { env: utc })
    .split('\n')
    .filter((l) => /^[-dl?][-rwxsStT]{9} /.test(l))
    .map((l) => {
      const m = /^(\S+) +\S+ +\S+ +(\d+) +\S+ +(\d+) +(\S+) +(\S+) (.*)$/.exec(l);
      if (!m) throw new Error(`unexpected zipinfo line ${l}`);
      const method = m[4] === 'stor' ? 'stor' : (m[4] ?? '').startsWith('def') ? 'def' : m[4];
      return `${m[1]} ${m[2]} ${m[3]} ${method} ${m[5]} ${m[6]}`;
    });
}

/** Per central directory entry from `zipinfo -v`: local header offset, CRC, UT mtime (UTC). */
function toolDetails(path: string): { offset: number; crc: string; ut: string | null }[] {
  const out = run('zipinfo', ['-v', path], { env: utc });
  return out
    .split(/Central directory entry #\d+:/)
    .slice(1)
    .map((block) => ({
      offset: Number(/offset of local header from start of archive: +(\d+)/.exec(block)?.[1]),
      crc: /32-bit CRC value \(hex\): +([0-9a-f]+)/.exec(block)?.[1] ?? '',
      ut: /UT extra field modtime\): +(.*) UTC/.exec(block)?.[1] ?? null,
    }));
}

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function contentOf(src: ByteSource, e: Entry): Uint8Array {
  const s = e.contentSource ?? src;
  const parts = e.extents.map((x) => s.read(x.offset, x.length));
  return Buffer.concat(parts);
}

// zipinfo prints the day of the month without padding (`2026 Dec 2 03:04:05`), the time padded
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function zipinfoDate(iso: string): string {
  const d = new Date(iso);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

describe('zip written by Info-ZIP zip', () => {
  let dir = '';
  let cleanup = (): void => {};
  beforeAll(() => {
    ({ dir, cleanup } = scratch());
    const t = join(dir, 't');
    mkdirSync(join(t, 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(t, 'a.txt'), 'hello\n');
    writeFileSync(join(t, 'sub', 'text.txt'), 'compress me please '.repeat(5000));
    writeFileSync(join(t, 'sub', 'deeper', 'empty'), '');
    writeFileSync(join(t, 'run.sh'), '#!/bin/sh\n');
    run('chmod', ['755', join(t, 'run.sh')]);
    symlinkSync('a.txt', join(t, 'link'));
    utimesSync(join(t, 'a.txt'), 1_700_000_000, 1_700_000_000);
  });
  afterAll(() => cleanup());

  const variants: [string, string[]][] = [
    ['default', ['-r', '-y']],
    ['stored', ['-r', '-y', '-0']],
    ['no extra attributes', ['-r', '-y', '-X']],
    ['best compression', ['-r', '-9']],
  ];
  for (const [label, opts] of variants) {
    it.skipIf(!canZip)(`lists and reads a ${label} archive as zipinfo does`, async () => {
      const path = join(dir, `${label.replace(/ /g, '-')}.zip`);
      run('zip', ['-q', ...opts, path, 't'], { cwd: dir, env: utc });
      const src = new FileSource(path);
      expect(zipFormat.detect(src)).toBeGreaterThan(0);
      const c = await zipFormat.open(src, ctx);
      expect(c.notes).toEqual([]);
      expect(ourListing(c)).toEqual(toolListing(path));
      const details = toolDetails(path);
      expect(c.entries.map((e) => value(e, 'zip.cd.local_header_offset'))).toEqual(details.map((d) => d.offset));
      expect(c.entries.map((e) => value(e, 'zip.cd.crc32'))).toEqual(details.map((d) => d.crc));
      expect(c.entries.map((e) => value(e, 'zip.cd.ut.mtime') ?? null).map((v) => (v === null ? null : zipinfoDate(String(v))))).toEqual(
        details.map((d) => d.ut),
      );
      for (const e of c.entries) {
        expect(value(e, 'zip.local.name')).toBe(value(e, 'zip.cd.name'));
        if (e.type !== 'file') continue;
        const want = readFileSync(join(dir, e.path));
        expect(e.size).toBe(want.length);
        expect(sha(contentOf(src, e))).toBe(sha(want));
        const method = value(e, 'zip.cd.method');
        if (method === 'deflate') {
          // a decoded source whose origin is the compressed data, so differences roll up to it
          expect(isDecoded(e.contentSource!)).toBe(true);
          expect((e.contentSource as InflateSource).origin).toEqual([{ offset: e.fields.find((f) => f.name === 'zip.local.offset')?.value as number + 30 + Number(value(e, 'zip.local.name_length')) + Number(value(e, 'zip.local.extra_length')), length: value(e, 'zip.cd.compressed_size') }]);
        }
        if (method === 'stored' && e.size > 0) expect(e.extents[0]?.offset).toBe(Number(value(e, 'zip.local.offset')) + 30 + Number(value(e, 'zip.local.name_length')) + Number(value(e, 'zip.local.extra_length')));
      }
      const a = c.entries.find((e) => e.path === '/t/a.txt') as Entry;
      const mt = a.fields.find((f) => f.name === 'zip.cd.mtime');
      expect(mt?.value).toBe('2023-11-14T22:13:20');
      expect(mt?.kind).toBe('timestamp');
      expect(mt?.hint).toMatch(/SOURCE_DATE_EPOCH/);
      expect(value(a, 'zip.local.mtime')).toBe('2023-11-14T22:13:20');
      expect(value(a, 'zip.cd.unix_mode')).toBe(0o100644);
      expect(c.entries.map((e) => e.order)).toEqual(c.entries.map((_, i) => i));
      expect(c.entries.map((e) => value(e, 'zip.local.order'))).toEqual(c.entries.map((_, i) => i));
      if (label === 'no extra attributes') {
        expect(a.fields.some((f) => f.name.includes('.ut.') || f.name.includes('.ux.'))).toBe(false);
      } else {
        expect(value(a, 'zip.local.ut.mtime')).toBe('2023-11-14T22:13:20Z');
        expect(value(a, 'zip.local.ux.uid')).toBe(process.getuid?.());
        expect(a.fields.find((f) => f.name === 'zip.local.ux.uid')?.kind).toBe('ownership');
      }
      if (opts.includes('-y')) expect(c.entries.find((e) => e.path === '/t/link')?.meta.target).toBe('a.txt');
      // every byte is claimed: headers, descriptor, central directory, end record, or member data
      let claimed = 0;
      for (const r of c.regions) for (const s of r.spans) claimed += s.length;
      for (const e of c.entries) {
        if (e.contentSource instanceof InflateSource) for (const s of e.contentSource.origin) claimed += s.length;
        else for (const x of e.extents) claimed += x.length;
      }
      expect(claimed).toBe(src.size);
    });
  }

  it.skipIf(!canZip)('reads data descriptors, zip64 records and the archive comment', async () => {
    // zip writing to a pipe cannot seek back: it writes a data descriptor after the data
    const path = join(dir, 'stream.zip');
    run('sh', ['-c', `printf 'streamed data\\n' | zip -q - - | cat > ${path}`], { env: utc });
    const src = new FileSource(path);
    const c = await zipFormat.open(src, ctx);
    const e = c.entries[0] as Entry;
    expect(e.path).toBe('/-');
    expect(Buffer.from(contentOf(src, e)).toString()).toBe('streamed data\n');
    const details = toolDetails(path);
    expect(value(e, 'zip.dd.crc32')).toBe(details[0]?.crc);
    expect(value(e, 'zip.dd.uncompressed_size')).toBe(14);
    expect(value(e, 'zip.local.crc32')).toBe('00000000');
    expect(value(e, 'zip.cd.crc32')).toBe(details[0]?.crc);
    expect(run('zipinfo', ['-v', path])).toMatch(/extended local header: +yes/);
    // -fz forces zip64 extra fields
    const z64 = join(dir, 'z64.zip');
    run('zip', ['-q', '-fz', z64, 't/a.txt'], { cwd: dir, env: utc });
    run('zip', ['-q', '-z', z64], { env: utc, input: 'the comment' });
    const c64 = await zipFormat.open(new FileSource(z64), ctx);
    const e64 = c64.entries[0] as Entry;
    expect(c64.fields.find((f) => f.name === 'zip.eocd.comment')?.value).toBe('the comment');
    expect(value(e64, 'zip.local.zip64.uncompressed_size')).toBe(6);
    expect(value(e64, 'zip.local.zip64.compressed_size')).toBe(6);
    expect(Buffer.from(contentOf(new FileSource(z64), e64)).toString()).toBe('hello\n');
  });

  it.skipIf(!canZip)('survives byte mutations', async () => {
    const path = join(dir, 'mutate.zip');
    run('zip', ['-q', '-r', '-y', path, 't'], { cwd: dir, env: utc });
    const outcomes = await mutations(new Uint8Array(readFileSync(path)), 300, (src) => zipFormat.open(src, ctx));
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.E_FORMAT ?? 0).toBeGreaterThan(0);
  });

  it.skipIf(!canZip)('shows what differs between two builds of the same tree', async () => {
    const a = join(dir, 'one.zip');
    const b = join(dir, 'two.zip');
    run('zip', ['-q', '-X', a, 't/a.txt', 't/run.sh'], { cwd: dir, env: utc });
    utimesSync(join(dir, 't', 'a.txt'), 1_700_000_100, 1_700_000_100);
    run('zip', ['-q', '-X', b, 't/run.sh', 't/a.txt'], { cwd: dir, env: utc });
    const ca = await zipFormat.open(new FileSource(a), ctx);
    const cb = await zipFormat.open(new FileSource(b), ctx);
    const ea = ca.entries.find((e) => e.path === '/t/a.txt') as Entry;
    const eb = cb.entries.find((e) => e.path === '/t/a.txt') as Entry;
    expect(value(ea, 'zip.cd.mtime')).toBe('2023-11-14T22:13:20');
    expect(value(eb, 'zip.cd.mtime')).toBe('2023-11-14T22:15:00');
    expect([ea.order, eb.order]).toEqual([0, 1]);
    expect(value(eb, 'zip.local.order')).toBe(1);
  });
});

/** Archives written by Python's zipfile: zip64 end records (over 65535 entries), bzip2/lzma members, NTFS times. */
const PY_ZIP = `
import sys, zipfile, struct
path, mode = sys.argv[1], sys.argv[2]
when = (2024, 1, 2, 3, 4, 6)
if mode == 'many':
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        for i in range(66000):
            z.writestr(zipfile.ZipInfo('f%05d' % i, when), b'')
else:
    with zipfile.ZipFile(path, 'w') as z:
        ft = (133500000001234567).to_bytes(8, 'little')
        zi = zipfile.ZipInfo('ntfs.txt', when)
        zi.extra = struct.pack('<HHIHH', 0x000a, 32, 0, 1, 24) + ft * 3
        z.writestr(zi, b'ntfs times')
        z.writestr(zipfile.ZipInfo('b.bz2', when), b'bzip2 data ' * 100, compress_type=zipfile.ZIP_BZIP2)
        z.writestr(zipfile.ZipInfo('l.lzma', when), b'lzma data ' * 100, compress_type=zipfile.ZIP_LZMA)
`;

describe('zip written by Python zipfile', () => {
  let dir = '';
  let cleanup = (): void => {};
  beforeAll(() => ({ dir, cleanup } = scratch()));
  afterAll(() => cleanup());
  const canPy = hasTool('python3') && canZip;

  it.skipIf(!canPy)('reads zip64 end records of an archive with 66000 members', async () => {
    const path = join(dir, 'many.zip');
    run('python3', ['-c', PY_ZIP, path, 'many']);
    const c = await zipFormat.open(new FileSource(path), ctx);
    const f = (n: string): unknown => c.fields.find((x) => x.name === n)?.value;
    expect(f('zip.eocd.entries')).toBe(0xffff);
    expect(f('zip.zip64_eocd.entries')).toBe(66000);
    expect(f('zip.zip64_locator.offset')).toBe(f('zip.zip64_eocd.cd_offset') as number + (f('zip.zip64_eocd.cd_size') as number));
    const names = run('zipinfo', ['-1', path]).trim().split('\n');
    expect(c.entries.map((e) => e.path.slice(1))).toEqual(names);
    expect(c.regions.some((r) => r.name === 'zip64 end of central directory record')).toBe(true);
  });

  it.skipIf(!canPy)('marks bzip2 and lzma members opaque and decodes NTFS times', async () => {
    const path = join(dir, 'methods.zip');
    run('python3', ['-c', PY_ZIP, path, 'methods']);
    const c = await zipFormat.open(new FileSource(path), ctx);
    expect(c.entries.map((e) => [e.path, value(e, 'zip.cd.method'), e.opaque ?? null])).toEqual([
      ['/ntfs.txt', 'stored', null],
      ['/b.bz2', 'bzip2', 'compression method bzip2 is not decoded'],
      ['/l.lzma', 'lzma', 'compression method lzma is not decoded'],
    ]);
    expect(c.entries.map((e) => value(e, 'zip.cd.crc32'))).toEqual(toolDetails(path).map((d) => d.crc));
    const n = c.entries[0] as Entry;
    // 133500000001234567 ticks of 100 ns since 1601: 1705526400.1234567 s since 1970
    expect(value(n, 'zip.cd.ntfs.mtime')).toBe('2024-01-17T21:20:00.1234567Z');
    expect(value(n, 'zip.local.ntfs.ctime')).toBe('2024-01-17T21:20:00.1234567Z');
    expect(n.fields.find((f) => f.name === 'zip.cd.ntfs.atime')?.kind).toBe('timestamp');
  });
});

/** A small stored archive built in code: one member `a` holding `hi`. */
function tinyZip(): Uint8Array {
  const name = Buffer.from('a');
  const data = Buffer.from('hi');
  const crc = 0xd8932aac; // crc32("hi")
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(10, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(2, 18);
  local.writeUInt32LE(2, 22);
  local.writeUInt16LE(1, 26);
  const cd = Buffer.alloc(46);
  cd.writeUInt32LE(0x02014b50, 0);
  cd.writeUInt16LE(0x031e, 4);
  cd.writeUInt16LE(10, 6);
  cd.writeUInt32LE(crc, 16);
  cd.writeUInt32LE(2, 20);
  cd.writeUInt32LE(2, 24);
  cd.writeUInt16LE(1, 28);
  cd.writeUInt32LE(0o100644 * 0x10000, 38);
  const body = Buffer.concat([local, name, data]);
  const cdAll = Buffer.concat([cd, name]);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(cdAll.length, 12);
  eocd.writeUInt32LE(body.length, 16);
  return new Uint8Array(Buffer.concat([body, cdAll, eocd]));
}

async function failure(data: Uint8Array, limits = ctx.limits): Promise<ReprodiffError> {
  try {
    const c = await zipFormat.open(new BufferSource('bad.zip', data), { limits });
    for (const e of c.entries) e.contentSource?.read(0, e.size);
  } catch (e) {
    expect(e).toBeInstanceOf(ReprodiffError);
    return e as ReprodiffError;
  }
  throw new Error('expected the archive to be refused');
}

/** An archive of `n` empty stored members, built in code. */
function manyZip(n: number): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let off = 0;
  for (let i = 0; i < n; i++) {
    const name = Buffer.from(`m${i}`);
    const l = Buffer.alloc(30);
    l.writeUInt32LE(0x04034b50, 0);
    l.writeUInt16LE(10, 4);
    l.writeUInt16LE(name.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(10, 6);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(off, 42);
    locals.push(l, name);
    centrals.push(c, name);
    off += 30 + name.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(n, 8);
  eocd.writeUInt16LE(n, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(off, 16);
  return new Uint8Array(Buffer.concat([...locals, cd, eocd]));
}

describe('yauzl over a byte source', () => {
  it('lets a consumer read the next entry from inside the entry event without recursing', async () => {
    const src = new BufferSource('many.zip', manyZip(30000));
    const count = await new Promise<number>((resolve, reject) => {
      yauzl.fromRandomAccessReader(new SourceReader(src), src.size, { lazyEntries: true, decodeStrings: false, autoClose: false }, (err, zf) => {
        if (err) return reject(err);
        let n = 0;
        zf.on('entry', () => {
          n++;
          zf.readEntry();
        });
        zf.on('end', () => resolve(n));
        zf.on('error', reject);
        zf.readEntry();
      });
    });
    expect(count).toBe(30000);
  });

  it('reports a read past the end as an error, not a crash', async () => {
    const d = tinyZip().slice();
    new DataView(d.buffer).setUint32(d.length - 22 + 16, 60, true); // a central directory header would run past the end
    const err = await new Promise<Error | null>((resolve) => {
      const src = new BufferSource('bad.zip', d);
      yauzl.fromRandomAccessReader(new SourceReader(src), src.size, { lazyEntries: true, autoClose: false }, (e, zf) => {
        if (e) return resolve(e);
        zf.on('error', resolve);
        zf.on('entry', () => zf.readEntry());
        zf.on('end', () => resolve(null));
        zf.readEntry();
      });
    });
    expect(err).toBeInstanceOf(ReprodiffError);
    expect((err as ReprodiffError).code).toBe('E_TRUNCATED');
  });
});

describe('crafted zip input', () => {
  it('reads the archive built in code', async () => {
    const d = tinyZip();
    const c = await zipFormat.open(new BufferSource('ok.zip', d), ctx);
    expect(c.entries.map((e) => [e.path, e.size, e.extents])).toEqual([['/a', 2, [{ offset: 31, length: 2 }]]]);
    expect(c.entries[0]?.fields.find((f) => f.name === 'zip.cd.crc32')?.covers).toEqual([{ offset: 31, length: 2 }]);
  });

  it('refuses a central directory that points past the end', async () => {
    const d = tinyZip().slice();
    new DataView(d.buffer).setUint32(d.length - 22 + 16, 1_000_000, true);
    const e = await failure(d);
    expect(['E_TRUNCATED', 'E_FORMAT']).toContain(e.code);
  });

  it('refuses a local header offset past the end', async () => {
    const d = tinyZip().slice();
    new DataView(d.buffer).setUint32(33 + 42, 999_999, true);
    expect((await failure(d)).code).toMatch(/E_FORMAT|E_TRUNCATED/);
  });

  it('an entry count the central directory does not hold is a format error, not an allocation', async () => {
    const d = tinyZip().slice();
    const v = new DataView(d.buffer);
    v.setUint16(d.length - 22 + 8, 60000, true);
    v.setUint16(d.length - 22 + 10, 60000, true);
    expect((await failure(d, { ...DEFAULT_LIMITS, maxEntries: 1000 })).code).toMatch(/E_FORMAT|E_TRUNCATED/);
  });

  it('notes members that overlap (two central entries sharing one local header)', async () => {
    const one = Buffer.from(tinyZip());
    const body = one.subarray(0, 33);
    const cd = one.subarray(33, 33 + 47);
    const cd2 = Buffer.from(cd);
    cd2.write('b', 46);
    const eocd = Buffer.from(one.subarray(33 + 47));
    eocd.writeUInt16LE(2, 8);
    eocd.writeUInt16LE(2, 10);
    eocd.writeUInt32LE(94, 12);
    const c = await zipFormat.open(new BufferSource('overlap.zip', new Uint8Array(Buffer.concat([body, cd, cd2, eocd]))), ctx);
    expect(c.entries).toHaveLength(2);
    expect(c.notes.join(' ')).toMatch(/overlap/);
  });

  it.skipIf(!canZip)('caps what a deflated member may inflate to', async () => {
    const { dir, cleanup } = scratch();
    try {
      writeFileSync(join(dir, 'zeros'), Buffer.alloc(4 * 1024 * 1024));
      run('zip', ['-q', '-9', 'bomb.zip', 'zeros'], { cwd: dir });
      const d = new Uint8Array(readFileSync(join(dir, 'bomb.zip')));
      expect(d.length).toBeLessThan(10_000);
      const e = await failure(d, { ...DEFAULT_LIMITS, maxDecodedBytes: 1024 * 1024 });
      expect(e.code).toBe('E_LIMIT');
    } finally {
      cleanup();
    }
  });

  it('does not detect random bytes or a truncated archive', async () => {
    expect(zipFormat.detect(new BufferSource('junk', new Uint8Array(5000).fill(1)))).toBe(0);
    const d = tinyZip();
    expect(zipFormat.detect(new BufferSource('cut', d.subarray(0, d.length - 5)))).toBe(0);
  });
});

