/**
 * The PC master boot record: boot code, disk signature and the four primary partition entries, plus the chain
 * of extended boot records (logical partitions). Co-resident: a hybrid ISO carries an MBR in its system area.
 */
import type { Container, Entry, Field, Format, OpenContext, Region } from '../../model.js';
import { field } from '../../model.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource, Extent } from '../../io/source.js';
import { readBpb } from '../fat/bpb.js';
import { containsAscii, shortHash } from './hash.js';

const SECTOR = 512;
/** logical partitions followed in one extended partition */
const MAX_LOGICAL = 128;
const EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);

const XORRISO_HINT =
  'xorriso derives the isohybrid MBR disk signature from the image time: set SOURCE_DATE_EPOCH; grub-mkrescue ' +
  'overrides it with --modification-date=<now>, so append --modification-date=YYYYMMDDhhmmsscc to its command line';
const GENERIC_HINT =
  'set the disk identifier explicitly: sfdisk `label-id: 0x12345678` in the script, fdisk expert command `i`, ' +
  'systemd-repart derives it from --seed';

interface RawEntry {
  status: number;
  type: number;
  lbaStart: number;
  sectors: number;
}

function readEntry(b: Bytes, off: number): RawEntry {
  return {
    status: b.u8(off), // 0 - boot indicator
    type: b.u8(off + 4), // 4 - partition type
    lbaStart: b.u32le(off + 8), // 8 - starting LBA
    sectors: b.u32le(off + 12), // 12 - size in sectors
  };
}

const isEmpty = (e: RawEntry): boolean => e.type === 0 && e.lbaStart === 0 && e.sectors === 0;

function chs(b: Bytes, off: number): string {
  const head = b.u8(off);
  const s = b.u8(off + 1);
  const cyl = ((s & 0xc0) << 2) | b.u8(off + 2);
  return `${cyl}/${head}/${s & 0x3f}`;
}

/** True when a sector is a FAT, exFAT or NTFS volume boot record rather than a partitioned disk's MBR. */
export function isVolumeBootRecord(sector: Uint8Array): boolean {
  if (readBpb(sector)) return true;
  const oem = String.fromCharCode(...sector.subarray(3, 11));
  return oem === 'NTFS    ' || oem === 'EXFAT   ';
}

function detect(src: ByteSource): number {
  if (src.size < SECTOR) return 0;
  const s = src.read(0, SECTOR, 'MBR');
  if (s[510] !== 0x55 || s[511] !== 0xaa) return 0;
  if (isVolumeBootRecord(s)) return 0;
  const b = new Bytes(s, src, 0, 'MBR');
  let used = 0;
  for (let i = 0; i < 4; i++) {
    const e = readEntry(b, 446 + 16 * i);
    if (e.status !== 0 && e.status !== 0x80) return 0;
    if (isEmpty(e)) continue;
    if (e.sectors === 0 || e.type === 0 && e.lbaStart !== 0) return 0;
    used++;
  }
  return used > 0 ? 40 : 0;
}

/** The extent of a partition, clipped to the source; notes when it is not wholly inside. */
function partitionExtent(src: ByteSource, label: string, lba: number, sectors: number, notes: string[]): Extent[] {
  const start = lba * SECTOR;
  const length = sectors * SECTOR;
  if (lba === 0) {
    notes.push(`${label} starts at LBA 0 and so contains the partition table itself (an isohybrid layout); it is listed without content`);
    return [];
  }
  if (start >= src.size) {
    notes.push(`${label} starts at byte ${start}, past the end of the ${src.size}-byte image; it is listed without content`);
    return [];
  }
  if (start + length > src.size) {
    notes.push(`${label} ends at byte ${start + length}, past the end of the ${src.size}-byte image; only the ${src.size - start} bytes inside are used`);
    return [{ offset: start, length: src.size - start }];
  }
  return length > 0 ? [{ offset: start, length }] : [];
}

function entryFields(b: Bytes, off: number, prefix: string): Field[] {
  const e = readEntry(b, off);
  return [
    field(`${prefix}.status`, e.status, 'content', b.spans(off, 1)),
    field(`${prefix}.chs_start`, chs(b, off + 1), 'layout', b.spans(off + 1, 3), { derived: true }),
    field(`${prefix}.type`, e.type, 'content', b.spans(off + 4, 1)),
    field(`${prefix}.chs_end`, chs(b, off + 5), 'layout', b.spans(off + 5, 3), { derived: true }),
    field(`${prefix}.lba_start`, e.lbaStart, 'layout', b.spans(off + 8, 4), { derived: true }),
    field(`${prefix}.sectors`, e.sectors, 'size', b.spans(off + 12, 4), { derived: true }),
  ];
}

function makeEntry(n: number, fields: Field[], extents: Extent[]): Entry {
  return {
    path: `/partition-${n}`,
    type: 'file',
    size: extents.reduce((a, e) => a + e.length, 0),
    extents,
    fields,
    meta: {},
    order: n - 1,
  };
}

function open(src: ByteSource, ctx: OpenContext): Container {
  const b = Bytes.at(src, 0, SECTOR, 'MBR');
  if (b.u8(510) !== 0x55 || b.u8(511) !== 0xaa) throw b.error(510, 'no 55AA boot signature');
  const notes: string[] = [];
  const fields: Field[] = [];
  const entries: Entry[] = [];
  const regions: Region[] = [{ name: 'MBR', role: 'metadata', spans: b.spans(0, SECTOR) }];

  // Boot loaders written by xorriso (isohybrid, GRUB 2 MBR) patch a 64-bit LBA of the boot image at 432.
  const code = b.bytes(0, 432);
  const isohybrid = containsAscii(code, 'isolinux.bin missing');
  const grub = containsAscii(code, 'GRUB ');
  let producer: string | undefined;
  if (isohybrid || grub) {
    producer = isohybrid ? 'isohybrid MBR (syslinux isohdpfx)' : 'GRUB 2 boot.img';
    fields.push(field('mbr.boot_code', shortHash(code), 'content', b.spans(0, 432)));
    fields.push(
      field('mbr.boot_code.image_lba', Number(b.view.getBigUint64(432, true) & 0xffffffffffffn), 'layout', b.spans(432, 8), {
        derived: true,
      }),
    );
  } else {
    fields.push(field('mbr.boot_code', shortHash(b.bytes(0, 440)), 'content', b.spans(0, 440)));
  }
  const sig = b.u32le(440);
  fields.push(
    field('mbr.disk_signature', sig.toString(16).padStart(8, '0'), 'random-id', b.spans(440, 4), sig === 0 ? {} : { hint: isohybrid || grub ? XORRISO_HINT : GENERIC_HINT }),
  );
  fields.push(field('mbr.copy_protect', b.hex(444, 2), 'content', b.spans(444, 2)));
  fields.push(field('mbr.signature', b.hex(510, 2), 'content', b.spans(510, 2)));

  let extended: { lba: number; sectors: number } | undefined;
  for (let i = 0; i < 4; i++) {
    const off = 446 + 16 * i;
    const e = readEntry(b, off);
    if (isEmpty(e)) continue;
    const n = i + 1;
    if (e.type === 0xee) producer ??= 'protective MBR (GPT disk)';
    if (EXTENDED_TYPES.has(e.type) && !extended) {
      extended = { lba: e.lbaStart, sectors: e.sectors };
    }
    const ext = EXTENDED_TYPES.has(e.type) ? [] : partitionExtent(src, `partition ${n}`, e.lbaStart, e.sectors, notes);
    entries.push(makeEntry(n, entryFields(b, off, `mbr.part.${n}`), ext));
  }
  if (extended) readLogical(src, ctx, extended, entries, regions, notes);
  return { format: 'mbr', source: src, producer, fields, entries, regions, notes };
}

/** Follows the EBR chain of an extended partition; logical partitions are numbered from 5 as Linux does. */
function readLogical(
  src: ByteSource,
  ctx: OpenContext,
  extended: { lba: number; sectors: number },
  entries: Entry[],
  regions: Region[],
  notes: string[],
): void {
  const seen = new Set<number>();
  let next = 0; // relative to the extended partition's start
  let n = 5;
  const cap = Math.min(MAX_LOGICAL, ctx.limits.maxEntries);
  for (;;) {
    const lba = extended.lba + next;
    if (seen.has(lba)) {
      notes.push(`the extended boot record chain returns to LBA ${lba}; stopped there`);
      return;
    }
    seen.add(lba);
    if (seen.size > cap) {
      notes.push(`more than ${cap} logical partitions; the rest are not listed`);
      return;
    }
    if ((lba + 1) * SECTOR > src.size) {
      notes.push(`extended boot record at LBA ${lba} is past the end of the image`);
      return;
    }
    const b = Bytes.at(src, lba * SECTOR, SECTOR, 'extended boot record');
    if (b.u8(510) !== 0x55 || b.u8(511) !== 0xaa) {
      notes.push(`extended boot record at LBA ${lba} has no 55AA signature; stopped there`);
      return;
    }
    regions.push({ name: `EBR ${n}`, role: 'metadata', spans: b.spans(0, SECTOR) });
    const e = readEntry(b, 446);
    if (!isEmpty(e)) {
      const fields = entryFields(b, 446, `mbr.part.${n}`);
      entries.push(makeEntry(n, fields, partitionExtent(src, `partition ${n}`, lba + e.lbaStart, e.sectors, notes)));
      n++;
    }
    const link = readEntry(b, 462);
    if (isEmpty(link) || !EXTENDED_TYPES.has(link.type)) return;
    next = link.lbaStart;
  }
}

/** its partitions (boot images) lie over what the other views of a hybrid image parse */
export const mbrFormat: Format = { name: 'mbr', detect, exclusive: false, coResident: true, open };
