import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gptFormat } from '../../src/formats/gpt/index.js';
import { BufferSource } from '../../src/io/source.js';
import { FileSource } from '../../src/io/file.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { crc32 } from '../../src/util/crc32.js';
import type { Container, Field } from '../../src/model.js';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { buildHybridIso } from '../helpers/hybrid.js';

const { dir, cleanup } = scratch('reprodiff-gpt-');
afterAll(cleanup);
const ctx = { limits: DEFAULT_LIMITS };
const get = (fields: Field[], name: string): Field | undefined => fields.find((f) => f.name === name);
const open = async (path: string): Promise<Container> => gptFormat.open(new FileSource(path), ctx);
const openBuf = async (d: Uint8Array): Promise<Container> => gptFormat.open(new BufferSource('crafted.img', d), ctx);

interface SfdiskGpt {
  id: string;
  firstlba: number;
  lastlba: number;
  partitions: { node: string; start: number; size: number; type: string; uuid: string; name?: string }[];
}

function makeDisk(name: string, extra: string[] = []): string {
  const img = join(dir, name);
  run('truncate', ['-s', '32M', img]);
  run('sgdisk', ['-o', '-n', '1:2048:+4M', '-t', '1:ef00', '-c', '1:EFI System', '-n', '2:0:0', '-t', '2:8300', '-c', '2:root', ...extra, img]);
  return img;
}

describe('GPT on disks partitioned by sgdisk', () => {
  it.skipIf(!hasTool('sgdisk') || !hasTool('sfdisk'))('headers and partitions agree with sfdisk -J', async () => {
    const img = makeDisk('disk.img');
    const src = new FileSource(img);
    expect(gptFormat.detect(src)).toBeGreaterThan(0);
    const c = await gptFormat.open(src, ctx);
    expect(c.notes).toEqual([]);
    const t: SfdiskGpt = JSON.parse(run('sfdisk', ['-J', img])).partitiontable;
    expect(get(c.fields, 'gpt.header.disk_guid')?.value).toBe(t.id.toLowerCase());
    expect(get(c.fields, 'gpt.header.disk_guid')?.kind).toBe('random-id');
    expect(get(c.fields, 'gpt.header.disk_guid')?.hint).toMatch(/sgdisk -U/);
    expect(get(c.fields, 'gpt.header.first_usable_lba')?.value).toBe(t.firstlba);
    expect(get(c.fields, 'gpt.header.last_usable_lba')?.value).toBe(t.lastlba);
    expect(get(c.fields, 'gpt.backup.header.disk_guid')?.value).toBe(t.id.toLowerCase());
    expect(get(c.fields, 'gpt.backup.header.my_lba')?.value).toBe(src.size / 512 - 1);
    expect(c.entries.map((e) => e.path)).toEqual(t.partitions.map((p) => p.node.replace(/^.*img/, '/partition-')));
    for (const [i, p] of t.partitions.entries()) {
      const n = i + 1;
      const e = c.entries[i]!;
      expect(get(e.fields, `gpt.part.${n}.type_guid`)?.value).toBe(p.type.toLowerCase());
      expect(get(e.fields, `gpt.part.${n}.unique_guid`)?.value).toBe(p.uuid.toLowerCase());
      expect(get(e.fields, `gpt.part.${n}.name`)?.value).toBe(p.name);
      expect(get(e.fields, `gpt.part.${n}.first_lba`)?.value).toBe(p.start);
      expect(e.extents).toEqual([{ offset: p.start * 512, length: p.size * 512 }]);
    }
    // CRCs say what they cover
    const crc = get(c.fields, 'gpt.header.crc32');
    expect(crc?.kind).toBe('checksum');
    expect(crc?.covers).toEqual([{ offset: 512, length: 92 }]);
    expect(get(c.fields, 'gpt.header.entries_crc32')?.covers).toEqual([{ offset: 1024, length: 128 * 128 }]);
    expect(c.regions.find((r) => r.name === 'primary GPT header sector padding')?.spans).toEqual([{ offset: 604, length: 420 }]);
  });

  it.skipIf(!hasTool('sgdisk'))('GUIDs are random per run unless given with -U and -u', async () => {
    const a = await open(makeDisk('r1.img'));
    const b = await open(makeDisk('r2.img'));
    expect(get(a.fields, 'gpt.header.disk_guid')?.value).not.toBe(get(b.fields, 'gpt.header.disk_guid')?.value);
    const fixed = ['-U', '11111111-2222-3333-4444-555555555555', '-u', '1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'];
    const c = await open(makeDisk('f1.img', fixed));
    expect(get(c.fields, 'gpt.header.disk_guid')?.value).toBe('11111111-2222-3333-4444-555555555555');
    expect(get(c.entries[0]!.fields, 'gpt.part.1.unique_guid')?.value).toBe('aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee');
  });
});

describe('GPT of hybrid ISOs', () => {
  const ok = hasTool('xorriso') && hasTool('mkfs.fat');
  it.skipIf(!ok)('xorriso -isohybrid-gpt-basdat: partitions agree with -report_system_area', async () => {
    const { iso } = buildHybridIso(dir);
    const c = await open(iso);
    expect(c.notes.filter((n) => !/starts at LBA 0/.test(n))).toEqual([]);
    expect(c.producer).toBe('xorriso');
    const report = run('xorriso', ['-indev', iso, '-report_system_area', 'plain']);
    // xorriso prints the GUID bytes as stored; ours is the mixed-endian text form of the same bytes
    const rawGuid = /^GPT disk GUID\s+:\s+([0-9a-f]{32})/m.exec(report)?.[1] ?? '';
    const stored = Buffer.from(rawGuid, 'hex');
    const text = get(c.fields, 'gpt.header.disk_guid')?.value as string;
    const h = text.replace(/-/g, '');
    const asStored = h.slice(6, 8) + h.slice(4, 6) + h.slice(2, 4) + h.slice(0, 2) + h.slice(10, 12) + h.slice(8, 10) + h.slice(14, 16) + h.slice(12, 14) + h.slice(16);
    expect(asStored).toBe(stored.toString('hex'));
    expect(get(c.fields, 'gpt.header.disk_guid')?.hint).toMatch(/SOURCE_DATE_EPOCH|--gpt_disk_guid/);
    const rows = [...report.matchAll(/^GPT start and size :\s+(\d+)\s+(\d+)\s+(\d+)/gm)];
    expect(rows.length).toBe(c.entries.length);
    for (const [, n, start, size] of rows) {
      const e = c.entries.find((x) => x.path === `/partition-${n}`)!;
      expect(get(e.fields, `gpt.part.${n}.first_lba`)?.value).toBe(Number(start));
      expect(get(e.fields, `gpt.part.${n}.last_lba`)?.value).toBe(Number(start) + Number(size) - 1);
    }
    const names = [...report.matchAll(/^GPT partname local :\s+(\d+)\s+(\S+)/gm)];
    for (const [, n, name] of names) expect(get(c.entries[Number(n) - 1]!.fields, `gpt.part.${n}.name`)?.value).toBe(name);
  });

  it.skipIf(!hasTool('grub-mkrescue'))('grub-mkrescue: GUIDs follow the clock despite SOURCE_DATE_EPOCH, unless --modification-date is given', async () => {
    const g = join(dir, 'gtree', 'boot', 'grub');
    mkdirSync(g, { recursive: true });
    writeFileSync(join(g, 'grub.cfg'), 'set timeout=0\n');
    const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000' };
    const guid = async (name: string, extra: string[]): Promise<unknown> => {
      const iso = join(dir, name);
      run('grub-mkrescue', ['-o', iso, join(dir, 'gtree'), ...extra], { env });
      return get((await open(iso)).fields, 'gpt.header.disk_guid')?.value;
    };
    const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 1100));
    const a = await guid('g1.iso', []);
    await pause();
    const b = await guid('g2.iso', []);
    expect(a).not.toBe(b);
    const fixed = ['--modification-date=2023111422132000'];
    const c = await guid('g3.iso', fixed);
    await pause();
    const d = await guid('g4.iso', fixed);
    expect(c).toBe(d);
  });

  it.skipIf(!existsSync('/usr/lib/ipxe/ipxe.iso'))('an ISO without GPT is not taken for one', () => {
    expect(gptFormat.detect(new FileSource('/usr/lib/ipxe/ipxe.iso'))).toBe(0);
  });
});

describe('GPT on crafted bad input', () => {
  /** A minimal valid GPT disk of `sectors` 512-byte sectors with one partition, CRCs correct. */
  function disk(sectors = 128): Uint8Array {
    const d = new Uint8Array(sectors * 512);
    const v = new DataView(d.buffer);
    const writeHeader = (lba: number, alt: number, entriesLba: number): void => {
      const o = lba * 512;
      d.set(Buffer.from('EFI PART'), o);
      v.setUint32(o + 8, 0x00010000, true);
      v.setUint32(o + 12, 92, true);
      v.setBigUint64(o + 24, BigInt(lba), true);
      v.setBigUint64(o + 32, BigInt(alt), true);
      v.setBigUint64(o + 40, 34n, true);
      v.setBigUint64(o + 48, BigInt(sectors - 34), true);
      d.fill(0x42, o + 56, o + 72);
      v.setBigUint64(o + 72, BigInt(entriesLba), true);
      v.setUint32(o + 80, 128, true);
      v.setUint32(o + 84, 128, true);
      v.setUint32(o + 88, crc32(d.subarray(entriesLba * 512, entriesLba * 512 + 128 * 128)), true);
      v.setUint32(o + 16, crc32(d.subarray(o, o + 92)), true);
    };
    const entry = (lba: number): void => {
      const o = lba * 512;
      d.fill(0x11, o, o + 16);
      d.fill(0x22, o + 16, o + 32);
      v.setBigUint64(o + 32, 40n, true);
      v.setBigUint64(o + 40, 59n, true);
      d.set(Buffer.from('p\0a\0r\0t\0'), o + 56);
    };
    entry(2);
    entry(sectors - 33);
    writeHeader(1, sectors - 1, 2);
    writeHeader(sectors - 1, 1, sectors - 33);
    return d;
  }

  it('a crafted disk reads cleanly, and a flipped byte is reported as a CRC mismatch', async () => {
    const d = disk();
    const c = await openBuf(d);
    expect(c.notes).toEqual([]);
    expect(c.entries.map((e) => [e.path, e.extents])).toEqual([['/partition-1', [{ offset: 40 * 512, length: 20 * 512 }]]]);
    d[512 + 60] ^= 1; // disk GUID byte
    d[1024 + 60] ^= 1; // partition entry byte
    const bad = await openBuf(d);
    expect(bad.notes.join('\n')).toMatch(/header CRC32/);
    expect(bad.notes.join('\n')).toMatch(/entry array CRC32/);
  });

  it('a header claiming 2^32-1 entries of 4 GiB each reads nothing huge', async () => {
    const d = disk();
    new DataView(d.buffer).setUint32(512 + 80, 0xffffffff, true);
    const c = await openBuf(d);
    expect(c.notes.join('\n')).toMatch(/over the limit/);
    const d2 = disk();
    new DataView(d2.buffer).setUint32(512 + 84, 0xffffffff, true);
    const c2 = await openBuf(d2);
    expect(c2.notes.join('\n')).toMatch(/entry size/);
    expect(c2.entries).toEqual([]);
  });

  it('a truncated disk: backup missing and a partition past the end are notes, not crashes', async () => {
    const d = disk().subarray(0, 50 * 512);
    const c = await openBuf(d);
    expect(c.notes.join('\n')).toMatch(/backup GPT header .* past the end/);
    expect(c.entries[0]?.extents).toEqual([{ offset: 40 * 512, length: 10 * 512 }]);
    await expect(openBuf(d.subarray(0, 600))).rejects.toMatchObject({ code: 'E_FORMAT' });
  });

  it('a header size outside 92..512 is a format error naming the structure', async () => {
    const d = disk();
    new DataView(d.buffer).setUint32(512 + 12, 9999, true);
    await expect(openBuf(d)).rejects.toMatchObject({ code: 'E_FORMAT', structure: 'primary GPT header', offset: 524 });
  });

  it("finds a GPT laid out in 2048-byte sectors", async () => {
    const d = new Uint8Array(64 * 2048);
    const small = disk(64);
    // the same header at LBA 1 of 2048-byte sectors, its entries at LBA 2
    d.set(small.subarray(512, 1024), 2048);
    const v = new DataView(d.buffer);
    v.setBigUint64(2048 + 24, 1n, true);
    v.setBigUint64(2048 + 32, 63n, true);
    v.setBigUint64(2048 + 72, 2n, true);
    d.set(small.subarray(1024, 1024 + 128 * 128), 2 * 2048);
    v.setUint32(2048 + 16, 0, true);
    v.setUint32(2048 + 16, crc32(d.subarray(2048, 2048 + 92)), true);
    const c = await openBuf(d);
    expect(c.entries[0]?.extents).toEqual([{ offset: 40 * 2048, length: 20 * 2048 }]);
    expect(c.notes.join('\n')).toMatch(/no backup GPT header/);
  });
});

