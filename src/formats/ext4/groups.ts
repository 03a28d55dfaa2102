/**
 * Block group descriptors (32-byte, and 64-byte with the 64bit feature), their checksums, the backup
 * superblocks and descriptor tables, and where each group's bitmaps and inode table sit.
 */
import { createHash } from 'node:crypto';
import type { Field, Span } from '../../model.js';
import { field } from '../../model.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import { checkCap, type Limits } from '../../limits.js';
import type { RegionList } from '../../util/regions.js';
import { crc16, crc32c, crc32cU32 } from './crc32c.js';
import { INCOMPAT_META_BG, RO_COMPAT_SPARSE_SUPER, SUPER_OFFSET, SUPER_SIZE, type Super } from './super.js';

const COMPAT_SPARSE_SUPER2 = 0x200;

function isPower(g: number, base: number): boolean {
  let x = base;
  while (x < g) x *= base;
  return x === g;
}

/** Whether group `g` holds a superblock (and descriptor table) copy. */
export function hasSuper(sb: Super, g: number, backupBgs: [number, number]): boolean {
  if (g === 0) return true;
  if (sb.compat & COMPAT_SPARSE_SUPER2) return g === backupBgs[0] || g === backupBgs[1];
  if (!(sb.roCompat & RO_COMPAT_SPARSE_SUPER)) return true;
  return g === 1 || isPower(g, 3) || isPower(g, 5) || isPower(g, 7);
}

function hashOf(src: ByteSource, at: number, len: number): string {
  const h = createHash('sha256');
  for (let p = 0; p < len; p += 1 << 20) h.update(src.read(at + p, Math.min(1 << 20, len - p), 'ext4 copy'));
  return `sha256:${h.digest('hex').slice(0, 16)}`;
}

export interface Groups {
  fields: Field[];
  /** byte offset of each group's inode table, -1 when it is not inside the image */
  inodeTables: number[];
}

/** Reads the descriptor table, the groups' fields and regions, and the backups of the superblock and table. */
export function readGroups(src: ByteSource, sb: Super, superBytes: Bytes, limits: Limits, regions: RegionList, notes: string[]): Groups {
  const bs = sb.blockSize;
  const ds = sb.descSize;
  const perBlock = bs / ds;
  checkCap(sb.groupCount, limits.maxEntries, 'ext4 block groups', src.name, SUPER_OFFSET);
  const gdtBlocks = Math.ceil(sb.groupCount / perBlock);
  checkCap(gdtBlocks * bs, limits.maxStructureBytes, 'ext4 group descriptor table bytes', src.name, SUPER_OFFSET);
  const backupBgs: [number, number] = [superBytes.u32le(0x24c), superBytes.u32le(0x250)];
  const metaBg = (sb.incompat & INCOMPAT_META_BG) !== 0;
  const groupStart = (g: number): number => sb.firstDataBlock + g * sb.blocksPerGroup;
  /** the block of descriptor block `i` */
  const gdtBlock = (i: number): number => {
    if (!metaBg || i < sb.firstMetaBg) return sb.firstDataBlock + 1 + i;
    const g = i * perBlock;
    return groupStart(g) + (hasSuper(sb, g, backupBgs) ? 1 : 0);
  };
  const fields: Field[] = [];
  const inodeTables: number[] = [];
  const gdtSpans: Span[] = [];
  const uuidCrc16 = sb.gdtCsum ? crc16(0xffff, sb.uuid) : 0;
  const L = { derived: true } as const;
  const itableBytes = Math.ceil((sb.inodesPerGroup * sb.inodeSize) / bs) * bs;
  for (let i = 0; i < gdtBlocks; i++) {
    const blk = gdtBlock(i);
    if ((blk + 1) * bs > src.size) throw new Bytes(new Uint8Array(0), src, blk * bs, 'ext4 group descriptors').error(0, `group descriptor block ${blk} is past the end of the ${src.size}-byte image`, 'E_FORMAT');
    const b = Bytes.at(src, blk * bs, bs, 'ext4 group descriptors');
    gdtSpans.push(...b.spans(0, bs));
    regions.add('ext4 group descriptors', 'metadata', b.spans(0, bs));
    for (let k = 0; k < perBlock; k++) {
      const g = i * perBlock + k;
      if (g >= sb.groupCount) {
        if (k * ds < bs) regions.add('ext4 group descriptors', 'padding', b.spans(k * ds, bs - k * ds));
        break;
      }
      const d = b.sub(k * ds, ds, `group descriptor ${g}`);
      const wide = ds >= 64;
      const lohi = (lo: number, hi: number, size: 2 | 4): { v: number; s: Span[] } => {
        const get = (o: number): number => (size === 2 ? d.u16le(o) : d.u32le(o));
        const v = get(lo) + (wide ? get(hi) * (size === 2 ? 0x10000 : 0x100000000) : 0);
        return { v, s: wide ? [...d.spans(lo, size), ...d.spans(hi, size)] : d.spans(lo, size) };
      };
      const p = `ext4.group.${g}`;
      const blockBitmap = lohi(0x0, 0x20, 4);
      const inodeBitmap = lohi(0x4, 0x24, 4);
      const inodeTable = lohi(0x8, 0x28, 4);
      const flags = d.u16le(0x12);
      fields.push(
        field(`${p}.block_bitmap`, blockBitmap.v, 'layout', blockBitmap.s, L),
        field(`${p}.inode_bitmap`, inodeBitmap.v, 'layout', inodeBitmap.s, L),
        field(`${p}.inode_table`, inodeTable.v, 'layout', inodeTable.s, L),
      );
      const free = lohi(0xc, 0x2c, 2);
      const freeInodes = lohi(0xe, 0x2e, 2);
      const dirs = lohi(0x10, 0x30, 2);
      const unused = lohi(0x1c, 0x32, 2);
      const exclude = lohi(0x14, 0x34, 4);
      fields.push(
        field(`${p}.free_blocks_count`, free.v, 'size', free.s, L),
        field(`${p}.free_inodes_count`, freeInodes.v, 'size', freeInodes.s, L),
        field(`${p}.used_dirs_count`, dirs.v, 'size', dirs.s, L),
        field(`${p}.flags`, flags, 'content', d.spans(0x12, 2)),
        field(`${p}.exclude_bitmap`, exclude.v, 'layout', exclude.s, L),
        field(`${p}.itable_unused`, unused.v, 'size', unused.s, L),
      );
      // bitmaps and their checksums (crc32c of the bitmap, low 16 bits here, high 16 bits in a 64-byte descriptor)
      const bbm = blockBitmap.v * bs;
      const ibm = inodeBitmap.v * bs;
      const bbmLen = Math.ceil(sb.blocksPerGroup / 8);
      const ibmLen = Math.ceil(sb.inodesPerGroup / 8);
      const bbmInside = blockBitmap.v > 0 && bbm + bs <= src.size;
      const ibmInside = inodeBitmap.v > 0 && ibm + bs <= src.size;
      if (bbmInside) regions.add('ext4 block bitmaps', 'metadata', src.spans(bbm, bs));
      if (ibmInside) regions.add('ext4 inode bitmaps', 'metadata', src.spans(ibm, bs));
      const bbc = lohi(0x18, 0x38, 2);
      const ibc = lohi(0x1a, 0x3a, 2);
      if (sb.metadataCsum) {
        fields.push(
          field(`${p}.block_bitmap_csum`, `0x${bbc.v.toString(16)}`, 'checksum', bbc.s, { covers: [...(bbmInside ? src.spans(bbm, bbmLen) : []), ...sb.seedSpans] }),
          field(`${p}.inode_bitmap_csum`, `0x${ibc.v.toString(16)}`, 'checksum', ibc.s, { covers: [...(ibmInside ? src.spans(ibm, ibmLen) : []), ...sb.seedSpans] }),
        );
      } else {
        fields.push(field(`${p}.bitmap_csums`, `${bbc.v},${ibc.v}`, 'content', [...bbc.s, ...ibc.s]));
      }
      if (wide && ds > 0x3c) fields.push(field(`${p}.reserved`, d.hex(0x3c, ds - 0x3c), 'content', d.spans(0x3c, ds - 0x3c)));
      // bg_checksum
      const stored = d.u16le(0x1e);
      let calc: number | undefined;
      if (sb.metadataCsum) {
        const copy = d.data.slice();
        copy[0x1e] = copy[0x1f] = 0;
        calc = crc32c(crc32cU32(sb.csumSeed, g), copy) & 0xffff;
      } else if (sb.gdtCsum) {
        const le = new Uint8Array([g & 0xff, (g >>> 8) & 0xff, (g >>> 16) & 0xff, (g >>> 24) & 0xff]);
        let c = crc16(uuidCrc16, le);
        c = crc16(c, d.bytes(0, 0x1e));
        if (ds > 0x20) c = crc16(c, d.bytes(0x20, ds - 0x20));
        calc = c;
      }
      if (calc !== undefined) {
        if (calc !== stored) notes.push(`group descriptor ${g}: checksum 0x${stored.toString(16)} does not match its bytes (0x${calc.toString(16)})`);
        fields.push(field(`${p}.checksum`, stored, 'checksum', d.spans(0x1e, 2), { covers: [...d.spans(0, 0x1e), ...(ds > 0x20 ? d.spans(0x20, ds - 0x20) : []), ...(sb.metadataCsum ? sb.seedSpans : sb.uuidSpans)] }));
      } else {
        fields.push(field(`${p}.checksum`, stored, 'content', d.spans(0x1e, 2)));
      }
      const it = inodeTable.v * bs;
      if (inodeTable.v > 0 && it + sb.inodesPerGroup * sb.inodeSize <= src.size) {
        inodeTables.push(it);
        regions.add('ext4 inode tables', 'metadata', src.spans(it, Math.min(itableBytes, src.size - it)));
      } else {
        inodeTables.push(-1);
        if (inodeTables.filter((x) => x < 0).length === 1) notes.push(`group ${g}: the inode table at block ${inodeTable.v} is not inside the image; its inodes are not read`);
      }
    }
  }
  if (!metaBg && sb.reservedGdtBlocks > 0) {
    const at = (sb.firstDataBlock + 1 + gdtBlocks) * bs;
    const len = Math.min(sb.reservedGdtBlocks * bs, Math.max(0, src.size - at));
    if (len > 0) regions.add('ext4 reserved group descriptor blocks', 'metadata', src.spans(at, len));
  }
  // the copies in other groups: they follow from the primary superblock and descriptor table
  const superCovers = sb.spans;
  let copies = 0;
  for (let g = 1; g < sb.groupCount; g++) {
    if (!hasSuper(sb, g, backupBgs)) continue;
    if (++copies > 64) {
      notes.push('more than 64 backup superblocks; the rest are not compared as copies');
      break;
    }
    const start = groupStart(g) * bs;
    // with 1 KiB blocks the superblock copy fills the group's first block; otherwise it starts it
    if (start + SUPER_SIZE > src.size) break;
    fields.push(field(`ext4.backup.${g}.super`, hashOf(src, start, SUPER_SIZE), 'content', src.spans(start, SUPER_SIZE), { derived: true, covers: superCovers }));
    regions.add('ext4 backup superblocks', 'metadata', src.spans(start, SUPER_SIZE));
    if (metaBg) continue;
    const gdtAt = (groupStart(g) + 1) * bs;
    const len = gdtBlocks * bs;
    if (gdtAt + len > src.size) break;
    fields.push(field(`${`ext4.backup.${g}`}.gdt`, hashOf(src, gdtAt, len), 'content', src.spans(gdtAt, len), { derived: true, covers: gdtSpans }));
    regions.add('ext4 backup group descriptors', 'metadata', src.spans(gdtAt, len));
    const rlen = Math.min(sb.reservedGdtBlocks * bs, Math.max(0, src.size - gdtAt - len));
    if (rlen > 0) regions.add('ext4 reserved group descriptor blocks', 'metadata', src.spans(gdtAt + len, rlen));
  }
  return { fields, inodeTables };
}
