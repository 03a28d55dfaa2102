/**
 * ext4 inodes (kernel Documentation/filesystems/ext4/inodes.rst, struct ext4_inode), their block maps
 * (extent trees, and ext2/3's direct and indirect blocks) and their extended attributes (in the inode body and
 * in an xattr block). Structures are read again whenever their fields are asked for; only where they are is kept.
 */
import type { Field, Span } from '../../model.js';
import { field } from '../../model.js';
import { Bytes, toHex } from '../../io/bytes.js';
import type { ByteSource, Extent } from '../../io/source.js';
import type { Limits } from '../../limits.js';
import { ReprodiffError } from '../../errors.js';
import { isoFromUnix } from '../../util/time.js';
import { crc32c, crc32cU32 } from './crc32c.js';
import type { Super } from './super.js';
import { TIME_HINT } from './super.js';

export const EXT4_INDEX_FL = 0x1000;
export const EXT4_HUGE_FILE_FL = 0x40000;
export const EXT4_EXTENTS_FL = 0x80000;
export const EXT4_EA_INODE_FL = 0x200000;
export const EXT4_INLINE_DATA_FL = 0x10000000;
const EXTENT_MAGIC = 0xf30a;
const XATTR_MAGIC = 0xea020000;
/** the kernel's limit on extent tree depth */
const MAX_EXTENT_DEPTH = 5;

export const INODE_TIME_HINT =
  'mkfs.ext4 -d copies atime, mtime and ctime from the source tree and stamps crtime (and what it creates itself, like ' +
  'lost+found) with the current time: clamp the tree (find tree -exec touch -h -d @$SOURCE_DATE_EPOCH {} +) and set ' +
  'SOURCE_DATE_EPOCH (e2fsprogs >= 1.47.1) or E2FSPROGS_FAKE_TIME (older)';
export const OWNER_HINT =
  'mkfs.ext4 -d copies owners from the source tree: give the tree fixed owners (e.g. build it as root, or in fakeroot), and -E root_owner=0:0 for the root directory';
export const GENERATION_HINT =
  'the kernel gives each inode it creates a random generation (mkfs.ext4 -d writes 0): build the image with mkfs.ext4 -d instead of mounting it and copying files in';
export const INODE_NUMBER_HINT =
  'mkfs.ext4 -d numbers inodes in the order it reads the source tree (readdir order of the host file system): build from a tree made the same way, in sorted order';

/** Everything the readers of inodes, directories and journals share. */
export interface Fs {
  src: ByteSource;
  sb: Super;
  limits: Limits;
  notes: string[];
  /** byte offset of each group's inode table */
  inodeTables: number[];
}

export interface Run {
  /** first logical block */
  logical: number;
  /** first physical block */
  physical: number;
  count: number;
  /** an unwritten extent: reads as zeros */
  unwritten: boolean;
}

export interface Inode {
  ino: number;
  /** byte offset of the inode in the volume */
  at: number;
  b: Bytes;
  mode: number;
  flags: number;
  size: number;
  links: number;
  uid: number;
  gid: number;
  generation: number;
  fileAcl: number;
  extraIsize: number;
  mtime: string | null;
  atime: string | null;
  ctime: string | null;
  crtime: string | null;
}

export function inodeOffset(fs: Fs, ino: number): number {
  const { sb } = fs;
  if (!Number.isInteger(ino) || ino < 1 || ino > sb.inodesCount) {
    throw new ReprodiffError('E_FORMAT', `inode number ${ino} is outside 1..${sb.inodesCount}`, { file: fs.src.name, structure: 'ext4 inode' });
  }
  const group = Math.floor((ino - 1) / sb.inodesPerGroup);
  const table = fs.inodeTables[group];
  if (table === undefined || table < 0) {
    throw new ReprodiffError('E_FORMAT', `inode ${ino} is in group ${group}, whose inode table is not in the image`, { file: fs.src.name, structure: 'ext4 inode' });
  }
  return table + ((ino - 1) % sb.inodesPerGroup) * sb.inodeSize;
}

/** Seconds (with nanoseconds when the inode has the _extra word) of an inode time as ISO 8601. */
function inodeTime(b: Bytes, lo: number, extra: number | undefined): string | null {
  const base = b.i32le(lo);
  const x = extra === undefined ? 0 : b.u32le(extra);
  if (base === 0 && x === 0) return null;
  const seconds = base + (x & 3) * 0x100000000;
  const iso = isoFromUnix(seconds);
  if (iso === null || extra === undefined) return iso;
  const ns = x >>> 2;
  return `${iso.slice(0, -1)}.${String(ns).padStart(9, '0')}Z`;
}

export function readInode(fs: Fs, ino: number): Inode {
  const at = inodeOffset(fs, ino);
  const b = Bytes.at(fs.src, at, fs.sb.inodeSize, `ext4 inode ${ino}`);
  const big = fs.sb.inodeSize > 128;
  let extraIsize = big ? b.u16le(0x80) : 0;
  if (extraIsize > fs.sb.inodeSize - 128 || extraIsize & 3) extraIsize = 0;
  const has = (end: number): boolean => extraIsize >= end - 128;
  return {
    ino,
    at,
    b,
    mode: b.u16le(0x0),
    flags: b.u32le(0x20),
    size: b.u32le(0x4) + b.u32le(0x6c) * 0x100000000,
    links: b.u16le(0x1a),
    uid: b.u16le(0x2) | (b.u16le(0x78) << 16),
    gid: b.u16le(0x18) | (b.u16le(0x7a) << 16),
    generation: b.u32le(0x64),
    fileAcl: b.u32le(0x68) + b.u16le(0x76) * 0x100000000,
    extraIsize,
    atime: inodeTime(b, 0x8, has(0x90) ? 0x8c : undefined),
    ctime: inodeTime(b, 0xc, has(0x88) ? 0x84 : undefined),
    mtime: inodeTime(b, 0x10, has(0x8c) ? 0x88 : undefined),
    crtime: has(0x98) ? inodeTime(b, 0x90, 0x94) : null,
  };
}

/** i_checksum_lo (osd2) and i_checksum_hi, and what they should be: crc32c(inode seed, the inode with both zeroed). */
export function inodeChecksum(fs: Fs, n: Inode): { stored: number; calc: number; spans: Span[]; hi: boolean } {
  const { b } = n;
  const hi = n.extraIsize >= 4;
  const stored = (b.u16le(0x7c) | (hi ? b.u16le(0x82) << 16 : 0)) >>> 0;
  const spans = hi ? [...b.spans(0x7c, 2), ...b.spans(0x82, 2)] : b.spans(0x7c, 2);
  let calc = stored;
  if (fs.sb.metadataCsum) {
    const copy = b.data.slice();
    copy[0x7c] = copy[0x7d] = 0;
    if (hi) copy[0x82] = copy[0x83] = 0;
    calc = crc32c(inodeSeed(fs, n), copy);
    if (!hi) calc &= 0xffff;
  }
  return { stored, calc: calc >>> 0, spans, hi };
}

/** The seed of an inode's own checksums: crc32c over the inode number and generation, from the volume's seed. */
export function inodeSeed(fs: Fs, inode: Inode): number {
  return crc32cU32(crc32cU32(fs.sb.csumSeed, inode.ino), inode.generation);
}

function hexValue(stored: number, calc: number, digits: number): string {
  const s = `0x${stored.toString(16).padStart(digits, '0')}`;
  return stored === calc ? s : `${s} (its bytes give 0x${calc.toString(16).padStart(digits, '0')})`;
}

/**
 * The inode's own fields. `p` is the field prefix (`ext4.inode`, or `ext4.inode8` for a reserved inode).
 * Without `withChecksum` the metadata_csum checksum is left out: the reader gathers those per group.
 */
export function inodeFields(fs: Fs, n: Inode, p = 'ext4.inode', withChecksum = true): Field[] {
  const { b } = n;
  const out: Field[] = [];
  const L = { derived: true } as const;
  const has = (end: number): boolean => n.extraIsize >= end - 128;
  const T = p === 'ext4.inode' ? INODE_TIME_HINT : TIME_HINT;
  out.push(field(`${p}.mode`, `0${n.mode.toString(8)}`, 'permissions', b.spans(0x0, 2)));
  out.push(field(`${p}.uid`, n.uid, 'ownership', [...b.spans(0x2, 2), ...b.spans(0x78, 2)], { hint: OWNER_HINT }));
  out.push(field(`${p}.gid`, n.gid, 'ownership', [...b.spans(0x18, 2), ...b.spans(0x7a, 2)], { hint: OWNER_HINT }));
  out.push(field(`${p}.size`, n.size, 'size', [...b.spans(0x4, 4), ...b.spans(0x6c, 4)], L));
  out.push(field(`${p}.atime`, n.atime, 'timestamp', has(0x90) ? [...b.spans(0x8, 4), ...b.spans(0x8c, 4)] : b.spans(0x8, 4), { hint: T }));
  out.push(field(`${p}.ctime`, n.ctime, 'timestamp', has(0x88) ? [...b.spans(0xc, 4), ...b.spans(0x84, 4)] : b.spans(0xc, 4), { hint: T }));
  out.push(field(`${p}.mtime`, n.mtime, 'timestamp', has(0x8c) ? [...b.spans(0x10, 4), ...b.spans(0x88, 4)] : b.spans(0x10, 4), { hint: T }));
  if (has(0x98)) out.push(field(`${p}.crtime`, n.crtime, 'timestamp', [...b.spans(0x90, 4), ...b.spans(0x94, 4)], { hint: T }));
  const dtime = b.u32le(0x14);
  out.push(field(`${p}.dtime`, dtime === 0 ? null : isoFromUnix(dtime), 'timestamp', b.spans(0x14, 4)));
  out.push(field(`${p}.links_count`, n.links, 'inode', b.spans(0x1a, 2), L));
  out.push(field(`${p}.blocks`, b.u32le(0x1c) + b.u16le(0x74) * 0x100000000, 'size', [...b.spans(0x1c, 4), ...b.spans(0x74, 2)], L));
  out.push(field(`${p}.flags`, `0x${n.flags.toString(16)}`, 'content', b.spans(0x20, 4)));
  out.push(field(`${p}.version`, b.u32le(0x24), 'content', b.spans(0x24, 4)));
  out.push(field(`${p}.generation`, n.generation, 'random-id', b.spans(0x64, 4), { hint: GENERATION_HINT }));
  out.push(field(`${p}.file_acl`, n.fileAcl, 'layout', [...b.spans(0x68, 4), ...b.spans(0x76, 2)], L));
  out.push(field(`${p}.faddr`, b.u32le(0x70), 'content', b.spans(0x70, 4)));
  out.push(field(`${p}.osd2_reserved`, b.u16le(0x7e), 'content', b.spans(0x7e, 2)));
  if (fs.sb.inodeSize > 128) {
    out.push(field(`${p}.extra_isize`, n.extraIsize, 'layout', b.spans(0x80, 2)));
    if (has(0x9c)) out.push(field(`${p}.version_hi`, b.u32le(0x98), 'content', b.spans(0x98, 4)));
    if (has(0xa0)) out.push(field(`${p}.projid`, b.u32le(0x9c), 'ownership', b.spans(0x9c, 4)));
    const end = 128 + n.extraIsize;
    if (end > 0xa0) out.push(field(`${p}.extra_rest`, b.hex(0xa0, end - 0xa0), 'content', b.spans(0xa0, end - 0xa0)));
  }
  const c = inodeChecksum(fs, n);
  if (!fs.sb.metadataCsum) out.push(field(`${p}.checksum_lo`, c.stored, 'content', c.spans));
  else if (withChecksum) {
    out.push(field(`${p}.checksum`, hexValue(c.stored, c.calc, c.hi ? 8 : 4), 'checksum', c.spans, { covers: [...b.spans(0, b.length), ...fs.sb.seedSpans] }));
  }
  return out;
}

/** The block map of an inode: its runs, the fields of its extent tree or indirect blocks, and where those sit. */
export interface BlockMap {
  runs: Run[];
  fields: Field[];
  /** metadata blocks (extent tree nodes, indirect blocks), as volume byte offsets */
  blocks: number[];
}

/** Whether `n` blocks starting at physical block `p` are inside the volume and the image. */
function blocksInside(fs: Fs, p: number, n: number): boolean {
  return p >= 0 && n >= 0 && p + n <= fs.sb.blocksCount && (p + n) * fs.sb.blockSize <= fs.src.size;
}

/**
 * Maps an inode's blocks, up to `maxBlocks` logical blocks. Extent trees are walked with a depth limit and a
 * set of visited nodes; indirect blocks likewise. What does not fit the volume is cut with a note.
 */
export function mapBlocks(fs: Fs, n: Inode, what: string, withFields: boolean): BlockMap {
  const out: BlockMap = { runs: [], fields: [], blocks: [] };
  const bs = fs.sb.blockSize;
  const maxBlocks = Math.ceil(n.size / bs);
  if (n.flags & EXT4_INLINE_DATA_FL) return out;
  if (n.flags & EXT4_EXTENTS_FL) extentTree(fs, n, what, withFields, out, maxBlocks);
  else blockMap(fs, n, what, withFields, out, maxBlocks);
  return out;
}

function extentTree(fs: Fs, n: Inode, what: string, withFields: boolean, out: BlockMap, maxBlocks: number): void {
  const bs = fs.sb.blockSize;
  const seen = new Set<number>();
  let entryNo = 0;
  // iterative: nodes to read, with the depth their parent says they have
  const stack: { node: Bytes; depth: number | undefined; block: number }[] = [{ node: n.b.sub(0x28, 60, `extent tree of ${what}`), depth: undefined, block: -1 }];
  let nodes = 0;
  while (stack.length) {
    const { node, depth: expected, block } = stack.pop()!;
    if (++nodes > fs.limits.maxChain) {
      fs.notes.push(`${what}: extent tree has more than ${fs.limits.maxChain} nodes; the rest is not read`);
      return;
    }
    if (node.u16le(0) !== EXTENT_MAGIC) {
      fs.notes.push(`${what}: extent node${block >= 0 ? ` in block ${block}` : ''} has no extent header magic; not read`);
      continue;
    }
    const entries = node.u16le(2);
    const max = node.u16le(4);
    const depth = node.u16le(6);
    const room = Math.floor((node.length - 12) / 12);
    if (max > room || entries > max) {
      fs.notes.push(`${what}: extent node announces ${entries} of ${max} entries, room for ${room}; not read`);
      continue;
    }
    if (depth > MAX_EXTENT_DEPTH || (expected !== undefined && depth !== expected)) {
      fs.notes.push(`${what}: extent node depth ${depth}${expected !== undefined ? ` where ${expected} is expected` : ''} (at most ${MAX_EXTENT_DEPTH}); not read`);
      continue;
    }
    const tag = block < 0 ? 'inode' : String(block);
    if (withFields) {
      out.fields.push(field(`ext4.extent_node.${tag}`, `${entries}/${max} depth ${depth} gen ${node.u32le(8)}`, 'layout', node.spans(0, 12), { derived: true }));
      if (block >= 0) {
        const tail = 12 + max * 12;
        if (fs.sb.metadataCsum && tail + 4 <= node.length) {
          const calc = crc32c(inodeSeed(fs, n), node.bytes(0, tail));
          out.fields.push(field(`ext4.extent_node.${tag}.checksum`, hexValue(node.u32le(tail), calc, 8), 'checksum', node.spans(tail, 4), {
            covers: [...node.spans(0, tail), ...fs.sb.seedSpans, ...n.b.spans(0x64, 4)],
          }));
        }
      }
    }
    const children: { node: Bytes; depth: number; block: number }[] = [];
    for (let i = 0; i < entries; i++) {
      const o = 12 + i * 12;
      const lblk = node.u32le(o);
      if (depth === 0) {
        let len = node.u16le(o + 4);
        const unwritten = len > 32768;
        if (unwritten) len -= 32768;
        const start = node.u16le(o + 6) * 0x100000000 + node.u32le(o + 8);
        if (withFields) out.fields.push(field(`ext4.extent.${entryNo}`, `${lblk}+${len}@${start}${unwritten ? ' unwritten' : ''}`, 'layout', node.spans(o, 12), { derived: true }));
        entryNo++;
        if (len === 0) continue;
        if (lblk >= maxBlocks) continue; // blocks past the size (preallocated): not content
        if (!blocksInside(fs, start, len)) {
          fs.notes.push(`${what}: extent ${lblk}+${len}@${start} lies outside the volume; not read`);
          continue;
        }
        out.runs.push({ logical: lblk, physical: start, count: Math.min(len, maxBlocks - lblk), unwritten });
      } else {
        const leaf = node.u16le(o + 8) * 0x100000000 + node.u32le(o + 4);
        if (withFields) out.fields.push(field(`ext4.extent_index.${entryNo}`, `${lblk}@${leaf}`, 'layout', node.spans(o, 12), { derived: true }));
        entryNo++;
        if (!blocksInside(fs, leaf, 1) || seen.has(leaf)) {
          fs.notes.push(`${what}: extent index points at block ${leaf}, ${seen.has(leaf) ? 'already read (a loop)' : 'outside the volume'}; not followed`);
          continue;
        }
        seen.add(leaf);
        out.blocks.push(leaf * bs);
        children.push({ node: Bytes.at(fs.src, leaf * bs, bs, `extent node of ${what}`), depth: depth - 1, block: leaf });
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  out.runs.sort((x, y) => x.logical - y.logical);
}

function blockMap(fs: Fs, n: Inode, what: string, withFields: boolean, out: BlockMap, maxBlocks: number): void {
  const bs = fs.sb.blockSize;
  const per = bs / 4;
  const seen = new Set<number>();
  const ib = n.b.sub(0x28, 60, `block map of ${what}`);
  if (withFields) out.fields.push(field('ext4.block_map', toHex(ib.data), 'layout', ib.spans(0, 60), { derived: true }));
  let stopped = false;
  const push = (logical: number, p: number): void => {
    const last = out.runs[out.runs.length - 1];
    if (last && last.logical + last.count === logical && last.physical + last.count === p) last.count++;
    else out.runs.push({ logical, physical: p, count: 1, unwritten: false });
  };
  const data = (logical: number, p: number): void => {
    if (p === 0 || logical >= maxBlocks) return;
    if (!blocksInside(fs, p, 1)) {
      if (!stopped) fs.notes.push(`${what}: block ${p} of logical block ${logical} is outside the volume; not read`);
      stopped = true;
      return;
    }
    push(logical, p);
  };
  for (let i = 0; i < 12; i++) data(i, ib.u32le(i * 4));
  // level 1, 2, 3: single, double, triple indirect; `span` logical blocks under one pointer of that level
  const walk = (p: number, level: number, first: number): void => {
    if (p === 0 || first >= maxBlocks || stopped) return;
    if (!blocksInside(fs, p, 1) || seen.has(p)) {
      fs.notes.push(`${what}: indirect block ${p} is ${seen.has(p) ? 'already in use (a loop)' : 'outside the volume'}; not read`);
      stopped = true;
      return;
    }
    if (seen.size >= fs.limits.maxChain) {
      fs.notes.push(`${what}: more than ${fs.limits.maxChain} indirect blocks; the rest is not read`);
      stopped = true;
      return;
    }
    seen.add(p);
    out.blocks.push(p * bs);
    const blk = Bytes.at(fs.src, p * bs, bs, `indirect block of ${what}`);
    if (withFields) out.fields.push(field(`ext4.indirect.${p}`, `${level}:${first}`, 'layout', blk.spans(0, bs), { derived: true }));
    const span = per ** (level - 1);
    for (let i = 0; i < per; i++) {
      const q = blk.u32le(i * 4);
      if (level === 1) data(first + i, q);
      else walk(q, level - 1, first + i * span);
    }
  };
  walk(ib.u32le(48), 1, 12);
  walk(ib.u32le(52), 2, 12 + per);
  walk(ib.u32le(56), 3, 12 + per + per * per);
}

/** A content's extents in the volume when its blocks are all mapped, written and in order; else its pieces. */
export function contentPieces(fs: Fs, runs: Run[], size: number): { extents: Extent[] } | { pieces: { at: number; length: number; disk: number }[] } {
  const bs = fs.sb.blockSize;
  const pieces: { at: number; length: number; disk: number }[] = [];
  let pos = 0;
  let sparse = false;
  for (const r of runs) {
    const at = r.logical * bs;
    if (at < pos) continue; // overlapping runs: the first wins
    if (at >= size) break;
    if (at > pos) {
      pieces.push({ at: pos, length: at - pos, disk: -1 });
      sparse = true;
    }
    const length = Math.min(r.count * bs, size - at);
    if (r.unwritten) sparse = true;
    const last = pieces[pieces.length - 1];
    const disk = r.unwritten ? -1 : r.physical * bs;
    if (last && last.at + last.length === at && ((disk === -1 && last.disk === -1) || (disk >= 0 && last.disk >= 0 && last.disk + last.length === disk))) last.length += length;
    else pieces.push({ at, length, disk });
    pos = at + length;
  }
  if (pos < size) {
    pieces.push({ at: pos, length: size - pos, disk: -1 });
    sparse = true;
  }
  if (!sparse) {
    // merge runs that follow each other on disk
    const extents: Extent[] = [];
    for (const p of pieces) {
      const last = extents[extents.length - 1];
      if (last && last.offset + last.length === p.disk) last.length += p.length;
      else extents.push({ offset: p.disk, length: p.length });
    }
    return { extents };
  }
  return { pieces };
}

/** One extended attribute: its full name, value bytes, and where its entry and value sit. */
export interface Xattr {
  name: string;
  value: Uint8Array;
  /** offset of the value in the volume's source, -1 when not read */
  valueAt: number;
  valueSpans: Span[];
  entrySpans: Span[];
  hash: number;
  hashSpans: Span[];
}

const PREFIXES: Record<number, string> = {
  1: 'user.',
  2: 'system.posix_acl_access',
  3: 'system.posix_acl_default',
  4: 'trusted.',
  6: 'security.',
  7: 'system.',
  8: 'system.richacl',
};

/** Entries of an xattr area: `area` holds the entries from its start; values are at `valueBase` + e_value_offs. */
function xattrEntries(area: Bytes, valueBase: Bytes, what: string, notes: string[]): Xattr[] {
  const out: Xattr[] = [];
  let o = 0;
  while (o + 4 <= area.length && area.u32le(o) !== 0) {
    if (o + 16 > area.length) break;
    const nameLen = area.u8(o);
    const index = area.u8(o + 1);
    const valueOff = area.u16le(o + 2);
    const valueInum = area.u32le(o + 4);
    const valueSize = area.u32le(o + 8);
    const next = o + ((16 + nameLen + 3) & ~3);
    if (o + 16 + nameLen > area.length) {
      notes.push(`${what}: an extended attribute name runs past its area; the rest is not read`);
      break;
    }
    const name = (PREFIXES[index] ?? `(index ${index}).`) + area.utf8(o + 16, nameLen);
    let value: Uint8Array = new Uint8Array(0);
    let valueSpans: Span[] = [];
    let valueAt = -1;
    if (valueInum !== 0) {
      notes.push(`${what}: ${name} is stored in inode ${valueInum} (ea_inode); its value is not read`);
    } else if (valueSize > 0) {
      if (valueOff + valueSize > valueBase.length) {
        notes.push(`${what}: the value of ${name} runs past its area; not read`);
      } else {
        value = valueBase.bytes(valueOff, valueSize);
        valueSpans = valueBase.spans(valueOff, valueSize);
        valueAt = valueBase.base + valueOff;
      }
    }
    out.push({ name, value, valueAt, valueSpans, entrySpans: area.spans(o, Math.min(next, area.length) - o), hash: area.u32le(o + 12), hashSpans: area.spans(o + 12, 4) });
    o = next;
  }
  return out;
}

/** The in-inode extended attributes (after i_extra_isize) of an inode, with the span of the area's magic. */
export function inodeXattrs(fs: Fs, n: Inode, notes: string[]): { list: Xattr[]; magicSpans: Span[]; areaSpans: Span[] } {
  const start = 128 + n.extraIsize;
  if (fs.sb.inodeSize <= 128 || start + 4 > fs.sb.inodeSize || n.b.u32le(start) !== XATTR_MAGIC) return { list: [], magicSpans: [], areaSpans: [] };
  const area = n.b.sub(start + 4, fs.sb.inodeSize - start - 4, `extended attributes of inode ${n.ino}`);
  return { list: xattrEntries(area, area, `inode ${n.ino}`, notes), magicSpans: n.b.spans(start, 4), areaSpans: area.spans(0, area.length) };
}

/** The xattr block of an inode (i_file_acl), when it has one inside the volume. */
export function blockXattrs(fs: Fs, n: Inode, notes: string[]): { list: Xattr[]; block: Bytes } | undefined {
  if (n.fileAcl === 0) return undefined;
  const bs = fs.sb.blockSize;
  if (!blocksInside(fs, n.fileAcl, 1)) {
    notes.push(`inode ${n.ino}: xattr block ${n.fileAcl} is outside the volume`);
    return undefined;
  }
  const block = Bytes.at(fs.src, n.fileAcl * bs, bs, `xattr block of inode ${n.ino}`);
  if (block.u32le(0) !== XATTR_MAGIC) {
    notes.push(`inode ${n.ino}: xattr block ${n.fileAcl} has no xattr magic`);
    return undefined;
  }
  return { list: xattrEntries(block.sub(32, bs - 32), block, `xattr block ${n.fileAcl}`, notes), block };
}

function valueText(v: Uint8Array): string {
  const printable = v.every((c, i) => (c >= 0x20 && c < 0x7f) || c === 0x0a || c === 0x09 || (c === 0 && i === v.length - 1));
  if (printable) return new TextDecoder().decode(v[v.length - 1] === 0 ? v.subarray(0, -1) : v);
  return v.length <= 64 ? `0x${toHex(v)}` : `${v.length} bytes 0x${toHex(v.subarray(0, 32))}…`;
}

/** Fields of an inode's extended attributes, in the inode and in its xattr block. */
export function xattrFields(fs: Fs, n: Inode): Field[] {
  const out: Field[] = [];
  const notes: string[] = [];
  const inl = inodeXattrs(fs, n, notes);
  if (inl.magicSpans.length) out.push(field('ext4.xattr_ibody.magic', 'ea020000', 'layout', inl.magicSpans));
  for (const x of inl.list) {
    if (x.name === 'system.data') continue; // inline data: the content, compared as such
    out.push(field(`ext4.xattr.${x.name}`, valueText(x.value), 'content', [...x.entrySpans, ...x.valueSpans]));
  }
  const blk = blockXattrs(fs, n, notes);
  if (blk) {
    const b = blk.block;
    out.push(field('ext4.xattr_block.refcount', b.u32le(4), 'inode', b.spans(4, 4), { derived: true }));
    out.push(field('ext4.xattr_block.blocks', b.u32le(8), 'size', b.spans(8, 4), { derived: true }));
    out.push(field('ext4.xattr_block.hash', b.u32le(12), 'checksum', b.spans(12, 4), { covers: b.spans(32, b.length - 32) }));
    if (fs.sb.metadataCsum) {
      const copy = b.data.slice();
      copy.fill(0, 16, 20);
      const le64 = new Uint8Array(8);
      new DataView(le64.buffer).setBigUint64(0, BigInt(n.fileAcl), true);
      const calc = crc32c(crc32c(fs.sb.csumSeed, le64), copy);
      out.push(field('ext4.xattr_block.checksum', hexValue(b.u32le(16), calc, 8), 'checksum', b.spans(16, 4), { covers: [...b.spans(0, 16), ...b.spans(20, b.length - 20), ...fs.sb.seedSpans] }));
    }
    out.push(field('ext4.xattr_block.reserved', b.hex(20, 12), 'content', b.spans(20, 12)));
    for (const x of blk.list) {
      out.push(field(`ext4.xattr.${x.name}`, valueText(x.value), 'content', [...x.entrySpans, ...x.valueSpans]));
      out.push(field(`ext4.xattr.${x.name}.hash`, x.hash, 'checksum', x.hashSpans, { covers: x.valueSpans }));
    }
  }
  return out;
}

/** Inline data (EXT4_INLINE_DATA_FL): i_block's 60 bytes, then the value of system.data. */
export function inlinePieces(fs: Fs, n: Inode): Extent[] {
  const notes: string[] = [];
  const out: Extent[] = [{ offset: n.at + 0x28, length: 60 }];
  const data = inodeXattrs(fs, n, notes).list.find((x) => x.name === 'system.data');
  if (data && data.value.length && data.valueAt >= 0) out.push({ offset: data.valueAt, length: data.value.length });
  return out;
}
