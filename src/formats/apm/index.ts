/**
 * The Apple partition map (Inside Macintosh: Devices, "SCSI Manager" partition map): a driver descriptor
 * ('ER') in block 0 and one 'PM' entry per block from block 1. Co-resident: xorriso writes one into the system
 * area of hybrid ISOs (-hfsplus, -apm-block-size), usually with 2048-byte blocks.
 */
import type { Container, Entry, Field, Format, OpenContext, Region } from '../../model.js';
import { field } from '../../model.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource, Extent } from '../../io/source.js';

/** map entries read at most */
const MAX_MAP_ENTRIES = 1024;
const BLOCK_SIZES = [512, 2048] as const;

function u16be(b: Uint8Array, o: number): number {
  return ((b[o] as number) << 8) | (b[o + 1] as number);
}

/** The block size whose block 1 holds a 'PM' entry: the DDM's own first, then 512 and 2048. */
function blockSize(src: ByteSource): number {
  if (src.size < 1024) return 0;
  const ddm = src.read(0, 8, 'Apple driver descriptor map');
  if (ddm[0] !== 0x45 || ddm[1] !== 0x52) return 0; // 'ER'
  const declared = u16be(ddm, 2);
  const candidates = [declared, ...BLOCK_SIZES.filter((s) => s !== declared)];
  for (const bs of candidates) {
    if (bs < 512 || bs > 4096 || (bs & (bs - 1)) !== 0 || bs + 512 > src.size) continue;
    const pm = src.read(bs, 8, 'Apple partition map entry');
    if (pm[0] === 0x50 && pm[1] === 0x4d) return bs; // 'PM'
  }
  return 0;
}

function detect(src: ByteSource): number {
  return blockSize(src) ? 50 : 0;
}

function open(src: ByteSource, ctx: OpenContext): Container {
  const bs = blockSize(src);
  const ddm = Bytes.at(src, 0, Math.min(512, src.size), 'Apple driver descriptor map');
  if (!bs) throw ddm.error(0, "no Apple partition map ('ER' block with 'PM' entries)");
  const notes: string[] = [];
  const fields: Field[] = [
    field('apm.ddm.signature', ddm.ascii(0, 2), 'content', ddm.spans(0, 2)), // 0 - sbSig
    field('apm.ddm.block_size', ddm.u16be(2), 'layout', ddm.spans(2, 2)), // 2 - sbBlkSize
    field('apm.ddm.block_count', ddm.u32be(4), 'size', ddm.spans(4, 4), { derived: true }), // 4 - sbBlkCount
    field('apm.ddm.driver_count', ddm.u16be(16), 'content', ddm.spans(16, 2)), // 16 - sbDrvrCount
  ];
  if (ddm.u16be(2) !== bs) notes.push(`the driver descriptor says ${ddm.u16be(2)}-byte blocks but the map is laid out in ${bs}-byte blocks`);
  const regions: Region[] = [{ name: 'Apple driver descriptor map', role: 'metadata', spans: ddm.spans(0, 8) }];
  const entries: Entry[] = [];

  const first = Bytes.at(src, bs, 512, 'Apple partition map entry 1');
  let count = first.u32be(4); // 4 - pmMapBlkCnt
  if (count > MAX_MAP_ENTRIES) {
    notes.push(`the map claims ${count} entries, over the limit of ${MAX_MAP_ENTRIES}; only the first ${MAX_MAP_ENTRIES} are read`);
    count = MAX_MAP_ENTRIES;
  }
  for (let i = 1; i <= count; i++) {
    const off = i * bs;
    if (off + 512 > src.size) {
      notes.push(`map entry ${i} is past the end of the image`);
      break;
    }
    const b = Bytes.at(src, off, 512, `Apple partition map entry ${i}`);
    if (b.u16be(0) !== 0x504d) {
      notes.push(`map entry ${i} has no 'PM' signature; the map ends there`);
      break;
    }
    const p = `apm.part.${i}`;
    const start = b.u32be(8); // 8 - pmPyPartStart
    const blocks = b.u32be(12); // 12 - pmPartBlkCnt
    const name = b.ascii(16, 32).replace(/\0.*$/s, ''); // 16 - pmPartName
    const type = b.ascii(48, 32).replace(/\0.*$/s, ''); // 48 - pmParType
    const entryFields: Field[] = [
      field(`${p}.signature`, 'PM', 'content', b.spans(0, 2)),
      field(`${p}.map_entries`, b.u32be(4), 'size', b.spans(4, 4), { derived: true }),
      field(`${p}.start`, start, 'layout', b.spans(8, 4), { derived: true }),
      field(`${p}.blocks`, blocks, 'size', b.spans(12, 4), { derived: true }),
      field(`${p}.name`, name, 'content', b.spans(16, 32)),
      field(`${p}.type`, type, 'content', b.spans(48, 32)),
      field(`${p}.data_start`, b.u32be(80), 'layout', b.spans(80, 4), { derived: true }), // 80 - pmLgDataStart
      field(`${p}.data_count`, b.u32be(84), 'size', b.spans(84, 4), { derived: true }), // 84 - pmDataCnt
      field(`${p}.status`, b.hex(88, 4), 'content', b.spans(88, 4)), // 88 - pmPartStatus
      field(`${p}.boot_start`, b.u32be(92), 'layout', b.spans(92, 4), { derived: true }), // 92 - pmLgBootStart
      field(`${p}.boot_size`, b.u32be(96), 'size', b.spans(96, 4), { derived: true }), // 96 - pmBootSize
      field(`${p}.boot_checksum`, b.hex(116, 4), 'checksum', b.spans(116, 4)), // 116 - pmBootCksum
      field(`${p}.processor`, b.ascii(120, 16).replace(/\0.*$/s, ''), 'content', b.spans(120, 16)), // 120 - pmProcessor
    ];
    regions.push({ name: `Apple partition map entry ${i}`, role: 'metadata', spans: b.spans(0, 512) });
    if (type === 'Apple_partition_map') {
      fields.push(...entryFields);
      continue;
    }
    if (entries.length >= ctx.limits.maxEntries) throw b.error(0, 'more partitions than the entry limit', 'E_LIMIT');
    const extents = extentOf(src, i, start, blocks, bs, notes);
    entries.push({
      path: `/partition-${i}`,
      type: 'file',
      size: extents.reduce((a, e) => a + e.length, 0),
      extents,
      fields: entryFields,
      meta: {},
      order: i - 1,
    });
  }
  return { format: 'apm', source: src, fields, entries, regions, notes };
}

function extentOf(src: ByteSource, i: number, start: number, blocks: number, bs: number, notes: string[]): Extent[] {
  const off = start * bs;
  const len = blocks * bs;
  if (start === 0) {
    notes.push(`partition ${i} starts at block 0 and so contains the map itself; listed without content`);
    return [];
  }
  if (off >= src.size) {
    notes.push(`partition ${i} starts past the end of the image; listed without content`);
    return [];
  }
  if (off + len > src.size) {
    notes.push(`partition ${i} runs past the end of the image; only the ${src.size - off} bytes inside are used`);
    return [{ offset: off, length: src.size - off }];
  }
  return len > 0 ? [{ offset: off, length: len }] : [];
}

/** its partitions (boot images) lie over what the other views of a hybrid image parse */
export const apmFormat: Format = { name: 'apm', detect, exclusive: false, coResident: true, open };
