/**
 * EROFS (as mkfs.erofs writes it for Fedora live media and Android): the superblock at 1024 with its
 * CRC-32C, inodes found by nid, directory blocks, xattrs, and each file's content through its data layout
 * (flat, inline tail, chunk-based, or lz4-compressed extents decoded on demand).
 */
import { ReprodiffError } from '../../errors.js';
import { Bytes, uuidToString } from '../../io/bytes.js';
import { ExtentSource, type ByteSource, type Extent } from '../../io/source.js';
import { checkCap, checkEntries, checkTime, EntryLimit, type Limits } from '../../limits.js';
import type { Container, Entry, EntryMeta, EntryType, Field, Format, Region } from '../../model.js';
import { field } from '../../model.js';
import { pushAll } from '../../util/array.js';
import { ErofsFileSource, PclusterCache } from './content.js';
import { crc32c } from '../../util/crc32c.js';
import { flatData, inodeFields, isoNs, readInode, xattrFields, type Geometry, type Inode } from './inode.js';
import { readZMap } from './zmap.js';

export { ErofsFileSource } from './content.js';

const SUPER_OFFSET = 1024;
const MAGIC = 0xe0f5e1e2;
const SUPER_SIZE = 128;
const FEATURE_COMPAT_SB_CHKSUM = 0x1;
const INCOMPAT_ZERO_PADDING = 0x1;
const INCOMPAT_DEVICE_TABLE = 0x8;
const DIRENT_SIZE = 12;
/** symlink targets over this are refused (PATH_MAX is 4096) */
const MAX_TARGET = 64 * 1024;

export const BUILD_TIME_HINT =
  'mkfs.erofs: -T <epoch>, or export SOURCE_DATE_EPOCH (erofs-utils 1.5 then uses it as the build time and every inode time)';
export const UUID_HINT = 'mkfs.erofs: -U <uuid> (erofs-utils 1.5 makes a random UUID otherwise, even with SOURCE_DATE_EPOCH)';

const FILE_TYPES: EntryType[] = ['other', 'file', 'dir', 'chardev', 'blockdev', 'fifo', 'socket', 'symlink'];
const COMPAT_NAMES: [number, string][] = [
  [0x1, 'sb_csum'],
  [0x2, 'mtime'],
  [0x4, 'xattr_filter'],
];
const INCOMPAT_NAMES: [number, string][] = [
  [0x1, '0padding'],
  [0x2, 'big_pcluster/compr_cfgs'],
  [0x4, 'chunked_file'],
  [0x8, 'device_table/compr_head2'],
  [0x10, 'ztailpacking'],
  [0x20, 'fragments/dedupe'],
  [0x40, 'xattr_prefixes'],
];

function flags(v: number, names: [number, string][]): string {
  const out: string[] = [];
  let rest = v;
  for (const [bit, name] of names) if (v & bit) (out.push(name), (rest &= ~bit));
  if (rest) out.push(`0x${rest.toString(16)}`);
  return out.join(' ') || 'none';
}

export const erofsFormat: Format = {
  name: 'erofs',
  exclusive: true,
  detect(src: ByteSource): number {
    if (src.size < SUPER_OFFSET + 4) return 0;
    return Bytes.at(src, SUPER_OFFSET, 4, 'erofs superblock').u32le(0) === MAGIC ? 100 : 0;
  },
  open(src: ByteSource, ctx): Container {
    return new ErofsReader(src, ctx.limits).read();
  },
};

/** Where an entry's directory record is: in its parent directory's data. */
interface DirentRef {
  dir: ByteSource;
  at: number;
  nameAt: number;
  nameLen: number;
}

class ErofsReader {
  private readonly fields: Field[] = [];
  private readonly regions: Region[] = [];
  private readonly notes: string[] = [];
  private readonly entries: ErofsEntry[] = [];
  private g!: Geometry;
  private cache!: PclusterCache;
  private dirBlock = 0;
  private partial: string | undefined;

  constructor(
    private readonly src: ByteSource,
    private readonly limits: Limits,
  ) {}

  read(): Container {
    const rootNid = this.superblock();
    try {
      this.walk(rootNid);
    } catch (e) {
      if (!(e instanceof EntryLimit)) throw e;
      this.partial = e.describe();
      this.notes.push(this.partial);
    }
    return {
      format: 'erofs',
      source: this.src,
      fields: this.fields,
      entries: this.entries,
      regions: this.regions,
      notes: this.notes,
      ...(this.partial ? { partial: this.partial } : {}),
    };
  }

  private superblock(): number {
    const src = this.src;
    const head = Bytes.at(src, SUPER_OFFSET, SUPER_SIZE, 'erofs superblock');
    if (head.u32le(0) !== MAGIC) throw head.error(0, 'not an EROFS superblock (magic 0xe0f5e1e2)');
    const compat = head.u32le(8); // 8 - feature_compat
    const blkszbits = head.u8(12); // 12 - blkszbits
    const extslots = head.u8(13); // 13 - sb_extslots
    if (blkszbits < 9 || blkszbits > 16) throw head.error(12, `block size 2^${blkszbits} is outside 512 bytes to 64 KiB`);
    const blksz = 2 ** blkszbits;
    const sbSize = SUPER_SIZE + extslots * 16;
    const b = Bytes.at(src, SUPER_OFFSET, sbSize, 'erofs superblock');
    const rootNid = b.u16le(14); // 14 - root_nid
    const inos = b.u64le(16); // 16 - inos
    const buildTime = isoNs(b.u64le(24), b.u32le(32)); // 24 - build_time, 32 - build_time_nsec
    const blocks = b.u32le(36); // 36 - blocks
    const metaBlk = b.u32le(40); // 40 - meta_blkaddr
    const xattrBlk = b.u32le(44); // 44 - xattr_blkaddr
    const incompat = b.u32le(80); // 80 - feature_incompat
    const extraDevices = b.u16le(86); // 86 - extra_devices
    const devtSlotoff = b.u16le(88); // 88 - devt_slotoff
    const dirblkbits = b.u8(90); // 90 - dirblkbits
    const f = this.fields;
    const derived = { derived: true } as const;
    f.push(field('erofs.super.magic', '0xe0f5e1e2', 'layout', b.spans(0, 4)));
    f.push(field('erofs.super.feature_compat', flags(compat, COMPAT_NAMES), 'layout', b.spans(8, 4)));
    f.push(field('erofs.super.blkszbits', blkszbits, 'layout', b.spans(12, 1)));
    f.push(field('erofs.super.sb_extslots', extslots, 'layout', b.spans(13, 1)));
    f.push(field('erofs.super.root_nid', rootNid, 'inode', b.spans(14, 2), derived));
    f.push(field('erofs.super.inos', inos, 'size', b.spans(16, 8), derived));
    f.push(field('erofs.super.build_time', buildTime, 'timestamp', b.spans(24, 12), { hint: BUILD_TIME_HINT }));
    f.push(field('erofs.super.blocks', blocks, 'size', b.spans(36, 4), derived));
    f.push(field('erofs.super.meta_blkaddr', metaBlk, 'layout', b.spans(40, 4), derived));
    f.push(field('erofs.super.xattr_blkaddr', xattrBlk, 'layout', b.spans(44, 4), derived));
    f.push(field('erofs.super.uuid', uuidToString(b.bytes(48, 16)), 'random-id', b.spans(48, 16), { hint: UUID_HINT }));
    f.push(field('erofs.super.volume_name', b.ascii(64, 16), 'content', b.spans(64, 16)));
    f.push(field('erofs.super.feature_incompat', flags(incompat, INCOMPAT_NAMES), 'layout', b.spans(80, 4)));
    f.push(field('erofs.super.available_compr_algs', b.u16le(84), 'layout', b.spans(84, 2)));
    f.push(field('erofs.super.extra_devices', extraDevices, 'layout', b.spans(86, 2)));
    f.push(field('erofs.super.devt_slotoff', devtSlotoff, 'layout', b.spans(88, 2), derived));
    f.push(field('erofs.super.dirblkbits', dirblkbits, 'layout', b.spans(90, 1)));
    f.push(field('erofs.super.xattr_prefix_count', b.u8(91), 'size', b.spans(91, 1), derived));
    f.push(field('erofs.super.xattr_prefix_start', b.u32le(92), 'layout', b.spans(92, 4), derived));
    f.push(field('erofs.super.packed_nid', Number(b.u64leBig(96)), 'layout', b.spans(96, 8), derived));
    this.regions.push({ name: 'erofs boot area', role: 'system-area', spans: src.spans(0, SUPER_OFFSET) });
    this.regions.push({ name: 'erofs superblock', role: 'metadata', spans: b.spans(0, sbSize) });

    // the checksum covers the rest of the superblock's block, with its own four bytes taken as zero
    const csumEnd = Math.min(src.size, Math.max(SUPER_OFFSET + sbSize, blksz));
    if (compat & FEATURE_COMPAT_SB_CHKSUM) {
      const stored = b.u32le(4); // 4 - checksum
      const block = src.read(SUPER_OFFSET, csumEnd - SUPER_OFFSET, 'erofs superblock');
      let crc = crc32c(0xffffffff, block.subarray(0, 4));
      crc = crc32c(crc, new Uint8Array(4));
      crc = crc32c(crc, block.subarray(8));
      const covers = [...src.spans(SUPER_OFFSET, 4), ...src.spans(SUPER_OFFSET + 8, csumEnd - SUPER_OFFSET - 8)];
      f.push(field('erofs.super.checksum', `0x${stored.toString(16).padStart(8, '0')}`, 'checksum', b.spans(4, 4), { covers }));
      if (crc !== stored) this.notes.push(`superblock checksum 0x${stored.toString(16)} does not match the computed crc32c 0x${crc.toString(16)}`);
    } else f.push(field('erofs.super.checksum', null, 'checksum', b.spans(4, 4), { covers: src.spans(SUPER_OFFSET + 8, sbSize - 8) }));
    if (csumEnd > SUPER_OFFSET + sbSize) this.regions.push({ name: 'erofs superblock padding', role: 'padding', spans: src.spans(SUPER_OFFSET + sbSize, csumEnd - SUPER_OFFSET - sbSize) });
    if (blocks * blksz > src.size) this.notes.push(`the superblock counts ${blocks} blocks (${blocks * blksz} bytes) but the image holds ${src.size} bytes`);
    if (dirblkbits > 4) throw b.error(90, `directory block size 2^${blkszbits + dirblkbits} is too large`);
    this.dirBlock = blksz << dirblkbits;

    if (incompat & INCOMPAT_DEVICE_TABLE && extraDevices > 0) {
      const at = devtSlotoff * 128;
      checkCap(extraDevices, 256, 'erofs extra devices', src.name, SUPER_OFFSET + 86);
      if (at + extraDevices * 128 > src.size) throw b.error(88, `device table of ${extraDevices} slots runs past the image`);
      for (let i = 0; i < extraDevices; i++) {
        const d = Bytes.at(src, at + i * 128, 128, 'erofs device slot');
        f.push(field(`erofs.device.${i + 1}.tag`, d.ascii(0, 64), 'content', d.spans(0, 64)));
        f.push(field(`erofs.device.${i + 1}.blocks`, d.u32le(64), 'size', d.spans(64, 4), derived));
        f.push(field(`erofs.device.${i + 1}.mapped_blkaddr`, d.u32le(68), 'layout', d.spans(68, 4), derived));
      }
      this.regions.push({ name: 'erofs device table', role: 'metadata', spans: src.spans(at, extraDevices * 128) });
      this.notes.push(`${extraDevices} extra devices: data on them is not part of this image and is listed as opaque`);
    }
    this.g = {
      blkszbits,
      blksz,
      metaBase: metaBlk * blksz,
      xattrBase: xattrBlk * blksz,
      buildTime,
      buildTimeSpans: b.spans(24, 12),
      incompat,
    };
    if (this.g.metaBase > src.size) throw b.error(40, `meta_blkaddr ${metaBlk} is past the ${src.size}-byte image`);
    this.cache = new PclusterCache(src, (incompat & INCOMPAT_ZERO_PADDING) !== 0);
    return rootNid;
  }

  inode(nid: number, structure?: string): { inode: Inode; b: Bytes } {
    return readInode(this.src, this.g, nid, structure);
  }

  /** An inode's content: extents in the image, or a decoded source; `opaque` when it cannot be read. */
  content(ino: Inode): { size: number; extents: Extent[]; source?: ErofsFileSource; opaque?: string; fields: Field[] } {
    if (ino.type === 'chardev' || ino.type === 'blockdev' || ino.type === 'fifo' || ino.type === 'socket') return { size: 0, extents: [], fields: [] };
    if (ino.layout === 1 || ino.layout === 3) {
      const z = readZMap(this.src, this.g, { layout: ino.layout, size: ino.size, dataStart: ino.dataStart, nid: ino.nid });
      if (ino.size === 0) return { size: 0, extents: [], fields: z.fields };
      const source = new ErofsFileSource(`${this.src.name}#nid${ino.nid}`, this.src, ino.size, z.pieces, this.cache, ino.nid);
      return { size: ino.size, extents: [{ offset: 0, length: ino.size }], source, fields: z.fields, ...(z.opaque ? { opaque: z.opaque } : {}) };
    }
    const d = flatData(this.src, ino, this.g);
    if (!d.pieces) return { size: ino.size, extents: d.extents, fields: d.fields };
    const source = new ErofsFileSource(`${this.src.name}#nid${ino.nid}`, this.src, ino.size, d.pieces, this.cache, ino.nid);
    return { size: ino.size, extents: [{ offset: 0, length: ino.size }], source, fields: d.fields, ...(d.opaque ? { opaque: d.opaque } : {}) };
  }

  /** The bytes of a directory's or symlink's data, as a source. */
  private dataSource(ino: Inode, what: string): ByteSource {
    const c = this.content(ino);
    if (c.opaque) throw new ReprodiffError('E_UNSUPPORTED', `${what} data cannot be read: ${c.opaque}`, { file: this.src.name, structure: `erofs ${what}`, offset: ino.pos });
    return c.source ?? new ExtentSource(`${this.src.name}#nid${ino.nid}`, this.src, c.extents);
  }

  private walk(rootNid: number): void {
    const { inode: root } = this.inode(rootNid, 'erofs root inode');
    if (root.type !== 'dir') throw new ReprodiffError('E_FORMAT', `the root inode (nid ${rootNid}) is not a directory`, { file: this.src.name, structure: 'erofs root inode', offset: root.pos });
    this.add('/', root, undefined);
    const seen = new Set<number>([rootNid]);
    const stack: { path: string; inode: Inode; depth: number }[] = [{ path: '', inode: root, depth: 0 }];
    while (stack.length > 0) {
      const d = stack.pop() as { path: string; inode: Inode; depth: number };
      checkCap(d.depth + 1, this.limits.maxDirDepth, 'erofs directory depth', this.src.name);
      const subdirs: { path: string; inode: Inode; depth: number }[] = [];
      for (const c of this.listing(d.inode, d.path || '/')) {
        const path = `${d.path}/${c.name}`;
        const { inode } = this.inode(c.nid, 'erofs inode');
        if (FILE_TYPES[c.fileType] !== inode.type && c.fileType !== 0) this.notes.push(`${path}: the directory entry says ${FILE_TYPES[c.fileType] ?? c.fileType}, the inode says ${inode.type}`);
        this.add(path, inode, c.ref);
        if (inode.type === 'dir') {
          if (seen.has(c.nid)) throw new ReprodiffError('E_LOOP', `directory ${path} (nid ${c.nid}) is already in the tree (a directory loop)`, { file: this.src.name, structure: 'erofs directory entry', offset: inode.pos });
          seen.add(c.nid);
          subdirs.push({ path, inode, depth: d.depth + 1 });
        }
      }
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i] as { path: string; inode: Inode; depth: number });
    }
  }

  /** A directory's entries in stored order, without `.` and `..`. */
  private listing(dir: Inode, path: string): { name: string; nid: number; fileType: number; ref: DirentRef }[] {
    const out: { name: string; nid: number; fileType: number; ref: DirentRef }[] = [];
    checkCap(dir.size, this.limits.maxStructureBytes, `erofs directory ${path} size`, this.src.name, dir.pos);
    if (dir.size === 0) return out;
    const data = this.dataSource(dir, 'directory');
    const maxNid = Math.floor((this.src.size - this.g.metaBase) / 32);
    for (let off = 0; off < dir.size; off += this.dirBlock) {
      checkTime('listing erofs directories', this.src.name, dir.pos);
      const len = Math.min(this.dirBlock, dir.size - off);
      const b = Bytes.at(data, off, len, 'erofs directory block');
      const first = b.u16le(8); // 8 - nameoff of the first entry: 12 x the entry count
      if (first < DIRENT_SIZE || first % DIRENT_SIZE !== 0 || first >= len) throw b.error(8, `${path}: first name offset ${first} is not a multiple of 12 inside the ${len}-byte block`);
      const count = first / DIRENT_SIZE;
      let prev = '';
      for (let i = 0; i < count; i++) {
        const at = i * DIRENT_SIZE;
        const nameoff = b.u16le(at + 8);
        const next = i + 1 < count ? b.u16le(at + DIRENT_SIZE + 8) : len;
        if (nameoff < first || next <= nameoff || next > len) throw b.error(at + 8, `${path}: name offsets ${nameoff}..${next} are out of order or outside the block`);
        let nameLen = next - nameoff;
        if (i + 1 === count) {
          // the last name ends at the block's end or at the first NUL
          const rest = b.bytes(nameoff, nameLen);
          const z = rest.indexOf(0);
          if (z >= 0) nameLen = z;
        }
        if (nameLen === 0 || nameLen > 255) throw b.error(at + 8, `${path}: a name of ${nameLen} bytes`);
        const name = b.utf8(nameoff, nameLen);
        if (name.includes('/') || name.includes('\0')) throw b.error(nameoff, `${path}: invalid name "${name}"`);
        const nid = b.u64leBig(at); // 0 - nid
        if (nid > BigInt(maxNid)) throw b.error(at, `${path}/${name}: nid ${nid} points outside the image`);
        if (name > prev || i === 0) prev = name;
        else this.notes.push(`${path}: directory entries are not in name order at "${name}"`);
        if (name === '.' || name === '..') continue;
        out.push({ name, nid: Number(nid), fileType: b.u8(at + 10), ref: { dir: data, at: off + at, nameAt: off + nameoff, nameLen } });
        checkCap(out.length, this.limits.maxEntries, 'erofs directory entries', this.src.name);
      }
    }
    return out;
  }

  private add(path: string, ino: Inode, dirent: DirentRef | undefined): void {
    checkEntries(this.entries.length + 1, this.limits, 'erofs entries');
    checkTime('listing erofs entries', this.src.name);
    let target: string | undefined;
    const e = new ErofsEntry(this, path, ino.type, this.entries.length, ino.nid, dirent);
    if (ino.type === 'symlink') {
      checkCap(ino.size, MAX_TARGET, `erofs symlink ${path} target length`, this.src.name, ino.pos);
      const data = this.dataSource(ino, 'symlink');
      target = Bytes.at(data, 0, ino.size, 'erofs symlink target').utf8(0, ino.size);
      e.target = target;
    } else if (ino.type === 'file') {
      const c = this.content(ino);
      e.size = c.size;
      e.extents = c.extents;
      if (c.source) e.contentSource = c.source;
      if (c.opaque) e.opaque = c.opaque;
    }
    // checked once here, so that reading the fields again cannot fail
    xattrFields(this.src, ino, this.g);
    this.entries.push(e);
  }

  fieldsOf(e: ErofsEntry): Field[] {
    const out: Field[] = [];
    if (e.dirent) {
      const d = e.dirent;
      const b = Bytes.at(d.dir, d.at, DIRENT_SIZE, 'erofs directory entry');
      const nb = Bytes.at(d.dir, d.nameAt, d.nameLen, 'erofs directory entry name');
      out.push(
        field('erofs.dirent.nid', Number(b.u64leBig(0)), 'inode', b.spans(0, 8), { derived: true }),
        field('erofs.dirent.nameoff', b.u16le(8), 'layout', b.spans(8, 2), { derived: true }),
        field('erofs.dirent.file_type', FILE_TYPES[b.u8(10)] ?? b.u8(10), 'content', b.spans(10, 1)),
        field('erofs.dirent.name', nb.utf8(0, d.nameLen), 'content', nb.spans(0, d.nameLen)),
      );
    }
    const { inode, b } = this.inode(e.nid);
    pushAll(out, inodeFields(inode, b, this.g));
    pushAll(out, xattrFields(this.src, inode, this.g).fields);
    if (inode.type === 'file' || inode.type === 'dir') pushAll(out, this.content(inode).fields);
    if (inode.type === 'symlink' && e.target !== undefined) {
      const data = this.dataSource(inode, 'symlink');
      out.push(field('erofs.symlink.target', e.target, 'content', data.spans(0, inode.size)));
    }
    return out;
  }

  metaOf(e: ErofsEntry): EntryMeta {
    const { inode } = this.inode(e.nid);
    const meta: EntryMeta = { mode: inode.mode & 0o7777, uid: inode.uid, gid: inode.gid, nlink: inode.nlink, ino: inode.ino };
    if (inode.mtime !== null) meta.mtime = inode.mtime;
    if (e.target !== undefined) meta.target = e.target;
    return meta;
  }
}

const NO_EXTENTS: Extent[] = [];

/** An EROFS entry that reads its fields from its directory record and inode when asked. */
class ErofsEntry implements Entry {
  size = 0;
  extents: Extent[] = NO_EXTENTS;
  contentSource?: ByteSource;
  opaque?: string;
  target: string | undefined;
  private metaCache: EntryMeta | undefined;
  constructor(
    private readonly reader: ErofsReader,
    readonly path: string,
    readonly type: EntryType,
    readonly order: number,
    readonly nid: number,
    readonly dirent: DirentRef | undefined,
  ) {}

  get fields(): Field[] {
    return this.reader.fieldsOf(this);
  }

  get meta(): EntryMeta {
    return (this.metaCache ??= this.reader.metaOf(this));
  }
}
