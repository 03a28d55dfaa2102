/**
 * El Torito bootable CD-ROM format (Phoenix/IBM 1.0): the boot record volume descriptor among the ISO 9660
 * volume descriptors, the boot catalog (validation entry, initial entry, section headers and entries), and each
 * boot image as an entry. Also the isolinux/mkisofs boot info table patched into BIOS no-emulation images.
 */
import type { Container, Entry, Field, Format, OpenContext, Region } from '../../model.js';
import { field } from '../../model.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource, Extent } from '../../io/source.js';
import { readBpb } from '../fat/bpb.js';

const SECTOR = 2048;
const FIRST_VD = 16;
/** volume descriptors scanned before giving up on a terminator */
const MAX_VDS = 64;
/** boot catalog sectors read at most (64 entries each) */
const MAX_CATALOG_SECTORS = 16;
const EL_TORITO = 'EL TORITO SPECIFICATION';

const PLATFORMS: Record<number, string> = { 0: 'bios', 1: 'ppc', 2: 'mac', 0xef: 'efi' };
const FLOPPY_BYTES: Record<number, number> = { 1: 1228800, 2: 1474560, 3: 2949120 };
const MEDIA = ['no emulation', '1.2M floppy', '1.44M floppy', '2.88M floppy', 'hard disk'];

/** The byte offset of the boot record volume descriptor, or -1. */
function findBootRecord(src: ByteSource): number {
  for (let i = 0; i < MAX_VDS; i++) {
    const off = (FIRST_VD + i) * SECTOR;
    if (off + SECTOR > src.size) return -1;
    const vd = src.read(off, 40, 'volume descriptor');
    // 1 - standard identifier CD001
    if (String.fromCharCode(...vd.subarray(1, 6)) !== 'CD001') return -1;
    const type = vd[0] as number;
    if (type === 255) return -1;
    if (type === 0 && String.fromCharCode(...vd.subarray(7, 7 + EL_TORITO.length)) === EL_TORITO) return off;
  }
  return -1;
}

function detect(src: ByteSource): number {
  return findBootRecord(src) >= 0 ? 70 : 0;
}

const platformName = (p: number): string => PLATFORMS[p] ?? `pf${p.toString(16).padStart(2, '0')}`;

interface ImageEntry {
  /** catalog offset of the 32-byte entry */
  off: number;
  platform: number;
}

function open(src: ByteSource, ctx: OpenContext): Container {
  const brOff = findBootRecord(src);
  if (brOff < 0) {
    throw Bytes.at(src, 0, Math.min(src.size, 1), 'volume descriptor set').error(0, 'no El Torito boot record volume descriptor');
  }
  const notes: string[] = [];
  const fields: Field[] = [];
  const regions: Region[] = [];
  const br = Bytes.at(src, brOff, SECTOR, 'boot record volume descriptor');
  const catLba = br.u32le(0x47); // 0x47 - absolute pointer to the boot catalog
  fields.push(
    field('eltorito.brvd.system_id', br.ascii(7, 32), 'content', br.spans(7, 32)),
    field('eltorito.brvd.catalog_lba', catLba, 'layout', br.spans(0x47, 4), { derived: true }),
  );
  regions.push({ name: 'boot record volume descriptor', role: 'metadata', spans: br.spans(0, SECTOR) });

  const catOff = catLba * SECTOR;
  if (catLba < FIRST_VD || catOff + 64 > src.size) throw br.error(0x47, `boot catalog LBA ${catLba} is outside the image`);
  const catLen = Math.min(MAX_CATALOG_SECTORS * SECTOR, src.size - catOff);
  const cat = Bytes.at(src, catOff, catLen - (catLen % 32), 'boot catalog');

  // Validation entry
  if (cat.u8(0) !== 1) throw cat.error(0, `validation entry header id is ${cat.u8(0)}, not 1`);
  if (cat.u8(30) !== 0x55 || cat.u8(31) !== 0xaa) throw cat.error(30, 'validation entry has no 55AA key');
  let sum = 0;
  for (let i = 0; i < 32; i += 2) sum = (sum + cat.u16le(i)) & 0xffff;
  if (sum !== 0) notes.push(`boot catalog validation entry checksum does not sum to zero (sum ${sum.toString(16)})`);
  const basePlatform = cat.u8(1);
  fields.push(
    field('eltorito.validation.header_id', 1, 'content', cat.spans(0, 1)),
    field('eltorito.validation.platform', basePlatform, 'content', cat.spans(1, 1)),
    field('eltorito.validation.id_string', cat.ascii(4, 24), 'content', cat.spans(4, 24)),
    field('eltorito.validation.checksum', cat.hex(28, 2), 'checksum', cat.spans(28, 2), { covers: cat.spans(0, 32) }),
    field('eltorito.validation.key', cat.hex(30, 2), 'content', cat.spans(30, 2)),
  );

  // Initial/default entry, then section headers each followed by their entries (and extension entries)
  const images: ImageEntry[] = [{ off: 32, platform: basePlatform }];
  let pos = 64;
  let section = 0;
  let final = false;
  while (!final && pos + 32 <= cat.length) {
    const indicator = cat.u8(pos);
    if (indicator !== 0x90 && indicator !== 0x91) break; // the end of the catalog (normally 0x00)
    final = indicator === 0x91;
    section++;
    const platform = cat.u8(pos + 1);
    const count = cat.u16le(pos + 2);
    const s = `eltorito.section.${section}`;
    fields.push(
      field(`${s}.indicator`, indicator, 'content', cat.spans(pos, 1)),
      field(`${s}.platform`, platform, 'content', cat.spans(pos + 1, 1)),
      field(`${s}.entries`, count, 'size', cat.spans(pos + 2, 2), { derived: true }),
      field(`${s}.id_string`, cat.ascii(pos + 4, 28), 'content', cat.spans(pos + 4, 28)),
    );
    pos += 32;
    for (let k = 0; k < count; k++) {
      if (pos + 32 > cat.length) {
        notes.push(`section ${section} claims ${count} entries but the boot catalog ends after ${k}`);
        break;
      }
      images.push({ off: pos, platform });
      const extended = (cat.u8(pos + 1) & 0x20) !== 0;
      pos += 32;
      // extension entries (0x44) follow while the "more follow" bit is set
      let more = extended;
      while (more && pos + 32 <= cat.length && cat.u8(pos) === 0x44) {
        more = (cat.u8(pos + 1) & 0x20) !== 0;
        pos += 32;
      }
    }
    if (images.length > ctx.limits.maxEntries) throw cat.error(pos, 'boot catalog has more entries than the entry limit', 'E_LIMIT');
  }
  if (!final && section > 0) notes.push('boot catalog has no final section header (0x91)');
  regions.push({ name: 'boot catalog', role: 'metadata', spans: cat.spans(0, pos) });
  const catEnd = Math.min(cat.length, Math.ceil(pos / SECTOR) * SECTOR);
  if (catEnd > pos) regions.push({ name: 'boot catalog padding', role: 'padding', spans: cat.spans(pos, catEnd - pos) });

  const entries: Entry[] = images.map((img, i) => readImage(src, cat, img, i + 1, notes, ctx.limits.maxStructureBytes));
  const producer = cat.ascii(4, 24) || undefined;
  return { format: 'eltorito', source: src, producer, fields, entries, regions, notes };
}

function readImage(src: ByteSource, cat: Bytes, img: ImageEntry, n: number, notes: string[], maxBytes: number): Entry {
  const o = img.off;
  const p = `eltorito.entry.${n}`;
  const media = cat.u8(o + 1) & 0x0f;
  const count = cat.u16le(o + 6);
  const rba = cat.u32le(o + 8);
  const fields: Field[] = [
    field(`${p}.boot_indicator`, cat.u8(o), 'content', cat.spans(o, 1)),
    field(`${p}.media_type`, cat.u8(o + 1), 'content', cat.spans(o + 1, 1)),
    field(`${p}.load_segment`, cat.u16le(o + 2), 'content', cat.spans(o + 2, 2)),
    field(`${p}.system_type`, cat.u8(o + 4), 'content', cat.spans(o + 4, 1)),
    field(`${p}.sector_count`, count, 'size', cat.spans(o + 6, 2), { derived: true }),
    field(`${p}.load_rba`, rba, 'layout', cat.spans(o + 8, 4), { derived: true }),
  ];
  if (o !== 32) {
    fields.push(field(`${p}.selection_criteria`, cat.hex(o + 12, 20), 'content', cat.spans(o + 12, 20)));
  }
  const label = `boot image ${n}`;
  const start = rba * SECTOR;
  let size: number;
  if (media === 0) {
    size = count * 512;
  } else if (FLOPPY_BYTES[media] !== undefined) {
    size = FLOPPY_BYTES[media] as number;
  } else if (media === 4) {
    size = hardDiskSize(src, start);
    notes.push(`${label} emulates a hard disk; its size (${size} bytes) is the end of the last partition in its MBR`);
  } else {
    size = count * 512;
    notes.push(`${label} has unknown media type ${media} (${MEDIA[media] ?? 'reserved'})`);
  }
  if (start >= src.size) {
    notes.push(`${label} starts at LBA ${rba}, past the end of the image; listed without content`);
    size = 0;
  } else {
    if (media === 0 && img.platform === 0xef && count <= 1) {
      const fatSize = fatVolumeSize(src, start);
      if (fatSize > 0) {
        notes.push(`${label} has sector count ${count}; its size (${fatSize} bytes) is taken from the FAT boot sector`);
        size = fatSize;
      }
    }
    if (media === 0 && img.platform === 0) {
      const bi = bootInfoTable(src, start, rba, p, notes, maxBytes);
      if (bi) {
        fields.push(...bi.fields);
        size = bi.length;
      }
    }
    if (start + size > src.size) {
      notes.push(`${label} runs past the end of the image; only the ${src.size - start} bytes inside are used`);
      size = src.size - start;
    }
  }
  const extents: Extent[] = size > 0 ? [{ offset: start, length: size }] : [];
  return {
    path: `/boot-${n}-${platformName(img.platform)}`,
    type: 'file',
    size,
    extents,
    fields,
    meta: {},
    order: n - 1,
  };
}

/** Bytes of a FAT volume at `off` according to its boot sector, or 0 when it is not FAT or does not fit. */
function fatVolumeSize(src: ByteSource, off: number): number {
  if (off + 512 > src.size) return 0;
  const bpb = readBpb(src.read(off, 512, 'EFI boot image boot sector'));
  if (!bpb) return 0;
  const bytes = bpb.totalSectors * bpb.bytesPerSector;
  return off + bytes <= src.size ? bytes : 0;
}

/** Size of a hard-disk-emulation image: the end of its furthest MBR partition. */
function hardDiskSize(src: ByteSource, off: number): number {
  if (off + 512 > src.size) return 0;
  const b = Bytes.at(src, off, 512, 'hard disk emulation MBR');
  let end = 0;
  for (let i = 0; i < 4; i++) {
    const e = 446 + 16 * i;
    end = Math.max(end, (b.u32le(e + 8) + b.u32le(e + 12)) * 512);
  }
  return end || 512;
}

/**
 * The boot info table (mkisofs/xorriso -boot-info-table) at bytes 8..63 of a BIOS no-emulation image:
 * LBA of the PVD (16), LBA of the boot file, its length, and a 32-bit sum of the file from byte 64.
 */
function bootInfoTable(
  src: ByteSource,
  start: number,
  rba: number,
  p: string,
  notes: string[],
  maxBytes: number,
): { fields: Field[]; length: number } | null {
  if (start + 64 > src.size) return null;
  const b = Bytes.at(src, start, 64, 'boot info table');
  const pvd = b.u32le(8); // 8 - bi_pvd
  const file = b.u32le(12); // 12 - bi_file
  const length = b.u32le(16); // 16 - bi_length
  const csum = b.u32le(20); // 20 - bi_csum
  if (pvd !== FIRST_VD || file !== rba || length < 64 || start + length > src.size) return null;
  if (length > maxBytes) {
    notes.push(`${p}: boot info table claims a ${length}-byte file, over the limit of ${maxBytes}; not checked`);
    return null;
  }
  // the sum runs over 32-bit little-endian words from byte 64 to the end of the file, read in bounded pieces
  let sum = 0;
  const piece = 1 << 20;
  for (let pos = 64; pos < length; pos += piece) {
    const data = src.read(start + pos, Math.min(piece, length - pos), 'boot file');
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const whole = data.length & ~3;
    for (let i = 0; i < whole; i += 4) sum = (sum + view.getUint32(i, true)) >>> 0;
    if (whole < data.length) {
      let last = 0;
      for (let i = whole; i < data.length; i++) last |= (data[i] as number) << (8 * (i - whole));
      sum = (sum + (last >>> 0)) >>> 0;
    }
  }
  if (sum !== csum) notes.push(`${p}: boot info table checksum ${csum.toString(16)} does not match the file (${sum.toString(16)})`);
  const fileSpans = src.spans(start + 64, length - 64);
  return {
    length,
    fields: [
      field(`${p}.boot_info.pvd_lba`, pvd, 'layout', b.spans(8, 4), { derived: true }),
      field(`${p}.boot_info.file_lba`, file, 'layout', b.spans(12, 4), { derived: true }),
      field(`${p}.boot_info.length`, length, 'layout', b.spans(16, 4), { derived: true }),
      field(`${p}.boot_info.checksum`, csum.toString(16).padStart(8, '0'), 'checksum', b.spans(20, 4), { covers: fileSpans }),
    ],
  };
}

/** its partitions (boot images) lie over what the other views of a hybrid image parse */
export const eltoritoFormat: Format = { name: 'eltorito', detect, exclusive: false, coResident: true, open };
