import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReprodiffError } from '../../src/errors.js';
import { BufferSource, type ByteSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container } from '../../src/model.js';
import { arFormat, openAr } from '../../src/formats/ar/index.js';
import { entrySource, openViews } from '../../src/walk/open.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const utc = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };
const { dir, cleanup } = scratch('reprodiff-ar-');
afterAll(() => cleanup());

function open(file: string): Container {
  const src = new BufferSource(file, new Uint8Array(readFileSync(join(dir, file))));
  expect(arFormat.detect(src)).toBeGreaterThan(0);
  return openAr(src, ctx);
}

const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `ar tvO` lines: perms, uid/gid, size, time (to the minute), name, data offset. */
function toolListing(file: string): { perm: string; owner: string; size: number; minute: string; name: string; offset: number }[] {
  return run('ar', ['tvO', join(dir, file)], { env: utc })
    .trim()
    .split('\n')
    .map((l) => {
      const m = /^(\S{9}) (\d+\/\d+) +(\d+) (\w{3}) +(\d+) (\d\d:\d\d) (\d{4}) (.*) 0x([0-9a-f]+)$/.exec(l);
      if (!m) throw new Error(`unexpected ar line ${l}`);
      const mon = String(MON.indexOf(m[4] as string) + 1).padStart(2, '0');
      return { perm: m[1]!, owner: m[2]!, size: Number(m[3]), minute: `${m[7]}-${mon}-${m[5]!.padStart(2, '0')}T${m[6]}`, name: m[8]!, offset: parseInt(m[9]!, 16) };
    });
}

function perm(mode: number): string {
  const rwx = (v: number): string => (v & 4 ? 'r' : '-') + (v & 2 ? 'w' : '-') + (v & 1 ? 'x' : '-');
  return rwx(mode >> 6) + rwx(mode >> 3) + rwx(mode);
}

function expectSameAsAr(c: Container, file: string): void {
  const ref = toolListing(file);
  expect(c.entries.map((e) => e.path)).toEqual(ref.map((r) => '/' + r.name));
  c.entries.forEach((e, i) => {
    const r = ref[i]!;
    expect(e.order).toBe(i);
    expect(perm(e.meta.mode ?? 0)).toBe(r.perm);
    expect(`${e.meta.uid}/${e.meta.gid}`).toBe(r.owner);
    expect(e.size).toBe(r.size);
    expect(e.meta.mtime?.slice(0, 16)).toBe(r.minute);
    expect(e.extents[0]?.offset ?? r.offset).toBe(r.offset);
    for (const f of e.fields) expect(f.spans.length, f.name).toBeGreaterThan(0);
  });
}

const LONG = 'a_member_name_longer_than_sixteen.o';

beforeAll(() => {
  mkdirSync(join(dir, 'objs'), { recursive: true });
  writeFileSync(join(dir, 'objs/short.o'), 'x');
  writeFileSync(join(dir, 'objs', LONG), 'yy\n');
  writeFileSync(join(dir, 'objs/another_long_member_name.txt'), 'zzzz');
  run('touch', ['-d', '2021-03-04T05:06:07Z', join(dir, 'objs/short.o')]);
});

describe('GNU ar', () => {
  it.each([['rc'], ['rcD'], ['rcU']])('ar %s with long names lists as ar tvO does', (mode) => {
    const file = `lib-${mode}.a`;
    run('ar', [mode, file, 'short.o', LONG, 'another_long_member_name.txt'], { cwd: join(dir, 'objs') });
    run('mv', [join(dir, 'objs', file), join(dir, file)]);
    const c = open(file);
    expectSameAsAr(c, file);
    expect(c.fields.some((f) => f.name === 'ar.long_names')).toBe(true);
    const long = c.entries.find((e) => e.path === '/' + LONG)!;
    expect(long.fields.find((f) => f.name === 'ar.name_offset')?.kind).toBe('layout');
    expect(Buffer.from(c.source.read(long.extents[0]!.offset, long.size))).toEqual(readFileSync(join(dir, 'objs', LONG)));
    // odd sizes are padded to even offsets with '\n'
    expect(c.regions.filter((r) => r.role === 'padding').length).toBe(2);
    const short = c.entries[0]!;
    const mtime = short.fields.find((f) => f.name === 'ar.mtime')!;
    expect(mtime.kind).toBe('timestamp');
    expect(mtime.hint).toMatch(/ar rcD/);
    if (mode === 'rcU') {
      expect(mtime.value).toBe('2021-03-04T05:06:07Z');
      expect(short.meta.uid).toBe(process.getuid!());
    } else {
      expect(mtime.value).toBe('1970-01-01T00:00:00Z');
      expect(short.meta.uid).toBe(0);
    }
  });

  it.skipIf(!hasTool('gcc'))('a static library with a symbol table', () => {
    writeFileSync(join(dir, 'objs/f.c'), 'int answer_to_everything(void) { return 42; }\n');
    run('gcc', ['-c', '-o', 'f.o', 'f.c'], { cwd: join(dir, 'objs') });
    run('ar', ['rcs', '../libf.a', 'f.o', 'short.o'], { cwd: join(dir, 'objs') });
    const c = open('libf.a');
    expectSameAsAr(c, 'libf.a');
    const sym = c.fields.find((f) => f.name === 'ar.symbol_table')!;
    expect(sym.kind).toBe('layout');
    expect(sym.derived).toBe(true);
    expect(run('nm', ['-s', join(dir, 'libf.a')])).toMatch(/answer_to_everything in f\.o/);
  });
});

/** A BSD 4.4 archive, made by hand: `#1/LEN` names stored in front of the data. */
function bsdArchive(members: { name: string; data: string; mtime: number }[]): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n')];
  for (const m of members) {
    const body = Buffer.concat([Buffer.from(m.name), Buffer.from(m.data)]);
    const h =
      `#1/${m.name.length}`.padEnd(16) + String(m.mtime).padEnd(12) + '501'.padEnd(6) + '20'.padEnd(6) + '100644'.padEnd(8) + String(body.length).padEnd(10) + '`\n';
    parts.push(Buffer.from(h), body);
    if (body.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

describe('BSD ar names', () => {
  it('reads #1/LEN names, their data after the name, and the times', () => {
    const bytes = bsdArchive([
      { name: 'a_long_bsd_member_name.o', data: 'abc', mtime: 1600000000 },
      { name: 'b.o', data: 'defg', mtime: 1600000001 },
    ]);
    writeFileSync(join(dir, 'bsd.a'), bytes);
    const c = open('bsd.a');
    expect(c.entries.map((e) => e.path)).toEqual(['/a_long_bsd_member_name.o', '/b.o']);
    const [a, b] = c.entries as [Container['entries'][0], Container['entries'][0]];
    expect(Buffer.from(c.source.read(a.extents[0]!.offset, a.size)).toString()).toBe('abc');
    expect(Buffer.from(c.source.read(b.extents[0]!.offset, b.size)).toString()).toBe('defg');
    expect(a.meta).toMatchObject({ uid: 501, gid: 20, mode: 0o100644, mtime: '2020-09-13T12:26:40Z' });
    const name = a.fields.find((f) => f.name === 'ar.name')!;
    expect(name.spans).toEqual([{ offset: 8 + 60, length: 24 }]);
    expect(c.notes.some((n) => /BSD/.test(n))).toBe(true);
    // GNU ar reads these names too: its listing agrees
    expect(run('ar', ['t', join(dir, 'bsd.a')]).trim().split('\n')).toEqual(['a_long_bsd_member_name.o', 'b.o']);
  });
});

/** Opens nested contents (compression layers, then tar) as the walker does. */
async function innerTar(c: Container, path: string): Promise<Container> {
  let cont = c;
  let e = cont.entries.find((x) => x.path === path)!;
  for (let i = 0; i < 3; i++) {
    const src = entrySource(cont, e) as ByteSource;
    const { views } = await openViews(src, ctx);
    cont = views[0]!;
    if (cont.format === 'tar') return cont;
    e = cont.entries[0]!;
  }
  throw new Error(`no tar inside ${path}`);
}

describe.each(['gzip', 'xz', 'zstd', 'none'])('dpkg-deb --build -Z%s', (z) => {
  it.skipIf(!hasTool('dpkg-deb'))('lists as ar tvO, and its tarballs as dpkg-deb -c and -I', async () => {
    const pkg = join(dir, `pkg-${z}`);
    mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
    mkdirSync(join(pkg, 'usr/share/doc/hello'), { recursive: true });
    writeFileSync(join(pkg, 'DEBIAN/control'), 'Package: hello\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.org>\nDescription: test package\n');
    writeFileSync(join(pkg, 'usr/share/doc/hello/README'), 'hello\n'.repeat(100));
    const deb = `hello-${z}.deb`;
    try {
      run('dpkg-deb', ['--root-owner-group', `-Z${z}`, '--build', pkg, join(dir, deb)]);
    } catch (e) {
      if (z === 'zstd' && /zstd/.test(String((e as { stderr?: string }).stderr))) return; // an older dpkg without zstd
      throw e;
    }
    const c = open(deb);
    expectSameAsAr(c, deb);
    expect(c.producer).toBe('dpkg-deb');
    const ext = z === 'gzip' ? '.gz' : z === 'xz' ? '.xz' : z === 'zstd' ? '.zst' : '';
    expect(c.entries.map((e) => e.path)).toEqual(['/debian-binary', `/control.tar${ext}`, `/data.tar${ext}`]);
    expect(c.entries[0]!.fields.find((f) => f.name === 'ar.mtime')!.hint).toMatch(/SOURCE_DATE_EPOCH/);
    const data = await innerTar(c, `/data.tar${ext}`);
    const listed = run('dpkg-deb', ['-c', join(dir, deb)], { env: utc })
      .trim()
      .split('\n')
      .map((l) => l.replace(/^.* \.\//, '/').replace(/\/$/, '') || '/');
    expect(data.entries.map((e) => e.path)).toEqual(listed);
    const control = await innerTar(c, `/control.tar${ext}`);
    const cf = control.entries.find((e) => e.path === '/control')!;
    const text = Buffer.from(control.source.read(cf.extents[0]!.offset, cf.size)).toString();
    const info = run('dpkg-deb', ['-f', join(dir, deb), 'Package', 'Version'], { env: utc });
    expect(info).toBe('Package: hello\nVersion: 1.0\n');
    expect(text).toContain('Package: hello\nVersion: 1.0\n');
    expect(run('dpkg-deb', ['-I', join(dir, deb)], { env: utc })).toMatch(new RegExp(`${cf.size} bytes, +\\d+ lines +control`));
  });
});

describe('hostile ar', () => {
  const hdr = (name: string, size: number | string, o: { fmag?: string; mtime?: string } = {}): string =>
    name.padEnd(16) + (o.mtime ?? '0').padEnd(12) + '0'.padEnd(6) + '0'.padEnd(6) + '100644'.padEnd(8) + String(size).padEnd(10) + (o.fmag ?? '`\n');
  const src = (s: string): BufferSource => new BufferSource('evil.a', new Uint8Array(Buffer.from(s, 'latin1')));
  const err = (s: string): ReprodiffError => {
    try {
      openAr(src(s), ctx);
    } catch (e) {
      return e as ReprodiffError;
    }
    throw new Error('no error');
  };
  it('a member claiming 9 GB, a bad header end, non-decimal fields', () => {
    expect(err('!<arch>\n' + hdr('big/', 9_999_999_999) + 'abcd').code).toBe('E_TRUNCATED');
    expect(err('!<arch>\n' + hdr('a/', 1, { fmag: 'xx' }) + 'a\n').message).toMatch(/`/);
    expect(err('!<arch>\n' + hdr('a/', 1, { mtime: '0x10' }) + 'a\n').message).toMatch(/decimal/);
    expect(err('!<arch>\n' + hdr('a/', '-1') + 'a\n')).toBeInstanceOf(ReprodiffError);
  });
  it('long-name references outside the table, or without one', () => {
    expect(err('!<arch>\n' + hdr('/0', 0)).message).toMatch(/long-name table/);
    expect(err('!<arch>\n' + hdr('//', 4) + 'ab/\n' + hdr('/99', 0)).message).toMatch(/past the end/);
    // a table without the closing "/\n" ends the name at the table's end
    const c = openAr(src('!<arch>\n' + hdr('//', 4) + 'abcd' + hdr('/1', 0)), ctx);
    expect(c.entries.map((e) => e.path)).toEqual(['/bcd']);
  });
  it('a BSD name longer than its member, and a truncated header', () => {
    expect(err('!<arch>\n' + hdr('#1/50', 4) + 'abcd').message).toMatch(/longer than its member/);
    const c = openAr(src('!<arch>\n' + hdr('a/', 2) + 'ab' + '!<arch>\n'), ctx);
    expect(c.entries.length).toBe(1);
    expect(c.notes.some((n) => /do not form a header/.test(n))).toBe(true);
  });
  it('stops at the member cap and keeps the members before it', () => {
    let s = '!<arch>\n';
    for (let i = 0; i < 20; i++) s += hdr(`f${i}/`, 0);
    const c = openAr(src(s), { limits: { ...DEFAULT_LIMITS, maxEntries: 5 } });
    expect(c.entries.length).toBe(5);
    expect(c.partial).toMatch(/more than 5 ar members/);
  });
});
