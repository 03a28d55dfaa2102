/**
 * ext4 directories (kernel Documentation/filesystems/ext4/directory.rst): linear blocks of ext4_dir_entry_2
 * records with their checksum tails, the hash tree (dx_root, dx_node) of indexed directories, and inline
 * directories. Leaf blocks of a hash tree are read linearly too, as the kernel's readdir does without the index.
 */
import type { Field, Span } from '../../model.js';
import { field } from '../../model.js';
import { Bytes } from '../../io/bytes.js';
import { crc32c } from './crc32c.js';
import { COMPAT_DIR_INDEX, HASH_SEED_HINT, INCOMPAT_FILETYPE, INCOMPAT_LARGEDIR } from './super.js';
import { EXT4_INDEX_FL, inodeSeed, type Fs, type Inode } from './inode.js';
import { createHash } from 'node:crypto';

/** A piece of a directory's bytes: a block (its logical number), or an inline area (logical -1). */
export interface DirBlock {
  logical: number;
  /** offset in the volume's source */
  at: number;
  length: number;
}

export interface Child {
  name: string;
  ino: number;
  fileType: number;
  /** offset of the record in the volume's source */
  at: number;
}

export interface DirListing {
  children: Child[];
  fields: Field[];
  /** whether the listing order is the hash order of an indexed directory */
  hashed: boolean;
}

const TAIL_TYPE = 0xde;
const ZERO4 = new Uint8Array(4);

function recLen(raw: number, blockSize: number): number {
  if (blockSize >= 65536 && (raw === 65535 || raw === 0)) return blockSize;
  return raw;
}

/** Reads a directory: its children in stored order, and (with `withFields`) the fields of its blocks. */
export function readDir(fs: Fs, n: Inode, blocks: DirBlock[], path: string, withFields: boolean, inline: boolean): DirListing {
  const { sb } = fs;
  const fields: Field[] = [];
  const children: Child[] = [];
  const filetype = (sb.incompat & INCOMPAT_FILETYPE) !== 0;
  const index = !inline && (n.flags & EXT4_INDEX_FL) !== 0 && (sb.compat & COMPAT_DIR_INDEX) !== 0;
  const indexBlocks = index ? hashTree(fs, n, blocks, path, withFields ? fields : undefined) : new Set<number>();
  const leafSpans: Span[] = [];
  const names = createHash('sha256');
  let seed: number | undefined;
  for (const blk of blocks) {
    const b = Bytes.at(fs.src, blk.at, blk.length, `directory block of ${path}`);
    const isIndex = indexBlocks.has(blk.logical);
    if (!isIndex && index) leafSpans.push(...b.spans(0, b.length));
    let off = 0;
    while (off + 8 <= b.length) {
      const ino = b.u32le(off);
      const rl = recLen(b.u16le(off + 4), sb.blockSize);
      const nameLen = filetype ? b.u8(off + 6) : b.u16le(off + 6);
      const type = filetype ? b.u8(off + 7) : 0;
      if (rl < 8 || rl % 4 !== 0 || off + rl > b.length || 8 + nameLen > rl) {
        fs.notes.push(`${path}: directory record at byte ${off} of block ${blk.logical} has rec_len ${rl} for a ${nameLen}-byte name in ${b.length - off} bytes left; the rest of the block is not read`);
        break;
      }
      if (!inline && sb.metadataCsum && off === b.length - 12 && ino === 0 && rl === 12 && nameLen === 0 && b.u8(off + 7) === TAIL_TYPE) {
        if (withFields) {
          seed ??= inodeSeed(fs, n);
          const calc = crc32c(seed, b.bytes(0, off));
          const stored = b.u32le(off + 8);
          const v = `0x${stored.toString(16).padStart(8, '0')}${calc === stored ? '' : ` (its bytes give 0x${calc.toString(16).padStart(8, '0')})`}`;
          fields.push(field(`ext4.dir_tail.${blk.logical}.checksum`, v, 'checksum', b.spans(off, 12), { covers: [...b.spans(0, off), ...sb.seedSpans, ...n.b.spans(0x64, 4)] }));
        }
        break;
      }
      if (ino !== 0 && !isIndex) {
        const name = b.utf8(off + 8, nameLen);
        if (name === '.' || name === '..') {
          if (withFields) fields.push(field(name === '.' ? 'ext4.dot' : 'ext4.dotdot', ino, 'inode', b.spans(off, rl), { derived: true }));
        } else if (name === '' || name.includes('/') || name.includes('\0')) {
          fs.notes.push(`${path}: a directory record has the unusable name ${JSON.stringify(name)}; skipped`);
        } else {
          children.push({ name, ino, fileType: type, at: blk.at + off });
          if (index) names.update(name + '\0');
        }
      }
      off += rl;
    }
  }
  if (index && withFields) {
    fields.push(
      field('ext4.htree.order', `sha256:${names.digest('hex').slice(0, 16)}`, 'ordering', leafSpans, {
        covers: sb.hashSeedSpans,
        hint: `the entries of an indexed directory are placed by the hash of their names, seeded by the hash seed: ${HASH_SEED_HINT}`,
      }),
    );
  }
  return { children, fields, hashed: index };
}

/**
 * The hash tree of an indexed directory: dx_root in block 0, dx_node blocks below it. Returns the logical
 * numbers of the index blocks; stops at a level past what the format allows, a repeat, or a block outside.
 */
function hashTree(fs: Fs, n: Inode, blocks: DirBlock[], path: string, fields: Field[] | undefined): Set<number> {
  const { sb } = fs;
  const out = new Set<number>();
  const byLogical = new Map(blocks.map((b) => [b.logical, b]));
  const root = byLogical.get(0);
  if (!root) return out;
  const rb = Bytes.at(fs.src, root.at, root.length, `dx_root of ${path}`);
  if (rb.length < 0x28) return out;
  const hashVersion = rb.u8(0x1c);
  const infoLen = rb.u8(0x1d);
  const levels = rb.u8(0x1e);
  const maxLevels = sb.incompat & INCOMPAT_LARGEDIR ? 3 : 2;
  if (rb.u32le(0x18) !== 0 || infoLen !== 8 || levels >= maxLevels) {
    fs.notes.push(`${path}: the hash tree root is not valid (info length ${infoLen}, ${levels} indirect levels, at most ${maxLevels - 1}); the directory is read linearly`);
    return out;
  }
  out.add(0);
  fields?.push(field('ext4.htree.root_info', `hash ${hashVersion} levels ${levels} flags ${rb.u8(0x1f)}`, 'content', rb.spans(0x18, 8)));
  const seen = new Set<number>([0]);
  const queue: { b: Bytes; logical: number; at: number; level: number }[] = [{ b: rb, logical: 0, at: 0x20, level: 0 }];
  let seed: number | undefined;
  while (queue.length) {
    const { b, logical, at, level } = queue.shift()!;
    const limit = b.u16le(at);
    const count = b.u16le(at + 2);
    if (count === 0 || count > limit || at + limit * 8 > b.length) {
      fs.notes.push(`${path}: hash tree node ${logical} holds ${count} of ${limit} entries in ${b.length - at} bytes; not read`);
      continue;
    }
    const parts: string[] = [];
    for (let i = 0; i < count; i++) {
      const hash = i === 0 ? 0 : b.u32le(at + i * 8);
      const target = b.u32le(at + i * 8 + 4);
      parts.push(`${hash.toString(16)}:${target}`);
      if (level < levels) {
        const child = byLogical.get(target);
        if (!child || seen.has(target) || seen.size > blocks.length) {
          fs.notes.push(`${path}: hash tree node ${logical} points at block ${target}, ${seen.has(target) ? 'already read (a loop)' : 'not in the directory'}; not followed`);
          continue;
        }
        seen.add(target);
        out.add(target);
        queue.push({ b: Bytes.at(fs.src, child.at, child.length, `dx_node of ${path}`), logical: target, at: 8, level: level + 1 });
      }
    }
    if (!fields) continue;
    // the hashes are of the names with the hash seed; the block numbers follow from where leaves were split
    fields.push(field(`ext4.htree.${logical}.entries`, parts.join(' '), 'checksum', b.spans(at, count * 8), { covers: sb.hashSeedSpans }));
    fields.push(field(`ext4.htree.${logical}.limit`, limit, 'layout', b.spans(at, 2), { derived: true }));
    const tail = at + limit * 8;
    if (sb.metadataCsum && tail + 8 <= b.length) {
      seed ??= inodeSeed(fs, n);
      let c = crc32c(seed, b.bytes(0, at + count * 8));
      c = crc32c(c, b.bytes(tail, 4));
      c = crc32c(c, ZERO4); // dt_checksum itself, as zero
      const stored = b.u32le(tail + 4);
      const v = `0x${stored.toString(16).padStart(8, '0')}${c === stored ? '' : ` (its bytes give 0x${c.toString(16).padStart(8, '0')})`}`;
      fields.push(field(`ext4.htree.${logical}.checksum`, v, 'checksum', b.spans(tail, 8), { covers: [...b.spans(0, at + count * 8), ...sb.seedSpans, ...n.b.spans(0x64, 4)] }));
    }
  }
  return out;
}
