/**
 * squashfs 4.0 (little-endian, as mksquashfs 4.x writes it): superblock, id / fragment / export / xattr
 * tables, the inode and directory tables, and each regular file's content as a lazily decoded source.
 */
import type { Codec } from '../../codec/index.js';
import { decompress } from '../../codec/index.js';
import { ReprodiffError, isReprodiffError } from '../../errors.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource, Extent } from '../../io/source.js';
import { checkCap, checkEntries, checkTime, EntryLimit, type Limits } from '../../limits.js';
import type { Container, Entry, EntryMeta, EntryType, Field, Format, LazyFields, Region } from '../../model.js';
import { field } from '../../model.js';
import { isoFromUnix } from '../../util/time.js';
import { LazyMeta } from '../../util/lazy-meta.js';
import { pushAll } from '../../util/array.js';
import { BlockCache, SquashfsFileSource, type DataBlock, type Fragment } from './content.js';
import { NO_FRAGMENT, readInode, type InodeInfo } from './inode.js';
import { MetaTable, readIndexedTable } from './meta.js';

export { SquashfsFileSource } from './content.js';

const MAGIC = 0x73717368; // "hsqs"
const SUPER_SIZE = 96;
const ABSENT = Number.MAX_SAFE_INTEGER; // 0xffffffffffffffff read as "no table"

export const MKFS_TIME_HINT =
  'mksquashfs: export SOURCE_DATE_EPOCH (squashfs-tools 4.5.1 takes it as the creation time) or pass -mkfs-time $SOURCE_DATE_EPOCH';

const COMPRESSORS: Record<number, { name: string; codec: Codec }> = {
  1: { name: 'gzip', codec: 'zlib' },
  2: { name: 'lzma', codec: 'lzma' },
  3: { name: 'lzo', codec: 'lzo' },
  4: { name: 'xz', codec: 'xz' },
  5: { name: 'lz4', codec: 'lz4-block' },
  6: { name: 'zstd', codec: 'zstd' },
};

export const squashfsFormat: Format = {
  name: 'squashfs',
  exclusive: true,
  detect(src: ByteSource): number {
    if (src.size < SUPER_SIZE) return 0;
    const b = Bytes.at(src, 0, 32, 'squashfs superblock');
    if (b.u32le(0) !== MAGIC) return 0;
    return b.u16le(28) === 4 ? 100 : 60;
  },
  open(src: ByteSource, ctx): Container {
    return new SquashfsReader(src, ctx.limits).read();
  },
};

/** Reads a u64 that may be the all-ones "absent" marker. */
function u64OrAbsent(b: Bytes, off: number): number {
  const v = b.u64leBig(off);
  if (v === 0xffffffffffffffffn) return ABSENT;
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw b.error(off, `table offset ${v} is too large`);
  return Number(v);
}

interface Super {
  inodeCount: number;
  mkfsTime: number;
  blockSize: number;
  fragCount: number;
  compression: number;
  flags: number;
  idCount: number;
  rootRef: bigint;
  bytesUsed: number;
  idStart: number;
  xattrStart: number;
  inodeStart: number;
  dirStart: number;
  fragStart: number;
  exportStart: number;
}

class SquashfsReader {
  private readonly fields: Field[] = [];
  private readonly regions: Region[] = [];
  private readonly notes: string[] = [];
  private readonly entries: SquashfsEntry[] = [];
  private sb!: Super;
  private codec: Codec | undefined;
  private compressorName = '';
  private inodes!: MetaTable;
  private dirs!: MetaTable;
  /** every metadata table read, for the decoded streams their fields' spans name */
  private readonly metaTables: MetaTable[] = [];
  private ids: number[] = [];
  private frags: Bytes | undefined;
  private cache!: BlockCache;
  private dataOpaque: string | undefined;
  private partial: string | undefined;

  constructor(
    private readonly src: ByteSource,
    private readonly limits: Limits,
  ) {}

  read(): Container {
    this.superblock();
    const container = (): Container => ({
      format: 'squashfs',
      source: this.src,
      fields: [...this.fields, ...this.metaTables.flatMap((t) => t.blockFields(`squashfs.${t.what.replace(/ /g, '_')}`))],
      entries: this.entries,
      regions: this.regions,
      notes: this.notes,
      streams: this.metaTables.flatMap((t) => t.streams()),
      ...(this.partial ? { partial: this.partial } : {}),
    });
    try {
      this.tables();
    } catch (e) {
      if (isReprodiffError(e) && e.code === 'E_UNSUPPORTED') {
        this.notes.push(`the metadata cannot be decoded (${e.message}); the image is compared as opaque bytes`);
        this.regions.push({ name: 'squashfs image (no decoder)', role: 'metadata', spans: this.src.spans(0, this.sb.bytesUsed) });
        return container();
      }
      throw e;
    }
    try {
      this.walk();
    } catch (e) {
      if (!(e instanceof EntryLimit)) throw e;
      this.partial = e.describe();
      this.notes.push(this.partial);
    }
    return container();
  }

  private superblock(): void {
    const src = this.src;
    const b = Bytes.at(src, 0, SUPER_SIZE, 'squashfs superblock');
    if (b.u32le(0) !== MAGIC) throw b.error(0, 'not a squashfs superblock (magic hsqs)');
    const major = b.u16le(28);
    const minor = b.u16le(30);
    if (major !== 4 || minor !== 0) throw b.error(28, `squashfs version ${major}.${minor} is not supported (only 4.0)`, 'E_UNSUPPORTED');
    const sb: Super = {
      inodeCount: b.u32le(4), // 4 - inode_count
      mkfsTime: b.u32le(8), // 8 - modification_time
      blockSize: b.u32le(12), // 12 - block_size
      fragCount: b.u32le(16), // 16 - fragment_entry_count
      compression: b.u16le(20), // 20 - compression_id
      flags: b.u16le(24), // 24 - flags
      idCount: b.u16le(26), // 26 - id_count
      rootRef: b.u64leBig(32), // 32 - root_inode_ref
      bytesUsed: b.u64le(40), // 40 - bytes_used
      idStart: u64OrAbsent(b, 48), // 48 - id_table_start
      xattrStart: u64OrAbsent(b, 56), // 56 - xattr_id_table_start
      inodeStart: u64OrAbsent(b, 64), // 64 - inode_table_start
      dirStart: u64OrAbsent(b, 72), // 72 - directory_table_start
      fragStart: u64OrAbsent(b, 80), // 80 - fragment_table_start
      exportStart: u64OrAbsent(b, 88), // 88 - export_table_start
    };
    this.sb = sb;
    const blockLog = b.u16le(22); // 22 - block_log
    const f = this.fields;
    const derivedLayout = { derived: true } as const;
    f.push(field('squashfs.super.magic', 'hsqs', 'layout', b.spans(0, 4)));
    f.push(field('squashfs.super.inode_count', sb.inodeCount, 'size', b.spans(4, 4), { derived: true }));
    f.push(field('squashfs.super.mkfs_time', isoFromUnix(sb.mkfsTime), 'timestamp', b.spans(8, 4), { hint: MKFS_TIME_HINT }));
    f.push(field('squashfs.super.block_size', sb.blockSize, 'layout', b.spans(12, 4)));
    f.push(field('squashfs.super.fragment_count', sb.fragCount, 'size', b.spans(16, 4), { derived: true }));
    const comp = COMPRESSORS[sb.compression];
    this.compressorName = comp?.name ?? `compressor ${sb.compression}`;
    f.push(field('squashfs.super.compression', comp?.name ?? sb.compression, 'layout', b.spans(20, 2)));
    f.push(field('squashfs.super.block_log', blockLog, 'layout', b.spans(22, 2)));
    f.push(field('squashfs.super.flags', `0x${sb.flags.toString(16).padStart(4, '0')}`, 'layout', b.spans(24, 2)));
    f.push(field('squashfs.super.id_count', sb.idCount, 'size', b.spans(26, 2), { derived: true }));
    f.push(field('squashfs.super.version', `${major}.${minor}`, 'layout', b.spans(28, 4)));
    f.push(field('squashfs.super.root_inode', `0x${sb.rootRef.toString(16)}`, 'layout', b.spans(32, 8), derivedLayout));
    f.push(field('squashfs.super.bytes_used', sb.bytesUsed, 'size', b.spans(40, 8), { derived: true }));
    const tables: [string, number, number][] = [
      ['id_table_start', sb.idStart, 48],
      ['xattr_id_table_start', sb.xattrStart, 56],
      ['inode_table_start', sb.inodeStart, 64],
      ['directory_table_start', sb.dirStart, 72],
      ['fragment_table_start', sb.fragStart, 80],
      ['export_table_start', sb.exportStart, 88],
    ];
    for (const [name, v, off] of tables) f.push(field(`squashfs.super.${name}`, v === ABSENT ? null : v, 'layout', b.spans(off, 8), derivedLayout));
    this.regions.push({ name: 'squashfs superblock', role: 'metadata', spans: b.spans(0, SUPER_SIZE) });

    if (sb.bytesUsed > src.size || sb.bytesUsed < SUPER_SIZE) throw b.error(40, `bytes_used ${sb.bytesUsed} does not fit the ${src.size}-byte image`);
    if (sb.blockSize < 4096 || sb.blockSize > 1024 * 1024 || (sb.blockSize & (sb.blockSize - 1)) !== 0 || 1 << blockLog !== sb.blockSize) {
      throw b.error(12, `block size ${sb.blockSize} (log ${blockLog}) is not a power of two between 4 KiB and 1 MiB`);
    }
    for (const [name, v, off] of tables) {
      if (v !== ABSENT && (v < SUPER_SIZE || v > sb.bytesUsed)) throw b.error(off, `${name} ${v} is outside the ${sb.bytesUsed} bytes used`);
    }
    if (sb.inodeStart === ABSENT || sb.dirStart === ABSENT || sb.idStart === ABSENT) throw b.error(48, 'a required table is marked absent');
    if (sb.dirStart < sb.inodeStart) throw b.error(72, 'the directory table starts before the inode table');
    if (src.size > sb.bytesUsed) this.regions.push({ name: 'squashfs padding', role: 'padding', spans: src.spans(sb.bytesUsed, src.size - sb.bytesUsed) });

    this.codec = comp?.codec;
    if (this.codec !== undefined) {
      // an empty input tells "no decoder here" (E_UNSUPPORTED) from "corrupt data" without touching the image
      try {
        decompress(this.codec, new Uint8Array(0), { maxOutput: 1 });
      } catch (e) {
        if (isReprodiffError(e) && e.code === 'E_UNSUPPORTED') this.codec = undefined;
      }
    }
    if (this.codec === undefined) {
      this.dataOpaque = `no ${this.compressorName} decoder is available`;
      this.notes.push(`squashfs compressed with ${this.compressorName}: ${this.dataOpaque}; file contents are opaque`);
    }
    this.cache = new BlockCache(src, this.codec, sb.blockSize);
    if (sb.flags & 0x400) {
      // compressor options: one metadata block right after the superblock
      const h = Bytes.at(src, SUPER_SIZE, 2, 'squashfs compressor options');
      const len = h.u16le(0) & 0x7fff;
      if (SUPER_SIZE + 2 + len > sb.bytesUsed) throw h.error(0, `compressor options of ${len} bytes run past the image`);
      this.regions.push({ name: 'squashfs compressor options', role: 'metadata', spans: src.spans(SUPER_SIZE, 2 + len) });
      f.push(field('squashfs.super.compressor_options', Bytes.at(src, SUPER_SIZE + 2, len, 'compressor options').hex(0, len), 'layout', src.spans(SUPER_SIZE + 2, len)));
    }
  }

  /** The end of a table that starts at `start`: the nearest other structure after it. */
  private endOf(start: number, candidates: number[]): number {
    let end = this.sb.bytesUsed;
    for (const c of candidates) if (c > start && c < end) end = c;
    return end;
  }

  /** The lookup table's block pointers: they follow from where the blocks were placed. */
  private lookupFields(table: string, lookup: Bytes): void {
    for (let i = 0; i + 8 <= lookup.length; i += 8) {
      this.fields.push(field(`squashfs.${table}_table.lookup.${i / 8}`, lookup.u64le(i), 'layout', lookup.spans(i, 8), { derived: true }));
    }
  }

  private firstPointer(lookup: number, count: number): number {
    if (lookup === ABSENT || count === 0 || lookup + 8 > this.sb.bytesUsed) return ABSENT;
    return Bytes.at(this.src, lookup, 8, 'squashfs lookup table').u64le(0);
  }

  private tables(): void {
    const { src, sb, limits } = this;
    const codec = this.codec;
    const xattrTable = sb.xattrStart !== ABSENT && sb.xattrStart + 8 <= sb.bytesUsed ? Bytes.at(src, sb.xattrStart, 8, 'squashfs xattr id table').u64le(0) : ABSENT;
    const starts = [
      sb.inodeStart,
      sb.dirStart,
      sb.fragStart,
      sb.exportStart,
      sb.idStart,
      sb.xattrStart,
      xattrTable,
      this.firstPointer(sb.fragStart, sb.fragCount),
      this.firstPointer(sb.exportStart, sb.inodeCount),
      this.firstPointer(sb.idStart, sb.idCount),
    ].filter((v) => v !== ABSENT);
    this.inodes = new MetaTable(src, sb.inodeStart, sb.dirStart, codec, limits, 'inode table');
    this.dirs = new MetaTable(src, sb.dirStart, this.endOf(sb.dirStart, starts), codec, limits, 'directory table');
    this.metaTables.push(this.inodes, this.dirs);
    this.regions.push({ name: 'squashfs inode table', role: 'metadata', spans: this.inodes.diskSpans() });
    this.regions.push({ name: 'squashfs directory table', role: 'metadata', spans: this.dirs.diskSpans() });

    const ids = readIndexedTable(src, sb.idStart, sb.idCount, 4, codec, limits, 'id table');
    this.regions.push({ name: 'squashfs id table', role: 'metadata', spans: [...ids.table.diskSpans(), ...ids.lookup.spans(0, ids.lookup.length)] });
    this.metaTables.push(ids.table);
    this.lookupFields('id', ids.lookup);
    if (sb.idCount > 0) {
      const t = Bytes.at(ids.table, 0, sb.idCount * 4, 'squashfs id table');
      for (let i = 0; i < sb.idCount; i++) {
        const id = t.u32le(i * 4);
        this.ids.push(id);
        this.fields.push(field(`squashfs.id.${i}`, id, 'ownership', t.spans(i * 4, 4)));
      }
    }

    if (sb.fragCount > 0) {
      if (sb.fragStart === ABSENT) throw new ReprodiffError('E_FORMAT', `${sb.fragCount} fragments but no fragment table`, { file: src.name, structure: 'squashfs superblock', offset: 80 });
      checkCap(sb.fragCount, limits.maxEntries, 'squashfs fragments', src.name, sb.fragStart);
      const fr = readIndexedTable(src, sb.fragStart, sb.fragCount, 16, codec, limits, 'fragment table');
      this.regions.push({ name: 'squashfs fragment table', role: 'metadata', spans: [...fr.table.diskSpans(), ...fr.lookup.spans(0, fr.lookup.length)] });
      this.metaTables.push(fr.table);
      this.lookupFields('fragment', fr.lookup);
      this.frags = Bytes.at(fr.table, 0, sb.fragCount * 16, 'squashfs fragment table');
    }

    if (sb.exportStart !== ABSENT) {
      const ex = readIndexedTable(src, sb.exportStart, sb.inodeCount, 8, codec, limits, 'export table');
      this.regions.push({ name: 'squashfs export table', role: 'metadata', spans: [...ex.table.diskSpans(), ...ex.lookup.spans(0, ex.lookup.length)] });
      this.metaTables.push(ex.table);
      this.lookupFields('export', ex.lookup);
    }

    if (sb.xattrStart !== ABSENT) {
      const h = Bytes.at(src, sb.xattrStart, 16, 'squashfs xattr id table');
      const count = h.u32le(8); // 8 - xattr_ids
      const lookupLen = Math.ceil((count * 16) / 8192) * 8;
      if (sb.xattrStart + 16 + lookupLen > sb.bytesUsed || xattrTable > sb.xattrStart) throw h.error(8, `xattr id table of ${count} entries does not fit`);
      this.fields.push(field('squashfs.xattr.table_start', xattrTable, 'layout', h.spans(0, 8), { derived: true }));
      this.fields.push(field('squashfs.xattr.count', count, 'size', h.spans(8, 4), { derived: true }));
      this.regions.push({ name: 'squashfs xattr tables', role: 'metadata', spans: src.spans(xattrTable, sb.xattrStart + 16 + lookupLen - xattrTable) });
      this.notes.push(`${count} extended attribute sets are present; their keys and values are not decoded`);
    }
  }

  private id(idx: number, what: string): number {
    const v = this.ids[idx];
    if (v === undefined) throw new ReprodiffError('E_FORMAT', `${what} index ${idx} is past the ${this.ids.length}-entry id table`, { file: this.src.name, structure: 'squashfs inode' });
    return v;
  }

  private refPos(t: MetaTable, ref: bigint | number, structure: string): number {
    const r = BigInt(ref);
    return t.position(Number(r >> 16n), Number(r & 0xffffn), structure);
  }

  private walk(): void {
    const rootPos = this.refPos(this.inodes, this.sb.rootRef, 'squashfs root inode reference');
    const root = readInode(this.inodes, rootPos, this.sb.blockSize);
    if (root.type !== 'dir') throw new ReprodiffError('E_FORMAT', 'the root inode is not a directory', { file: this.src.name, structure: 'squashfs root inode' });
    this.add('/', root, rootPos, undefined);
    // iterative depth-first walk; a directory inode seen twice means a loop
    const seen = new Set<number>([rootPos]);
    const stack: { path: string; inode: InodeInfo; depth: number }[] = [{ path: '', inode: root, depth: 0 }];
    while (stack.length > 0) {
      const d = stack.pop() as { path: string; inode: InodeInfo; depth: number };
      checkCap(d.depth + 1, this.limits.maxDirDepth, 'squashfs directory depth', this.src.name);
      const children = this.listing(d.inode);
      const subdirs: { path: string; inode: InodeInfo; depth: number }[] = [];
      for (const c of children) {
        const path = `${d.path}/${c.name}`;
        const inode = readInode(this.inodes, c.pos, this.sb.blockSize);
        if (inode.number !== c.number) this.notes.push(`${path}: directory entry says inode ${c.number}, the inode says ${inode.number}`);
        this.add(path, inode, c.pos, c.dirent);
        if (inode.type === 'dir') {
          if (seen.has(c.pos)) {
            throw new ReprodiffError('E_LOOP', `directory ${path} is already in the tree (a directory loop)`, { file: this.src.name, structure: 'squashfs directory entry' });
          }
          seen.add(c.pos);
          subdirs.push({ path, inode, depth: d.depth + 1 });
        }
      }
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i] as { path: string; inode: InodeInfo; depth: number });
    }
  }

  /** One directory's entries, in stored order, with the positions of their inodes and of their own records. */
  private listing(dir: InodeInfo): { name: string; pos: number; number: number; dirent: DirentRef }[] {
    const out: { name: string; pos: number; number: number; dirent: DirentRef }[] = [];
    const size = dir.dirSize ?? 0;
    if (size === 0) return out;
    const start = this.dirs.position(dir.dirBlock ?? 0, dir.dirOffset ?? 0, 'squashfs directory inode');
    if (start + size > this.dirs.size) throw new ReprodiffError('E_FORMAT', `directory listing of ${size} bytes runs past the directory table`, { file: this.src.name, structure: 'squashfs directory inode' });
    let p = start;
    const end = start + size;
    while (p < end) {
      const h = Bytes.at(this.dirs, p, 12, 'squashfs directory header');
      const count = h.u32le(0) + 1; // 0 - count (stored minus one)
      const block = h.u32le(4); // 4 - start (inode block)
      const base = h.u32le(8); // 8 - inode_number
      if (count > 256) throw h.error(0, `directory header announces ${count} entries (at most 256)`);
      const header = p;
      p += 12;
      for (let i = 0; i < count; i++) {
        if (p + 8 > end) throw h.error(p - h.base, 'directory entry runs past the listing');
        const e = Bytes.at(this.dirs, p, 8, 'squashfs directory entry');
        const offset = e.u16le(0); // 0 - offset (in the inode block)
        const delta = (e.u16le(2) << 16) >> 16; // 2 - inode_offset (signed)
        const nameSize = e.u16le(6) + 1; // 6 - name_size (minus one)
        if (nameSize > 256 || p + 8 + nameSize > end) throw e.error(6, `name of ${nameSize} bytes runs past the listing`);
        const nb = Bytes.at(this.dirs, p + 8, nameSize, 'squashfs directory entry name');
        const name = nb.utf8(0, nameSize);
        if (name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw nb.error(0, `invalid name "${name}"`);
        const pos = this.inodes.position(block, offset, 'squashfs directory entry');
        out.push({ name, pos, number: base + delta, dirent: { at: p, header: i === 0 ? header : -1 } });
        p += 8 + nameSize;
      }
      checkCap(out.length, this.limits.maxEntries, 'squashfs directory entries', this.src.name);
    }
    return out;
  }

  /** The fields of a directory entry record (with its header's, for the first entry under a header), read again. */
  private direntFields(d: DirentRef): Field[] {
    const out: Field[] = [];
    if (d.header >= 0) {
      const h = Bytes.at(this.dirs, d.header, 12, 'squashfs directory header');
      out.push(
        field('squashfs.dirhdr.count', h.u32le(0) + 1, 'size', h.spans(0, 4), { derived: true }),
        field('squashfs.dirhdr.start', h.u32le(4), 'layout', h.spans(4, 4), { derived: true }),
        field('squashfs.dirhdr.inode_number', h.u32le(8), 'inode', h.spans(8, 4), { derived: true }),
      );
    }
    const e = Bytes.at(this.dirs, d.at, 8, 'squashfs directory entry');
    const nameSize = e.u16le(6) + 1;
    const nb = Bytes.at(this.dirs, d.at + 8, nameSize, 'squashfs directory entry name');
    out.push(
      field('squashfs.dirent.offset', e.u16le(0), 'layout', e.spans(0, 2), { derived: true }),
      field('squashfs.dirent.inode_offset', (e.u16le(2) << 16) >> 16, 'inode', e.spans(2, 2), { derived: true }),
      field('squashfs.dirent.type', e.u16le(4), 'content', e.spans(4, 2)),
      field('squashfs.dirent.name_size', nameSize, 'size', e.spans(6, 2), { derived: true }),
      field('squashfs.dirent.name', nb.utf8(0, nameSize), 'content', nb.spans(0, nameSize)),
    );
    return out;
  }

  /** Every field of an entry, read again from its directory record and its inode. */
  fieldsOf(e: SquashfsEntry): Field[] {
    const inode = readInode(this.inodes, e.inodePos, this.sb.blockSize);
    const fields: Field[] = e.dirent ? this.direntFields(e.dirent) : [];
    pushAll(fields, inode.fields);
    // uid/gid: the inode holds indexes into the id table; record the resolved ids on the index bytes
    fields.push(field('squashfs.inode.uid', this.id(inode.uidIdx, 'uid'), 'ownership', inode.uidSpans, { hint: OWNER_HINT }));
    fields.push(field('squashfs.inode.gid', this.id(inode.gidIdx, 'gid'), 'ownership', inode.gidSpans, { hint: OWNER_HINT }));
    if (inode.type === 'file') pushAll(fields, this.fragmentFields(inode));
    return fields;
  }

  /** An entry's metadata, read again from its inode. */
  metaOf(e: SquashfsEntry): EntryMeta {
    const inode = readInode(this.inodes, e.inodePos, this.sb.blockSize);
    const meta: EntryMeta = { mode: inode.perms & 0o7777, uid: this.id(inode.uidIdx, 'uid'), gid: this.id(inode.gidIdx, 'gid'), nlink: inode.nlink, ino: inode.number };
    const mtime = isoFromUnix(inode.mtime);
    if (mtime !== null) meta.mtime = mtime;
    if (e.target !== undefined) meta.target = e.target;
    return meta;
  }

  /** The fragment table entry a file's tail sits in, as fields; none when it has no fragment. */
  private fragmentFields(inode: InodeInfo): Field[] {
    const fi = inode.fragIndex ?? NO_FRAGMENT;
    const size = inode.fileSize ?? 0;
    if (fi === NO_FRAGMENT || size % this.sb.blockSize === 0 || !this.frags || fi >= this.sb.fragCount) return [];
    const f = this.frags;
    return [
      field('squashfs.fragment.start', f.u64le(fi * 16), 'layout', f.spans(fi * 16, 8), { derived: true }),
      field('squashfs.fragment.size', f.u32le(fi * 16 + 8) & 0xffffff, 'size', f.spans(fi * 16 + 8, 4), { derived: true }),
    ];
  }

  /**
   * Adds an entry that keeps where its records are, not their fields: those (some twenty per file) are read
   * again when the comparer asks, so a listing of hundreds of thousands of files holds little per file.
   */
  private add(path: string, inode: InodeInfo, pos: number, dirent: DirentRef | undefined): void {
    checkEntries(this.entries.length + 1, this.limits, 'squashfs entries');
    checkTime('listing squashfs entries', this.src.name);
    // checked once here, so that reading the fields again cannot fail
    this.id(inode.uidIdx, 'uid');
    this.id(inode.gidIdx, 'gid');
    const entry = new SquashfsEntry(this, path, inode.type, this.entries.length, pos, dirent, inode.target);
    if (inode.type === 'file') this.content(entry, inode);
    this.entries.push(entry);
  }

  private content(entry: SquashfsEntry, inode: InodeInfo): void {
    const sb = this.sb;
    const size = inode.fileSize ?? 0;
    entry.size = size;
    const count = inode.blockCount ?? 0;
    const list = Bytes.at(this.inodes, inode.blockListPos ?? 0, count * 4, 'squashfs block list');
    const blocks: DataBlock[] = [];
    let disk = inode.blocksStart ?? 0;
    let anyCompressed = false;
    for (let i = 0; i < count; i++) {
      const v = list.u32le(i * 4);
      const stored = v & 0xffffff;
      const compressed = (v & 0x1000000) === 0 && stored > 0;
      if (stored > sb.blockSize) throw list.error(i * 4, `data block of ${stored} bytes is larger than the block size`);
      if (stored > 0 && disk + stored > sb.bytesUsed) throw list.error(i * 4, `data block at ${disk} runs past the image`);
      blocks.push({ disk, stored, compressed });
      anyCompressed ||= compressed;
      disk += stored;
    }
    let fragment: Fragment | undefined;
    const fi = inode.fragIndex ?? NO_FRAGMENT;
    if (fi !== NO_FRAGMENT && size % sb.blockSize !== 0) {
      if (!this.frags || fi >= sb.fragCount) throw new ReprodiffError('E_FORMAT', `${entry.path}: fragment ${fi} is past the ${sb.fragCount}-entry fragment table`, { file: this.src.name, structure: 'squashfs file inode' });
      const f = this.frags;
      const start = f.u64le(fi * 16); // 0 - start
      const v = f.u32le(fi * 16 + 8); // 8 - size (bit 24: stored uncompressed)
      const stored = v & 0xffffff;
      const compressed = (v & 0x1000000) === 0;
      if (stored === 0 || stored > sb.blockSize || start + stored > sb.bytesUsed) throw f.error(fi * 16, `fragment ${fi} at ${start} (${stored} bytes) does not fit the image`);
      fragment = { disk: start, stored, compressed, offset: inode.fragOffset ?? 0 };
      anyCompressed ||= compressed;
    }
    if (size === 0) return;
    // the source is kept even for opaque content: its origin() still says where the encoded blocks are
    entry.contentSource = new SquashfsFileSource(`${this.src.name}//${entry.path.slice(1)}`, this.src, size, blocks, fragment, this.cache, inode.number);
    if (this.dataOpaque && anyCompressed) {
      entry.opaque = this.dataOpaque;
      return;
    }
    entry.extents = [{ offset: 0, length: size }];
  }
}

/** Where an entry's directory record sits in the directory table; `header`: its header's, when it is the first under it (else -1). */
interface DirentRef {
  at: number;
  header: number;
}

/** A squashfs entry that reads its fields and metadata from its records when asked (not cached). */
class SquashfsEntry implements Entry, LazyFields {
  size = 0;
  extents: Extent[] = NO_EXTENTS;
  contentSource?: ByteSource;
  opaque?: string;
  constructor(
    private readonly reader: SquashfsReader,
    readonly path: string,
    readonly type: EntryType,
    readonly order: number,
    readonly inodePos: number,
    readonly dirent: DirentRef | undefined,
    readonly target: string | undefined,
  ) {}

  /** Made afresh from the inode and directory entry on each call (LazyFields). */
  readFields(): Field[] {
    return this.reader.fieldsOf(this);
  }

  get fields(): Field[] {
    return this.readFields();
  }

  get meta(): EntryMeta {
    return new LazyMeta(this.target, () => this.reader.metaOf(this));
  }
}

const NO_EXTENTS: Extent[] = [];
const OWNER_HINT = 'mksquashfs: -all-root (or -force-uid 0 -force-gid 0)';
