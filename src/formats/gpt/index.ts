/**
 * The GUID partition table (UEFI 2.10 section 5.3): primary header at LBA 1, its partition entry array, and the
 * backup header and array at the header's alternate LBA. Co-resident with MBR and ISO 9660 (hybrid ISOs).
 */
import type { Container, Entry, Field, Format, OpenContext, Region } from '../../model.js';
import { field } from '../../model.js';
import { Bytes, guidToString } from '../../io/bytes.js';
import type { ByteSource, Extent } from '../../io/source.js';
import { crc32 } from '../../util/crc32.js';
import { allZero } from '../mbr/hash.js';

const SECTOR_SIZES = [512, 2048, 4096] as const;
const MAX_ENTRIES = 4096;
const MAX_ENTRY_SIZE = 4096;
const SIGNATURE = 'EFI PART';

const XORRISO_HINT =
  'xorriso 1.5.4 makes GPT GUIDs random unless SOURCE_DATE_EPOCH is set (it then derives them from the volume date) ' +
  'or --gpt_disk_guid is given; grub-mkrescue passes --modification-date=<now> to xorriso, which overrides ' +
  'SOURCE_DATE_EPOCH: append --modification-date=YYYYMMDDhhmmsscc to its command line (options pass through to xorriso)';
const GENERIC_HINT =
  'set the GUIDs explicitly: sgdisk -U <guid> (disk) and -u <n>:<guid> (partition); systemd-repart derives them ' +
  'from --seed; xorriso makes them random unless SOURCE_DATE_EPOCH is set or --gpt_disk_guid is given';

function signatureAt(src: ByteSource, off: number): boolean {
  if (off + 512 > src.size) return false;
  const s = src.read(off, 8, 'GPT header');
  return String.fromCharCode(...s) === SIGNATURE;
}

/** The logical sector size whose LBA 1 holds a GPT header, or 0. */
function sectorSize(src: ByteSource): number {
  for (const ss of SECTOR_SIZES) if (signatureAt(src, ss)) return ss;
  return 0;
}

function detect(src: ByteSource): number {
  return sectorSize(src) ? 80 : 0;
}

interface Header {
  b: Bytes;
  size: number;
  myLba: number;
  alternateLba: number;
  entriesLba: number;
  count: number;
  entrySize: number;
}

/** Reads one header and its entry array into fields (`prefix` = `gpt` or `gpt.backup`). */
function readHeader(
  src: ByteSource,
  ss: number,
  lba: number,
  prefix: string,
  fields: Field[],
  regions: Region[],
  notes: string[],
  hint: () => string,
): { h: Header; parts: PartitionRecord[] } {
  const label = prefix === 'gpt' ? 'primary GPT header' : 'backup GPT header';
  const b = Bytes.at(src, lba * ss, ss, label);
  if (b.ascii(0, 8, false) !== SIGNATURE) throw b.error(0, `no "${SIGNATURE}" signature`);
  const size = b.u32le(12); // 12 - HeaderSize
  if (size < 92 || size > ss) throw b.error(12, `header size ${size} is outside 92..${ss}`);
  const p = `${prefix}.header`;
  // CRC32 over HeaderSize bytes with the CRC field itself taken as zero
  const copy = b.bytes(0, size).slice();
  copy.fill(0, 16, 20);
  const crc = b.u32le(16); // 16 - HeaderCRC32
  const computed = crc32(copy);
  if (crc !== computed) notes.push(`${label}: header CRC32 is ${hex32(crc)} but the header computes to ${hex32(computed)}`);
  const h: Header = {
    b,
    size,
    myLba: b.u64le(24), // 24 - MyLBA
    alternateLba: b.u64le(32), // 32 - AlternateLBA
    entriesLba: b.u64le(72), // 72 - PartitionEntryLBA
    count: b.u32le(80), // 80 - NumberOfPartitionEntries
    entrySize: b.u32le(84), // 84 - SizeOfPartitionEntry
  };
  fields.push(
    field(`${p}.signature`, b.ascii(0, 8, false), 'content', b.spans(0, 8)),
    field(`${p}.revision`, b.hex(8, 4), 'content', b.spans(8, 4)),
    field(`${p}.header_size`, size, 'size', b.spans(12, 4), { derived: true }),
    field(`${p}.crc32`, hex32(crc), 'checksum', b.spans(16, 4), { covers: b.spans(0, size) }),
    field(`${p}.reserved`, b.hex(20, 4), 'content', b.spans(20, 4)),
    field(`${p}.my_lba`, h.myLba, 'layout', b.spans(24, 8), { derived: true }),
    field(`${p}.alternate_lba`, h.alternateLba, 'layout', b.spans(32, 8), { derived: true }),
    field(`${p}.first_usable_lba`, b.u64le(40), 'layout', b.spans(40, 8), { derived: true }),
    field(`${p}.last_usable_lba`, b.u64le(48), 'layout', b.spans(48, 8), { derived: true }),
    field(`${p}.disk_guid`, guidToString(b.bytes(56, 16)), 'random-id', b.spans(56, 16), { hint: hint() }),
    field(`${p}.entries_lba`, h.entriesLba, 'layout', b.spans(72, 8), { derived: true }),
    field(`${p}.entries_count`, h.count, 'size', b.spans(80, 4), { derived: true }),
    field(`${p}.entry_size`, h.entrySize, 'size', b.spans(84, 4), { derived: true }),
  );
  regions.push({ name: label, role: 'metadata', spans: b.spans(0, size) });
  if (size < ss) {
    regions.push({ name: `${label} sector padding`, role: 'padding', spans: b.spans(size, ss - size) });
    if (!allZero(b.bytes(size, ss - size))) notes.push(`${label}: the rest of the header sector is not zero`);
  }
  if (h.myLba !== lba) notes.push(`${label} at LBA ${lba} says it is at LBA ${h.myLba}`);

  // The partition entry array, bounded by caps and by the source.
  const crcField = field(`${p}.entries_crc32`, hex32(b.u32le(88)), 'checksum', b.spans(88, 4)); // 88 - PartitionEntryArrayCRC32
  fields.push(crcField);
  const parts: PartitionRecord[] = [];
  if (h.entrySize < 128 || h.entrySize > MAX_ENTRY_SIZE || h.entrySize % 8 !== 0) {
    notes.push(`${label}: partition entry size ${h.entrySize} is not a multiple of 8 in 128..${MAX_ENTRY_SIZE}; entries not read`);
    return { h, parts };
  }
  let count = h.count;
  if (count > MAX_ENTRIES) {
    notes.push(`${label}: ${count} partition entries is over the limit of ${MAX_ENTRIES}; only the first ${MAX_ENTRIES} are read`);
    count = MAX_ENTRIES;
  }
  const arrayOff = h.entriesLba * ss;
  if (arrayOff >= src.size) {
    notes.push(`${label}: the partition entry array at LBA ${h.entriesLba} is past the end of the image`);
    return { h, parts };
  }
  if (arrayOff + count * h.entrySize > src.size) {
    count = Math.floor((src.size - arrayOff) / h.entrySize);
    notes.push(`${label}: the partition entry array runs past the end of the image; only ${count} entries are read`);
  }
  const arr = Bytes.at(src, arrayOff, count * h.entrySize, `${label} partition entry array`);
  crcField.covers = arr.spans(0, arr.length);
  if (count === h.count) {
    const computed = crc32(arr.data);
    if (computed !== b.u32le(88)) {
      notes.push(`${label}: partition entry array CRC32 is ${hex32(b.u32le(88))} but the array computes to ${hex32(computed)}`);
    }
  }
  regions.push({ name: `${label} partition entry array`, role: 'metadata', spans: arr.spans(0, arr.length) });
  for (let i = 0; i < count; i++) {
    const off = i * h.entrySize;
    const type = arr.bytes(off, 16);
    if (allZero(type)) continue; // an unused entry
    const n = i + 1;
    const q = `${prefix}.part.${n}`;
    const first = arr.u64le(off + 32); // 32 - StartingLBA
    const last = arr.u64le(off + 40); // 40 - EndingLBA
    const name = arr.utf16le(off + 56, Math.min(72, h.entrySize - 56)).replace(/\0.*$/s, '');
    parts.push({
      n,
      first,
      last,
      name,
      fields: [
        field(`${q}.type_guid`, guidToString(type), 'content', arr.spans(off, 16)),
        field(`${q}.unique_guid`, guidToString(arr.bytes(off + 16, 16)), 'random-id', arr.spans(off + 16, 16), { hint: hint() }),
        field(`${q}.first_lba`, first, 'layout', arr.spans(off + 32, 8), { derived: true }),
        field(`${q}.last_lba`, last, 'layout', arr.spans(off + 40, 8), { derived: true }),
        field(`${q}.attributes`, '0x' + arr.view.getBigUint64(off + 48, true).toString(16).padStart(16, '0'), 'content', arr.spans(off + 48, 8)),
        field(`${q}.name`, name, 'content', arr.spans(off + 56, Math.min(72, h.entrySize - 56))),
      ],
    });
  }
  return { h, parts };
}

interface PartitionRecord {
  n: number;
  first: number;
  last: number;
  name: string;
  fields: Field[];
}

const hex32 = (n: number): string => n.toString(16).padStart(8, '0');

function partitionExtent(src: ByteSource, ss: number, p: PartitionRecord, notes: string[]): Extent[] {
  if (p.last < p.first) {
    notes.push(`partition ${p.n} ends (LBA ${p.last}) before it starts (LBA ${p.first}); listed without content`);
    return [];
  }
  if (p.first === 0) {
    notes.push(`partition ${p.n} starts at LBA 0 and so contains the partition table itself (an isohybrid layout); listed without content`);
    return [];
  }
  const start = p.first * ss;
  const length = (p.last - p.first + 1) * ss;
  if (!Number.isSafeInteger(start + length) || start >= src.size) {
    notes.push(`partition ${p.n} starts past the end of the ${src.size}-byte image; listed without content`);
    return [];
  }
  if (start + length > src.size) {
    notes.push(`partition ${p.n} ends at byte ${start + length}, past the end of the ${src.size}-byte image; only the ${src.size - start} bytes inside are used`);
    return [{ offset: start, length: src.size - start }];
  }
  return [{ offset: start, length }];
}

function open(src: ByteSource, ctx: OpenContext): Container {
  const ss = sectorSize(src);
  if (!ss) throw Bytes.at(src, 0, Math.min(src.size, 512), 'GPT header').error(0, 'no GPT header at LBA 1 for sector sizes 512, 2048, 4096');
  const fields: Field[] = [];
  const regions: Region[] = [];
  const notes: string[] = [];
  let xorriso = false;
  const hint = (): string => (xorriso ? XORRISO_HINT : GENERIC_HINT);
  const primary = readHeader(src, ss, 1, 'gpt', fields, regions, notes, hint);
  // xorriso names its partitions ISOHybrid, ISOHybridN, Gap0, Appended...: recognise it after the fact
  if (primary.parts.some((p) => /^(ISOHybrid\d*|Appended\d*|Gap\d+)$/.test(p.name))) {
    xorriso = true;
    for (const f of fields) if (f.hint) f.hint = XORRISO_HINT;
    for (const p of primary.parts) for (const f of p.fields) if (f.hint) f.hint = XORRISO_HINT;
  }
  if (ctx.limits.maxEntries < primary.parts.length) {
    notes.push(`${primary.parts.length} partitions is over the entry limit of ${ctx.limits.maxEntries}`);
    primary.parts.length = ctx.limits.maxEntries;
  }
  const entries: Entry[] = primary.parts.map((p, i) => {
    const extents = partitionExtent(src, ss, p, notes);
    return {
      path: `/partition-${p.n}`,
      type: 'file',
      size: extents.reduce((a, e) => a + e.length, 0),
      extents,
      fields: p.fields,
      meta: {},
      order: i,
    };
  });

  const alt = primary.h.alternateLba;
  if (alt === 1 || alt === 0) {
    notes.push(`the primary header names LBA ${alt} as its backup`);
  } else if (!Number.isSafeInteger((alt + 1) * ss) || (alt + 1) * ss > src.size) {
    notes.push(`the backup GPT header at LBA ${alt} is past the end of the ${src.size}-byte image (truncated or not yet relocated)`);
  } else if (!signatureAt(src, alt * ss)) {
    notes.push(`no backup GPT header at LBA ${alt}`);
  } else {
    const backup = readHeader(src, ss, alt, 'gpt.backup', fields, regions, notes, hint);
    for (const p of backup.parts) fields.push(...p.fields);
    comparePrimaryAndBackup(primary, backup, notes);
  }
  const producer = xorriso ? 'xorriso' : undefined;
  return { format: 'gpt', source: src, producer, fields, entries, regions, notes };
}

function comparePrimaryAndBackup(
  a: { h: Header; parts: PartitionRecord[] },
  b: { h: Header; parts: PartitionRecord[] },
  notes: string[],
): void {
  if (a.h.b.hex(56, 16) !== b.h.b.hex(56, 16)) notes.push('the backup GPT header has another disk GUID than the primary');
  if (a.h.count !== b.h.count || a.h.entrySize !== b.h.entrySize || a.h.b.u32le(88) !== b.h.b.u32le(88)) {
    notes.push('the backup GPT partition entry array differs from the primary');
  }
}


/** its partitions lie over what the other views of a hybrid image parse; the backup header repeats the primary */
export const gptFormat: Format = { name: 'gpt', detect, exclusive: false, coResident: true, isCopyField: (name) => /(^|\.)backup\./.test(name), open };
