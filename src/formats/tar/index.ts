/**
 * tar archives: POSIX ustar, GNU (long names 'L'/'K', sparse 'S'), pax ('x' and 'g' extended headers) and v7.
 * Compressed tarballs reach this reader already decoded (the compression layer is its own container).
 */
import { ReprodiffError } from '../../errors.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import { checkCap, checkEntries, checkTime, EntryLimit, type Limits } from '../../limits.js';
import type { Container, Entry, EntryMeta, EntryType, Field, Format, Region, Span } from '../../model.js';
import type { Extent } from '../../io/source.js';
import { LazyMeta } from '../../util/lazy-meta.js';
import { field } from '../../model.js';
import { RegionList, RowRegion } from '../../util/regions.js';
import { ArchiveRows } from '../../util/rows.js';
import { isoFromUnix } from '../../util/time.js';
import { BLOCK, H, dialectOf, fieldText, headerSums, isZeroBlock, looksLikeHeader, parseNumber, textField, type Dialect } from './header.js';
import { PAX_NAME_HINT, SPARSE_NAME_HINT, TAR_MTIME_HINT, TAR_OWNER_HINT, isoFromPaxTime, paxFields, parsePax, type PaxRecord } from './pax.js';
import { PathCounter } from '../../util/path-counter.js';
import { rootedUsual } from '../../util/names.js';

const GNU_TIMES_HINT = 'GNU tar fills the atime/ctime of gnu-format headers only in incremental mode (-G, -g): archive without it';

/** extended header data (pax records, GNU long names) held in memory at once */
const MAX_EXT_DATA = 1024 * 1024;
/** GNU sparse extension blocks after one header */
const MAX_SPARSE_EXT = 4096;

export const tarFormat: Format = {
  name: 'tar',
  exclusive: true,
  orderingHint: 'use `tar --sort=name`',
  detect(src: ByteSource): number {
    if (src.size < BLOCK) return 0;
    const b = Bytes.at(src, 0, BLOCK, 'tar header');
    return looksLikeHeader(b.data, dialectOf(b), parseNumber(b, H.chksum[0], H.chksum[1]));
  },
  open(src: ByteSource, ctx): Container {
    return new TarReader(src, ctx.limits).read();
  },
};

interface Pending {
  fields: Field[];
  pax: Map<string, string>;
  longName?: string;
  longLink?: string;
}

const TYPE_NAMES: Record<string, EntryType> = {
  '0': 'file',
  '7': 'file',
  '1': 'other',
  '2': 'symlink',
  '3': 'chardev',
  '4': 'blockdev',
  '5': 'dir',
  '6': 'fifo',
  S: 'file',
};

function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/** `./a/b/` -> `/a/b`; the archive root (`./`, `.`) -> `/`. */
export function normalizePath(p: string): string {
  const usual = rootedUsual(p);
  if (usual !== undefined) return usual;
  let s = p;
  for (;;) {
    const t = s.replace(/^\.\/+/, '').replace(/^\/+/, '');
    if (t === s) break;
    s = t;
  }
  s = s.replace(/\/+$/, '');
  if (s === '.' || s === '') return '/';
  return '/' + s;
}

class TarReader {
  private readonly entries: Entry[] = [];
  private readonly regions = new RegionList();
  private readonly rows: TarRows;
  private readonly notes: string[] = [];
  private readonly fields: Field[] = [];
  private readonly global = new Map<string, string>();
  /** the paths met, while listing (dropped once the listing is done: entries keep the reader) */
  private paths = this.pathCounter();
  private pending: Pending = { fields: [], pax: new Map() };
  private dialects = new Set<string>();
  /** tell-tale extended header names: GNU tar `PaxHeaders`, libarchive `PaxHeader` */
  private gnuPax = false;
  private libarchive = false;

  constructor(
    readonly src: ByteSource,
    private readonly limits: Limits,
  ) {
    this.rows = new TarRows(this);
  }

  /** The metadata of a plain member (see TarEntry), from its header block alone. */
  plainMeta(b: Bytes, target: string | undefined): EntryMeta {
    const num = (k: readonly [number, number]): number | undefined => {
      const v = parseNumber(b, k[0], k[1]);
      return v === null || Number.isNaN(v) ? undefined : v;
    };
    const meta: EntryMeta = {};
    const mode = num(H.mode);
    const uid = num(H.uid);
    const gid = num(H.gid);
    const m = num(H.mtime);
    if (mode !== undefined) meta.mode = mode;
    if (uid !== undefined) meta.uid = uid;
    if (gid !== undefined) meta.gid = gid;
    const mt = m === undefined ? null : isoFromUnix(m);
    if (mt !== null) meta.mtime = mt;
    if (target !== undefined) meta.target = target;
    return meta;
  }

  read(): Container {
    const src = this.src;
    let pos = 0;
    let headers = 0;
    let ended = false;
    let partial: string | undefined;
    while (pos + BLOCK <= src.size) {
      const b = Bytes.at(src, pos, BLOCK, 'tar header');
      if (isZeroBlock(b.data)) {
        this.end(pos);
        ended = true;
        break;
      }
      headers++;
      checkCap(headers, this.limits.maxEntries, 'tar headers', src.name, pos);
      try {
        pos = this.header(b, pos);
      } catch (e) {
        if (!(e instanceof EntryLimit)) throw e;
        partial = e.describe();
        this.notes.push(partial);
        ended = true;
        break;
      }
    }
    if (!ended) {
      if (pos < src.size) {
        this.notes.push(`${src.size - pos} bytes after the last member do not form a header block`);
        this.regions.add('tar trailing bytes', 'unused', src.spans(pos, src.size - pos));
      } else {
        this.notes.push('the archive has no end-of-archive marker (two zero blocks)');
      }
    }
    if (this.pending.fields.length > 0) this.notes.push('an extended header at the end of the archive has no member after it');
    this.paths = this.pathCounter();
    this.rows.trim();
    // the archive does not name its writer; these conventions are specific enough to say
    const producer = this.libarchive ? 'libarchive (bsdtar)' : this.gnuPax || this.dialects.has('gnu') ? 'GNU tar' : undefined;
    return {
      format: 'tar',
      source: src,
      ...(producer ? { producer } : {}),
      fields: this.fields,
      entries: this.entries,
      regions: this.rows.n ? [...this.rows.regions(), ...this.regions.list()] : this.regions.list(),
      notes: this.notes,
      ...(partial ? { partial } : {}),
    };
  }

  /** Parses the header at `pos` and whatever data follows it; returns the offset of the next header. */
  private header(b: Bytes, pos: number): number {
    const src = this.src;
    const dialect = dialectOf(b);
    this.dialects.add(dialect);
    const chk = parseNumber(b, H.chksum[0], H.chksum[1]);
    const sums = headerSums(b.data);
    if (chk === null || Number.isNaN(chk) || (chk !== sums.unsigned && chk !== sums.signed)) {
      throw b.error(H.chksum[0], `header checksum ${chk === null ? '(empty)' : chk} does not match the computed ${sums.unsigned}`);
    }
    const tf = b.u8(H.typeflag[0]);
    const type = tf === 0 ? '0' : String.fromCharCode(tf);
    const headerSize = parseNumber(b, H.size[0], H.size[1]);
    if (headerSize === null ? false : Number.isNaN(headerSize) || headerSize < 0) throw b.error(H.size[0], 'size field is malformed');
    let size = headerSize ?? 0;
    // types that carry no data in the archive even when size is set
    if (type === '1' || type === '2' || type === '3' || type === '4' || type === '5' || type === '6') size = 0;
    if (type !== 'x' && type !== 'g' && type !== 'L' && type !== 'K') {
      const paxSize = this.pending.pax.get('size') ?? this.global.get('size');
      if (paxSize !== undefined && /^\d+$/.test(paxSize)) size = Number(paxSize);
    }
    const dataStart = pos + BLOCK;
    let extBlocks = 0;
    if (type === 'S' && dialect === 'gnu') {
      // 482 - isextended: more sparse descriptors follow in 512-byte blocks, each ending with its own flag at 504
      let more = b.u8(482) !== 0;
      while (more) {
        checkCap(extBlocks + 1, MAX_SPARSE_EXT, 'GNU sparse extension blocks', src.name, pos);
        const off = dataStart + extBlocks * BLOCK;
        if (off + BLOCK > src.size) {
          throw new ReprodiffError('E_TRUNCATED', 'GNU sparse extension block runs past the end of the archive', {
            file: src.name,
            structure: 'tar sparse header',
            offset: off,
          });
        }
        const e = Bytes.at(src, off, BLOCK, 'tar sparse header');
        more = e.u8(504) !== 0;
        extBlocks++;
      }
    }
    const data = dataStart + extBlocks * BLOCK;
    if (!Number.isSafeInteger(size) || data + size > src.size) {
      throw new ReprodiffError('E_TRUNCATED', `member data of ${size} bytes runs past the end of the archive (${Math.max(0, src.size - data)} bytes left)`, {
        file: src.name,
        structure: 'tar header',
        offset: pos + H.size[0],
      });
    }
    const next = Math.min(data + padded(size), src.size);
    // a member whose fields are all in its own header block (no extended header before it, no global pax
    // record, not sparse) is a row: its header and padding are regions over the rows
    const plain = type !== 'x' && type !== 'g' && type !== 'L' && type !== 'K' && type !== 'V' && type !== 'M' && type !== 'N' && type !== 'S' &&
      this.pending.fields.length === 0 && this.pending.pax.size === 0 && this.global.size === 0;
    if (!plain) {
      this.regions.add('tar header', 'metadata', src.spans(pos, data - pos));
      if (next > data + size) this.regions.add('tar member padding', 'padding', src.spans(data + size, next - data - size));
    }
    if (next < data + padded(size)) this.notes.push(`the last member's padding to 512 bytes is missing at offset ${next}`);

    switch (type) {
      case 'x':
      case 'g': {
        const d = this.extData(src, data, size, type === 'x' ? 'pax extended header' : 'pax global header');
        const records = parsePax(d);
        const hname = textField(b, H.name[0], H.name[1]);
        if (/(^|\/)PaxHeaders(\.\d+)?\//.test(hname)) this.gnuPax = true;
        if (/(^|\/)PaxHeader\//.test(hname) || records.some((r) => r.key.startsWith('LIBARCHIVE.'))) this.libarchive = true;
        const prefix = type === 'x' ? 'tar.pax_header.' : 'tar.pax_global_header.';
        const recPrefix = type === 'x' ? 'tar.pax.' : 'tar.pax_global.';
        const fs = [...this.headerFields(b, prefix, dialect), ...paxFields(d, records, recPrefix)];
        this.regions.add(`${type === 'x' ? 'pax extended' : 'pax global'} header data`, 'metadata', src.spans(data, size));
        if (type === 'x') {
          this.pending.fields.push(...fs);
          for (const r of records) this.applyPax(this.pending.pax, r);
        } else {
          this.fields.push(...fs);
          for (const r of records) this.applyPax(this.global, r);
        }
        return next;
      }
      case 'L':
      case 'K': {
        const d = this.extData(src, data, size, type === 'L' ? 'GNU long name' : 'GNU long link name');
        const text = textField(d, 0, size);
        const prefix = type === 'L' ? 'tar.gnu_longname.' : 'tar.gnu_longlink.';
        this.pending.fields.push(...this.headerFields(b, prefix, dialect));
        this.pending.fields.push(field(type === 'L' ? 'tar.gnu.longname' : 'tar.gnu.longlink', text, 'content', src.spans(data, size)));
        this.regions.add('GNU long name data', 'metadata', src.spans(data, size));
        if (type === 'L') this.pending.longName = text;
        else this.pending.longLink = text;
        return next;
      }
      case 'V': {
        this.fields.push(...this.headerFields(b, 'tar.volume.', dialect));
        this.notes.push(`GNU volume label "${textField(b, H.name[0], H.name[1])}"`);
        if (size > 0) this.regions.add('GNU volume label data', 'metadata', src.spans(data, size));
        return next;
      }
      case 'M':
      case 'N': {
        this.notes.push(`GNU ${type === 'M' ? 'multi-volume continuation' : 'old long-name'} header at offset ${pos} is not interpreted`);
        this.fields.push(...this.headerFields(b, `tar.gnu_${type}.`, dialect));
        if (size > 0) this.regions.add(`GNU ${type} header data`, 'metadata', src.spans(data, size));
        return next;
      }
      default:
        this.member(b, pos, type, dialect, data, size, plain);
        return next;
    }
  }

  /** a counter of the paths met that keeps a plain member's row, not its path */
  private pathCounter(): PathCounter {
    return new PathCounter((i) => this.rows.path(i));
  }

  private extData(src: ByteSource, off: number, size: number, structure: string): Bytes {
    checkCap(size, Math.min(MAX_EXT_DATA, this.limits.maxStructureBytes), `${structure} size`, src.name, off);
    return Bytes.at(src, off, size, structure);
  }

  private applyPax(into: Map<string, string>, r: PaxRecord): void {
    // an empty value deletes the keyword (POSIX), for global headers it restores the default
    if (r.value === '') into.delete(r.key);
    else into.set(r.key, r.value);
  }

  private member(b: Bytes, pos: number, type: string, dialect: Dialect, data: number, size: number, plain: boolean): void {
    const pending = this.pending;
    // what extended headers left for this member is used up by it (an empty one is kept: most members have none)
    if (pending.fields.length || pending.pax.size || pending.longName !== undefined || pending.longLink !== undefined) this.pending = { fields: [], pax: new Map() };
    const pax = (k: string): string | undefined => pending.pax.get(k) ?? this.global.get(k);

    const name = textField(b, H.name[0], H.name[1]);
    const prefix = dialect === 'ustar' ? textField(b, H.prefix[0], H.prefix[1]) : '';
    let rawPath = pending.pax.get('GNU.sparse.name') ?? pending.pax.get('path') ?? pending.longName ?? (prefix ? `${prefix}/${name}` : name);
    let etype: EntryType = TYPE_NAMES[type] ?? 'other';
    if ((type === '0' && rawPath.endsWith('/')) || type === '5') etype = 'dir';
    if (TYPE_NAMES[type] === undefined) this.notes.push(`member "${rawPath}" has the unknown type flag "${type}"`);
    let path = normalizePath(rawPath);
    // a plain member's path is counted by its row (read back from its header), others' by the string
    const seen = this.paths.count(path, plain ? this.rows.n : undefined);
    if (seen > 0) {
      this.notes.push(`the path ${path} occurs ${seen + 1} times; later copies are listed as ${path}~N`);
      path = `${path}~${seen + 1}`;
    }
    rawPath = path;

    const esize = etype === 'file' ? size : 0;
    // a plain member keeps only its row (where its header block is, its size, type and dialect): its fields and
    // metadata are read again when asked (and not made here), so an archive of a million members holds a
    // million small objects, not twenty million fields
    if (plain) {
      const link = etype === 'symlink' || type === '1' ? textField(b, H.linkname[0], H.linkname[1]) : '';
      checkEntries(this.entries.length + 1, this.limits, 'tar members', pos);
      checkTime('listing tar members', this.src.name, pos);
      const row = this.rows.add(pos, size, etype, dialect, link ? link : undefined);
      if (seen > 0) this.rows.renamed.set(row, rawPath);
      this.entries.push(new TarEntry(this.rows, this.entries.length, row));
      return;
    }

    const fields = [...pending.fields, ...this.headerFields(b, 'tar.', dialect)];
    const num = (k: readonly [number, number]): number | undefined => {
      const v = parseNumber(b, k[0], k[1]);
      return v === null || Number.isNaN(v) ? undefined : v;
    };
    const paxNum = (k: string): number | undefined => {
      const v = pax(k);
      return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
    };
    const mode = num(H.mode);
    const uid = paxNum('uid') ?? num(H.uid);
    const gid = paxNum('gid') ?? num(H.gid);
    const mtimeSecs = num(H.mtime);
    const paxM = pax('mtime');
    const mtime = (paxM !== undefined ? isoFromPaxTime(paxM) : null) ?? (mtimeSecs !== undefined ? isoFromUnix(mtimeSecs) : null);
    const linkname = pending.pax.get('linkpath') ?? pending.longLink ?? textField(b, H.linkname[0], H.linkname[1]);

    if (type === 'S') {
      const real = num(H.gnuRealsize);
      fields.push(field('tar.gnu.realsize', real ?? null, 'size', b.spans(H.gnuRealsize[0], H.gnuRealsize[1]), { derived: true }));
      this.notes.push(`${path} is a GNU sparse member; its content is compared as stored (holes removed)`);
    }
    if (pax('GNU.sparse.major') !== undefined || pax('GNU.sparse.map') !== undefined || pax('GNU.sparse.size') !== undefined) {
      this.notes.push(`${path} is a pax sparse member; its content is compared as stored (map and holes included)`);
    }

    const meta: Entry['meta'] = {};
    if (mode !== undefined) meta.mode = mode;
    if (uid !== undefined) meta.uid = uid;
    if (gid !== undefined) meta.gid = gid;
    if (mtime !== null) meta.mtime = mtime;
    const at = pax('atime');
    if (at !== undefined) meta.atime = isoFromPaxTime(at) ?? at;
    const ct = pax('ctime');
    if (ct !== undefined) meta.ctime = isoFromPaxTime(ct) ?? ct;
    if ((etype === 'symlink' || type === '1') && linkname) meta.target = linkname;

    const entry: Entry = {
      path: rawPath,
      type: etype,
      size: esize,
      extents: etype === 'file' && size > 0 ? [{ offset: data, length: size }] : [],
      fields,
      meta,
      order: this.entries.length,
    };
    checkEntries(this.entries.length + 1, this.limits, 'tar members', pos);
    checkTime('listing tar members', this.src.name, pos);
    this.entries.push(entry);
  }

  /** The fields of one header block, named `${prefix}<field>`. */
  headerFields(b: Bytes, prefix: string, dialect: Dialect): Field[] {
    const out: Field[] = [];
    const sp = (k: readonly [number, number]) => b.spans(k[0], k[1]);
    const num = (k: readonly [number, number]): number | null => {
      const v = parseNumber(b, k[0], k[1]);
      return v !== null && Number.isNaN(v) ? null : v;
    };
    const nameText = textField(b, H.name[0], H.name[1]);
    const pidName = /PaxHeaders\.\d+|GlobalHead\.\d+/.test(nameText);
    const sparseName = /GNUSparseFile\.\d+/.test(nameText);
    const nameExtra = pidName ? { hint: PAX_NAME_HINT } : sparseName ? { hint: SPARSE_NAME_HINT } : {};
    out.push(field(`${prefix}name`, nameText, pidName || sparseName ? 'random-id' : 'content', sp(H.name), nameExtra));
    out.push(field(`${prefix}mode`, num(H.mode), 'permissions', sp(H.mode)));
    out.push(field(`${prefix}uid`, num(H.uid), 'ownership', sp(H.uid), { hint: TAR_OWNER_HINT }));
    out.push(field(`${prefix}gid`, num(H.gid), 'ownership', sp(H.gid), { hint: TAR_OWNER_HINT }));
    out.push(field(`${prefix}size`, num(H.size), 'size', sp(H.size), { derived: true }));
    const m = num(H.mtime);
    out.push(field(`${prefix}mtime`, m === null ? null : isoFromUnix(m), 'timestamp', sp(H.mtime), { hint: TAR_MTIME_HINT }));
    out.push(
      field(`${prefix}checksum`, num(H.chksum), 'checksum', sp(H.chksum), {
        covers: [...b.spans(0, H.chksum[0]), ...b.spans(H.typeflag[0], BLOCK - H.typeflag[0])],
      }),
    );
    const tf = b.u8(H.typeflag[0]);
    out.push(field(`${prefix}typeflag`, tf === 0 ? '' : String.fromCharCode(tf), 'content', sp(H.typeflag)));
    out.push(field(`${prefix}linkname`, textField(b, H.linkname[0], H.linkname[1]), 'content', sp(H.linkname)));
    if (dialect === 'v7') return out;
    out.push(field(`${prefix}magic`, b.ascii(H.magic[0], H.magic[1], false).replace(/\0/g, '\\0'), 'layout', sp(H.magic)));
    out.push(field(`${prefix}version`, b.ascii(H.version[0], H.version[1], false).replace(/\0/g, '\\0'), 'layout', sp(H.version)));
    out.push(field(`${prefix}uname`, textField(b, H.uname[0], H.uname[1]), 'ownership', sp(H.uname), { hint: TAR_OWNER_HINT }));
    out.push(field(`${prefix}gname`, textField(b, H.gname[0], H.gname[1]), 'ownership', sp(H.gname), { hint: TAR_OWNER_HINT }));
    out.push(field(`${prefix}devmajor`, num(H.devmajor), 'content', sp(H.devmajor)));
    out.push(field(`${prefix}devminor`, num(H.devminor), 'content', sp(H.devminor)));
    if (dialect === 'ustar') {
      out.push(field(`${prefix}prefix`, textField(b, H.prefix[0], H.prefix[1]), 'content', sp(H.prefix)));
    } else {
      const a = num(H.gnuAtime);
      const c = num(H.gnuCtime);
      out.push(field(`${prefix}atime`, a ? isoFromUnix(a) : null, 'timestamp', sp(H.gnuAtime), { hint: GNU_TIMES_HINT }));
      out.push(field(`${prefix}ctime`, c ? isoFromUnix(c) : null, 'timestamp', sp(H.gnuCtime), { hint: GNU_TIMES_HINT }));
    }
    return out;
  }

  /** From the first zero block: the end-of-archive marker, then record padding to the end of the source. */
  private end(pos: number): void {
    const src = this.src;
    let p = pos;
    let zeros = 0;
    while (zeros < 2 && p + BLOCK <= src.size && isZeroBlock(src.read(p, BLOCK, 'end-of-archive'))) {
      zeros++;
      p += BLOCK;
    }
    this.regions.add('tar end-of-archive', 'padding', src.spans(pos, p - pos));
    if (zeros < 2) this.notes.push('the end-of-archive marker has only one zero block');
    // record padding: zeros up to a multiple of the blocking factor (GNU tar: 10240 bytes)
    const CHUNK = 64 * 1024;
    let q = p;
    let firstNonZero = -1;
    while (q < src.size && firstNonZero < 0) {
      const n = Math.min(CHUNK, src.size - q);
      const chunk = src.read(q, n, 'record padding');
      for (let i = 0; i < n; i++) {
        if (chunk[i] !== 0) {
          firstNonZero = q + i;
          break;
        }
      }
      q += n;
    }
    const padEnd = firstNonZero < 0 ? src.size : firstNonZero;
    if (padEnd > p) this.regions.add('tar record padding', 'padding', src.spans(p, padEnd - p));
    if (firstNonZero >= 0) {
      this.notes.push(`${src.size - firstNonZero} bytes after the end of the archive (from offset ${firstNonZero}) are not zero`);
      this.regions.add('tar trailing bytes', 'unused', src.spans(firstNonZero, src.size - firstNonZero));
    }
  }
}

const NO_EXTENTS: Extent[] = [];

const DIALECTS: Dialect[] = ['ustar', 'gnu', 'v7'];

/**
 * The plain members (see TarReader.header), a row each in typed arrays (14 bytes in an archive under 4 GiB, 18
 * over: the header block's offset, the data's size, the type and the dialect; the data follows the block,
 * padded to 512 bytes).
 */
class TarRows extends ArchiveRows<Dialect> {
  constructor(readonly reader: TarReader) {
    super(DIALECTS, reader.src.size < 2 ** 32);
  }

  get src(): ByteSource {
    return this.reader.src;
  }

  add(at: number, size: number, type: EntryType, dialect: Dialect, target: string | undefined): number {
    return this.push(at, size, type, dialect, target);
  }

  protected growOwn(): void {
    // nothing of its own: the data follows the header block
  }

  protected readPath(i: number): string {
    const at = this.at(i);
    const name = fieldText(this.src.read(at + H.name[0], H.name[1], 'tar header'));
    const prefix = this.dialect(i) === 'ustar' ? fieldText(this.src.read(at + H.prefix[0], H.prefix[1], 'tar header')) : '';
    return normalizePath(prefix ? `${prefix}/${name}` : name);
  }

  dataEnd(i: number): number {
    return this.at(i) + BLOCK + this.size(i);
  }
  /** where the next header is: after the data padded to 512 bytes, or the end of a cut archive */
  next(i: number): number {
    return Math.min(this.at(i) + BLOCK + padded(this.size(i)), this.src.size);
  }

  regions(): Region[] {
    return [
      new RowRegion('tar header', 'metadata', this, (i) => this.at(i), (i) => this.at(i) + BLOCK),
      new RowRegion('tar member padding', 'padding', this, (i) => this.dataEnd(i), (i) => this.next(i)),
    ];
  }
}

/**
 * A member whose fields all sit in its one header block: it keeps its row, and reads its path, fields and
 * metadata from the block when asked (not cached), as the ISO 9660 reader does with its records.
 */
class TarEntry implements Entry {
  constructor(
    private readonly rows: TarRows,
    readonly order: number,
    private readonly row: number,
  ) {}

  get path(): string {
    return this.rows.path(this.row);
  }

  private block(): Bytes {
    return Bytes.at(this.rows.src, this.rows.at(this.row), BLOCK, 'tar header');
  }

  get type(): EntryType {
    return this.rows.type(this.row);
  }

  get size(): number {
    return this.type === 'file' ? this.rows.size(this.row) : 0;
  }

  get extents(): Extent[] {
    const size = this.size;
    return size > 0 ? [{ offset: this.rows.at(this.row) + BLOCK, length: size }] : NO_EXTENTS;
  }

  get fields(): Field[] {
    return this.rows.reader.headerFields(this.block(), 'tar.', this.rows.dialect(this.row));
  }

  fieldsTouching(touched: (offset: number, length: number) => boolean): Field[] {
    return touched(this.rows.at(this.row), BLOCK) ? this.fields : [];
  }

  get records(): Span[] {
    return this.rows.src.spans(this.rows.at(this.row), BLOCK);
  }

  get meta(): EntryMeta {
    const target = this.rows.targets.get(this.row);
    return new LazyMeta(target, () => this.rows.reader.plainMeta(this.block(), target));
  }
}
