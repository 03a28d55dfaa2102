/**
 * Content heuristics on outputs of real tools made twice: gzip headers, `date`, uuidgen, os-release, kernel
 * banners, gcc __DATE__/__TIME__, debug info paths, GPT disk GUIDs, ISO 9660 volume dates, FAT directory times.
 * Expected values come from the inputs we gave the tools and from the tools' own listings.
 */
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { explainContent, type ContentEvidence } from '../../src/classify/content.js';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { expectCovers } from './cover.js';

const { dir, cleanup } = scratch('reprodiff-content-');
afterAll(cleanup);

/** 2026-11-22T06:45:17Z and a rebuild 73 seconds later */
const T1 = 1795329917;
const T2 = T1 + 73;
const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const UTC = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };

function only(e: ContentEvidence[], kind: string): ContentEvidence {
  const found = e.filter((x) => x.kind === kind);
  expect(found, JSON.stringify(e, null, 1)).toHaveLength(1);
  return found[0] as ContentEvidence;
}

describe('timestamps written by real tools', () => {
  it.skipIf(!hasTool('gzip') || !hasTool('file'))('gzip header MTIME of the same file compressed at two times', () => {
    const src = join(dir, 'gz');
    mkdirSync(src);
    writeFileSync(join(src, 'hello.txt'), 'hello, reproducible world\n'.repeat(50));
    const outs = [T1, T2].map((t, i) => {
      run('touch', ['-d', `@${t}`, join(src, 'hello.txt')]);
      run('sh', ['-c', `gzip -c hello.txt > ${i}.gz`], { cwd: src });
      return join(src, `${i}.gz`);
    });
    const a = readFileSync(outs[0] as string), b = readFileSync(outs[1] as string);
    // gzip's own idea of the header time, through file(1)
    expect(run('file', [outs[0] as string], { env: UTC })).toContain('last modified: Sun Nov 22 06:45:17 2026');
    const e = explainContent(a, b, { sourceDateEpoch: T1 });
    expect(e.text).toBe(false);
    expect(e.unexplained).toEqual([]);
    const t = only(e.evidence, 'timestamp');
    expect(t.a).toBe(iso(T1));
    expect(t.b).toBe(iso(T2));
    expect(t.description).toContain('32-bit little-endian Unix time');
    expect(t.ranges).toEqual([{ aOffset: 4, aLength: 4, bOffset: 4, bLength: 4 }]);
    expect(t.sdeA).toBe(true);
    expect(t.sdeB).toBe(false);
    expectCovers(a, b, e);
  });

  it.skipIf(!hasTool('cpio'))('cpio newc header mtime (8 hex digits) of a file archived at two times', () => {
    const src = join(dir, 'cpio');
    mkdirSync(src);
    writeFileSync(join(src, 'init'), '#!/bin/sh\nexec /bin/sh\n');
    const later = T1 + 1073;
    const arcs = [T1, later].map((t) => {
      run('touch', ['-d', `@${t}`, join(src, 'init')]);
      const bytes = Buffer.from(run('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: src, input: 'init\n', env: UTC }), 'latin1');
      return bytes;
    });
    // cpio's own listing of the first archive
    expect(run('cpio', ['-itv', '--quiet'], { input: arcs[0], env: UTC })).toMatch(/Nov 22 06:45 init/);
    const [a, b] = arcs as [Buffer, Buffer];
    const e = explainContent(a, b);
    const t = only(e.evidence, 'timestamp');
    expect([t.a, t.b]).toEqual([iso(T1), iso(later)]);
    expect(t.description).toContain('8 hex digits');
    expect(t.ranges[0]).toMatchObject({ aOffset: 46, aLength: 8 }); // c_mtime, the sixth field after the magic
    expect(e.unexplained).toEqual([]);
    expectCovers(a, b, e);
  });

  it.skipIf(!hasTool('date'))('date(1) in its default, RFC 2822, ISO 8601 and local-zone forms', () => {
    const stamp = (t: number, tz: string): string =>
      ['', '-R', '-Iseconds', '--rfc-3339=ns'].map((f) => run('date', [...(f ? [f] : []), '-d', `@${t}`], { env: { ...UTC, TZ: tz } })).join('');
    for (const tz of ['UTC', 'Europe/Berlin', 'America/New_York']) {
      const a = enc(`# generated\nbuilt: ${stamp(T1, tz)}end\n`), b = enc(`# generated\nbuilt: ${stamp(T2, tz)}end\n`);
      const e = explainContent(a, b);
      expect(e.text).toBe(true);
      expect(e.unexplained).toEqual([]);
      expect(e.evidence.length).toBe(4);
      for (const ev of e.evidence) {
        expect(ev.kind).toBe('timestamp');
        expect(ev.a?.replace(/\.\d+Z$/, 'Z'), `${tz}: ${ev.rawA}`).toBe(iso(T1));
        expect(ev.b?.replace(/\.\d+Z$/, 'Z'), `${tz}: ${ev.rawB}`).toBe(iso(T2));
      }
      expect(e.diff).toContain(`-built: ${stamp(T1, tz).split('\n')[0]}`);
      expect(e.diff).toContain(`+built: ${stamp(T2, tz).split('\n')[0]}`);
      expectCovers(a, b, e);
    }
  });

  it.skipIf(!hasTool('gcc'))('gcc __DATE__ and __TIME__ under two SOURCE_DATE_EPOCH values, in object files', () => {
    const c = join(dir, 'when.c');
    writeFileSync(c, 'const char built_date[] = __DATE__;\nconst char built_time[] = __TIME__;\nconst char both[] = "built " __DATE__ " " __TIME__;\n');
    const objs = [T1, T2 + 86400 * 3].map((t, i) => {
      const o = join(dir, `when${i}.o`);
      run('gcc', ['-c', '-O0', '-Wno-date-time', '-o', o, c], { env: { ...UTC, SOURCE_DATE_EPOCH: String(t) } });
      return readFileSync(o);
    });
    const [a, b] = objs as [Buffer, Buffer];
    const e = explainContent(a, b, { sourceDateEpoch: T1 });
    expect(e.text).toBe(false);
    expect(e.unexplained).toEqual([]);
    const times = e.evidence.filter((x) => x.kind === 'timestamp');
    // the separate __DATE__ and __TIME__ strings merge into one finding; the concatenated one is one value
    expect(times.length).toBe(2);
    for (const t of times) {
      expect(t.a).toBe(iso(T1));
      expect(t.b).toBe(iso(T2 + 86400 * 3));
      expect(t.sdeA).toBe(true);
      expect(t.sdeB).toBe(false);
      expect(t.hint).toContain('SOURCE_DATE_EPOCH');
    }
    expect(times.some((t) => t.ranges.length === 2)).toBe(true);
    expectCovers(a, b, e);
  });

  it.skipIf(!hasTool('gcc') || !hasTool('faketime'))('gcc __DATE__ __TIME__ under faketime (the clock, not SOURCE_DATE_EPOCH)', () => {
    const c = join(dir, 'clock.c');
    writeFileSync(c, 'const char *stamp = "v1 " __DATE__ " " __TIME__;\n');
    const env: NodeJS.ProcessEnv = { ...UTC };
    delete env.SOURCE_DATE_EPOCH;
    const objs = ['2026-11-22 06:45:17', '2026-11-22 09:01:02'].map((when, i) => {
      const o = join(dir, `clock${i}.o`);
      run('faketime', ['-f', when, 'gcc', '-c', '-Wno-date-time', '-o', o, c], { env });
      return readFileSync(o);
    });
    const [a, b] = objs as [Buffer, Buffer];
    const e = explainContent(a, b);
    const t = only(e.evidence, 'timestamp');
    expect(t.a).toBe('2026-11-22T06:45:17Z');
    expect(t.b).toBe('2026-11-22T09:01:02Z');
    expect(t.rawA).toBe('Nov 22 2026 06:45:17');
    expectCovers(a, b, e);
  });
});

describe('kernel banners', () => {
  const kernel = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux';

  it.skipIf(!existsSync(kernel) || !hasTool('strings'))('the version banner of the Debian netboot kernel, rebuilt on another day', () => {
    const banner = run('strings', [kernel]).split('\n').find((l) => /PREEMPT_DYNAMIC .*\(\d{4}-\d{2}-\d{2}\)$/.test(l)) as string;
    expect(banner).toBeTruthy();
    const date = /\((\d{4}-\d{2}-\d{2})\)$/.exec(banner)?.[1] as string;
    const a = enc(`${banner}\n`), b = enc(`${banner.replace(date, '2026-11-23')}\n`);
    const e = explainContent(a, b);
    const t = only(e.evidence, 'timestamp');
    expect(t.a).toBe(date);
    expect(t.b).toBe('2026-11-23');
    expect(t.description).toContain('kernel');
    expect(t.hint).toContain('KBUILD_BUILD_TIMESTAMP');
    expectCovers(a, b, e);
  });

  it.skipIf(!existsSync(kernel))('the same banner inside the kernel image (binary), with user, host and date changed', () => {
    const img = readFileSync(kernel).subarray(0, 256 * 1024);
    const text = Buffer.from(img).toString('latin1');
    const at = text.indexOf(' #1 SMP PREEMPT_DYNAMIC ');
    expect(at).toBeGreaterThan(0);
    const a = new Uint8Array(img);
    const b = new Uint8Array(img);
    // the same length replacement a rebuild by another builder on another day makes
    const old = text.slice(text.lastIndexOf('(', at), at);
    const dateAt = text.indexOf('(20', at);
    b.set(enc('2026-11-23'), dateAt + 1);
    const e = explainContent(a, b);
    expect(e.text).toBe(false);
    const t = only(e.evidence, 'timestamp');
    expect(t.b).toBe('2026-11-23');
    expect(t.description).toContain('kernel');
    expect(old.length).toBeGreaterThan(0);
    expectCovers(a, b, e);
  });

  it('an upstream-style banner with (user@host) and the `date` form', () => {
    const a = enc('Linux version 6.12.1 (alice@buildbox) (gcc (GCC) 14.2.1) #1 SMP PREEMPT_DYNAMIC Sun Nov 22 06:45:17 UTC 2026\n');
    const b = enc('Linux version 6.12.1 (runner@ci-7f3a) (gcc (GCC) 14.2.1) #1 SMP PREEMPT_DYNAMIC Mon Nov 23 01:02:03 UTC 2026\n');
    const e = explainContent(a, b);
    const who = only(e.evidence, 'build-path');
    expect([who.a, who.b]).toEqual(['alice@buildbox', 'runner@ci-7f3a']);
    expect(who.description).toContain('kernel');
    const t = only(e.evidence, 'timestamp');
    expect([t.a, t.b]).toEqual(['2026-11-22T06:45:17Z', '2026-11-23T01:02:03Z']);
    expectCovers(a, b, e);
  });
});

describe('random ids from real generators', () => {
  it.skipIf(!hasTool('uuidgen'))('uuidgen -r (v4) in an os-release file', () => {
    const base = readFileSync('/usr/lib/os-release', 'utf8');
    const ids = [run('uuidgen', ['-r']).trim(), run('uuidgen', ['-r']).trim()];
    const a = enc(`${base}IMAGE_ID=live\nBUILD_ID=${ids[0]}\n`), b = enc(`${base}IMAGE_ID=live\nBUILD_ID=${ids[1]}\n`);
    const e = explainContent(a, b);
    const r = only(e.evidence, 'random-id');
    expect([r.a, r.b]).toEqual(ids);
    expect(r.description).toContain('v4');
    expect(r.confidence).toBeGreaterThan(0.9);
    expect(e.unexplained).toEqual([]);
    expectCovers(a, b, e);
  });

  it('the kernel random uuid in a config file', () => {
    const ids = [readFileSync('/proc/sys/kernel/random/uuid', 'utf8').trim(), readFileSync('/proc/sys/kernel/random/uuid', 'utf8').trim()];
    const a = enc(`[Volume]\nUUID = ${ids[0]}\nLabel = LIVE\n`), b = enc(`[Volume]\nUUID = ${ids[1]}\nLabel = LIVE\n`);
    const e = explainContent(a, b);
    const r = only(e.evidence, 'random-id');
    expect([r.a, r.b]).toEqual(ids);
    expectCovers(a, b, e);
  });

  it.skipIf(!hasTool('uuidgen') || !hasTool('uuidparse'))('uuidgen -t (v1, time-based): decoded time agrees with uuidparse', () => {
    const ids = [run('uuidgen', ['-t']).trim(), run('uuidgen', ['-t']).trim()];
    const a = enc(`machine=${ids[0]}\n`), b = enc(`machine=${ids[1]}\n`);
    const e = explainContent(a, b);
    const t = only(e.evidence, 'timestamp');
    // uuidparse prints e.g. `2026-11-22 07:27:00,958574+00:00`
    const parsed = run('uuidparse', ['-n', '-o', 'TIME', ids[0] as string, ids[1] as string], { env: UTC })
      .trim()
      .split('\n')
      .map((l) => l.trim().replace(' ', 'T').replace(/,(\d{3})\d*\+00:00$/, '.$1Z'));
    expect([t.a, t.b]).toEqual(parsed);
    expect(t.description).toContain(ids[0]);
    expectCovers(a, b, e);
  });

  it.skipIf(!hasTool('sgdisk') || !hasTool('truncate'))('GPT disk GUID (mixed-endian binary) from sgdisk, and the header CRC left unexplained', () => {
    // two v4 GUIDs from uuidgen, fixed so that the header CRCs (which chance could make look like anything) are too
    const guids = ['6ec9a576-5436-4641-93a7-51073c7fb8a5', 'd11fac53-17b7-4cfe-ba73-603f4f5639b2'];
    const imgs = [0, 1].map((i) => {
      const p = join(dir, `disk${i}.img`);
      run('truncate', ['-s', '2M', p]);
      run('sgdisk', ['-o', '-U', guids[i] as string, p]);
      const guid = /Disk identifier \(GUID\): (\S+)/.exec(run('sgdisk', ['-p', p]))?.[1]?.toLowerCase() as string;
      return { bytes: readFileSync(p).subarray(512, 1024), guid };
    });
    const [x, y] = imgs as [{ bytes: Buffer; guid: string }, { bytes: Buffer; guid: string }];
    const e = explainContent(x.bytes, y.bytes);
    const r = only(e.evidence, 'random-id');
    expect([r.a, r.b]).toEqual([x.guid, y.guid]);
    expect([r.a, r.b]).toEqual(guids);
    expect(r.description).toContain('GUID (mixed-endian)');
    expect(r.ranges).toEqual([{ aOffset: 56, aLength: 16, bOffset: 56, bLength: 16 }]);
    // header CRC32 at offset 16: nothing in the content says what it is
    expect(e.unexplained.some((u) => u.aOffset >= 16 && u.aOffset + u.aLength <= 20)).toBe(true);
    expectCovers(x.bytes, y.bytes, e);
  });
});

describe('build paths', () => {
  it.skipIf(!hasTool('gcc'))('gcc -g debug info of the same source built in two temporary folders', () => {
    const objs = [0, 1].map((i) => {
      const where = run('mktemp', ['-d', join(dir, 'build-XXXXXXXX')]).trim();
      writeFileSync(join(where, 'x.c'), 'int answer(void) { return 42; }\n');
      run('gcc', ['-g', '-c', '-o', 'x.o', 'x.c'], { cwd: where });
      return { where, bytes: readFileSync(join(where, 'x.o')) };
    });
    const [x, y] = objs as [{ where: string; bytes: Buffer }, { where: string; bytes: Buffer }];
    const e = explainContent(x.bytes, y.bytes);
    const paths = e.evidence.filter((ev) => ev.kind === 'build-path');
    expect(paths.length).toBeGreaterThan(0);
    for (const p of paths) {
      expect(p.a).toContain(x.where);
      expect(p.b).toContain(y.where);
      expect(p.confidence).toBeGreaterThanOrEqual(0.9);
    }
    // the string table may hold the folder and the file name in either order (the folder's name sets it):
    // then the moved name is an ordering finding, and only offsets into that table stay unexplained
    for (const o of e.evidence.filter((ev) => ev.kind === 'ordering')) expect(o.a).toContain('x.c');
    expect(e.unexplainedBytes).toBeLessThanOrEqual(8);
    expectCovers(x.bytes, y.bytes, e);
  });

  it.skipIf(!hasTool('mktemp'))('a generated pkg-config file with an sbuild-style /build/<random>/ prefix of another length', () => {
    const p1 = run('mktemp', ['-u', '-d', '/build/pkg-XXXXXX']).trim();
    const p2 = run('mktemp', ['-u', '-d', '/build/pkg-XXXXXXXXXX']).trim();
    const pc = (p: string): Uint8Array => enc(`prefix=${p}/debian/tmp/usr\nlibdir=\${prefix}/lib\n\nName: demo\nVersion: 1.0\nCflags: -I${p}/include\n`);
    const a = pc(p1), b = pc(p2);
    const e = explainContent(a, b);
    const paths = e.evidence.filter((ev) => ev.kind === 'build-path');
    expect(paths.map((p) => [p.a, p.b])).toEqual([
      [`${p1}/debian/tmp/usr`, `${p2}/debian/tmp/usr`],
      [`${p1}/include`, `${p2}/include`],
    ]);
    expect(paths[0]?.description).toContain('/build/');
    expect(e.unexplained).toEqual([]);
    expect(e.diff).toContain(`-prefix=${p1}/debian/tmp/usr`);
    expectCovers(a, b, e);
  });
});

describe('image metadata made by real image tools', () => {
  it.skipIf(!hasTool('xorriso') || !hasTool('isoinfo'))('ISO 9660 volume descriptor dates from xorriso under two SOURCE_DATE_EPOCH values', () => {
    const tree = join(dir, 'isotree');
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, 'README'), 'hello\n');
    const pvds = [T1, T2].map((t, i) => {
      const out = join(dir, `v${i}.iso`);
      run('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'TEST', '-o', out, tree], { env: { ...UTC, SOURCE_DATE_EPOCH: String(t) } });
      const info = run('isoinfo', ['-d', '-debug', '-i', out], { env: UTC });
      return { pvd: readFileSync(out).subarray(16 * 2048, 17 * 2048), info };
    });
    const [x, y] = pvds as [{ pvd: Buffer; info: string }, { pvd: Buffer; info: string }];
    // isoinfo: `Creation Date:     2026 11 22 06:45:17.00`
    const created = /Creation Date:\s+(\d{4}) (\d{2}) (\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{2})/.exec(x.info);
    expect(created).not.toBeNull();
    const want = `${created?.[1]}-${created?.[2]}-${created?.[3]}T${created?.[4]}:${created?.[5]}:${created?.[6]}.${created?.[7]}Z`;
    const e = explainContent(x.pvd, y.pvd);
    // creation and modification dates: the same value side by side, one finding with two ranges
    const d17 = only(e.evidence, 'timestamp');
    expect(d17.description).toMatch(/^ISO 9660 17-byte date/);
    expect(d17.a).toBe(want);
    expect(d17.b).toBe(`${iso(T2).slice(0, -1)}.00Z`);
    expect(d17.ranges.map((r) => r.aOffset)).toEqual([813, 830]); // PVD volume creation and modification dates
    expect(e.unexplained).toEqual([]);
    expectCovers(x.pvd, y.pvd, e);
  });

  it.skipIf(!hasTool('mkfs.fat') || !hasTool('mcopy') || !hasTool('mdir'))('FAT directory entry times from mtools, told apart by SOURCE_DATE_EPOCH', () => {
    const even = T1 - (T1 % 2); // DOS times have two-second steps
    const dirs = [even, even + 3600 * 5].map((t, i) => {
      const img = join(dir, `fat${i}.img`);
      const f = join(dir, `FILE${i}.TXT`);
      writeFileSync(f, 'data\n');
      run('touch', ['-d', `@${t}`, f]);
      run('mkfs.fat', ['-C', '-i', '12345678', img, '1024'], { env: { ...UTC, SOURCE_DATE_EPOCH: String(even) } });
      run('mcopy', ['-m', '-i', img, f, '::/FILE.TXT'], { env: UTC });
      const listing = run('mdir', ['-i', img, '::/'], { env: UTC });
      const bytes = readFileSync(img);
      // the root directory of a 1 MiB FAT12 made by mkfs.fat: after the reserved sector and two FATs
      const bps = bytes.readUInt16LE(11), reserved = bytes.readUInt16LE(14), fats = bytes[16] as number, fatSize = bytes.readUInt16LE(22);
      const root = (reserved + fats * fatSize) * bps;
      return { bytes: bytes.subarray(root, root + 512), listing };
    });
    const [x, y] = dirs as [{ bytes: Buffer; listing: string }, { bytes: Buffer; listing: string }];
    expect(x.listing).toMatch(/FILE\s+TXT\s+5 2026-11-22\s+6:45/);
    const e = explainContent(x.bytes, y.bytes, { sourceDateEpoch: even });
    const t = e.evidence.find((ev) => ev.description.startsWith('DOS time and date'));
    expect(t, JSON.stringify(e.evidence, null, 1)).toBeDefined();
    // DOS times are local times without a zone
    expect(t?.a).toBe(iso(even).replace(/Z$/, ''));
    expect(t?.b).toBe(iso(even + 3600 * 5).replace(/Z$/, ''));
    expect(t?.sdeA).toBe(true);
    expectCovers(x.bytes, y.bytes, e);
  });
});
