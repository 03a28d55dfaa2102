/**
 * The ext2/3/4 superblock (kernel Documentation/filesystems/ext4/super.rst, struct ext4_super_block): 1024
 * bytes at byte 1024 of the volume, little-endian. Every byte of it is a field, so nothing in it goes unnamed.
 */
import type { Field, Span } from '../../model.js';
import { field } from '../../model.js';
import { Bytes, uuidToString } from '../../io/bytes.js';
import { crc32c } from './crc32c.js';
import { isoFromUnix } from '../../util/time.js';

export const SUPER_OFFSET = 1024;
export const SUPER_SIZE = 1024;
export const MAGIC = 0xef53;

// s_feature_compat
export const COMPAT_HAS_JOURNAL = 0x4;
export const COMPAT_DIR_INDEX = 0x20;
// s_feature_incompat
export const INCOMPAT_FILETYPE = 0x2;
export const INCOMPAT_JOURNAL_DEV = 0x8;
export const INCOMPAT_META_BG = 0x10;
export const INCOMPAT_EXTENTS = 0x40;
export const INCOMPAT_64BIT = 0x80;
export const INCOMPAT_CSUM_SEED = 0x2000;
export const INCOMPAT_LARGEDIR = 0x4000;
export const INCOMPAT_INLINE_DATA = 0x8000;
// s_feature_ro_compat
export const RO_COMPAT_SPARSE_SUPER = 0x1;
export const RO_COMPAT_HUGE_FILE = 0x8;
export const RO_COMPAT_GDT_CSUM = 0x10;
export const RO_COMPAT_METADATA_CSUM = 0x400;

export const UUID_HINT =
  'mkfs.ext4 makes the file system UUID random: pass -U <uuid> (one derived from the build inputs); ' +
  'with metadata_csum every checksum is seeded from it, so those change with it';
export const HASH_SEED_HINT =
  'mkfs.ext4 makes the directory hash seed random: pass -E hash_seed=<uuid>; it decides the order of the entries of indexed (htree) directories';
export const TIME_HINT =
  'mkfs.ext4 stamps the current time: e2fsprogs 1.47.1 and later take SOURCE_DATE_EPOCH, older ones E2FSPROGS_FAKE_TIME=<epoch>; ' +
  'e2fsck, tune2fs and mounting the image stamp it again';
const KBYTES_HINT =
  's_kbytes_written counts what the tools wrote; it follows the content and the tools run (debugfs -w -R "ssv kbytes_written 0" resets it)';
const LAST_MOUNTED_HINT = 'the directory the image was last mounted on: build without mounting (mkfs.ext4 -d), or clear it with tune2fs -M ""';

const COMPAT_NAMES: [number, string][] = [
  [0x1, 'dir_prealloc'], [0x2, 'imagic_inodes'], [0x4, 'has_journal'], [0x8, 'ext_attr'], [0x10, 'resize_inode'],
  [0x20, 'dir_index'], [0x40, 'lazy_bg'], [0x200, 'sparse_super2'], [0x400, 'fast_commit'], [0x800, 'stable_inodes'], [0x1000, 'orphan_file'],
];
const INCOMPAT_NAMES: [number, string][] = [
  [0x1, 'compression'], [0x2, 'filetype'], [0x4, 'needs_recovery'], [0x8, 'journal_dev'], [0x10, 'meta_bg'], [0x40, 'extent'],
  [0x80, '64bit'], [0x100, 'mmp'], [0x200, 'flex_bg'], [0x400, 'ea_inode'], [0x1000, 'dirdata'], [0x2000, 'metadata_csum_seed'],
  [0x4000, 'large_dir'], [0x8000, 'inline_data'], [0x10000, 'encrypt'], [0x20000, 'casefold'],
];
const RO_COMPAT_NAMES: [number, string][] = [
  [0x1, 'sparse_super'], [0x2, 'large_file'], [0x8, 'huge_file'], [0x10, 'uninit_bg'], [0x20, 'dir_nlink'], [0x40, 'extra_isize'],
  [0x80, 'snapshot'], [0x100, 'quota'], [0x200, 'bigalloc'], [0x400, 'metadata_csum'], [0x1000, 'read-only'], [0x2000, 'project'],
  [0x8000, 'verity'], [0x10000, 'orphan_present'],
];

export function featureNames(v: number, names: [number, string][]): string {
  const out: string[] = [];
  let rest = v;
  for (const [bit, name] of names) {
    if (v & bit) {
      out.push(name);
      rest &= ~bit;
    }
  }
  if (rest) out.push(`0x${(rest >>> 0).toString(16)}`);
  return out.join(' ') || 'none';
}

export interface Super {
  inodesCount: number;
  blocksCount: number;
  firstDataBlock: number;
  blockSize: number;
  clusterSize: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  revLevel: number;
  firstIno: number;
  inodeSize: number;
  compat: number;
  incompat: number;
  roCompat: number;
  descSize: number;
  firstMetaBg: number;
  reservedGdtBlocks: number;
  journalInum: number;
  hashVersion: number;
  /** s_flags bit 0x2: unsigned directory hash */
  unsignedHash: boolean;
  groupCount: number;
  /** the seed of every metadata_csum checksum (s_checksum_seed, or crc32c(~0, uuid)) */
  csumSeed: number;
  /** where the seed comes from: the UUID, or s_checksum_seed */
  seedSpans: Span[];
  uuidSpans: Span[];
  hashSeedSpans: Span[];
  uuid: Uint8Array;
  metadataCsum: boolean;
  gdtCsum: boolean;
  spans: Span[];
}

/** Unix seconds of a superblock time: 32 bits, plus 8 high bits in a byte of their own. */
function time(b: Bytes, lo: number, hi: number): number {
  return b.u32le(lo) + b.u8(hi) * 0x100000000;
}

/** A u32 time with its _hi byte as a field; 0 is "never". */
function timeField(b: Bytes, name: string, lo: number, hi: number): Field {
  const t = time(b, lo, hi);
  return field(name, t === 0 ? null : isoFromUnix(t), 'timestamp', [...b.spans(lo, 4), ...b.spans(hi, 1)], { hint: TIME_HINT });
}

function text(b: Bytes, off: number, len: number): string {
  const raw = b.bytes(off, len);
  const end = raw.indexOf(0);
  return b.utf8(off, end < 0 ? len : end);
}

/** Parses the superblock in `b` (1024 bytes) into its values and its fields. */
export function readSuper(b: Bytes): { sb: Super; fields: Field[]; notes: string[] } {
  if (b.u16le(0x38) !== MAGIC) throw b.error(0x38, 'not an ext2/3/4 superblock (magic 0xEF53)');
  const notes: string[] = [];
  const f: Field[] = [];
  const L = { derived: true } as const;
  const u = (off: number, len: 1 | 2 | 4): number => (len === 1 ? b.u8(off) : len === 2 ? b.u16le(off) : b.u32le(off));
  const num = (name: string, off: number, len: 1 | 2 | 4, kind: Field['kind'], extra?: Partial<Field>): number => {
    const v = u(off, len);
    f.push(field(`ext4.super.${name}`, v, kind, b.spans(off, len), extra));
    return v;
  };
  const hiLo = (name: string, lo: number, hi: number, kind: Field['kind'], on: boolean): number => {
    const v = b.u32le(lo) + (on ? b.u32le(hi) * 0x100000000 : 0);
    f.push(field(`ext4.super.${name}`, v, kind, [...b.spans(lo, 4), ...b.spans(hi, 4)], L));
    return v;
  };
  const incompat = b.u32le(0x60);
  const is64 = (incompat & INCOMPAT_64BIT) !== 0;
  const revLevel = b.u32le(0x4c);
  const dyn = revLevel >= 1;

  const inodesCount = num('inodes_count', 0x0, 4, 'size', L);
  const blocksCount = hiLo('blocks_count', 0x4, 0x150, 'size', is64);
  hiLo('r_blocks_count', 0x8, 0x154, 'size', is64);
  hiLo('free_blocks_count', 0xc, 0x158, 'size', is64);
  num('free_inodes_count', 0x10, 4, 'size', L);
  const firstDataBlock = num('first_data_block', 0x14, 4, 'layout');
  const logBlock = num('log_block_size', 0x18, 4, 'layout');
  const logCluster = num('log_cluster_size', 0x1c, 4, 'layout');
  const blocksPerGroup = num('blocks_per_group', 0x20, 4, 'layout');
  num('clusters_per_group', 0x24, 4, 'layout');
  const inodesPerGroup = num('inodes_per_group', 0x28, 4, 'layout');
  f.push(timeField(b, 'ext4.super.mtime', 0x2c, 0x275));
  f.push(timeField(b, 'ext4.super.wtime', 0x30, 0x274));
  num('mnt_count', 0x34, 2, 'content');
  num('max_mnt_count', 0x36, 2, 'content');
  num('magic', 0x38, 2, 'layout');
  num('state', 0x3a, 2, 'content');
  num('errors', 0x3c, 2, 'content');
  num('minor_rev_level', 0x3e, 2, 'content');
  f.push(timeField(b, 'ext4.super.lastcheck', 0x40, 0x277));
  num('checkinterval', 0x44, 4, 'content');
  num('creator_os', 0x48, 4, 'content');
  num('rev_level', 0x4c, 4, 'layout');
  num('def_resuid', 0x50, 2, 'ownership');
  num('def_resgid', 0x52, 2, 'ownership');
  const firstIno = dyn ? num('first_ino', 0x54, 4, 'layout') : 11;
  const inodeSize = dyn ? num('inode_size', 0x58, 2, 'layout') : 128;
  if (!dyn) f.push(field('ext4.super.rev0_fields', b.hex(0x54, 6), 'content', b.spans(0x54, 6)));
  num('block_group_nr', 0x5a, 2, 'layout');
  const compat = b.u32le(0x5c);
  const roCompat = b.u32le(0x64);
  f.push(field('ext4.super.feature_compat', featureNames(compat, COMPAT_NAMES), 'content', b.spans(0x5c, 4)));
  f.push(field('ext4.super.feature_incompat', featureNames(incompat, INCOMPAT_NAMES), 'content', b.spans(0x60, 4)));
  f.push(field('ext4.super.feature_ro_compat', featureNames(roCompat, RO_COMPAT_NAMES), 'content', b.spans(0x64, 4)));
  const uuid = b.bytes(0x68, 16).slice();
  const uuidSpans = b.spans(0x68, 16);
  f.push(field('ext4.super.uuid', uuidToString(uuid), 'random-id', uuidSpans, { hint: UUID_HINT }));
  f.push(field('ext4.super.volume_name', text(b, 0x78, 16), 'content', b.spans(0x78, 16)));
  const lastMounted = text(b, 0x88, 64);
  f.push(field('ext4.super.last_mounted', lastMounted, lastMounted.startsWith('/') ? 'build-path' : 'content', b.spans(0x88, 64), { hint: LAST_MOUNTED_HINT }));
  num('algorithm_usage_bitmap', 0xc8, 4, 'content');
  num('prealloc_blocks', 0xcc, 1, 'content');
  num('prealloc_dir_blocks', 0xcd, 1, 'content');
  const reservedGdtBlocks = num('reserved_gdt_blocks', 0xce, 2, 'layout');
  const juuid = b.bytes(0xd0, 16);
  f.push(field('ext4.super.journal_uuid', juuid.every((x) => x === 0) ? null : uuidToString(juuid), 'random-id', b.spans(0xd0, 16), { hint: 'the UUID of the external journal device: make it with mke2fs -O journal_dev -U <uuid>' }));
  const journalInum = num('journal_inum', 0xe0, 4, 'layout');
  num('journal_dev', 0xe4, 4, 'content');
  num('last_orphan', 0xe8, 4, 'inode');
  const hashSeedSpans = b.spans(0xec, 16);
  const seed = b.bytes(0xec, 16);
  f.push(field('ext4.super.hash_seed', seed.every((x) => x === 0) ? null : uuidToString(seed), 'random-id', hashSeedSpans, { hint: HASH_SEED_HINT }));
  const hashVersion = num('def_hash_version', 0xfc, 1, 'content');
  num('jnl_backup_type', 0xfd, 1, 'content');
  const descSizeRaw = num('desc_size', 0xfe, 2, 'layout');
  num('default_mount_opts', 0x100, 4, 'content');
  const firstMetaBg = num('first_meta_bg', 0x104, 4, 'layout');
  f.push(timeField(b, 'ext4.super.mkfs_time', 0x108, 0x276));
  // s_jnl_blocks: a copy of the journal inode's i_block and size
  f.push(field('ext4.super.jnl_blocks', b.hex(0x10c, 68), 'layout', b.spans(0x10c, 68), L));
  num('min_extra_isize', 0x15c, 2, 'layout');
  num('want_extra_isize', 0x15e, 2, 'layout');
  const flags = num('flags', 0x160, 4, 'content');
  num('raid_stride', 0x164, 2, 'layout');
  num('mmp_interval', 0x166, 2, 'content');
  f.push(field('ext4.super.mmp_block', b.u64leBig(0x168).toString(), 'layout', b.spans(0x168, 8)));
  num('raid_stripe_width', 0x170, 4, 'layout');
  num('log_groups_per_flex', 0x174, 1, 'layout');
  num('checksum_type', 0x175, 1, 'content');
  num('reserved_pad', 0x176, 2, 'content');
  f.push(field('ext4.super.kbytes_written', b.u64leBig(0x178).toString(), 'size', b.spans(0x178, 8), { derived: true, hint: KBYTES_HINT }));
  num('snapshot_inum', 0x180, 4, 'inode');
  num('snapshot_id', 0x184, 4, 'content');
  f.push(field('ext4.super.snapshot_r_blocks_count', b.u64leBig(0x188).toString(), 'size', b.spans(0x188, 8)));
  num('snapshot_list', 0x190, 4, 'inode');
  num('error_count', 0x194, 4, 'content');
  f.push(timeField(b, 'ext4.super.first_error_time', 0x198, 0x278));
  num('first_error_ino', 0x19c, 4, 'inode');
  f.push(field('ext4.super.first_error_block', b.u64leBig(0x1a0).toString(), 'layout', b.spans(0x1a0, 8)));
  f.push(field('ext4.super.first_error_func', text(b, 0x1a8, 32), 'content', b.spans(0x1a8, 32)));
  num('first_error_line', 0x1c8, 4, 'content');
  f.push(timeField(b, 'ext4.super.last_error_time', 0x1cc, 0x279));
  num('last_error_ino', 0x1d0, 4, 'inode');
  num('last_error_line', 0x1d4, 4, 'content');
  f.push(field('ext4.super.last_error_block', b.u64leBig(0x1d8).toString(), 'layout', b.spans(0x1d8, 8)));
  f.push(field('ext4.super.last_error_func', text(b, 0x1e0, 32), 'content', b.spans(0x1e0, 32)));
  f.push(field('ext4.super.mount_opts', text(b, 0x200, 64), 'content', b.spans(0x200, 64)));
  num('usr_quota_inum', 0x240, 4, 'layout');
  num('grp_quota_inum', 0x244, 4, 'layout');
  num('overhead_clusters', 0x248, 4, 'size', L);
  f.push(field('ext4.super.backup_bgs', `${b.u32le(0x24c)},${b.u32le(0x250)}`, 'layout', b.spans(0x24c, 8)));
  f.push(field('ext4.super.encrypt_algos', b.hex(0x254, 4), 'content', b.spans(0x254, 4)));
  f.push(field('ext4.super.encrypt_pw_salt', b.hex(0x258, 16), 'random-id', b.spans(0x258, 16)));
  num('lpf_ino', 0x268, 4, 'inode');
  num('prj_quota_inum', 0x26c, 4, 'layout');
  const metadataCsum = (roCompat & RO_COMPAT_METADATA_CSUM) !== 0;
  const storedSeed = b.u32le(0x270);
  // s_checksum_seed = crc32c(~0, uuid at mkfs time): it follows the UUID
  f.push(field('ext4.super.checksum_seed', storedSeed, 'checksum', b.spans(0x270, 4), { covers: uuidSpans }));
  num('first_error_errcode', 0x27a, 1, 'content');
  num('last_error_errcode', 0x27b, 1, 'content');
  num('encoding', 0x27c, 2, 'content');
  num('encoding_flags', 0x27e, 2, 'content');
  num('orphan_file_inum', 0x280, 4, 'layout');
  const reserved = b.bytes(0x284, 0x3fc - 0x284);
  f.push(field('ext4.super.reserved', reserved.every((x) => x === 0) ? 'zero' : b.hex(0x284, 0x3fc - 0x284), 'content', b.spans(0x284, 0x3fc - 0x284)));
  const stored = b.u32le(0x3fc);
  if (metadataCsum) {
    const calc = crc32c(0xffffffff, b.bytes(0, 0x3fc));
    if (calc !== stored) notes.push(`superblock checksum 0x${stored.toString(16)} does not match its bytes (0x${calc.toString(16)})`);
  }
  f.push(field('ext4.super.checksum', stored, 'checksum', b.spans(0x3fc, 4), { covers: b.spans(0, 0x3fc) }));

  if (logBlock > 6) throw b.error(0x18, `block size 2^(10+${logBlock}) is over 64 KiB`);
  const blockSize = 1024 << logBlock;
  if (logCluster > 16) throw b.error(0x1c, `cluster size 2^(10+${logCluster}) is too large`, 'E_UNSUPPORTED');
  if (blocksPerGroup === 0 || blocksPerGroup > blockSize * 8 * 16) throw b.error(0x20, `${blocksPerGroup} blocks per group`);
  if (inodesPerGroup === 0 || inodesPerGroup > blockSize * 8) throw b.error(0x28, `${inodesPerGroup} inodes per group (a block bitmap holds ${blockSize * 8})`);
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) throw b.error(0x58, `inode size ${inodeSize} is not a power of two between 128 and the block size`);
  if (blocksCount <= firstDataBlock) throw b.error(0x4, `${blocksCount} blocks, first data block ${firstDataBlock}`);
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  if (inodesCount > groupCount * inodesPerGroup) notes.push(`inodes_count ${inodesCount} is more than ${groupCount} groups of ${inodesPerGroup} inodes hold`);
  const descSize = is64 ? descSizeRaw : 32;
  if (is64 && (descSize < 32 || descSize > blockSize || (descSize & (descSize - 1)) !== 0)) throw b.error(0xfe, `group descriptor size ${descSize}`);
  const csumSeeded = (incompat & INCOMPAT_CSUM_SEED) !== 0;
  const csumSeed = csumSeeded ? storedSeed : crc32c(0xffffffff, uuid);
  const sb: Super = {
    inodesCount,
    blocksCount,
    firstDataBlock,
    blockSize,
    clusterSize: 1024 << logCluster,
    blocksPerGroup,
    inodesPerGroup,
    revLevel,
    firstIno,
    inodeSize,
    compat,
    incompat,
    roCompat,
    descSize,
    firstMetaBg,
    reservedGdtBlocks,
    journalInum,
    hashVersion,
    unsignedHash: (flags & 0x2) !== 0,
    groupCount,
    csumSeed,
    seedSpans: csumSeeded ? b.spans(0x270, 4) : uuidSpans,
    uuidSpans,
    hashSeedSpans,
    uuid,
    metadataCsum,
    gdtCsum: (roCompat & RO_COMPAT_GDT_CSUM) !== 0,
    spans: b.spans(0, SUPER_SIZE),
  };
  return { sb, fields: f, notes };
}
