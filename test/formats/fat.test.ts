import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fatFormat } from '../../src/formats/fat/index.js';
import { BufferSource, ExtentSource, type ByteSource } from '../../src/io/source.js';
import { FileSource } from '../../src/io/file.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { ReprodiffError } from '../../src/errors.js';
import type { Container, Field } from '../../src/model.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const { dir, cleanup } = scratch('reprodiff-fat-');
afterAll(cleanup);
const ctx = { limits: DEFAULT_LIMITS };
const has = hasTool('mkfs.fat') && hasTool('mcopy') && hasTool('mmd') && hasTool('mdir');

async function openFile(path: string): Promise<Container> {
  return fatFormat.open(new FileSource(path), ctx);
}
async function openBuf(data: Uint8Array, name = 'crafted.img'): Promise<Container> {
  return fatFormat.open(new BufferSource(name, data), ctx);
}
const get = (fields: Field[], name: string): Field | undefined => fields.find((f) => f.name === name);

/** Builds a FAT image with nested directories, long names and files of assorted sizes. */
function build(name: string, fatBits: 12 | 16 | 32, kib: number, env: NodeJS.ProcessEnv = process.env): string {
  const img = join(dir, name);
  run('mkfs.fat', ['-C', '-F', String(fatBits), '-n', 'TESTVOL', '-i', '0badcafe', img, String(kib)]);
  const files: [string, number][] = [
    ['a.txt', 5],
    ['empty.dat', 0],
    ['a file with a rather long name.txt', 3000],
    ['MixedCase.Bin', 70000],
  ];
  for (const [f, size] of files) {
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 7 + f.length) & 0xff;
    writeFileSync(join(dir, f), data);
  }
  run('mmd', ['-i', img, '::/EFI', '::/EFI/BOOT', '::/Long Directory Name'], { env });
  run('mcopy', ['-i', img, join(dir, 'a.txt'), '::/a.txt'], { env });
  run('mcopy', ['-i', img, join(dir, 'empty.dat'), '::/EFI/empty.dat'], { env });
  run('mcopy', ['-i', img, join(dir, 'a file with a rather long name.txt'), '::/Long Directory Name/'], { env });
  run('mcopy', ['-i', img, join(dir, 'MixedCase.Bin'), '::/EFI/BOOT/MixedCase.Bin'], { env });
  return img;
}

/** `mdir -/ -b` lists every path (directories with a trailing slash). */
function mdirPaths(img: string): string[] {
  return run('mdir', ['-/', '-b', '-i', img, '::'])
    .split('\n')
    .filter((l) => l.startsWith('::/'))
    .map((l) => l.slice(2).replace(/\/$/, ''))
    .sort();
}

describe('FAT on images made by mkfs.fat and mtools', () => {
  for (const bits of [12, 16, 32] as const) {
    it.skipIf(!has)(`FAT${bits}: listing, sizes and contents agree with mtools`, async () => {
      const img = build(`t${bits}.img`, bits, bits === 32 ? 40960 : bits === 16 ? 20480 : 2048);
      const src = new FileSource(img);
      expect(fatFormat.detect(src)).toBeGreaterThan(0);
      const c = await fatFormat.open(src, ctx);
      expect(c.notes).toEqual([]);
      expect(c.producer).toBe('mkfs.fat');
      expect(c.entries.map((e) => e.path).sort()).toEqual(mdirPaths(img));
      for (const e of c.entries.filter((x) => x.type === 'file')) {
        const expected = execFileSync('mtype', ['-i', img, `::${e.path}`]);
        const got = new ExtentSource(e.path, src, e.extents).read(0, e.size);
        expect(e.size, e.path).toBe(expected.length);
        expect(Buffer.from(got).equals(expected), e.path).toBe(true);
      }
      // values agree with `file` and fsck.fat
      const fileOut = run('file', [img]);
      const fileSerial = /serial number 0x([0-9a-f]+)/.exec(fileOut)?.[1];
      expect(parseInt(String(get(c.fields, 'fat.volume_serial')?.value), 16)).toBe(parseInt(fileSerial ?? 'x', 16));
      expect(get(c.fields, 'fat.volume_serial')?.value).toBe('0badcafe');
      expect(get(c.fields, 'fat.volume_label')?.value).toBe('TESTVOL');
      expect(get(c.fields, 'fat.root_label.name')?.value).toBe('TESTVOL');
      const fsck = run('fsck.fat', ['-v', '-n', img]);
      expect(fsck).toContain(`${bits} bit entries`);
      const total = /(\d+) sectors total/.exec(fsck)?.[1];
      expect(get(c.fields, 'fat.total_sectors')?.value).toBe(Number(total));
      // long names come with a checksum field that covers the short name
      const long = c.entries.find((e) => e.path === '/Long Directory Name/a file with a rather long name.txt');
      expect(get(long!.fields, 'fat.dirent.lfn_checksum')?.covers?.length).toBeGreaterThan(0);
      expect(get(long!.fields, 'fat.dirent.mtime')?.kind).toBe('timestamp');
      expect(get(long!.fields, 'fat.dirent.first_cluster')?.derived).toBe(true);
      // the second FAT is a copy of the first
      const t1 = get(c.fields, 'fat.table.1');
      const t2 = get(c.fields, 'fat.table.2');
      expect(t2?.value).toBe(t1?.value);
      expect(t2?.covers).toEqual(t1?.spans);
      if (bits === 32) {
        expect(get(c.fields, 'fat.fsinfo.free_count')?.derived).toBe(true);
        expect(c.regions.some((r) => r.name === 'FSInfo sector')).toBe(true);
      }
      expect(c.regions.some((r) => r.role === 'unused' && r.name === 'free clusters')).toBe(true);
      // every byte of the image is claimed exactly once: by a region or by an entry's content
      const claimed = new Uint8Array(src.size);
      const claim = (offset: number, length: number): void => {
        for (let i = offset; i < offset + length; i++) claimed[i]! += 1;
      };
      for (const r of c.regions) for (const s of r.spans) claim(s.offset, s.length);
      for (const e of c.entries) for (const x of e.extents) claim(x.offset, x.length);
      const wrong = claimed.findIndex((n) => n !== 1);
      expect(wrong, `byte ${wrong} claimed ${claimed[wrong]} times`).toBe(-1);
    });
  }

  it.skipIf(!has)('mtools 4.0.32 stamps new entries with SOURCE_DATE_EPOCH (measured, as the hint says)', async () => {
    const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000' };
    const c = await openFile(build('sde.img', 16, 20480, env));
    const a = c.entries.find((e) => e.path === '/a.txt');
    expect(get(a!.fields, 'fat.dirent.mtime')?.value).toBe('2023-11-14T22:13:20');
    expect(get(a!.fields, 'fat.dirent.mtime')?.hint).toContain('SOURCE_DATE_EPOCH');
  });

  it.skipIf(!hasTool('mkfs.fat'))('two mkfs.fat runs seconds apart differ in the volume serial', async () => {
    const a = join(dir, 'serial-a.img');
    const b = join(dir, 'serial-b.img');
    run('mkfs.fat', ['-C', a, '1440']);
    await new Promise((r) => setTimeout(r, 1100));
    run('mkfs.fat', ['-C', b, '1440']);
    const sa = get((await openFile(a)).fields, 'fat.volume_serial');
    const sb = get((await openFile(b)).fields, 'fat.volume_serial');
    expect(sa?.kind).toBe('random-id');
    expect(sa?.value).not.toBe(sb?.value);
    expect(sa?.hint).toContain('--invariant');
    expect(sa?.spans).toEqual([{ offset: 39, length: 4 }]);
  });

  it.skipIf(!hasTool('mformat'))('names mformat as the producer and hints -N for its serial', async () => {
    const img = join(dir, 'mformat.img');
    run('mformat', ['-C', '-f', '1440', '-v', 'LBL', '-i', img, '::']);
    const c = await openFile(img);
    expect(c.producer).toMatch(/^mtools/);
    expect(get(c.fields, 'fat.volume_serial')?.hint).toContain('-N');
  });
});

describe('FAT on crafted bad input', () => {
  /** A tiny FAT12 volume built in code: 512-byte sectors, 1 sector/cluster, 1 FAT, 16 root entries. */
  function tiny(): Uint8Array {
    const total = 64;
    const d = new Uint8Array(total * 512);
    const v = new DataView(d.buffer);
    d.set([0xeb, 0x3c, 0x90], 0);
    d.set(Buffer.from('TESTOEM '), 3);
    v.setUint16(11, 512, true);
    d[13] = 1;
    v.setUint16(14, 1, true);
    d[16] = 1;
    v.setUint16(17, 16, true);
    v.setUint16(19, total, true);
    d[21] = 0xf8;
    v.setUint16(22, 1, true);
    d[38] = 0x29;
    d[510] = 0x55;
    d[511] = 0xaa;
    // FAT at sector 1: entries 0 and 1 reserved
    d.set([0xf8, 0xff, 0xff], 512);
    // root dir at sector 2 (1 sector); data from sector 3, cluster 2 = sector 3
    return d;
  }
  function setFat12(d: Uint8Array, n: number, value: number): void {
    const off = 512 + n + (n >> 1);
    const cur = d[off]! | (d[off + 1]! << 8);
    const next = n & 1 ? (cur & 0x000f) | (value << 4) : (cur & 0xf000) | value;
    d[off] = next & 0xff;
    d[off + 1] = next >> 8;
  }
  function dirent(d: Uint8Array, at: number, name: string, attr: number, cluster: number, size: number): void {
    d.set(Buffer.from(name.padEnd(11, ' ')), at);
    d[at + 11] = attr;
    new DataView(d.buffer).setUint16(at + 26, cluster, true);
    new DataView(d.buffer).setUint32(at + 28, size, true);
  }

  it('a cluster chain that loops stops with a note', async () => {
    const d = tiny();
    dirent(d, 1024, 'LOOP    BIN', 0x20, 2, 512 * 10);
    setFat12(d, 2, 3);
    setFat12(d, 3, 2); // 3 -> 2: a loop
    const c = await openBuf(d);
    expect(fatFormat.detect(new BufferSource('x', d))).toBeGreaterThan(0);
    const e = c.entries.find((x) => x.path === '/LOOP.BIN');
    expect(e?.size).toBe(1024);
    expect(c.notes.join('\n')).toMatch(/already in use/);
  });

  it('a directory that contains itself is read once', async () => {
    const d = tiny();
    dirent(d, 1024, 'SUB', 0x10, 2, 0);
    setFat12(d, 2, 0xfff);
    dirent(d, 3 * 512, 'SELF', 0x10, 2, 0); // SUB/SELF -> SUB's own cluster
    const c = await openBuf(d);
    expect(c.entries.map((e) => e.path)).toEqual(['/SUB', '/SUB/SELF']);
    expect(c.notes.join('\n')).toMatch(/already in use/);
  });

  it('a file past the end of a truncated image is cut short with a note', async () => {
    const d = tiny();
    dirent(d, 1024, 'BIG     BIN', 0x20, 2, 512 * 3);
    setFat12(d, 2, 3);
    setFat12(d, 3, 4);
    setFat12(d, 4, 0xfff);
    const cut = d.subarray(0, 4 * 512); // only cluster 2 survives
    const c = await openBuf(cut);
    const e = c.entries.find((x) => x.path === '/BIG.BIN');
    expect(e?.extents).toEqual([{ offset: 3 * 512, length: 512 }]);
    expect(c.notes.join('\n')).toMatch(/past the end of the image/);
  });

  it('absurd geometry is not taken for FAT, and a truncated boot sector is an error', async () => {
    const d = tiny();
    new DataView(d.buffer).setUint16(11, 3000, true); // bytes/sector not a power of two
    expect(fatFormat.detect(new BufferSource('x', d))).toBe(0);
    await expect(openBuf(d)).rejects.toBeInstanceOf(ReprodiffError);
    await expect(openBuf(tiny().subarray(0, 300))).rejects.toMatchObject({ code: 'E_TRUNCATED' });
  });

  it('a FAT32 volume claiming 2^32 sectors hits the structure cap instead of allocating', async () => {
    const d = new Uint8Array(4096);
    const v = new DataView(d.buffer);
    d.set([0xeb, 0x58, 0x90], 0);
    v.setUint16(11, 512, true);
    d[13] = 1;
    v.setUint16(14, 32, true);
    d[16] = 2;
    d[21] = 0xf8;
    v.setUint32(32, 0xffffffff, true);
    v.setUint32(36, 0x02000000, true); // FAT of 2^25 sectors
    v.setUint32(44, 2, true);
    d[510] = 0x55;
    d[511] = 0xaa;
    await expect(openBuf(d)).rejects.toMatchObject({ code: 'E_LIMIT' });
  });

  it('an LFN whose checksum does not match is ignored for the short name', async () => {
    const d = tiny();
    const at = 1024;
    d[at] = 0x41; // last LFN entry, ordinal 1
    d.set(Buffer.from('x\0y\0z\0', 'latin1'), at + 1);
    for (let i = 7; i < 11; i++) d[at + i] = 0xff;
    d[at + 11] = 0x0f;
    d[at + 13] = 0x00; // wrong checksum
    for (let i = 14; i < 26; i++) d[at + i] = 0xff;
    for (let i = 28; i < 32; i++) d[at + i] = 0xff;
    dirent(d, at + 32, 'SHORT   TXT', 0x20, 0, 0);
    const c = await openBuf(d);
    expect(c.entries.map((e) => e.path)).toEqual(['/SHORT.TXT']);
    expect(c.notes.join('\n')).toMatch(/long name entries/);
  });
});

describe('FAT sources nested in other sources', () => {
  it.skipIf(!has)('reads a FAT image through a slice of a bigger file with the same spans shifted', async () => {
    const img = build('nested.img', 12, 2048);
    const inner = readFileSync(img);
    const outer = new Uint8Array(inner.length + 4096);
    outer.set(inner, 4096);
    const { SliceSource } = await import('../../src/io/source.js');
    const src: ByteSource = new SliceSource('outer//fat', new BufferSource('outer', outer), 4096, inner.length);
    const c = await fatFormat.open(src, ctx);
    expect(get(c.fields, 'fat.volume_serial')?.spans).toEqual([{ offset: 4096 + 39, length: 4 }]);
  });
});
