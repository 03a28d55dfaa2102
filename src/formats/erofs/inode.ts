/**
 * EROFS inodes (compact, 32 bytes; extended, 64 bytes), their inline xattr area with shared xattr ids, and
 * the mapping of uncompressed data (flat plain, flat inline, chunk-based). Written from the EROFS core
 * on-disk format documentation and erofs_fs.h.
 */
import { ReprodiffError } from '../../errors.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource, Extent } from '../../io/source.js';
import type { EntryType, Field, Span } from '../../model.js';
import { field } from '../../model.js';
import { typeFromMode } from '../../util/mode.js';
import type { Piece } from './content.js';

export const LAYOUT_NAMES = ['flat-plain', 'compressed-full', 'flat-inline', 'compressed-compact', 'chunk-based'];
export const LAYOUT_FLAT_PLAIN = 0;
export const LAYOUT_FLAT_INLINE = 2;
export const LAYOUT_CHUNK_BASED = 4;
const NULL_ADDR = 0xffffffff;

export const MTIME_HINT =
  'mkfs.erofs: -T <epoch> gives every inode one time (and the build time); or set the tree\'s mtimes first (find TREE -exec touch -h -d @$SOURCE_DATE_EPOCH {} +); --ignore-mtime stores compact inodes, which take the build time';
export const OWNER_HINT = 'mkfs.erofs: --all-root, or --force-uid=N --force-gid=N';

/** What inodes need from the superblock. */
export interface Geometry {
  blkszbits: number;
  blksz: number;
  /** meta_blkaddr * block size: where nid 0 is */
  metaBase: number;
  /** xattr_blkaddr * block size: where shared xattr id 0 is */
  xattrBase: number;
  buildTime: string | null;
  buildTimeSpans: Span[];
  incompat: number;
}

export interface Inode {
  nid: number;
  pos: number;
  extended: boolean;
  isize: number;
  layout: number;
  xattrIsize: number;
  mode: number;
  type: EntryType;
  nlink: number;
  size: number;
  /** the i_u union: raw_blkaddr, compressed_blocks, rdev or the chunk format */
  u: number;
  ino: number;
  uid: number;
  gid: number;
  /** ISO time: the inode's own (extended) or the build time (compact) */
  mtime: string | null;
  /** after the inode and its xattrs: inline data, chunk indexes or the compression map */
  dataStart: number;
}

function roundUp(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

/** Unix seconds and nanoseconds as ISO 8601 with nine fraction digits (none when the nanoseconds are 0). */
export function isoNs(seconds: number, nsec: number): string | null {
  if (!Number.isSafeInteger(seconds) || Math.abs(seconds) > 253402300799 || nsec >= 1e9) return null;
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  return nsec === 0 ? `${base}Z` : `${base}.${String(nsec).padStart(9, '0')}Z`;
}

export function readInode(src: ByteSource, g: Geometry, nid: number, structure = 'erofs inode'): { inode: Inode; b: Bytes } {
  const pos = g.metaBase + nid * 32;
  if (!Number.isSafeInteger(pos) || pos + 32 > src.size) {
    throw new ReprodiffError('E_FORMAT', `nid ${nid} points at offset ${pos}, outside the ${src.size}-byte image`, { file: src.name, structure, offset: g.metaBase });
  }
  const head = Bytes.at(src, pos, 32, structure);
  const format = head.u16le(0); // 0 - i_format
  const extended = (format & 1) === 1;
  const layout = (format >> 1) & 7;
  if (layout > 4) throw head.error(0, `nid ${nid}: data layout ${layout} is reserved`);
  const isize = extended ? 64 : 32;
  const b = extended ? Bytes.at(src, pos, 64, structure) : head;
  const icount = b.u16le(2); // 2 - i_xattr_icount
  const xattrIsize = icount === 0 ? 0 : 12 + 4 * (icount - 1);
  const mode = b.u16le(4); // 4 - i_mode
  const inode: Inode = {
    nid,
    pos,
    extended,
    isize,
    layout,
    xattrIsize,
    mode,
    type: typeFromMode(mode),
    nlink: extended ? b.u32le(0x2c) : b.u16le(6), // 0x2c / 6 - i_nlink
    size: extended ? b.u64le(8) : b.u32le(8), // 8 - i_size
    u: b.u32le(0x10), // 0x10 - i_u
    ino: b.u32le(0x14), // 0x14 - i_ino
    uid: extended ? b.u32le(0x18) : b.u16le(0x18), // 0x18 - i_uid
    gid: extended ? b.u32le(0x1c) : b.u16le(0x1a), // 0x1c / 0x1a - i_gid
    mtime: extended ? isoNs(b.u64le(0x20), b.u32le(0x28)) : g.buildTime, // 0x20 - i_mtime, 0x28 - i_mtime_nsec
    dataStart: pos + isize + xattrIsize,
  };
  if (inode.dataStart > src.size) throw b.error(2, `nid ${nid}: ${xattrIsize} bytes of xattrs run past the image`);
  return { inode, b };
}

/** The inode's own fields. */
export function inodeFields(ino: Inode, b: Bytes, g: Geometry): Field[] {
  const x = ino.extended;
  const f: Field[] = [
    field('erofs.inode.format', `${x ? 'extended' : 'compact'} ${LAYOUT_NAMES[ino.layout]}`, 'layout', b.spans(0, 2)),
    field('erofs.inode.xattr_icount', b.u16le(2), 'size', b.spans(2, 2), { derived: true }),
    field('erofs.inode.mode', ino.mode & 0o7777, 'permissions', b.spans(4, 2)),
    field('erofs.inode.nlink', ino.nlink, 'inode', x ? b.spans(0x2c, 4) : b.spans(6, 2)),
    field('erofs.inode.size', ino.size, 'size', b.spans(8, x ? 8 : 4), { derived: true }),
  ];
  const uSpans = b.spans(0x10, 4);
  if (ino.type === 'chardev' || ino.type === 'blockdev') {
    // new-style encoding of dev_t: major in bits 8-19, minor in bits 0-7 and 20-31
    const major = (ino.u >>> 8) & 0xfff;
    const minor = (ino.u & 0xff) | ((ino.u >>> 12) & 0xfff00);
    f.push(field('erofs.inode.rdev', `${major}:${minor}`, 'content', uSpans));
  } else if (ino.layout === 1 || ino.layout === 3) f.push(field('erofs.inode.compressed_blocks', ino.u, 'size', uSpans, { derived: true }));
  else if (ino.layout === LAYOUT_CHUNK_BASED) f.push(field('erofs.inode.chunk_format', `0x${(ino.u & 0xffff).toString(16)}`, 'layout', uSpans));
  else f.push(field('erofs.inode.raw_blkaddr', ino.u === NULL_ADDR ? null : ino.u, 'layout', uSpans, { derived: true }));
  f.push(field('erofs.inode.ino', ino.ino, 'inode', b.spans(0x14, 4)));
  f.push(field('erofs.inode.uid', ino.uid, 'ownership', x ? b.spans(0x18, 4) : b.spans(0x18, 2), { hint: OWNER_HINT }));
  f.push(field('erofs.inode.gid', ino.gid, 'ownership', x ? b.spans(0x1c, 4) : b.spans(0x1a, 2), { hint: OWNER_HINT }));
  if (x) f.push(field('erofs.inode.mtime', ino.mtime, 'timestamp', b.spans(0x20, 12), { hint: MTIME_HINT }));
  // a compact inode has no time of its own: it is the superblock's build time, whose bytes are those
  else f.push(field('erofs.inode.mtime_is_build_time', ino.mtime, 'timestamp', g.buildTimeSpans, { derived: true, hint: MTIME_HINT }));
  return f;
}

const XATTR_PREFIXES: Record<number, string> = {
  1: 'user.',
  2: 'system.posix_acl_access',
  3: 'system.posix_acl_default',
  4: 'trusted.',
  5: 'lustre.',
  6: 'security.',
};

const latin1 = new TextDecoder('latin1');

/** One xattr entry at `at` of `b`: its full name, value as text (or hex), and size with padding. */
function xattrEntry(b: Bytes, at: number): { name: string; value: string; size: number } {
  const nameLen = b.u8(at); // 0 - e_name_len
  const index = b.u8(at + 1); // 1 - e_name_index
  const valueSize = b.u16le(at + 2); // 2 - e_value_size
  const size = roundUp(4 + nameLen + valueSize, 4);
  const prefix = index & 0x80 ? `prefix${index & 0x7f}:` : (XATTR_PREFIXES[index] ?? `index${index}.`);
  const name = prefix + b.utf8(at + 4, nameLen);
  const v = b.bytes(at + 4 + nameLen, valueSize);
  let printable = v.length > 0;
  const end = v.length > 0 && v[v.length - 1] === 0 ? v.length - 1 : v.length;
  for (let i = 0; i < end && printable; i++) printable = (v[i] as number) >= 0x20 && (v[i] as number) < 0x7f;
  const value = printable ? latin1.decode(v.subarray(0, end)) : `0x${b.hex(at + 4 + nameLen, valueSize)}`;
  return { name, value, size };
}

/** The inode's xattrs: the shared ids, then the inline entries, then the shared entries they name. */
export function xattrFields(src: ByteSource, ino: Inode, g: Geometry): { fields: Field[]; names: string[] } {
  const fields: Field[] = [];
  const names: string[] = [];
  if (ino.xattrIsize === 0) return { fields, names };
  const at = ino.pos + ino.isize;
  const b = Bytes.at(src, at, ino.xattrIsize, 'erofs inline xattrs');
  if (ino.xattrIsize < 12) throw b.error(0, 'xattr area shorter than its header');
  const shared = b.u8(4); // 4 - h_shared_count
  if (12 + shared * 4 > ino.xattrIsize) throw b.error(4, `${shared} shared xattr ids do not fit the ${ino.xattrIsize}-byte xattr area`);
  fields.push(field('erofs.xattr.shared_count', shared, 'size', b.spans(4, 1), { derived: true }));
  let p = 12 + shared * 4;
  while (p + 4 <= ino.xattrIsize) {
    if (b.u8(p) === 0 && b.u16le(p + 2) === 0) break; // padding
    const e = xattrEntry(b, p);
    if (p + e.size > ino.xattrIsize) throw b.error(p, `xattr ${e.name} runs past the xattr area`);
    fields.push(field(`erofs.xattr.${e.name}`, e.value, 'content', b.spans(p, e.size)));
    names.push(e.name);
    p += e.size;
  }
  for (let i = 0; i < shared; i++) {
    const id = b.u32le(12 + i * 4);
    fields.push(field(`erofs.xattr.shared_id.${i}`, id, 'layout', b.spans(12 + i * 4, 4), { derived: true }));
    const pos = g.xattrBase + id * 4;
    if (pos + 4 > src.size) throw b.error(12 + i * 4, `shared xattr ${id} is at ${pos}, outside the image`);
    const head = Bytes.at(src, pos, 4, 'erofs shared xattr');
    const len = roundUp(4 + head.u8(0) + head.u16le(2), 4);
    if (pos + len > src.size) throw head.error(0, 'shared xattr runs past the image');
    const e = xattrEntry(Bytes.at(src, pos, len, 'erofs shared xattr'), 0);
    fields.push(field(`erofs.xattr.${e.name}`, e.value, 'content', src.spans(pos, len)));
    names.push(e.name);
  }
  return { fields, names };
}

/** Where an uncompressed inode's data is: extents in the image, or pieces when it has holes or other devices. */
export interface FlatData {
  extents: Extent[];
  pieces?: Piece[];
  fields: Field[];
  opaque?: string;
}

export function flatData(src: ByteSource, ino: Inode, g: Geometry): FlatData {
  const size = ino.size;
  const err = (offset: number, msg: string): ReprodiffError =>
    new ReprodiffError('E_FORMAT', `nid ${ino.nid}: ${msg}`, { file: src.name, structure: 'erofs inode data', offset });
  const extent = (pa: number, len: number): Extent => {
    if (!Number.isSafeInteger(pa) || pa + len > src.size) throw err(ino.pos + 0x10, `${len} bytes of data at ${pa} run past the ${src.size}-byte image`);
    return { offset: pa, length: len };
  };
  if (size === 0) return { extents: [], fields: [] };
  if (ino.layout === LAYOUT_FLAT_PLAIN) return { extents: [extent(ino.u * g.blksz, size)], fields: [] };
  if (ino.layout === LAYOUT_FLAT_INLINE) {
    const tail = size % g.blksz;
    const full = size - tail;
    const extents: Extent[] = [];
    if (full > 0) extents.push(extent(ino.u * g.blksz, full));
    if (tail > 0) {
      if ((ino.dataStart % g.blksz) + tail > g.blksz) throw err(ino.dataStart, `inline tail of ${tail} bytes crosses its block`);
      extents.push(extent(ino.dataStart, tail));
    }
    return { extents, fields: [] };
  }
  // chunk-based: a 4-byte block address per chunk, or 8-byte chunk indexes with a device id
  const fmt = ino.u & 0xffff;
  const chunkbits = g.blkszbits + (fmt & 0x1f);
  const indexes = (fmt & 0x20) !== 0;
  const unit = indexes ? 8 : 4;
  const chunk = 2 ** chunkbits;
  const count = Math.ceil(size / chunk);
  const at = roundUp(ino.dataStart, unit);
  if (at + count * unit > src.size) throw err(at, `${count} chunk entries run past the image`);
  const t = Bytes.at(src, at, count * unit, 'erofs chunk indexes');
  const pieces: Piece[] = [];
  let opaque: string | undefined;
  for (let i = 0; i < count; i++) {
    const la = i * chunk;
    const llen = Math.min(chunk, size - la);
    const blk = t.u32le(i * unit + (indexes ? 4 : 0)); // 4 - blkaddr (index) / 0 - blkaddr (block map)
    const device = indexes ? t.u16le(i * unit + 2) : 0; // 2 - device_id
    if (blk === NULL_ADDR) pieces.push({ la, llen, kind: 'zero', pa: 0, plen: 0 });
    else if (device !== 0) {
      opaque ??= `chunks on extra device ${device}, which is not part of this image`;
      pieces.push({ la, llen, kind: 'encoded', pa: 0, plen: 0 });
    } else {
      const e = extent(blk * g.blksz, llen);
      const last = pieces[pieces.length - 1];
      if (last && last.kind === 'raw' && last.pa + last.llen === e.offset && last.la + last.llen === la) last.llen += llen;
      else pieces.push({ la, llen, kind: 'raw', pa: e.offset, plen: llen });
    }
  }
  const fields = [field('erofs.chunk.indexes', pieces.map((p) => `${p.la}+${p.llen}${p.kind === 'raw' ? `@${p.pa}` : ` ${p.kind}`}`).slice(0, 16).join(', '), 'layout', t.spans(0, count * unit), { derived: true })];
  if (!opaque && pieces.every((p) => p.kind === 'raw')) return { extents: pieces.map((p) => ({ offset: p.pa, length: p.llen })), fields };
  return { extents: [], pieces, fields, ...(opaque ? { opaque } : {}) };
}
