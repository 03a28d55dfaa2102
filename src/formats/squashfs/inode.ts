/** squashfs 4.0 inodes: the 16-byte common header, then the type-specific part (basic and extended forms). */
import { Bytes } from '../../io/bytes.js';
import type { EntryType, Field, Span } from '../../model.js';
import { field } from '../../model.js';
import { isoFromUnix } from '../../util/time.js';
import type { MetaTable } from './meta.js';

export const MTIME_HINT =
  'mksquashfs: export SOURCE_DATE_EPOCH (squashfs-tools 4.5.1 clamps newer file times to it) or pass -all-time $SOURCE_DATE_EPOCH to set every inode time';

export const NO_FRAGMENT = 0xffffffff;

export interface InodeInfo {
  type: EntryType;
  /** squashfs inode type, 1..14 */
  rawType: number;
  number: number;
  perms: number;
  uidIdx: number;
  gidIdx: number;
  mtime: number;
  nlink: number;
  fields: Field[];
  /** where the uid and gid indexes sit */
  uidSpans: Span[];
  gidSpans: Span[];
  // directory
  dirBlock?: number;
  dirOffset?: number;
  /** listing bytes (the stored size minus 3) */
  dirSize?: number;
  parent?: number;
  // regular file
  fileSize?: number;
  blocksStart?: number;
  fragIndex?: number;
  fragOffset?: number;
  /** (pos, count) of the u32 block sizes in the inode table */
  blockListPos?: number;
  blockCount?: number;
  // symlink
  target?: string;
  // devices
  major?: number;
  minor?: number;
}

const TYPES: Record<number, EntryType> = {
  1: 'dir', 2: 'file', 3: 'symlink', 4: 'blockdev', 5: 'chardev', 6: 'fifo', 7: 'socket',
  8: 'dir', 9: 'file', 10: 'symlink', 11: 'blockdev', 12: 'chardev', 13: 'fifo', 14: 'socket',
};

/** Reads the inode at decoded position `pos` of the inode table. `blockSize` decides the block count of files. */
export function readInode(t: MetaTable, pos: number, blockSize: number): InodeInfo {
  const h = Bytes.at(t, pos, 16, 'squashfs inode');
  const rawType = h.u16le(0); // 0 - inode_type
  const type = TYPES[rawType];
  if (type === undefined) throw h.error(0, `unknown inode type ${rawType}`);
  const perms = h.u16le(2); // 2 - permissions
  const uidIdx = h.u16le(4); // 4 - uid_idx
  const gidIdx = h.u16le(6); // 6 - gid_idx
  const mtime = h.u32le(8); // 8 - modified_time
  const number = h.u32le(12); // 12 - inode_number
  const fields: Field[] = [
    field('squashfs.inode.type', rawType, 'content', h.spans(0, 2)),
    field('squashfs.inode.mode', perms & 0o7777, 'permissions', h.spans(2, 2)),
    field('squashfs.inode.mtime', isoFromUnix(mtime), 'timestamp', h.spans(8, 4), { hint: MTIME_HINT }),
    field('squashfs.inode.number', number, 'inode', h.spans(12, 4)),
  ];
  const info: InodeInfo = { type, rawType, number, perms, uidIdx, gidIdx, mtime, nlink: 1, fields, uidSpans: h.spans(4, 2), gidSpans: h.spans(6, 2) };
  const p = pos + 16;
  const lay = (name: string, value: number, b: Bytes, off: number, len: number): void => {
    fields.push(field(name, value, 'layout', b.spans(off, len), { derived: true }));
  };
  const nlinkField = (b: Bytes, off: number): void => {
    info.nlink = b.u32le(off);
    fields.push(field('squashfs.inode.nlink', info.nlink, 'inode', b.spans(off, 4)));
  };
  const xattr = (b: Bytes, off: number): void => {
    const x = b.u32le(off);
    fields.push(field('squashfs.inode.xattr', x === 0xffffffff ? null : x, 'content', b.spans(off, 4)));
  };
  switch (rawType) {
    case 1: {
      const b = Bytes.at(t, p, 16, 'squashfs directory inode');
      info.dirBlock = b.u32le(0); // 0 - block_index
      nlinkField(b, 4); // 4 - link_count
      const size = b.u16le(8); // 8 - file_size
      info.dirOffset = b.u16le(10); // 10 - block_offset
      info.parent = b.u32le(12); // 12 - parent_inode
      lay('squashfs.inode.dir_block', info.dirBlock, b, 0, 4);
      fields.push(field('squashfs.inode.size', size, 'size', b.spans(8, 2), { derived: true }));
      lay('squashfs.inode.dir_offset', info.dirOffset, b, 10, 2);
      fields.push(field('squashfs.inode.parent', info.parent, 'inode', b.spans(12, 4), { derived: true }));
      if (size < 3) throw b.error(8, `directory size ${size} is below the minimum of 3`);
      info.dirSize = size - 3;
      break;
    }
    case 8: {
      const b = Bytes.at(t, p, 24, 'squashfs extended directory inode');
      nlinkField(b, 0); // 0 - link_count
      const size = b.u32le(4); // 4 - file_size
      info.dirBlock = b.u32le(8); // 8 - block_index
      info.parent = b.u32le(12); // 12 - parent_inode
      const indexCount = b.u16le(16); // 16 - index_count
      info.dirOffset = b.u16le(18); // 18 - block_offset
      fields.push(field('squashfs.inode.size', size, 'size', b.spans(4, 4), { derived: true }));
      lay('squashfs.inode.dir_block', info.dirBlock, b, 8, 4);
      fields.push(field('squashfs.inode.parent', info.parent, 'inode', b.spans(12, 4), { derived: true }));
      lay('squashfs.inode.dir_index_count', indexCount, b, 16, 2);
      lay('squashfs.inode.dir_offset', info.dirOffset, b, 18, 2);
      xattr(b, 20); // 20 - xattr_idx
      if (size < 3) throw b.error(4, `directory size ${size} is below the minimum of 3`);
      info.dirSize = size - 3;
      // the directory index (index u32, start u32, name_size u32, name) is a lookup aid; step over it checked
      let q = p + 24;
      for (let i = 0; i < indexCount; i++) {
        const e = Bytes.at(t, q, 12, 'squashfs directory index');
        const nameSize = e.u32le(8) + 1;
        if (nameSize > 256) throw e.error(8, `directory index name of ${nameSize} bytes`);
        q += 12 + nameSize;
      }
      break;
    }
    case 2:
    case 9: {
      const ext = rawType === 9;
      const b = Bytes.at(t, p, ext ? 40 : 16, ext ? 'squashfs extended file inode' : 'squashfs file inode');
      if (ext) {
        info.blocksStart = b.u64le(0); // 0 - blocks_start
        info.fileSize = b.u64le(8); // 8 - file_size
        const sparse = b.u64le(16); // 16 - sparse
        nlinkField(b, 24); // 24 - link_count
        info.fragIndex = b.u32le(28); // 28 - frag_index
        info.fragOffset = b.u32le(32); // 32 - block_offset
        lay('squashfs.inode.blocks_start', info.blocksStart, b, 0, 8);
        fields.push(field('squashfs.inode.size', info.fileSize, 'size', b.spans(8, 8), { derived: true }));
        fields.push(field('squashfs.inode.sparse', sparse, 'size', b.spans(16, 8), { derived: true }));
        lay('squashfs.inode.fragment', info.fragIndex, b, 28, 4);
        lay('squashfs.inode.fragment_offset', info.fragOffset, b, 32, 4);
        xattr(b, 36); // 36 - xattr_idx
      } else {
        info.blocksStart = b.u32le(0); // 0 - blocks_start
        info.fragIndex = b.u32le(4); // 4 - frag_index
        info.fragOffset = b.u32le(8); // 8 - block_offset
        info.fileSize = b.u32le(12); // 12 - file_size
        lay('squashfs.inode.blocks_start', info.blocksStart, b, 0, 4);
        lay('squashfs.inode.fragment', info.fragIndex, b, 4, 4);
        lay('squashfs.inode.fragment_offset', info.fragOffset, b, 8, 4);
        fields.push(field('squashfs.inode.size', info.fileSize, 'size', b.spans(12, 4), { derived: true }));
      }
      const full = Math.floor(info.fileSize / blockSize);
      info.blockCount = info.fragIndex === NO_FRAGMENT ? Math.ceil(info.fileSize / blockSize) : full;
      info.blockListPos = p + (ext ? 40 : 16);
      // the block list must fit in the inode table
      if (info.blockListPos + info.blockCount * 4 > t.size) {
        throw b.error(0, `block list of ${info.blockCount} entries runs past the end of the inode table`);
      }
      const list = Bytes.at(t, info.blockListPos, info.blockCount * 4, 'squashfs block list');
      const shown: number[] = [];
      for (let i = 0; i < Math.min(info.blockCount, 256); i++) shown.push(list.u32le(i * 4));
      const more = info.blockCount > 256 ? `,+${info.blockCount - 256} more` : '';
      fields.push(field('squashfs.inode.block_list', shown.join(',') + more, 'layout', list.spans(0, list.length), { derived: true }));
      break;
    }
    case 3:
    case 10: {
      const b = Bytes.at(t, p, 8, 'squashfs symlink inode');
      nlinkField(b, 0); // 0 - link_count
      const len = b.u32le(4); // 4 - target_size
      if (len > 4096) throw b.error(4, `symlink target of ${len} bytes`);
      const tb = Bytes.at(t, p + 8, len + (rawType === 10 ? 4 : 0), 'squashfs symlink target');
      info.target = tb.utf8(0, len);
      fields.push(field('squashfs.inode.size', len, 'size', b.spans(4, 4), { derived: true }));
      fields.push(field('squashfs.inode.target', info.target, 'content', tb.spans(0, len)));
      if (rawType === 10) xattr(tb, len);
      break;
    }
    case 4:
    case 5:
    case 11:
    case 12: {
      const ext = rawType > 8;
      const b = Bytes.at(t, p, ext ? 12 : 8, 'squashfs device inode');
      nlinkField(b, 0); // 0 - link_count
      const dev = b.u32le(4); // 4 - device (Linux new_encode_dev)
      info.major = (dev >>> 8) & 0xfff;
      info.minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
      fields.push(field('squashfs.inode.device', `${info.major}:${info.minor}`, 'content', b.spans(4, 4)));
      if (ext) xattr(b, 8);
      break;
    }
    default: {
      const ext = rawType > 8;
      const b = Bytes.at(t, p, ext ? 8 : 4, 'squashfs ipc inode');
      nlinkField(b, 0); // 0 - link_count
      if (ext) xattr(b, 4);
    }
  }
  return info;
}
