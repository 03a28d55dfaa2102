/**
 * Each decoder of the content heuristics on crafted pairs: binary times in both byte orders and every unit,
 * ISO 9660 and DOS dates, binary UUIDs in both layouts, and every text form. Values written here are checked
 * back through independent encoders (DataView, Date, the UUID text).
 */
import { describe, expect, it } from 'vitest';
import { explainContent, type ContentEvidence } from '../../src/classify/content.js';
import { expectCovers } from './cover.js';

const T1 = 1795329917; // 2026-11-22T06:45:17Z
const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * Deterministic non-text background like a binary structure's (few distinct byte values), with the high bit
 * set so that a neighbour borrowed as the top byte of a big-endian reading lands in 2038..2046: wrong
 * alignments are plausible and must lose on their own merits.
 */
function background(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = 0x80 | (x >>> 28);
  }
  return out;
}

function pair(write: (dv: DataView, buf: Uint8Array, side: 0 | 1) => void, n = 128): [Uint8Array, Uint8Array] {
  const a = background(n), b = background(n);
  write(new DataView(a.buffer), a, 0);
  write(new DataView(b.buffer), b, 1);
  return [a, b];
}

function single(a: Uint8Array, b: Uint8Array, opts = {}): ContentEvidence {
  const e = explainContent(a, b, opts);
  expectCovers(a, b, e);
  expect(e.unexplained, JSON.stringify(e.evidence, null, 1)).toEqual([]);
  expect(e.evidence, JSON.stringify(e.evidence, null, 1)).toHaveLength(1);
  return e.evidence[0] as ContentEvidence;
}

describe('binary Unix times', () => {
  for (const le of [true, false]) {
    const order = le ? 'little-endian' : 'big-endian';
    it(`32-bit ${order} seconds`, () => {
      const [a, b] = pair((dv, _b, s) => dv.setUint32(40, T1 + s * 73, le));
      const ev = single(a, b, { sourceDateEpoch: T1 + 73 });
      expect(ev.kind).toBe('timestamp');
      expect(ev.description).toBe(`32-bit ${order} Unix time in seconds`);
      expect([ev.a, ev.b]).toEqual([iso(T1), iso(T1 + 73)]);
      expect(ev.ranges).toEqual([{ aOffset: 40, aLength: 4, bOffset: 40, bLength: 4 }]);
      expect([ev.sdeA, ev.sdeB]).toEqual([false, true]);
    });

    it(`64-bit ${order} seconds (time_t)`, () => {
      const [a, b] = pair((dv, _b, s) => dv.setBigUint64(40, BigInt(T1 + s * 3600), le));
      const ev = single(a, b);
      expect(ev.description).toBe(`64-bit ${order} Unix time in seconds`);
      expect([ev.a, ev.b]).toEqual([iso(T1), iso(T1 + 3600)]);
      expect(ev.ranges[0]).toMatchObject({ aOffset: 40, aLength: 8 });
    });

    // the two builds' sub-second parts differ, as two clocks' do. (µs times 16 s to 71 min apart differ in
    // exactly their low 32 bits, like a CRC beside a small number, and are left alone: 3 hours here.)
    for (const [unit, per, fa, fb, dt] of [
      ['milliseconds', 1000n, '.123', '.987', 5],
      ['microseconds', 1_000_000n, '.123456', '.987654', 3 * 3600],
      ['nanoseconds', 1_000_000_000n, '.123456789', '.987654321', 5],
    ] as const) {
      it(`64-bit ${order} ${unit}`, () => {
        const [a, b] = pair((dv, _b, s) => dv.setBigUint64(24, (BigInt(T1) + BigInt(s * dt)) * per + BigInt((s ? fb : fa).slice(1)), le));
        const ev = single(a, b);
        expect(ev.kind).toBe('timestamp');
        expect(ev.description).toBe(`64-bit ${order} Unix time in ${unit}`);
        expect(ev.a).toBe(iso(T1).replace('Z', `${fa}Z`));
        expect(ev.b).toBe(iso(T1 + dt).replace('Z', `${fb}Z`));
        expect(ev.ranges[0]).toMatchObject({ aOffset: 24, aLength: 8 });
      });
    }
  }

  it('Windows FILETIME', () => {
    const ft = (t: number): bigint => (BigInt(t) + 11_644_473_600n) * 10_000_000n;
    const [a, b] = pair((dv, _b, s) => dv.setBigUint64(16, ft(T1 + s * 60), true));
    const ev = single(a, b);
    expect(ev.description).toContain('FILETIME');
    expect(ev.a).toBe(iso(T1).replace('Z', '.0000000Z'));
    expect(ev.b).toBe(iso(T1 + 60).replace('Z', '.0000000Z'));
  });

  it('two random numbers far apart are not times', () => {
    const [a, b] = pair((dv, _b, s) => dv.setUint32(40, s ? 0x7a11c0de : 0x5e3f0a91, true));
    const e = explainContent(a, b);
    expect(e.evidence.every((ev) => ev.kind !== 'timestamp')).toBe(true);
    expect(e.unexplained.length).toBe(1);
    expectCovers(a, b, e);
  });

  it('adjacent times (atime, mtime, ctime) are three findings, or one when their values agree', () => {
    const [a, b] = pair((dv, _b, s) => {
      dv.setUint32(32, T1 + s * 10, true);
      dv.setUint32(36, T1 + 100 + s * 20, true);
      dv.setUint32(40, T1 + 200 + s * 30, true);
    });
    const e = explainContent(a, b);
    expectCovers(a, b, e);
    expect(e.evidence.map((ev) => [ev.a, ev.b])).toEqual([
      [iso(T1), iso(T1 + 10)],
      [iso(T1 + 100), iso(T1 + 120)],
      [iso(T1 + 200), iso(T1 + 230)],
    ]);
    const [c, d] = pair((dv, _b, s) => {
      for (const off of [32, 36, 40]) dv.setUint32(off, T1 + s * 10, true);
    });
    const same = single(c, d);
    expect(same.ranges.map((r) => r.aOffset)).toEqual([32, 36, 40]);
  });
});

describe('image dates', () => {
  it('ISO 9660 17-byte date with a zone offset', () => {
    const date17 = (s: string, tz: number): Uint8Array => Uint8Array.from([...enc(s), tz & 0xff]);
    // 07:45:17.50 at +01:00 (4 quarter hours) is 06:45:17.50 UTC
    const [a, b] = pair((_dv, buf, s) => buf.set(date17(s ? '2026112207461950' : '2026112207451750', 4), 813), 2048);
    const ev = single(a, b);
    expect(ev.description).toMatch(/^ISO 9660 17-byte date/);
    expect([ev.a, ev.b]).toEqual(['2026-11-22T06:45:17.50Z', '2026-11-22T06:46:19.50Z']);
  });

  it('ISO 9660 7-byte recording date', () => {
    const [a, b] = pair((_dv, buf, s) => buf.set([126, 11, 22, 6, 45, s ? 19 : 17, 0], 18));
    const ev = single(a, b);
    expect(ev.description).toBe('ISO 9660 7-byte recording date');
    expect([ev.a, ev.b]).toEqual(['2026-11-22T06:45:17Z', '2026-11-22T06:45:19Z']);
    expect(ev.ranges[0]).toMatchObject({ aOffset: 18, aLength: 7 });
  });

  it('DOS time and date: chosen when SOURCE_DATE_EPOCH matches, else noted beside the Unix reading', () => {
    const dos = (h: number, mi: number, s: number): [number, number] => [(h << 11) | (mi << 5) | (s >> 1), ((2026 - 1980) << 9) | (11 << 5) | 22];
    // a FAT directory entry: name, attributes, first cluster high word 0 before the time, cluster and size after
    const [a, b] = pair((dv, buf, side) => {
      const [t, d] = side ? dos(9, 30, 0) : dos(6, 45, 16);
      buf.set(new TextEncoder().encode('FILE    TXT'), 0);
      buf.set([0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 11);
      dv.setUint16(22, t, true);
      dv.setUint16(24, d, true);
      dv.setUint16(26, 3, true);
      dv.setUint32(28, 5, true);
    });
    const ev = single(a, b, { sourceDateEpoch: T1 - 1 });
    expect(ev.description).toMatch(/^DOS time and date/);
    // DOS times are local times without a zone
    expect([ev.a, ev.b]).toEqual([iso(T1 - 1).replace(/Z$/, ''), '2026-11-22T09:30:00']);
    expect(ev.sdeA).toBe(true);
    const without = single(a, b);
    expect(without.kind).toBe('timestamp');
    expect(without.description).toContain('DOS time and date (FAT/ZIP, little-endian): 2026-11-22T06:45:16 vs 2026-11-22T09:30:00');
  });
});

describe('binary UUIDs', () => {
  const v4 = ['3f0c9a52-7b1e-4d2a-9c41-0e5f7a2b6c11', 'a81d6e03-52cf-4b7e-8f10-d2c94e1b3a77'];
  const rfcBytes = (u: string): number[] => (u.replace(/-/g, '').match(/../g) as string[]).map((h) => parseInt(h, 16));
  const guidBytes = (u: string): number[] => {
    const r = rfcBytes(u);
    return [r[3], r[2], r[1], r[0], r[5], r[4], r[7], r[6], ...r.slice(8)] as number[];
  };

  it('v4 in RFC 4122 byte order', () => {
    const [a, b] = pair((_dv, buf, s) => buf.set(rfcBytes(v4[s] as string), 48));
    const ev = single(a, b);
    expect(ev.kind).toBe('random-id');
    expect([ev.a, ev.b]).toEqual(v4);
    expect(ev.description).toContain('RFC 4122 byte order');
    expect(ev.ranges).toEqual([{ aOffset: 48, aLength: 16, bOffset: 48, bLength: 16 }]);
  });

  it('v4 in GUID (mixed-endian) byte order', () => {
    const [a, b] = pair((_dv, buf, s) => buf.set(guidBytes(v4[s] as string), 48));
    const ev = single(a, b);
    expect([ev.a, ev.b]).toEqual(v4);
    expect(ev.description).toContain('GUID');
  });

  it('v1 in binary is a time', () => {
    const v1 = ['1b8da51e-e646-11f1-94d3-02fc00000001', '2c9eb62f-e646-11f1-94d3-02fc00000001'];
    const [a, b] = pair((_dv, buf, s) => buf.set(rfcBytes(v1[s] as string), 48));
    const e = explainContent(a, b);
    expectCovers(a, b, e);
    const t = e.evidence.find((ev) => ev.kind === 'timestamp');
    expect(t?.a).toMatch(/^2026-11-22T07:27:00\.\d{3}Z$/); // uuidparse: 2026-11-22 07:27:00,958574+00:00 for the first
    expect(t?.description).toContain('UUID v1');
  });

  it('16 random bytes without version bits: random-id, low confidence', () => {
    const [a, b] = pair((_dv, buf, s) => buf.set(Array.from({ length: 16 }, (_, i) => (s ? 0x11 + i * 13 : 0xf0 - i * 7) & 0xff), 48));
    const ev = single(a, b);
    expect(ev.kind).toBe('random-id');
    expect(ev.confidence).toBeLessThan(0.5);
    expect(ev.ranges[0]).toMatchObject({ aOffset: 48, aLength: 16 });
  });
});

describe('text forms', () => {
  const cases: { name: string; a: string; b: string; kind: string; va: string | null; vb: string | null; desc?: RegExp }[] = [
    { name: 'RFC 2822 without weekday', a: 'Date: 22 Nov 2026 06:45:17 +0000', b: 'Date: 22 Nov 2026 06:47:00 +0000', kind: 'timestamp', va: '2026-11-22T06:45:17Z', vb: '2026-11-22T06:47:00Z', desc: /RFC 2822/ },
    { name: 'RFC 2822 with a zone', a: 'Sun, 22 Nov 2026 07:45:17 +0100', b: 'Sun, 22 Nov 2026 07:45:18 +0100', kind: 'timestamp', va: '2026-11-22T06:45:17Z', vb: '2026-11-22T06:45:18Z' },
    { name: 'ISO 8601 with T and Z', a: 'at 2026-11-22T06:45:17Z.', b: 'at 2026-11-22T06:45:59Z.', kind: 'timestamp', va: '2026-11-22T06:45:17Z', vb: '2026-11-22T06:45:59Z' },
    { name: 'ISO 8601 with a space, no zone', a: 'at 2026-11-22 06:45:17 ok', b: 'at 2026-11-23 06:45:17 ok', kind: 'timestamp', va: '2026-11-22T06:45:17Z', vb: '2026-11-23T06:45:17Z' },
    { name: 'ISO 8601 with +01:00 and a fraction', a: '2026-11-22T07:45:17.25+01:00', b: '2026-11-22T07:45:18.75+01:00', kind: 'timestamp', va: '2026-11-22T06:45:17.25Z', vb: '2026-11-22T06:45:18.75Z' },
    { name: 'ISO 8601 date only', a: 'version 1.0 (2026-11-22)', b: 'version 1.0 (2026-11-23)', kind: 'timestamp', va: '2026-11-22', vb: '2026-11-23' },
    { name: 'date(1) default', a: 'Sun Nov 22 06:45:17 UTC 2026', b: 'Sun Nov 22 06:45:18 UTC 2026', kind: 'timestamp', va: '2026-11-22T06:45:17Z', vb: '2026-11-22T06:45:18Z', desc: /date/ },
    { name: 'ctime without zone', a: 'Sun Nov 22 06:45:17 2026', b: 'Mon Nov 23 06:45:17 2026', kind: 'timestamp', va: '2026-11-22T06:45:17Z', vb: '2026-11-23T06:45:17Z' },
    { name: 'kernel banner', a: '#1 SMP PREEMPT_DYNAMIC Sun Nov 22 06:45:17 UTC 2026', b: '#1 SMP PREEMPT_DYNAMIC Sun Nov 22 08:00:00 UTC 2026', kind: 'timestamp', va: '2026-11-22T06:45:17Z', vb: '2026-11-22T08:00:00Z', desc: /kernel/ },
    { name: '__DATE__ with a padded day, growing', a: '"Nov  2 2026"', b: '"Nov 22 2026"', kind: 'timestamp', va: '2026-11-02', vb: '2026-11-22', desc: /__DATE__/ },
    { name: '__DATE__ __TIME__', a: 'built Nov 22 2026 06:45:17;', b: 'built Nov 22 2026 16:45:17;', kind: 'timestamp', va: '2026-11-22T06:45:17Z', vb: '2026-11-22T16:45:17Z' },
    { name: 'DD Mon YYYY', a: 'Released 22 Nov 2026.', b: 'Released 23 Nov 2026.', kind: 'timestamp', va: '2026-11-22', vb: '2026-11-23' },
    { name: 'Apache log style', a: '[22/Nov/2026:06:45:17 +0000]', b: '[22/Nov/2026:06:45:18 +0000]', kind: 'timestamp', va: '2026-11-22T06:45:17Z', vb: '2026-11-22T06:45:18Z' },
    { name: 'build id YYYYMMDDHHMMSS', a: 'BUILD_ID=20261122064517\n', b: 'BUILD_ID=20261122070102\n', kind: 'timestamp', va: '2026-11-22T06:45:17Z', vb: '2026-11-22T07:01:02Z', desc: /build id/ },
    { name: 'build id YYYYMMDD', a: 'snapshot-20261122.img', b: 'snapshot-20261123.img', kind: 'timestamp', va: '2026-11-22', vb: '2026-11-23' },
    { name: 'decimal Unix seconds', a: 'SOURCE_DATE=1795329917\n', b: 'SOURCE_DATE=1795330100\n', kind: 'timestamp', va: iso(T1), vb: iso(1795330100), desc: /decimal seconds/ },
    { name: 'decimal Unix milliseconds', a: '"ts": 1795329917123,', b: '"ts": 1795329918456,', kind: 'timestamp', va: '2026-11-22T06:45:17.123Z', vb: '2026-11-22T06:45:18.456Z' },
    { name: 'UUID v7 (time-ordered)', a: 'id 019ab0c8-6a38-7cc1-9a4e-1f2d3c4b5a69 ', b: 'id 019ab0c9-1b22-7a01-8f3e-9d8c7b6a5f40 ', kind: 'timestamp', va: null, vb: null, desc: /UUID v7/ },
    { name: 'machine id (32 hex)', a: 'c0f1e3a9b8d74f2e9a6b5c4d3e2f1a0b\n', b: '7e6d5c4b3a2918f7e6d5c4b3a2918f70\n', kind: 'random-id', va: 'c0f1e3a9b8d74f2e9a6b5c4d3e2f1a0b', vb: '7e6d5c4b3a2918f7e6d5c4b3a2918f70', desc: /machine id/ },
    { name: 'SHA-256 in hex', a: `sha256 ${'a3f1'.repeat(4)}9c0d${'7be2'.repeat(11)}`, b: `sha256 ${'5d02'.repeat(4)}e1f8${'c94a'.repeat(11)}`, kind: 'checksum', va: null, vb: null, desc: /SHA-256/ },
    { name: 'base64 salt', a: 'salt = "q8Zr3FvX0pLk2WnB7yTd9Ue4"\n', b: 'salt = "Hc5Jm1Qs8Ra6Vg0Kx3Nf7Pz2"\n', kind: 'random-id', va: 'q8Zr3FvX0pLk2WnB7yTd9Ue4', vb: 'Hc5Jm1Qs8Ra6Vg0Kx3Nf7Pz2', desc: /base64/ },
    { name: 'mktemp folder', a: 'cd /tmp/tmp.Xa81kZq2Lm && make', b: 'cd /tmp/tmp.P0qwe7Rtzy && make', kind: 'build-path', va: '/tmp/tmp.Xa81kZq2Lm', vb: '/tmp/tmp.P0qwe7Rtzy', desc: /temporary/ },
    { name: 'home folder', a: 'src=/home/alice/src/pkg/a.c', b: 'src=/home/builder/src/pkg/a.c', kind: 'build-path', va: '/home/alice/src/pkg/a.c', vb: '/home/builder/src/pkg/a.c', desc: /home/ },
    { name: '/var/tmp', a: 'ws /var/tmp/mkosi-workspace-3fa1/root', b: 'ws /var/tmp/mkosi-workspace-9bc2/root', kind: 'build-path', va: '/var/tmp/mkosi-workspace-3fa1/root', vb: '/var/tmp/mkosi-workspace-9bc2/root' },
    { name: 'Compiled by', a: 'Compiled by: alice\n', b: 'Compiled by: jenkins\n', kind: 'build-path', va: 'alice', vb: 'jenkins' },
    { name: 'user@host', a: 'packager root@buildd-7 ok', b: 'packager root@ci-runner ok', kind: 'build-path', va: 'root@buildd-7', vb: 'root@ci-runner' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const a = enc(c.a), b = enc(c.b);
      const ev = single(a, b);
      expect(ev.kind).toBe(c.kind);
      if (c.va !== null) expect([ev.a, ev.b]).toEqual([c.va, c.vb]);
      if (c.desc) expect(ev.description).toMatch(c.desc);
      expect(ev.confidence).toBeGreaterThan(0.3);
    });
  }

  it('UUID v7 decodes its millisecond time', () => {
    const ms = Date.UTC(2026, 10, 22, 6, 45, 17, 123);
    const h = ms.toString(16).padStart(12, '0');
    const mk = (t: string, rest: string): string => `${t.slice(0, 8)}-${t.slice(8, 12)}-7${rest}`;
    const a = enc(`id=${mk(h, 'cc1-9a4e-1f2d3c4b5a69')}\n`);
    const b = enc(`id=${mk((ms + 2500).toString(16).padStart(12, '0'), 'a01-8f3e-9d8c7b6a5f40')}\n`);
    const ev = single(a, b);
    expect([ev.a, ev.b]).toEqual(['2026-11-22T06:45:17.123Z', '2026-11-22T06:45:19.623Z']);
  });

  it('words that changed are content, with low confidence', () => {
    const a = enc('Description: the quick brown fox\n'), b = enc('Description: the slow brown dog\n');
    const e = explainContent(a, b);
    expectCovers(a, b, e);
    expect(e.evidence.every((ev) => ev.kind === 'content' && ev.confidence <= 0.2)).toBe(true);
    expect(e.unexplained.length).toBeGreaterThan(0);
  });

  it('strings of a table in another order: an ordering finding', () => {
    const a = enc('\0usr/lib/os-release\0etc/hostname\0boot/vmlinuz\0'), b = enc('\0etc/hostname\0usr/lib/os-release\0boot/vmlinuz\0');
    const e = explainContent(a, b);
    expectCovers(a, b, e);
    const o = e.evidence.find((ev) => ev.kind === 'ordering');
    expect(o?.description).toMatch(/moved/);
    expect(e.unexplained).toEqual([]);
  });
});

describe('bytes of strings are not binary times', () => {
  it('a changed character in a NUL-terminated string table (`test1\\0Run` → `test2\\0Run`) is not read as a Unix time', () => {
    // a .NET #Strings heap: names one after the other, each ending in NUL; "1\0Ru" reads as a 2032 Unix time
    const heap = (n: string): Uint8Array => new TextEncoder().encode(`\0Main\0System\0Console\0test${n}\0Run\0WriteLine\0`);
    const prefix = new Uint8Array(64).map((_, i) => (i * 37) & 0xff);
    const a = new Uint8Array([...prefix, ...heap('1')]);
    const b = new Uint8Array([...prefix, ...heap('2')]);
    const e = explainContent(a, b);
    expect(e.evidence.filter((x) => x.kind === 'timestamp')).toEqual([]);
    expectCovers(a, b, e);
  });

  it('the same kind of change in a UTF-16 string is not a time either', () => {
    const utf16 = (s: string): number[] => [...s].flatMap((ch) => [ch.charCodeAt(0), 0]);
    const a = new Uint8Array([0x90, 0x91, 0x92, ...utf16('build-1-Release'), 0, 0]);
    const b = new Uint8Array([0x90, 0x91, 0x92, ...utf16('build-2-Release'), 0, 0]);
    const e = explainContent(a, b);
    expect(e.evidence.filter((x) => x.kind === 'timestamp')).toEqual([]);
  });

  it('a real 32-bit Unix time among binary fields is still one', () => {
    const mk = (t: number): Uint8Array => {
      const buf = new Uint8Array(32).fill(0);
      buf.set([0xde, 0xad, 0xbe, 0xef], 0);
      new DataView(buf.buffer).setUint32(8, t, true);
      return buf;
    };
    const e = explainContent(mk(1_764_655_517), mk(1_764_655_519));
    expect(e.evidence.some((x) => x.kind === 'timestamp')).toBe(true);
  });
});
