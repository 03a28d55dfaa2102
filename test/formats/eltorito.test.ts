import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eltoritoFormat } from '../../src/formats/eltorito/index.js';
import { fatFormat } from '../../src/formats/fat/index.js';
import { BufferSource, ExtentSource } from '../../src/io/source.js';
import { FileSource } from '../../src/io/file.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container, Field } from '../../src/model.js';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { buildHybridIso } from '../helpers/hybrid.js';

const { dir, cleanup } = scratch('reprodiff-eltorito-');
afterAll(cleanup);
const ctx = { limits: DEFAULT_LIMITS };
const get = (fields: Field[], name: string): Field | undefined => fields.find((f) => f.name === name);
const open = async (path: string): Promise<Container> => eltoritoFormat.open(new FileSource(path), ctx);
const openBuf = async (d: Uint8Array): Promise<Container> => eltoritoFormat.open(new BufferSource('crafted.iso', d), ctx);

const ISOLINUX = '/usr/lib/ISOLINUX/isolinux.bin';
const canBuild = hasTool('xorriso') && hasTool('mkfs.fat') && hasTool('mcopy') && existsSync(ISOLINUX);

interface ToolImage {
  n: number;
  platform: string;
  emul: string;
  ldsiz: number;
  lba: number;
  path?: string;
  opts?: string;
}

/** Parses `xorriso -report_el_torito plain`. */
function xorrisoImages(iso: string): ToolImage[] {
  const out = run('xorriso', ['-indev', iso, '-report_el_torito', 'plain']);
  const images: ToolImage[] = [];
  for (const m of out.matchAll(/^El Torito boot img :\s+(\d+)\s+(\w+)\s+\w\s+(\w+)\s+0x\w+\s+0x\w+\s+(\d+)\s+(\d+)/gm)) {
    images.push({ n: Number(m[1]), platform: m[2]!, emul: m[3]!, ldsiz: Number(m[4]), lba: Number(m[5]) });
  }
  for (const m of out.matchAll(/^El Torito img path :\s+(\d+)\s+(\S+)/gm)) images[Number(m[1]) - 1]!.path = m[2];
  for (const m of out.matchAll(/^El Torito img opts :\s+(\d+)\s+(.+)$/gm)) images[Number(m[1]) - 1]!.opts = m[2];
  return images;
}

/** Compares our entries with xorriso's report: platform, sector count, load RBA. */
function checkAgainstXorriso(c: Container, iso: string): ToolImage[] {
  const images = xorrisoImages(iso);
  expect(c.entries.length).toBe(images.length);
  for (const img of images) {
    const e = c.entries[img.n - 1]!;
    expect(e.path).toBe(`/boot-${img.n}-${img.platform === 'UEFI' ? 'efi' : img.platform.toLowerCase()}`);
    expect(get(e.fields, `eltorito.entry.${img.n}.sector_count`)?.value).toBe(img.ldsiz);
    expect(get(e.fields, `eltorito.entry.${img.n}.load_rba`)?.value).toBe(img.lba);
    expect(e.extents[0]?.offset).toBe(img.lba * 2048);
    if (img.emul === 'none') expect(get(e.fields, `eltorito.entry.${img.n}.media_type`)?.value).toBe(0);
  }
  return images;
}

describe('El Torito on xorriso hybrid ISOs', () => {
  let iso = '';
  let tree = '';
  beforeAll(() => {
    if (!canBuild) return;
    ({ iso, tree } = buildHybridIso(dir, { efiFile: true }));
  });

  it.skipIf(!canBuild)('boot catalog and images agree with xorriso -report_el_torito', async () => {
    const src = new FileSource(iso);
    expect(eltoritoFormat.detect(src)).toBeGreaterThan(0);
    const c = await eltoritoFormat.open(src, ctx);
    expect(c.notes).toEqual([]);
    const images = checkAgainstXorriso(c, iso);
    const out = run('xorriso', ['-indev', iso, '-report_el_torito', 'plain']);
    const catLba = /^El Torito catalog\s+:\s+(\d+)/m.exec(out)?.[1];
    expect(get(c.fields, 'eltorito.brvd.catalog_lba')?.value).toBe(Number(catLba));
    expect(get(c.fields, 'eltorito.validation.checksum')?.covers).toEqual([{ offset: Number(catLba) * 2048, length: 32 }]);
    expect(images[0]?.opts).toMatch(/boot-info-table/);

    // the BIOS image is isolinux.bin itself, whole (the boot info table gives its length)
    const bios = c.entries[0]!;
    const isolinux = readFileSync(join(tree, 'isolinux', 'isolinux.bin'));
    expect(bios.size).toBe(isolinux.length);
    expect(get(bios.fields, 'eltorito.entry.1.boot_info.pvd_lba')?.value).toBe(16);
    expect(get(bios.fields, 'eltorito.entry.1.boot_info.file_lba')).toMatchObject({ value: images[0]!.lba, derived: true });
    expect(get(bios.fields, 'eltorito.entry.1.boot_info.checksum')?.covers).toEqual([
      { offset: images[0]!.lba * 2048 + 64, length: isolinux.length - 64 },
    ]);
    // past the table, the bytes are the file's
    const got = new ExtentSource('bios', src, bios.extents).read(64, isolinux.length - 64);
    expect(Buffer.from(got).equals(isolinux.subarray(64))).toBe(true);

    // the EFI image is the FAT file system, byte for byte, and opens as FAT
    const efi = c.entries[1]!;
    const efiboot = readFileSync(join(tree, 'efiboot.img'));
    expect(efi.size).toBe(efiboot.length);
    const efiSrc = new ExtentSource('efi', src, efi.extents);
    expect(Buffer.from(efiSrc.read(0, efi.size)).equals(efiboot)).toBe(true);
    const fat = await fatFormat.open(efiSrc, ctx);
    expect(fat.entries.map((e) => e.path)).toContain('/EFI/BOOT/BOOTX64.EFI');
  });

  it.skipIf(!canBuild)('an EFI image whose catalog count is 1 takes its size from its FAT boot sector', async () => {
    const crafted = new Uint8Array(readFileSync(iso));
    const catLba = get((await open(iso)).fields, 'eltorito.brvd.catalog_lba')!.value as number;
    const entry = catLba * 2048 + 64 + 32; // the first section entry
    new DataView(crafted.buffer).setUint16(entry + 6, 1, true);
    const c = await openBuf(crafted);
    expect(c.entries[1]?.size).toBe(2880 * 1024);
    expect(c.notes.join('\n')).toMatch(/taken from the FAT boot sector/);
  });

  it.skipIf(!hasTool('grub-mkrescue') || !hasTool('xorriso'))('grub-mkrescue output agrees with xorriso', async () => {
    const gtree = join(dir, 'gtree', 'boot', 'grub');
    mkdirSync(gtree, { recursive: true });
    writeFileSync(join(gtree, 'grub.cfg'), 'set timeout=0\n');
    const out = join(dir, 'grub.iso');
    run('grub-mkrescue', ['-o', out, join(dir, 'gtree')]);
    const c = await open(out);
    expect(c.notes).toEqual([]);
    checkAgainstXorriso(c, out);
  });

  for (const shipped of ['/usr/lib/ipxe/ipxe.iso', '/usr/lib/grub-rescue/grub-rescue-cdrom.iso']) {
    it.skipIf(!existsSync(shipped) || !hasTool('xorriso'))(`opens ${shipped} without error and agrees with xorriso`, async () => {
      const c = await open(shipped);
      expect(c.notes).toEqual([]);
      checkAgainstXorriso(c, shipped);
    });
  }
});

describe('El Torito on crafted bad input', () => {
  /** An ISO-like image: PVD at 16, boot record at 17, terminator at 18, catalog at 20, images after. */
  function image(sectors = 40): Uint8Array {
    const d = new Uint8Array(sectors * 2048);
    const v = new DataView(d.buffer);
    const vd = (lba: number, type: number): void => {
      d[lba * 2048] = type;
      d.set(Buffer.from('CD001'), lba * 2048 + 1);
      d[lba * 2048 + 6] = 1;
    };
    vd(16, 1);
    vd(17, 0);
    d.set(Buffer.from('EL TORITO SPECIFICATION'), 17 * 2048 + 7);
    v.setUint32(17 * 2048 + 0x47, 20, true);
    vd(18, 255);
    const cat = 20 * 2048;
    d[cat] = 1;
    d[cat + 30] = 0x55;
    d[cat + 31] = 0xaa;
    let sum = 0;
    for (let i = 0; i < 32; i += 2) sum = (sum + v.getUint16(cat + i, true)) & 0xffff;
    v.setUint16(cat + 28, (0x10000 - sum) & 0xffff, true);
    d[cat + 32] = 0x88;
    v.setUint16(cat + 32 + 6, 4, true);
    v.setUint32(cat + 32 + 8, 21, true);
    return d;
  }

  it('a minimal catalog reads with one BIOS image', async () => {
    const c = await openBuf(image());
    expect(c.notes).toEqual([]);
    expect(c.entries.map((e) => [e.path, e.extents])).toEqual([['/boot-1-bios', [{ offset: 21 * 2048, length: 2048 }]]]);
  });

  it('a section claiming 65535 entries stops at the end of the catalog area', async () => {
    const d = image(20 + 16 + 2);
    const cat = 20 * 2048;
    d[cat + 64] = 0x91;
    d[cat + 65] = 0xef;
    new DataView(d.buffer).setUint16(cat + 66, 0xffff, true);
    const c = await openBuf(d);
    expect(c.notes.join('\n')).toMatch(/claims 65535 entries/);
    expect(c.entries.length).toBeLessThanOrEqual(16 * 64);
  });

  it('a catalog past the end, a bad validation entry and a bad checksum are reported', async () => {
    const far = image();
    new DataView(far.buffer).setUint32(17 * 2048 + 0x47, 9999, true);
    await expect(openBuf(far)).rejects.toMatchObject({ code: 'E_FORMAT', structure: 'boot record volume descriptor' });
    const key = image();
    key[20 * 2048 + 31] = 0;
    await expect(openBuf(key)).rejects.toMatchObject({ code: 'E_FORMAT', structure: 'boot catalog' });
    const sum = image();
    sum[20 * 2048 + 4] = 0x41;
    expect((await openBuf(sum)).notes.join('\n')).toMatch(/checksum/);
  });

  it('an image past the end is listed without content; no terminator within the cap is not El Torito', async () => {
    const d = image();
    new DataView(d.buffer).setUint32(20 * 2048 + 32 + 8, 1_000_000, true);
    const c = await openBuf(d);
    expect(c.entries[0]?.extents).toEqual([]);
    expect(c.notes.join('\n')).toMatch(/past the end/);
    const many = new Uint8Array(100 * 2048);
    for (let i = 16; i < 100; i++) {
      many[i * 2048] = 2;
      many.set(Buffer.from('CD001'), i * 2048 + 1);
    }
    expect(eltoritoFormat.detect(new BufferSource('x', many))).toBe(0);
  });
});
