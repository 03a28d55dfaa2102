import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mbrFormat } from '../../src/formats/mbr/index.js';
import { BufferSource } from '../../src/io/source.js';
import { FileSource } from '../../src/io/file.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container, Field } from '../../src/model.js';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { buildHybridIso } from '../helpers/hybrid.js';

const { dir, cleanup } = scratch('reprodiff-mbr-');
afterAll(cleanup);
const ctx = { limits: DEFAULT_LIMITS };
const get = (fields: Field[], name: string): Field | undefined => fields.find((f) => f.name === name);
const open = async (path: string): Promise<Container> => mbrFormat.open(new FileSource(path), ctx);

interface SfdiskPart {
  node: string;
  start: number;
  size: number;
  type: string;
  bootable?: boolean;
}

function sfdiskJson(img: string): { id: string; partitions: SfdiskPart[] } {
  return JSON.parse(run('sfdisk', ['-J', img])).partitiontable;
}

describe('MBR on disks partitioned by sfdisk', () => {
  it.skipIf(!hasTool('sfdisk'))('primary and logical partitions agree with sfdisk -J', async () => {
    const img = join(dir, 'disk.img');
    run('truncate', ['-s', '64M', img]);
    run('sfdisk', ['-q', img], {
      input:
        'label: dos\nlabel-id: 0x12345678\n' +
        'start=2048, size=20480, type=83, bootable\n' +
        'start=22528, size=40960, type=5\n' +
        'start=24576, size=8192, type=83\n' +
        'start=34816, size=8192, type=c\n' +
        'start=45056, size=4096, type=82\n',
    });
    const src = new FileSource(img);
    expect(mbrFormat.detect(src)).toBeGreaterThan(0);
    const c = await mbrFormat.open(src, ctx);
    expect(c.notes).toEqual([]);
    const table = sfdiskJson(img);
    expect(get(c.fields, 'mbr.disk_signature')?.value).toBe(table.id.replace(/^0x/, ''));
    expect(get(c.fields, 'mbr.disk_signature')?.kind).toBe('random-id');
    expect(get(c.fields, 'mbr.disk_signature')?.hint).toMatch(/label-id/);
    expect(c.entries.map((e) => e.path)).toEqual(table.partitions.map((p) => p.node.replace(/^.*img/, '/partition-')));
    for (const p of table.partitions) {
      const n = p.node.replace(/^.*img/, '');
      const e = c.entries.find((x) => x.path === `/partition-${n}`)!;
      // logical partitions store their start relative to their EBR; the extent is absolute
      if (Number(n) <= 4) expect(get(e.fields, `mbr.part.${n}.lba_start`)?.value).toBe(p.start);
      expect(get(e.fields, `mbr.part.${n}.sectors`)?.value).toBe(p.size);
      expect(get(e.fields, `mbr.part.${n}.type`)?.value).toBe(parseInt(p.type, 16));
      expect(get(e.fields, `mbr.part.${n}.status`)?.value).toBe(p.bootable ? 0x80 : 0);
      if (p.type !== '5') expect(e.extents).toEqual([{ offset: p.start * 512, length: p.size * 512 }]);
    }
    expect(c.regions.filter((r) => r.name.startsWith('EBR')).length).toBe(3);
  });

  it.skipIf(!hasTool('sfdisk'))('two sfdisk runs without label-id differ in the disk signature', async () => {
    const sigs: unknown[] = [];
    for (const name of ['r1.img', 'r2.img']) {
      const img = join(dir, name);
      run('truncate', ['-s', '8M', img]);
      run('sfdisk', ['-q', img], { input: 'label: dos\nstart=2048, type=83\n' });
      sigs.push(get((await open(img)).fields, 'mbr.disk_signature')?.value);
    }
    expect(sigs[0]).not.toBe(sigs[1]);
  });

  it.skipIf(!hasTool('mkfs.fat'))('leaves FAT volume boot records to the FAT reader', () => {
    const img = join(dir, 'vbr.fat');
    run('mkfs.fat', ['-C', img, '1440']);
    expect(mbrFormat.detect(new FileSource(img))).toBe(0);
  });
});

describe('MBR of hybrid ISOs', () => {
  const hybridOk = hasTool('xorriso') && hasTool('mkfs.fat') && hasTool('mcopy');
  it.skipIf(!hybridOk)('isohybrid MBR: partitions agree with xorriso -report_system_area', async () => {
    const { iso } = buildHybridIso(dir);
    const c = await open(iso);
    expect(c.producer).toMatch(/isohybrid/);
    const report = run('xorriso', ['-indev', iso, '-report_system_area', 'plain']);
    const rows = [...report.matchAll(/^MBR partition\s+:\s+(\d+)\s+0x(\w+)\s+0x(\w+)\s+(\d+)\s+(\d+)/gm)];
    expect(rows.length).toBe(c.entries.length);
    for (const [, n, status, type, start, blocks] of rows) {
      const e = c.entries.find((x) => x.path === `/partition-${n}`)!;
      expect(get(e.fields, `mbr.part.${n}.status`)?.value).toBe(parseInt(status!, 16));
      expect(get(e.fields, `mbr.part.${n}.type`)?.value).toBe(parseInt(type!, 16));
      expect(get(e.fields, `mbr.part.${n}.lba_start`)?.value).toBe(Number(start));
      expect(get(e.fields, `mbr.part.${n}.sectors`)?.value).toBe(Number(blocks));
    }
    // the patched boot image LBA sits apart from the boot code, as a derived layout field
    const lba = get(c.fields, 'mbr.boot_code.image_lba');
    expect(lba?.derived).toBe(true);
    const el = run('xorriso', ['-indev', iso, '-report_el_torito', 'plain']);
    const biosLba = /El Torito boot img :\s+1\s+BIOS.*\s(\d+)\s*$/m.exec(el)?.[1];
    expect(lba?.value).toBe(Number(biosLba) * 4);
    expect(get(c.fields, 'mbr.disk_signature')?.hint).toMatch(/SOURCE_DATE_EPOCH/);
    // partition 1 starts at LBA 0 (the whole ISO): listed without content
    expect(c.entries[0]?.extents).toEqual([]);
  });

  for (const iso of ['/usr/lib/ipxe/ipxe.iso', '/usr/lib/grub-rescue/grub-rescue-cdrom.iso']) {
    it.skipIf(!hasTool('xorriso') || !existsSync(iso))(`opens ${iso} and agrees with xorriso`, async () => {
      const c = await open(iso);
      const report = run('xorriso', ['-indev', iso, '-report_system_area', 'plain']);
      const rows = [...report.matchAll(/^MBR partition\s+:\s+(\d+)\s+0x(\w+)\s+0x(\w+)\s+(\d+)\s+(\d+)/gm)];
      expect(c.entries.map((e) => e.path)).toEqual(rows.map((r) => `/partition-${r[1]}`));
      for (const e of c.entries) {
        for (const x of e.extents) expect(x.offset + x.length).toBeLessThanOrEqual(new FileSource(iso).size);
      }
    });
  }
});

describe('MBR on crafted bad input', () => {
  function disk(sectors: number): Uint8Array {
    const d = new Uint8Array(sectors * 512);
    d[510] = 0x55;
    d[511] = 0xaa;
    return d;
  }
  function part(d: Uint8Array, sectorOff: number, i: number, type: number, lba: number, count: number): void {
    const o = sectorOff + 446 + 16 * i;
    d[o + 4] = type;
    new DataView(d.buffer).setUint32(o + 8, lba, true);
    new DataView(d.buffer).setUint32(o + 12, count, true);
  }

  it('a partition past the end is clipped with a note', async () => {
    const d = disk(100);
    part(d, 0, 0, 0x83, 50, 1000);
    part(d, 0, 1, 0x83, 5000, 10);
    const c = await mbrFormat.open(new BufferSource('x.img', d), ctx);
    expect(c.entries[0]?.extents).toEqual([{ offset: 50 * 512, length: 50 * 512 }]);
    expect(c.entries[1]?.extents).toEqual([]);
    expect(c.notes.length).toBe(2);
  });

  it('an EBR chain that loops stops', async () => {
    const d = disk(100);
    part(d, 0, 0, 0x05, 10, 80);
    // EBR at LBA 10: a logical partition and a link back to itself
    d[10 * 512 + 510] = 0x55;
    d[10 * 512 + 511] = 0xaa;
    part(d, 10 * 512, 0, 0x83, 1, 5);
    part(d, 10 * 512, 1, 0x05, 0, 10);
    const c = await mbrFormat.open(new BufferSource('x.img', d), ctx);
    expect(c.entries.map((e) => e.path)).toEqual(['/partition-1', '/partition-5']);
    expect(c.notes.join('\n')).toMatch(/returns to LBA 10/);
  });

  it('rejects bad status bytes and empty tables, and errors on a short source', async () => {
    const d = disk(1);
    expect(mbrFormat.detect(new BufferSource('x', d))).toBe(0);
    part(d, 0, 0, 0x83, 1, 1);
    expect(mbrFormat.detect(new BufferSource('x', d))).toBeGreaterThan(0);
    d[446] = 0x12;
    expect(mbrFormat.detect(new BufferSource('x', d))).toBe(0);
    await expect((async () => mbrFormat.open(new BufferSource('x', d.subarray(0, 200)), ctx))()).rejects.toMatchObject({ code: 'E_TRUNCATED' });
  });
});
