/**
 * The HFS+ volume header (TN1150 "Volume Header"): 512 bytes at offset 1024 of the volume, and its copy, the
 * alternate volume header, 1024 bytes before the end of the volume.
 */
import type { Bytes } from '../../io/bytes.js';
import type { Field } from '../../model.js';
import { field } from '../../model.js';
import { isoFromUnix } from '../../util/time.js';

export const HEADER_OFFSET = 1024;
export const HEADER_SIZE = 512;
export const SIG_HFSPLUS = 0x482b; // 'H+'
export const SIG_HFSX = 0x4858; // 'HX'
/** seconds from 1904-01-01 (the HFS epoch) to 1970-01-01 */
const HFS_EPOCH_OFFSET = 2082844800;

export const FORKS = ['allocation_file', 'extents_file', 'catalog_file', 'attributes_file', 'startup_file'] as const;
export type ForkName = (typeof FORKS)[number];
/** where each special file's HFSPlusForkData sits in the header */
const FORK_OFFSET: Record<ForkName, number> = {
  allocation_file: 112,
  extents_file: 192,
  catalog_file: 272,
  attributes_file: 352,
  startup_file: 432,
};

export const TIME_HINT =
  'xorriso (libisofs) stamps the HFS+ volume dates with its modification date: SOURCE_DATE_EPOCH or ' +
  '--modification-date=YYYYMMDDhhmmsscc; grub-mkrescue passes --modification-date=<now>, which overrides ' +
  'SOURCE_DATE_EPOCH: append --modification-date=YYYYMMDDhhmmsscc to its command line (options pass through to xorriso; GRUB 2.06, ' +
  'xorriso 1.5.4)';
export const CREATE_TIME_HINT =
  `createDate is local time by TN1150 (the zone is not recorded; reported as if UTC; libisofs writes UTC there). ${TIME_HINT}`;
export const VOLUME_ID_HINT =
  'the 64-bit volume identifier in finderInfo[6..7]: xorriso writes the -hfsplus-serial-no value there (zero by ' +
  'default); other makers (newfs_hfs) may make it random: give it explicitly where the tool allows';

/** An HFS+ date (seconds since 1904-01-01, unsigned) as ISO 8601; 0 is "not set". */
export function hfsDate(v: number): string | null {
  return v === 0 ? null : isoFromUnix(v - HFS_EPOCH_OFFSET);
}

export interface Extent {
  startBlock: number;
  blockCount: number;
}

export interface ForkData {
  logicalSize: number;
  clumpSize: number;
  totalBlocks: number;
  extents: Extent[];
}

/** HFSPlusForkData (80 bytes) at `o`: logicalSize, clumpSize, totalBlocks and eight extent descriptors. */
export function readFork(b: Bytes, o: number): ForkData {
  const extents: Extent[] = [];
  for (let i = 0; i < 8; i++) {
    const startBlock = b.u32be(o + 16 + i * 8);
    const blockCount = b.u32be(o + 20 + i * 8);
    if (blockCount === 0) break;
    extents.push({ startBlock, blockCount });
  }
  return { logicalSize: b.u64be(o), clumpSize: b.u32be(o + 8), totalBlocks: b.u32be(o + 12), extents };
}

export function extentsText(list: readonly Extent[]): string {
  return list.map((e) => `${e.startBlock}+${e.blockCount}`).join(',');
}

/** The fields of a fork at `o`, named `${p}.logical_size` and so on. */
export function forkFields(b: Bytes, o: number, p: string, fork: ForkData): Field[] {
  return [
    field(`${p}.logical_size`, fork.logicalSize, 'size', b.spans(o, 8), { derived: true }),
    field(`${p}.clump_size`, fork.clumpSize, 'layout', b.spans(o + 8, 4)),
    field(`${p}.total_blocks`, fork.totalBlocks, 'size', b.spans(o + 12, 4), { derived: true }),
    field(`${p}.extents`, extentsText(fork.extents), 'layout', b.spans(o + 16, 64), { derived: true }),
  ];
}

export interface VolumeHeader {
  signature: number;
  version: number;
  lastMountedVersion: string;
  blockSize: number;
  totalBlocks: number;
  forks: Record<ForkName, ForkData>;
  volumeId: string;
}

/** 'H+' version 4 or 'HX' version 5, with a power-of-two block size of 512 bytes or more. */
export function looksLikeHeader(b: Uint8Array): boolean {
  const sig = (b[0]! << 8) | b[1]!;
  const version = (b[2]! << 8) | b[3]!;
  if (!((sig === SIG_HFSPLUS && version === 4) || (sig === SIG_HFSX && version === 5))) return false;
  const bs = b[40]! * 0x1000000 + ((b[41]! << 16) | (b[42]! << 8) | b[43]!);
  return bs >= 512 && (bs & (bs - 1)) === 0;
}

/**
 * Reads the header in `b` (512 bytes) into fields under `p` (`hfsplus.header` for the primary,
 * `hfsplus.backup.header` for the alternate: the same names, so the comparer takes the alternate's changes as
 * copies of the primary's).
 */
export function readHeader(b: Bytes, p: string, fields: Field[]): VolumeHeader {
  const sig = b.u16be(0); // 0 - signature
  const version = b.u16be(2); // 2 - version
  const lmv = b.ascii(8, 4, false); // 8 - lastMountedVersion
  const forks = {} as Record<ForkName, ForkData>;
  for (const f of FORKS) forks[f] = readFork(b, FORK_OFFSET[f]);
  const volumeId = b.hex(104, 8); // finderInfo[6..7]
  fields.push(
    field(`${p}.signature`, b.ascii(0, 2, false), 'content', b.spans(0, 2)),
    field(`${p}.version`, version, 'content', b.spans(2, 2)),
    field(`${p}.attributes`, '0x' + b.hex(4, 4), 'content', b.spans(4, 4)), // 4 - attributes
    field(`${p}.last_mounted_version`, lmv, 'content', b.spans(8, 4)),
    field(`${p}.journal_info_block`, b.u32be(12), 'layout', b.spans(12, 4), { derived: true }), // 12 - journalInfoBlock
    field(`${p}.create_date`, hfsDate(b.u32be(16)), 'timestamp', b.spans(16, 4), { hint: CREATE_TIME_HINT }), // 16 - createDate (local time)
    field(`${p}.modify_date`, hfsDate(b.u32be(20)), 'timestamp', b.spans(20, 4), { hint: TIME_HINT }), // 20 - modifyDate (UTC)
    field(`${p}.backup_date`, hfsDate(b.u32be(24)), 'timestamp', b.spans(24, 4), { hint: TIME_HINT }), // 24 - backupDate (UTC)
    field(`${p}.checked_date`, hfsDate(b.u32be(28)), 'timestamp', b.spans(28, 4), { hint: TIME_HINT }), // 28 - checkedDate (UTC)
    field(`${p}.file_count`, b.u32be(32), 'size', b.spans(32, 4), { derived: true }), // 32 - fileCount
    field(`${p}.folder_count`, b.u32be(36), 'size', b.spans(36, 4), { derived: true }), // 36 - folderCount
    field(`${p}.block_size`, b.u32be(40), 'layout', b.spans(40, 4)), // 40 - blockSize
    field(`${p}.total_blocks`, b.u32be(44), 'size', b.spans(44, 4), { derived: true }), // 44 - totalBlocks
    field(`${p}.free_blocks`, b.u32be(48), 'size', b.spans(48, 4), { derived: true }), // 48 - freeBlocks
    field(`${p}.next_allocation`, b.u32be(52), 'layout', b.spans(52, 4), { derived: true }), // 52 - nextAllocation
    field(`${p}.rsrc_clump_size`, b.u32be(56), 'layout', b.spans(56, 4)), // 56 - rsrcClumpSize
    field(`${p}.data_clump_size`, b.u32be(60), 'layout', b.spans(60, 4)), // 60 - dataClumpSize
    field(`${p}.next_catalog_id`, b.u32be(64), 'inode', b.spans(64, 4), { derived: true }), // 64 - nextCatalogID
    field(`${p}.write_count`, b.u32be(68), 'content', b.spans(68, 4)), // 68 - writeCount
    field(`${p}.encodings_bitmap`, '0x' + b.hex(72, 8), 'content', b.spans(72, 8)), // 72 - encodingsBitmap
    // 80 - finderInfo[8]: CNIDs of blessed folders and the startup application, then the volume identifier
    field(`${p}.finder_info.blessed_system_folder`, b.u32be(80), 'inode', b.spans(80, 4), { derived: true }),
    field(`${p}.finder_info.startup_application`, b.u32be(84), 'inode', b.spans(84, 4), { derived: true }),
    field(`${p}.finder_info.open_folder`, b.u32be(88), 'inode', b.spans(88, 4), { derived: true }),
    field(`${p}.finder_info.os9_system_folder`, b.u32be(92), 'inode', b.spans(92, 4), { derived: true }),
    field(`${p}.finder_info.reserved`, b.u32be(96), 'content', b.spans(96, 4)),
    field(`${p}.finder_info.osx_system_folder`, b.u32be(100), 'inode', b.spans(100, 4), { derived: true }),
    field(`${p}.finder_info.volume_id`, volumeId, 'random-id', b.spans(104, 8), { hint: VOLUME_ID_HINT }),
  );
  for (const f of FORKS) fields.push(...forkFields(b, FORK_OFFSET[f], `${p}.${f}`, forks[f]));
  return {
    signature: sig,
    version,
    lastMountedVersion: lmv,
    blockSize: b.u32be(40),
    totalBlocks: b.u32be(44),
    forks,
    volumeId,
  };
}

/** The producer named by lastMountedVersion (TN1150 lists '10.0', 'HFSJ', 'fsck', '8.10'; others are tools'). */
export function producerOf(lmv: string): string | undefined {
  switch (lmv) {
    case 'liso':
      return 'xorriso (libisofs)';
    case '10.0':
      return 'Mac OS X (or newfs_hfs, mkfs.hfsplus)';
    case 'HFSJ':
      return 'Mac OS X (journaled)';
    case 'fsck':
    case 'FSK!':
      return 'fsck_hfs';
    case 'H+Lx':
      return 'Linux hfsplus';
    case '8.10':
      return 'Mac OS 8.1';
    default:
      return /^[\x20-\x7e]{4}$/.test(lmv) ? `HFS+ writer '${lmv}'` : undefined;
  }
}
