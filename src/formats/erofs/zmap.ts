/**
 * EROFS compressed files: the map header and the logical cluster indexes, full (8 bytes per lcluster,
 * datalayout 1) or compacted (4 or 2 bytes per lcluster, datalayout 3), turned into the file's extents: each
 * decoded range [la, la + llen) with the physical cluster [pa, pa + plen) that holds it and how it is stored.
 * Written from erofs_fs.h and the kernel's documentation of the index format.
 */
import { ReprodiffError } from '../../errors.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import { checkTime } from '../../limits.js';
import type { Field } from '../../model.js';
import { field } from '../../model.js';
import type { Piece } from './content.js';

// map header h_advise bits
const COMPACTED_2B = 0x1;
const BIG_PCLUSTER_1 = 0x2;
const BIG_PCLUSTER_2 = 0x4;
const INLINE_PCLUSTER = 0x8;
const INTERLACED_PCLUSTER = 0x10;
const FRAGMENT_PCLUSTER = 0x20;
// lcluster types
const PLAIN = 0;
const HEAD1 = 1;
const NONHEAD = 2;
const HEAD2 = 3;
/** on the first NONHEAD lcluster of a big pcluster: the pcluster's block count */
const D0_CBLKCNT = 1 << 11;

export const LAYOUT_COMPRESSED_FULL = 1;
export const LAYOUT_COMPRESSED_COMPACT = 3;

/** What the map needs from the superblock. */
export interface ZGeometry {
  blkszbits: number;
  /** incompat features: big pcluster, ztailpacking, fragments */
  incompat: number;
}

export interface ZInode {
  /** datalayout 1 or 3 */
  layout: number;
  size: number;
  /** where the map header may start: after the inode and its xattrs */
  dataStart: number;
  nid: number;
}

export interface ZMap {
  pieces: Piece[];
  fields: Field[];
  /** the span of the header and indexes in the source */
  at: number;
  length: number;
  /** set when the content cannot be mapped or decoded: why */
  opaque?: string;
}

interface Lcluster {
  type: number;
  /** HEAD/PLAIN: decoded offset in the lcluster; NONHEAD: delta[0] */
  lo: number;
  /** HEAD/PLAIN: physical block */
  pblk: number;
  /** NONHEAD: block count when it carries D0_CBLKCNT, else 0 */
  cblk: number;
  /** where the record after this one starts (the inline tail pcluster follows the last record read) */
  next: number;
}

const FEATURE_BIG_PCLUSTER = 0x2;
const FEATURE_ZTAILPACKING = 0x10;
const FEATURE_FRAGMENTS = 0x20;

const ALGORITHMS = ['lz4', 'lzma', 'deflate', 'zstd'];

function roundUp(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

/** Reads the map of a compressed inode. Malformed indexes are E_FORMAT; unsupported ones give `opaque`. */
export function readZMap(src: ByteSource, geo: ZGeometry, ino: ZInode): ZMap {
  const blksz = 2 ** geo.blkszbits;
  const hpos = roundUp(ino.dataStart, 8);
  const fields: Field[] = [];
  let advise = 0;
  let algorithms = 0;
  let lclusterbits = geo.blkszbits;
  let idataSize = 0;
  const legacy = ino.layout === LAYOUT_COMPRESSED_FULL && (geo.incompat & (FEATURE_BIG_PCLUSTER | FEATURE_ZTAILPACKING | FEATURE_FRAGMENTS)) === 0;
  const h = Bytes.at(src, hpos, 8, 'erofs z_erofs_map_header');
  if (!legacy) {
    const clusterbits = h.u8(7); // 7 - h_clusterbits
    if (clusterbits & 0x80) {
      fields.push(field('erofs.zmap.fragmentoff', Number(h.u64leBig(0) & 0x7fffffffffffffffn), 'layout', h.spans(0, 8), { derived: true }));
      return { pieces: [], fields, at: hpos, length: 8, opaque: 'the whole file is a fragment of the packed inode, which is not read' };
    }
    idataSize = h.u16le(2); // 2 - h_idata_size
    advise = h.u16le(4); // 4 - h_advise
    algorithms = h.u8(6); // 6 - h_algorithmtype
    lclusterbits = geo.blkszbits + (clusterbits & 7);
    fields.push(
      field('erofs.zmap.idata_size', idataSize, 'size', h.spans(2, 2), { derived: true }),
      field('erofs.zmap.advise', `0x${advise.toString(16).padStart(4, '0')}`, 'layout', h.spans(4, 2)),
      field('erofs.zmap.algorithmtype', `${ALGORITHMS[algorithms & 15] ?? algorithms & 15}/${ALGORITHMS[algorithms >> 4] ?? algorithms >> 4}`, 'layout', h.spans(6, 1)),
      field('erofs.zmap.clusterbits', clusterbits & 7, 'layout', h.spans(7, 1)),
    );
  }
  if (advise & FRAGMENT_PCLUSTER) return { pieces: [], fields, at: hpos, length: 8, opaque: 'the file tail is a fragment of the packed inode, which is not read' };
  if (lclusterbits > 20) throw h.error(7, `logical cluster of 2^${lclusterbits} bytes is too large`);
  const lcs = 2 ** lclusterbits;
  const total = Math.ceil(ino.size / lcs);
  const err = (off: number, msg: string): ReprodiffError =>
    new ReprodiffError('E_FORMAT', msg, { file: src.name, structure: `erofs compressed indexes of nid ${ino.nid}`, offset: off });

  // the records, one per lcluster
  const recs: Lcluster[] = [];
  let end: number;
  if (ino.layout === LAYOUT_COMPRESSED_FULL) {
    const base = hpos + 16; // the map header and 8 reserved bytes
    end = base + total * 8;
    if (end > src.size) throw err(base, `${total} lcluster indexes run past the ${src.size}-byte image`);
    const b = Bytes.at(src, base, total * 8, 'erofs lcluster indexes');
    for (let i = 0; i < total; i++) {
      if ((i & 0xfff) === 0) checkTime('reading erofs lcluster indexes', src.name, base + i * 8);
      const o = i * 8;
      const type = b.u16le(o) & 3; // 0 - di_advise
      if (type === NONHEAD) {
        const d0 = b.u16le(o + 4); // 4 - delta[0]
        const cblk = d0 & D0_CBLKCNT ? d0 & ~D0_CBLKCNT : 0;
        recs.push({ type, lo: cblk ? 1 : d0, pblk: 0, cblk, next: base + o + 8 });
      } else {
        recs.push({ type, lo: b.u16le(o + 2), pblk: b.u32le(o + 4), cblk: 0, next: base + o + 8 }); // 2 - di_clusterofs, 4 - blkaddr
      }
    }
  } else {
    if (lclusterbits !== 12) return { pieces: [], fields, at: hpos, length: 8, opaque: `compacted indexes with ${lcs}-byte logical clusters are not supported` };
    const ebase = hpos + 8;
    let initial = (32 - (ebase % 32)) / 4;
    if (initial === 8) initial = 0;
    const two = advise & COMPACTED_2B && initial < total ? Math.floor((total - initial) / 16) * 16 : 0;
    const segments: { count: number; vcnt: number; bytes: number }[] = [
      { count: Math.min(initial, total), vcnt: 2, bytes: 8 },
      { count: two, vcnt: 16, bytes: 32 },
      { count: Math.max(0, total - initial - two), vcnt: 2, bytes: 8 },
    ];
    let pos = ebase;
    for (const seg of segments) {
      const packs = Math.ceil(seg.count / seg.vcnt);
      if (pos + packs * seg.bytes > src.size) throw err(pos, `${seg.count} compacted lcluster indexes run past the ${src.size}-byte image`);
      for (let p = 0; p < packs; p++) {
        if ((p & 0xff) === 0) checkTime('reading erofs lcluster indexes', src.name, pos);
        const pack = Bytes.at(src, pos, seg.bytes, 'erofs compacted lcluster pack');
        const n = Math.min(seg.vcnt, seg.count - p * seg.vcnt);
        unpack(pack, seg.vcnt, lclusterbits, advise & BIG_PCLUSTER_1 ? true : false, n, pos + seg.bytes, recs, err);
        pos += seg.bytes;
      }
    }
    end = pos;
  }
  const length = end - hpos;
  const pieces: Piece[] = [];
  let opaque: string | undefined;
  if (advise & INTERLACED_PCLUSTER) opaque = 'interlaced plain pclusters are not decoded';

  // the extents: one per HEAD or PLAIN lcluster, up to the next one
  const heads: number[] = [];
  // heads whose extent starts inside the file (a HEAD past the end, as the index of an inline tail pcluster may be, adds nothing)
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i] as Lcluster;
    if (r.type !== NONHEAD && i * lcs + r.lo < ino.size) heads.push(i);
  }
  if (total > 0 && heads[0] !== 0) throw err(hpos, 'the first logical cluster is not a HEAD or PLAIN one');
  const tailLcn = total - 1;
  for (let k = 0; k < heads.length; k++) {
    const lcn = heads[k] as number;
    const r = recs[lcn] as Lcluster;
    if (r.lo >= lcs) throw err(r.next - 8, `cluster offset ${r.lo} is outside the ${lcs}-byte logical cluster`);
    const la = lcn * lcs + r.lo;
    if (lcn === 0 && r.lo !== 0) throw err(r.next - 8, 'the first extent does not start at offset 0');
    const nextLcn = heads[k + 1];
    const nextLa = nextLcn === undefined ? ino.size : Math.min(ino.size, nextLcn * lcs + (recs[nextLcn] as Lcluster).lo);
    if (nextLa <= la) throw err(r.next - 8, `extents at decoded offsets ${la} and ${nextLa} are out of order`);
    const big = (r.type === HEAD1 && advise & BIG_PCLUSTER_1) || (r.type === HEAD2 && advise & BIG_PCLUSTER_2);
    let plen = lcs;
    if (big) {
      const after = recs[lcn + 1];
      if (after && after.type === NONHEAD) {
        if (!after.cblk) throw err(after.next - 8, 'a big pcluster has no block count (CBLKCNT)');
        plen = after.cblk * blksz;
      }
    }
    let pa = r.pblk * blksz;
    const last = nextLcn === undefined;
    if (last && advise & INLINE_PCLUSTER) {
      // the tail pcluster sits inline, right after the record of the last lcluster
      pa = (recs[tailLcn] as Lcluster).next;
      plen = idataSize;
      if (plen === 0 || (pa % blksz) + plen > blksz) throw err(pa, `inline tail pcluster of ${plen} bytes does not fit its block`);
    }
    if (pa + plen > src.size) throw err(r.next - 8, `pcluster at ${pa} (${plen} bytes) runs past the ${src.size}-byte image`);
    let kind: Piece['kind'];
    if (r.type === PLAIN) {
      kind = 'raw';
      if (nextLa - la > plen) throw err(r.next - 8, `plain pcluster of ${plen} bytes cannot hold ${nextLa - la} bytes`);
    } else {
      const alg = r.type === HEAD1 ? algorithms & 15 : algorithms >> 4;
      kind = alg === 0 ? 'lz4' : 'encoded';
      if (alg !== 0) opaque ??= `${ALGORITHMS[alg] ?? `algorithm ${alg}`} pclusters are not decoded (no EROFS ${ALGORITHMS[alg] ?? ''} decoder)`.replace(' )', ')');
    }
    pieces.push({ la, llen: nextLa - la, kind, pa, plen });
  }
  const covered = pieces.length ? (pieces[pieces.length - 1] as Piece).la + (pieces[pieces.length - 1] as Piece).llen : 0;
  if (covered !== ino.size) throw err(hpos, `the extents cover ${covered} of ${ino.size} bytes`);
  fields.push(field('erofs.zmap.indexes', describePieces(pieces), 'layout', src.spans(hpos + 8, length - 8), { derived: true }));
  return { pieces, fields, at: hpos, length, ...(opaque ? { opaque } : {}) };
}

/** Unpacks one compacted pack of `vcnt` records (`n` of them used) into `out`. */
function unpack(
  pack: Bytes,
  vcnt: number,
  lclusterbits: number,
  big: boolean,
  n: number,
  next: number,
  out: Lcluster[],
  err: (off: number, msg: string) => ReprodiffError,
): void {
  const bytes = pack.length;
  const encodebits = ((bytes - 4) * 8) / vcnt;
  const lomask = (1 << lclusterbits) - 1;
  const types: number[] = [];
  const los: number[] = [];
  for (let i = 0; i < vcnt; i++) {
    const bit = encodebits * i;
    const v = pack.u32le(bit >> 3) >>> (bit & 7);
    los.push(v & lomask);
    types.push((v >>> lclusterbits) & 3);
  }
  const baseBlk = pack.u32le(bytes - 4); // the pack's last 4 bytes: a block address
  // HEAD/PLAIN: the block is the base plus the blocks of the pclusters counted before it in this pack
  let blocks = big ? 0 : 1;
  for (let i = 0; i < n; i++) {
    const type = types[i] as number;
    const lo = los[i] as number;
    if (type === NONHEAD) {
      let cblk = 0;
      let delta0: number;
      if (lo & D0_CBLKCNT) {
        if (!big) throw err(pack.base, 'a block count (CBLKCNT) in an image without big pclusters');
        cblk = lo & ~D0_CBLKCNT;
        delta0 = 1;
        blocks += cblk;
      } else if (i + 1 !== vcnt) delta0 = lo;
      else {
        // the last record of a pack keeps delta[1]; delta[0] follows from the one before it
        const pt = types[i - 1];
        const pl = los[i - 1] as number;
        delta0 = (pt !== NONHEAD ? 0 : pl & D0_CBLKCNT ? 1 : pl) + 1;
      }
      out.push({ type, lo: delta0, pblk: 0, cblk, next });
    } else {
      out.push({ type, lo, pblk: baseBlk + blocks, cblk: 0, next });
      // a big pcluster's blocks are counted at its CBLKCNT record; a one-block pcluster here
      const following = i + 1 < vcnt ? (types[i + 1] as number) : -1;
      const counted = big && following === NONHEAD && ((los[i + 1] as number) & D0_CBLKCNT) !== 0;
      if (!counted) blocks += 1;
    }
  }
}

/** The extents as text: `la+llen@pa+plen kind`, the first 16 and a count of the rest. */
function describePieces(pieces: Piece[]): string {
  const shown = pieces.slice(0, 16).map((p) => `${p.la}+${p.llen}@${p.pa}+${p.plen} ${p.kind}`);
  if (pieces.length > 16) shown.push(`… ${pieces.length - 16} more`);
  return shown.join(', ');
}
