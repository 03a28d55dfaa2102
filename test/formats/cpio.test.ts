import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReprodiffError } from '../../src/errors.js';
import { BufferSource, ExtentSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container } from '../../src/model.js';
import { cpioFormat, openCpio } from '../../src/formats/cpio/index.js';
import { openGzip } from '../../src/formats/gzip/index.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const { dir, cleanup } = scratch('reprodiff-cpio-');
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { cwd: dir, encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });

beforeAll(() => {
  if (!hasTool('cpio')) return;
  sh(`mkdir -p tree/etc tree/bin tree/dev && cd tree && printf 'hello\\n' > etc/hostname && head -c 10000 /usr/share/common-licenses/GPL-3 > etc/big &&
      printf x > bin/one && ln bin/one bin/hardlink && ln -s ../etc/hostname bin/link && mkfifo dev/fifo && chmod 0750 bin && chmod 4755 bin/one &&
      find . -exec touch -h -d '2020-01-02 03:04:05Z' {} +`);
});
afterAll(() => cleanup());

function open(file: string): Container {
  const src = new BufferSource(file, new Uint8Array(readFileSync(join(dir, file))));
  expect(cpioFormat.detect(src)).toBeGreaterThan(0);
  return openCpio(src, ctx);
}

/** `cpio -itv` lines as {mode string, nlink, size, name} */
function listing(file: string): { perm: string; nlink: number; size: number; name: string }[] {
  return sh(`cpio -itv --quiet < ${file}`)
    .trim()
    .split('\n')
    .map((l) => {
      const m = /^(\S+)\s+(\d+)\s+\S+\s+\S+\s+(\d+(?:,\s*\d+)?)\s+\w{3}\s+\d+\s+\d{4}\s+(.*?)(?: -> .*)?$/.exec(l);
      if (!m) throw new Error(`cannot parse ${l}`);
      return { perm: m[1] as string, nlink: Number(m[2]), size: Number((m[3] as string).split(',')[0]), name: m[4] as string };
    });
}

function permString(mode: number): string {
  const t = { 0o040000: 'd', 0o120000: 'l', 0o010000: 'p', 0o020000: 'c', 0o060000: 'b', 0o140000: 's' }[mode & 0o170000] ?? '-';
  const rwx = (v: number, s: boolean, sc: string): string => `${v & 4 ? 'r' : '-'}${v & 2 ? 'w' : '-'}${s ? (v & 1 ? sc : sc.toUpperCase()) : v & 1 ? 'x' : '-'}`;
  return t + rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') + rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') + rwx(mode & 7, (mode & 0o1000) !== 0, 't');
}

describe.each(['newc', 'odc', 'crc'])('cpio -H %s', (fmt) => {
  it.skipIf(!hasTool('cpio'))('lists the same members as cpio -itv, with stat-checked metadata', () => {
    sh(`cd tree && find . | LC_ALL=C sort | cpio -o -H ${fmt} --quiet > ../a.${fmt}`);
    const c = open(`a.${fmt}`);
    const ref = listing(`a.${fmt}`);
    expect(c.entries.map((e) => e.path)).toEqual(ref.map((r) => (r.name === '.' ? '/' : '/' + r.name.replace(/^\.\//, ''))));
    c.entries.forEach((e, i) => {
      const r = ref[i]!;
      expect(permString(e.meta.mode ?? 0)).toBe(r.perm);
      expect(e.meta.nlink).toBe(r.nlink);
      if (e.type !== 'chardev') expect(e.size).toBe(r.size);
      expect(e.order).toBe(i);
      const st = lstatSync(join(dir, 'tree', e.path === '/' ? '.' : e.path));
      expect(e.meta.mtime).toBe('2020-01-02T03:04:05Z');
      expect(e.fields.find((f) => f.name === 'cpio.mtime')?.value).toBe(new Date(st.mtimeMs).toISOString().replace('.000', ''));
      expect(e.meta.uid).toBe(st.uid);
      if (fmt !== 'odc') expect(e.meta.ino).toBe(st.ino);
    });
    const link = c.entries.find((e) => e.path === '/bin/link')!;
    expect(link.type).toBe('symlink');
    expect(link.meta.target).toBe('../etc/hostname');
    expect(c.entries.find((e) => e.path === '/dev/fifo')?.type).toBe('fifo');
    const big = c.entries.find((e) => e.path === '/etc/big')!;
    const [ext] = big.extents;
    expect(Buffer.from(c.source.read(ext!.offset, ext!.length))).toEqual(readFileSync(join(dir, 'tree/etc/big')));
    expect(c.regions.some((r) => r.role === 'padding')).toBe(true);
    if (fmt === 'crc') {
      const check = big.fields.find((f) => f.name === 'cpio.check')!;
      const sum = [...readFileSync(join(dir, 'tree/etc/big'))].reduce((a, b) => (a + b) >>> 0, 0);
      expect(check.value).toBe(sum);
      expect(check.covers).toEqual([{ offset: ext!.offset, length: ext!.length }]);
    }
  });
});

describe('concatenated initramfs', () => {
  it.skipIf(!hasTool('cpio') || !hasTool('gzip'))('reads an early uncompressed archive and exposes the compressed one', () => {
    sh(`mkdir -p early/kernel/x86/microcode && printf ucode > early/kernel/x86/microcode/GenuineIntel.bin &&
        (cd early && find . | sort | cpio -o -H newc --quiet) > both.img &&
        (cd tree && find . | sort | cpio -o -H newc --quiet | gzip -n) >> both.img`);
    const c = open('both.img');
    expect(c.entries.map((e) => e.path)).toEqual(['/', '/kernel', '/kernel/x86', '/kernel/x86/microcode', '/kernel/x86/microcode/GenuineIntel.bin', '/archive-2']);
    const a2 = c.entries.at(-1)!;
    expect(a2.fields[0]?.value).toBe('gzip');
    const inner = openGzip(new ExtentSource('both.img//archive-2', c.source, a2.extents), ctx);
    const content = inner.entries[0]!;
    const cp = openCpio(content.contentSource!, ctx);
    expect(cp.entries.map((e) => e.path)).toContain('/bin/link');
    expect(cp.entries.length).toBe(listing('a.newc').length);
  });
});

describe('hostile cpio', () => {
  const hdr = (name: string, size: number): string =>
    '070701' + [1, 0o100644, 0, 0, 1, 0, size, 0, 0, 0, 0, name.length + 1, 0].map((v) => v.toString(16).padStart(8, '0')).join('') + name + '\0';
  it('rejects a member claiming 4 GB past the end without allocating', () => {
    const bytes = new TextEncoder().encode(hdr('big', 0xffffffff) + '\0\0\0\0'.repeat(8));
    const err = (() => {
      try {
        openCpio(new BufferSource('evil.cpio', bytes), ctx);
      } catch (e) {
        return e;
      }
    })() as ReprodiffError;
    expect(err).toBeInstanceOf(ReprodiffError);
    expect(err.code).toBe('E_TRUNCATED');
    expect(err.file).toBe('evil.cpio');
  });
  it('rejects a truncated header and non-hex fields', () => {
    const t = new TextEncoder().encode(hdr('a', 0).slice(0, 60));
    expect(() => openCpio(new BufferSource('t.cpio', t), ctx)).toThrow(ReprodiffError);
    const bad = new TextEncoder().encode(hdr('a', 0).replace('00000001', 'zzzzzzzz'));
    expect(() => openCpio(new BufferSource('b.cpio', bad), ctx)).toThrow(/hex/);
  });
  it('stops at the member cap and keeps the members before it, saying where it stopped', () => {
    let s = '';
    for (let i = 0; i < 20; i++) s += hdr(`f${i}`.padEnd(3, 'x'), 0) + '\0'.repeat((4 - ((110 + 4) % 4)) % 4);
    const bytes = new TextEncoder().encode(s);
    const c = openCpio(new BufferSource('many.cpio', bytes), { limits: { ...DEFAULT_LIMITS, maxEntries: 5 } });
    expect(c.entries.map((e) => e.path)).toEqual(['/f0x', '/f1x', '/f2x', '/f3x', '/f4x']);
    expect(c.partial).toMatch(/more than 5 cpio members \(stopped at offset 580\)/);
    expect(c.notes).toContain(c.partial);
  });
});

void run;

describe('cpio regions over member rows', () => {
  /** a newc archive by hand: members `a` (3 bytes) and `bb/c` (0 bytes), then the trailer */
  function archive(): Uint8Array {
    const rec = (name: string, data: string, ino: number): string => {
      const n = name.length + 1;
      const h = '070701' + [ino, 0o100644, 0, 0, 1, 0, data.length, 0, 0, 0, 0, n, 0].map((v) => v.toString(16).toUpperCase().padStart(8, '0')).join('');
      const pad1 = '\0'.repeat((4 - ((h.length + n) % 4)) % 4);
      const pad2 = '\0'.repeat((4 - (data.length % 4)) % 4);
      return h + name + '\0' + pad1 + data + pad2;
    };
    return new Uint8Array(Buffer.from(rec('a', 'xyz', 1) + rec('bb/c', '', 2) + rec('TRAILER!!!', '', 0), 'latin1'));
  }
  /** where each byte is, as cpio lays it out: h header and name, n name padding, d data, p data padding, t trailer */
  const layout = 'h'.repeat(112) + 'n'.repeat(0) + 'ddd' + 'p' + 'h'.repeat(115) + 'n'.repeat(1) + 'h'.repeat(121) + 'n'.repeat(3);
  const nameOf: Record<string, string | undefined> = { h: 'cpio header', n: 'cpio name padding', d: undefined, p: 'cpio data padding' };

  for (const [label, wrap] of [
    ['an archive that is the whole file', (b: Uint8Array) => new BufferSource('x.cpio', b)],
    ['an archive 1,000 bytes into the file', (b: Uint8Array) => {
      const outer = new Uint8Array(1000 + b.length);
      outer.set(b, 1000);
      return new ExtentSource('outer//x.cpio', new BufferSource('outer', outer), [{ offset: 1000, length: b.length }]);
    }],
  ] as const) {
    it(`names the region of every byte of ${label}, as its spans say`, () => {
      const bytes = archive();
      expect(bytes.length).toBe(layout.length);
      const src = wrap(bytes);
      const base = src.spans(0, 1)[0]!.offset;
      const c = openCpio(src, ctx);
      expect(c.entries.map((e) => [e.path, e.size])).toEqual([['/a', 3], ['/bb/c', 0]]);
      for (let i = 0; i < layout.length; i++) {
        const want = nameOf[layout[i]!];
        const holding = c.regions.filter((r) => (r.contains ? r.contains(base + i) : r.spans.some((s) => base + i >= s.offset && base + i < s.offset + s.length)));
        const bySpans = c.regions.filter((r) => r.spans.some((s) => base + i >= s.offset && base + i < s.offset + s.length));
        expect(holding.map((r) => r.name), `byte ${i} (${layout[i]})`).toEqual(want ? [want] : []);
        expect(bySpans.map((r) => r.name), `byte ${i} (${layout[i]}) by spans`).toEqual(want ? [want] : []);
      }
      // nothing before the archive or after it
      expect(c.regions.some((r) => r.contains?.(base - 1))).toBe(false);
      expect(c.regions.some((r) => r.contains?.(base + layout.length))).toBe(false);
    });
  }
});
