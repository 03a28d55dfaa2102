/**
 * ext2, ext3 and ext4 file systems (kernel Documentation/filesystems/ext4/): the superblock, group
 * descriptors and their backups, the journal superblock, reserved inodes, and the directory tree from the
 * root inode, each file's content through its extent tree or block map. Entries keep where their inode and
 * directory record are; their fields are read again when the comparer asks.
 */
import type { Container, Entry, EntryMeta, EntryType, Field, Format, OpenContext, Span } from '../../model.js';
import { field } from '../../model.js';
import { Bytes, uuidToString } from '../../io/bytes.js';
import type { ByteSource, Extent } from '../../io/source.js';
import { checkCap, checkEntries, checkTime, EntryLimit } from '../../limits.js';
import { ReprodiffError, isReprodiffError } from '../../errors.js';
import { LazyMeta } from '../../util/lazy-meta.js';
import { typeFromMode } from '../../util/mode.js';
import { RegionList } from '../../util/regions.js';
import { pushAll } from '../../util/array.js';
import { createHash, type Hash } from 'node:crypto';
import { readDir, type Child, type DirBlock } from './dir.js';
import { readGroups } from './groups.js';
import { journalFields } from './journal.js';
import {
  blockXattrs,
  contentPieces,
  EXT4_INLINE_DATA_FL,
  inlinePieces,
  inodeChecksum,
  inodeFields,
  inodeXattrs,
  INODE_NUMBER_HINT,
  mapBlocks,
  readInode,
  xattrFields,
  type Fs,
  type Inode,
} from './inode.js';
import { SparseSource } from './source.js';
import { COMPAT_HAS_JOURNAL, INCOMPAT_JOURNAL_DEV, MAGIC, readSuper, SUPER_OFFSET, SUPER_SIZE } from './super.js';
import { decodeName } from '../../util/names.js';

export { SparseSource } from './source.js';
export { crc32c } from './crc32c.js';

const ROOT_INO = 2;
/** longest symlink target read (PATH_MAX) */
const MAX_TARGET = 4096;

function detect(src: ByteSource): number {
  if (src.size < SUPER_OFFSET + SUPER_SIZE) return 0;
  const b = Bytes.at(src, SUPER_OFFSET, 0x60, 'ext4 superblock');
  if (b.u16le(0x38) !== MAGIC) return 0;
  // s_log_block_size and s_rev_level in range: not a stray 0xEF53
  if (b.u32le(0x18) > 6 || b.u32le(0x4c) > 1) return 0;
  return 90;
}

function ext4Name(sb: { compat: number; incompat: number; roCompat: number }): string {
  if (sb.incompat & (0x40 | 0x80 | 0x200 | 0x8000) || sb.roCompat & (0x8 | 0x20 | 0x40 | 0x400)) return 'ext4';
  return sb.compat & COMPAT_HAS_JOURNAL ? 'ext3' : 'ext2';
}

interface EntryPlace {
  ino: number;
  /** offset of the directory record in the source, -1 for the root */
  dirent: number;
  /** where the inode, the record and the entry's metadata blocks sit */
  records: Span[];
  /** the record is in an indexed directory, placed by the hash of its name */
  hashed: boolean;
}

class Ext4Reader {
  readonly fs: Fs;
  private readonly regions = new RegionList();
  private readonly fields: Field[] = [];
  readonly entries: Ext4Entry[] = [];
  private partial: string | undefined;
  /** the metadata_csum checksums of the entries' inodes, per group: one field each, not one per inode */
  private readonly inodeSums = new Map<number, { spans: Span[]; hash: Hash; count: number; bad: number }>();

  constructor(
    private readonly src: ByteSource,
    ctx: OpenContext,
  ) {
    const sbBytes = Bytes.at(src, SUPER_OFFSET, SUPER_SIZE, 'ext4 superblock');
    const { sb, fields, notes } = readSuper(sbBytes);
    pushAll(this.fields, fields);
    this.regions.add('ext4 superblock', 'metadata', sbBytes.spans(0, SUPER_SIZE));
    if (sb.blockSize > 1024) this.regions.add('ext4 boot block', 'system-area', src.spans(0, SUPER_OFFSET));
    else this.regions.add('ext4 boot block', 'system-area', src.spans(0, 1024));
    const volume = sb.blocksCount * sb.blockSize;
    if (volume > src.size) notes.push(`the volume claims ${volume} bytes but the image holds ${src.size}`);
    this.fs = { src, sb, limits: ctx.limits, notes, inodeTables: [] };
    if (sb.incompat & INCOMPAT_JOURNAL_DEV) {
      notes.push('this is an external journal device, not a file system: only its superblock is read');
      return;
    }
    const groups = readGroups(src, sb, sbBytes, ctx.limits, this.regions, notes);
    pushAll(this.fields, groups.fields);
    this.fs.inodeTables = groups.inodeTables;
  }

  read(): Container {
    const { fs } = this;
    if (!(fs.sb.incompat & INCOMPAT_JOURNAL_DEV)) {
      this.reservedInodes();
      try {
        this.walk();
      } catch (e) {
        if (!(e instanceof EntryLimit)) throw e;
        this.partial = e.describe();
        fs.notes.push(this.partial);
      }
      this.inodeSumFields();
    }
    return {
      format: 'ext4',
      source: this.src,
      producer: ext4Name(fs.sb),
      fields: this.fields,
      entries: this.entries,
      regions: this.regions.list(),
      notes: fs.notes,
      ...(this.partial ? { partial: this.partial } : {}),
    };
  }

  /** Gathers an entry's inode checksum into its group's field; a mismatch is noted. */
  private gatherChecksum(n: Inode): void {
    const { fs } = this;
    if (!fs.sb.metadataCsum) return;
    const c = inodeChecksum(fs, n);
    const g = Math.floor((n.ino - 1) / fs.sb.inodesPerGroup);
    let s = this.inodeSums.get(g);
    if (!s) this.inodeSums.set(g, (s = { spans: [], hash: createHash('sha256'), count: 0, bad: 0 }));
    for (const sp of c.spans) {
      const last = s.spans[s.spans.length - 1];
      if (last && last.stream === sp.stream && last.offset + last.length === sp.offset) last.length += sp.length;
      else s.spans.push({ ...sp });
    }
    s.hash.update(`${n.ino}:${c.stored};`);
    s.count++;
    if (c.stored !== c.calc) {
      s.bad++;
      if (s.bad === 1) fs.notes.push(`inode ${n.ino}: checksum 0x${c.stored.toString(16)} does not match its bytes (0x${c.calc.toString(16)})`);
    }
  }

  /**
   * One checksum field per group for the inodes the tree uses: each covers its inode (and the volume's seed),
   * so together they cover the group's inode table. A tree whose times all changed then gives a finding per
   * group, not one per file.
   */
  private inodeSumFields(): void {
    const { fs } = this;
    for (const [g, s] of [...this.inodeSums].sort((x, y) => x[0] - y[0])) {
      const table = fs.inodeTables[g]!;
      const covers = [...fs.src.spans(table, fs.sb.inodesPerGroup * fs.sb.inodeSize), ...fs.sb.seedSpans];
      const v = `${s.count} inodes sha256:${s.hash.digest('hex').slice(0, 16)}${s.bad ? ` (${s.bad} do not match their bytes)` : ''}`;
      this.fields.push(field(`ext4.group.${g}.inode_checksums`, v, 'checksum', s.spans, { covers }));
    }
  }

  /** Inodes below s_first_ino other than the root (journal, resize, quota): container fields, by number. */
  private reservedInodes(): void {
    const { fs } = this;
    const mk = this.fields.find((f) => f.name === 'ext4.super.mkfs_time');
    const mkfs = mk && typeof mk.value === 'string' ? { seconds: Math.floor(Date.parse(mk.value) / 1000), spans: mk.spans } : undefined;
    for (let ino = 1; ino < Math.min(fs.sb.firstIno, fs.sb.inodesCount + 1, 64); ino++) {
      if (ino === ROOT_INO) continue;
      let n: Inode;
      try {
        n = readInode(fs, ino);
      } catch (e) {
        if (isReprodiffError(e)) {
          fs.notes.push(`reserved inode ${ino}: ${e.message}`);
          break;
        }
        throw e;
      }
      if (n.b.data.every((x) => x === 0)) continue;
      const p = `ext4.inode${ino}`;
      for (const f of inodeFields(fs, n, p)) {
        // mke2fs stamps the inodes it makes with the time it stamps as s_mkfs_time: copies of that time
        if (f.kind === 'timestamp' && mkfs && typeof f.value === 'string' && Math.floor(Date.parse(f.value) / 1000) === mkfs.seconds) f.covers = mkfs.spans;
        this.fields.push(f);
      }
      const map = mapBlocks(fs, n, `reserved inode ${ino}`, true);
      for (const f of map.fields) this.fields.push({ ...f, name: f.name.replace(/^ext4\./, `${p}.`) });
      for (const at of map.blocks) this.regions.add(`ext4 inode ${ino} map blocks`, 'metadata', fs.src.spans(at, fs.sb.blockSize));
      if (ino === fs.sb.journalInum && fs.sb.compat & COMPAT_HAS_JOURNAL) {
        const first = map.runs[0];
        if (first && first.logical === 0) {
          const jb = Bytes.at(fs.src, first.physical * fs.sb.blockSize, SUPER_SIZE, 'jbd2 journal superblock');
          pushAll(this.fields, journalFields(jb, fs.notes, { text: uuidToString(fs.sb.uuid), spans: fs.sb.uuidSpans }));
        }
        for (const r of map.runs) this.regions.add('ext4 journal', 'metadata', fs.src.spans(r.physical * fs.sb.blockSize, r.count * fs.sb.blockSize));
      }
    }
  }

  /** The directory's blocks (or inline areas) in logical order. */
  dirBlocks(n: Inode, path: string): { blocks: DirBlock[]; inline: boolean; meta: number[] } {
    const { fs } = this;
    if (n.flags & EXT4_INLINE_DATA_FL) {
      const pieces = inlinePieces(fs, n);
      // i_block starts with the parent's inode number; the records follow it
      const blocks: DirBlock[] = [{ logical: -1, at: n.at + 0x28 + 4, length: 56 }];
      const extra = pieces[1];
      if (extra) blocks.push({ logical: -2, at: extra.offset, length: extra.length });
      return { blocks, inline: true, meta: [] };
    }
    checkCap(n.size, fs.limits.maxStructureBytes, `${path}: directory bytes`, fs.src.name, n.at);
    const map = mapBlocks(fs, n, path, false);
    const blocks: DirBlock[] = [];
    for (const r of map.runs) {
      if (r.unwritten) continue;
      for (let k = 0; k < r.count; k++) blocks.push({ logical: r.logical + k, at: (r.physical + k) * fs.sb.blockSize, length: fs.sb.blockSize });
    }
    return { blocks, inline: false, meta: map.blocks };
  }

  private walk(): void {
    const { fs } = this;
    const root = readInode(fs, ROOT_INO);
    if (typeFromMode(root.mode) !== 'dir') throw new ReprodiffError('E_FORMAT', 'the root inode (2) is not a directory', { file: fs.src.name, structure: 'ext4 root inode', offset: root.at });
    const seen = new Set<number>([ROOT_INO]);
    this.add('/', root, -1, false);
    const stack: { path: string; n: Inode; depth: number }[] = [{ path: '', n: root, depth: 0 }];
    while (stack.length) {
      const d = stack.pop()!;
      checkCap(d.depth + 1, fs.limits.maxDirDepth, 'ext4 directory depth', fs.src.name, d.n.at);
      const { blocks, inline } = this.dirBlocks(d.n, d.path || '/');
      const listing = readDir(fs, d.n, blocks, d.path || '/', false, inline);
      // an indexed directory stores its entries in the hash order of their names, which follows from the hash
      // seed (the field ext4.htree.order says so): the listing takes them in name order instead
      const children: Child[] = listing.hashed ? [...listing.children].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)) : listing.children;
      const subdirs: { path: string; n: Inode; depth: number }[] = [];
      const names = new Set<string>();
      for (const c of children) {
        let path = `${d.path}/${c.name}`;
        if (names.has(c.name)) {
          fs.notes.push(`${path} appears twice in its directory; the second is listed as ${path}#${this.entries.length}`);
          path = `${path}#${this.entries.length}`;
        }
        names.add(c.name);
        let n: Inode;
        try {
          n = readInode(fs, c.ino);
        } catch (e) {
          if (!isReprodiffError(e)) throw e;
          fs.notes.push(`${path}: ${e.message}; not listed`);
          continue;
        }
        const type = typeFromMode(n.mode);
        if (type === 'dir') {
          if (seen.has(c.ino)) {
            fs.notes.push(`${path}: directory inode ${c.ino} is already in the tree (a loop or a hard-linked directory); not read again`);
            continue;
          }
          seen.add(c.ino);
          subdirs.push({ path, n, depth: d.depth + 1 });
        }
        this.add(path, n, c.at, listing.hashed);
      }
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    }
  }

  private add(path: string, n: Inode, dirent: number, hashed: boolean): void {
    const { fs } = this;
    checkEntries(this.entries.length + 1, fs.limits, 'ext4 entries', n.at);
    checkTime('listing ext4 entries', fs.src.name, n.at);
    const type = typeFromMode(n.mode);
    const records: Span[] = [...fs.src.spans(n.at, fs.sb.inodeSize)];
    if (dirent >= 0) pushAll(records, fs.src.spans(dirent, 8));
    if (n.fileAcl !== 0 && blockXattrs(fs, n, []) !== undefined) pushAll(records, fs.src.spans(n.fileAcl * fs.sb.blockSize, fs.sb.blockSize));
    const e = new Ext4Entry(this, path, type, this.entries.length, { ino: n.ino, dirent, records, hashed });
    this.gatherChecksum(n);
    if (type === 'file') this.content(e, n);
    else if (type === 'symlink') e.target = this.symlink(n, path, records);
    else if (type === 'dir') {
      const { blocks, meta } = this.dirBlocks(n, path);
      for (const b of blocks) {
        pushAll(records, fs.src.spans(b.at, b.length));
        this.regions.add('ext4 directory blocks', 'metadata', fs.src.spans(b.at, b.length));
      }
      for (const at of meta) pushAll(records, fs.src.spans(at, fs.sb.blockSize));
    }
    this.entries.push(e);
  }

  private content(e: Ext4Entry, n: Inode): void {
    const { fs } = this;
    e.size = n.size;
    if (n.size === 0) return;
    if (n.flags & EXT4_INLINE_DATA_FL) {
      const pieces = inlinePieces(fs, n);
      const extents: Extent[] = [];
      let left = n.size;
      for (const p of pieces) {
        if (left <= 0) break;
        const len = Math.min(p.length, left);
        extents.push({ offset: p.offset, length: len });
        left -= len;
      }
      if (left > 0) {
        fs.notes.push(`${e.path}: ${n.size} bytes of inline data, but the inode holds ${n.size - left}; content is cut short`);
        e.size = n.size - left;
      }
      e.extents = extents;
      return;
    }
    const map = mapBlocks(fs, n, e.path, false);
    for (const at of map.blocks) {
      pushAll(e.place.records, fs.src.spans(at, fs.sb.blockSize));
      this.regions.add('ext4 extent and indirect blocks', 'metadata', fs.src.spans(at, fs.sb.blockSize));
    }
    const volumeEnd = Math.min(fs.src.size, fs.sb.blocksCount * fs.sb.blockSize);
    const c = contentPieces(fs, map.runs, n.size);
    if ('extents' in c) {
      if (c.extents.some((x) => x.offset + x.length > volumeEnd)) throw new ReprodiffError('E_FORMAT', `${e.path}: content runs past the volume`, { file: fs.src.name, offset: n.at });
      e.extents = c.extents;
    } else {
      e.contentSource = new SparseSource(`${fs.src.name}//${e.path.slice(1)}`, fs.src, c.pieces, n.size);
      e.extents = [{ offset: 0, length: n.size }];
    }
  }

  /** Whether a symlink keeps its target in i_block (a fast symlink). */
  private fastSymlink(n: Inode): boolean {
    if (n.flags & EXT4_INLINE_DATA_FL) return false;
    const blocks = n.b.u32le(0x1c);
    const acl = n.fileAcl !== 0 ? this.fs.sb.blockSize / 512 : 0;
    return n.size < 60 && blocks - acl <= 0;
  }

  private symlink(n: Inode, path: string, records: Span[]): string {
    const { fs } = this;
    if (n.size > MAX_TARGET) {
      fs.notes.push(`${path}: symlink target of ${n.size} bytes is longer than ${MAX_TARGET}; not read`);
      return '';
    }
    if (this.fastSymlink(n)) return n.b.utf8(0x28, n.size);
    if (n.flags & EXT4_INLINE_DATA_FL) {
      const src = inlinePieces(fs, n);
      const parts: Uint8Array[] = [];
      let left = n.size;
      for (const p of src) {
        const len = Math.min(left, p.length);
        if (len <= 0) break;
        parts.push(fs.src.read(p.offset, len, 'ext4 inline symlink'));
        left -= len;
      }
      return decodeName(Buffer.concat(parts));
    }
    const map = mapBlocks(fs, n, path, false);
    const first = map.runs[0];
    if (!first || first.logical !== 0 || first.unwritten) {
      fs.notes.push(`${path}: symlink has no first block; its target is not read`);
      return '';
    }
    for (const at of map.blocks) pushAll(records, fs.src.spans(at, fs.sb.blockSize));
    pushAll(records, fs.src.spans(first.physical * fs.sb.blockSize, fs.sb.blockSize));
    return Bytes.at(fs.src, first.physical * fs.sb.blockSize, n.size, `symlink ${path}`).utf8(0, n.size);
  }

  /** Every field of an entry, read again from its directory record, inode and blocks. */
  fieldsOf(e: Ext4Entry): Field[] {
    const { fs } = this;
    const out: Field[] = [];
    const d = e.place.dirent;
    if (d >= 0) {
      const h = Bytes.at(fs.src, d, 8, 'ext4 directory record');
      const filetype = (fs.sb.incompat & 0x2) !== 0;
      const nameLen = filetype ? h.u8(6) : h.u16le(6);
      const nb = Bytes.at(fs.src, d + 8, nameLen, 'ext4 directory record name');
      out.push(
        field('ext4.dirent.inode', h.u32le(0), 'inode', h.spans(0, 4), { hint: INODE_NUMBER_HINT }),
        // in an indexed directory a record's length follows from which names the hash put in its block
        field('ext4.dirent.rec_len', h.u16le(4), 'layout', h.spans(4, 2), e.place.hashed ? { derived: true, covers: fs.sb.hashSeedSpans } : { derived: true }),
        field('ext4.dirent.name_len', nameLen, 'size', filetype ? h.spans(6, 1) : h.spans(6, 2), { derived: true }),
      );
      if (filetype) out.push(field('ext4.dirent.file_type', h.u8(7), 'content', h.spans(7, 1)));
      out.push(field('ext4.dirent.name', nb.utf8(0, nameLen), 'content', nb.spans(0, nameLen)));
    }
    const n = readInode(fs, e.place.ino);
    pushAll(out, inodeFields(fs, n, 'ext4.inode', false));
    const type = e.type;
    if (type === 'symlink' && this.fastSymlink(n)) {
      out.push(field('ext4.symlink.target', n.b.utf8(0x28, n.size), 'content', n.b.spans(0x28, 60)));
    } else if (type === 'chardev' || type === 'blockdev') {
      const old = n.b.u32le(0x28);
      const dev = old !== 0 ? `${(old >> 8) & 0xff},${old & 0xff}` : (() => {
        const v = n.b.u32le(0x2c);
        return `${((v & 0xfff00) >> 8)},${(v & 0xff) | ((v >> 12) & 0xfff00)}`;
      })();
      out.push(field('ext4.inode.device', dev, 'content', n.b.spans(0x28, 60)));
    } else if (n.flags & EXT4_INLINE_DATA_FL) {
      out.push(field('ext4.inline_data.size', n.size, 'size', n.b.spans(0x28, 0), { derived: true }));
      if (type === 'dir') out.push(field('ext4.inline_dir.parent', n.b.u32le(0x28), 'inode', n.b.spans(0x28, 4), { derived: true }));
      if (type === 'symlink') out.push(field('ext4.symlink.target', e.target ?? '', 'content', n.b.spans(0x28, 60)));
    } else {
      pushAll(out, mapBlocks(fs, n, e.path, true).fields);
      if (type === 'symlink') out.push(field('ext4.symlink.target', e.target ?? '', 'content', []));
    }
    pushAll(out, xattrFields(fs, n));
    if (type === 'dir') {
      const { blocks, inline } = this.dirBlocks(n, e.path);
      pushAll(out, readDir(fs, n, blocks, e.path, true, inline).fields);
    }
    return out;
  }

  metaOf(e: Ext4Entry): EntryMeta {
    const n = readInode(this.fs, e.place.ino);
    const meta: EntryMeta = { mode: n.mode & 0o7777, uid: n.uid, gid: n.gid, nlink: n.links, ino: n.ino };
    if (n.mtime !== null) meta.mtime = n.mtime;
    if (n.atime !== null) meta.atime = n.atime;
    if (n.ctime !== null) meta.ctime = n.ctime;
    if (n.crtime !== null) meta.birthtime = n.crtime;
    if (e.target !== undefined) meta.target = e.target;
    return meta;
  }

  /** The in-inode extended attribute names of an entry (for listings). */
  xattrNames(e: Ext4Entry): string[] {
    const n = readInode(this.fs, e.place.ino);
    const notes: string[] = [];
    return [...inodeXattrs(this.fs, n, notes).list, ...(blockXattrs(this.fs, n, notes)?.list ?? [])].map((x) => x.name);
  }
}

/** An ext4 entry that reads its fields and metadata from its records when asked (not cached). */
export class Ext4Entry implements Entry {
  size = 0;
  extents: Extent[] = NO_EXTENTS;
  contentSource?: ByteSource;
  target: string | undefined;
  constructor(
    private readonly reader: Ext4Reader,
    readonly path: string,
    readonly type: EntryType,
    readonly order: number,
    readonly place: EntryPlace,
  ) {}

  get records(): Span[] {
    return this.place.records;
  }

  get fields(): Field[] {
    return this.reader.fieldsOf(this);
  }

  get meta(): EntryMeta {
    return new LazyMeta(this.target, () => this.reader.metaOf(this));
  }

  /** The names of its extended attributes. */
  get xattrNames(): string[] {
    return this.reader.xattrNames(this);
  }
}

const NO_EXTENTS: Extent[] = [];

export const ext4Format: Format = {
  name: 'ext4',
  exclusive: true,
  isCopyField: (name) => /(^|\.)backup\./.test(name),
  detect,
  open(src: ByteSource, ctx: OpenContext): Container {
    return new Ext4Reader(src, ctx).read();
  },
};
