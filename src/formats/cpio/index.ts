/**
 * cpio archives as initramfs uses them: newc (070701), crc (070702) and odc (070707), and the old binary
 * format (`-H bin`, 16-bit words in the writer's byte order, magic 070707 as 0x71c7), several archives
 * concatenated (an uncompressed early-microcode archive, then the main one), each ended by TRAILER!!! and
 * zero padding. A compressed stream after an archive is exposed as `/archive-N` for the walker to open.
 */
import { ReprodiffError } from '../../errors.js';
import { Bytes } from '../../io/bytes.js';
import { zeroRun, type ByteSource } from '../../io/source.js';
import { checkCap, checkTime, entryStop } from '../../limits.js';
import type { Container, Entry, EntryMeta, EntryType, Field, Format, OpenContext, Region, Span } from '../../model.js';
import { PathCounter } from '../../util/path-counter.js';
import { ArchiveRows, grown, RowEntry } from '../../util/rows.js';
import type { Extent } from '../../io/source.js';
import { LazyMeta } from '../../util/lazy-meta.js';
import { RegionList, RowRegion } from '../../util/regions.js';
import { field } from '../../model.js';
import { isoFromUnix } from '../../util/time.js';
import { typeFromMode } from '../../util/mode.js';
import { decodeName, rootedUsual } from '../../util/names.js';

export const CPIO_HINTS = {
  ino: 'cpio records the build tree\'s inode numbers: use `cpio --reproducible` (GNU cpio 2.13+) or a packer that renumbers (dracut, mkinitramfs with SOURCE_DATE_EPOCH, `bsdcpio` via sorted lists)',
  mtime: 'member mtimes come from the build tree: touch every file to SOURCE_DATE_EPOCH before packing (`find . -exec touch -h -d @$SOURCE_DATE_EPOCH {} +`), or use a packer that clamps them',
  owner: 'owners come from the build user: pack with `cpio -R 0:0` (or build under fakeroot)',
  order: 'member order follows readdir: feed cpio a sorted list (`find . | LC_ALL=C sort | cpio -o -H newc --reproducible`)',
  dev: 'device numbers of the build filesystem are recorded: use `cpio --reproducible`, which zeroes them',
};

const TRAILER = 'TRAILER!!!';
const MAX_NAME = 64 * 1024;

type Dialect = 'newc' | 'crc' | 'odc' | 'bin-le' | 'bin-be';

/** the old binary header: 13 16-bit words */
const BIN_HEADER = 26;

interface Header {
  dialect: Dialect;
  headerSize: number;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  filesize: number;
  devmajor: number;
  devminor: number;
  rdevmajor: number;
  rdevminor: number;
  namesize: number;
  check: number;
  /** [offset, length] of each field inside the header */
  at: Record<string, [number, number]>;
}

const COMPRESSED: [number[], string][] = [
  [[0x1f, 0x8b], 'gzip'],
  [[0x1f, 0x9e], 'gzip'],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 'xz'],
  [[0x28, 0xb5, 0x2f, 0xfd], 'zstd'],
  [[0x02, 0x21, 0x4c, 0x18], 'lz4'],
  [[0x04, 0x22, 0x4d, 0x18], 'lz4'],
  [[0x42, 0x5a, 0x68], 'bzip2'],
  [[0x5d, 0x00, 0x00], 'lzma'],
  [[0x89, 0x4c, 0x5a, 0x4f], 'lzo'],
];

function magicAt(src: ByteSource, off: number): Dialect | null {
  if (off + 2 > src.size) return null;
  const b = src.read(off, 2, 'cpio magic');
  // 070707 as a 16-bit word, in either byte order
  if (b[0] === 0xc7 && b[1] === 0x71) return off + BIN_HEADER <= src.size ? 'bin-le' : null;
  if (b[0] === 0x71 && b[1] === 0xc7) return off + BIN_HEADER <= src.size ? 'bin-be' : null;
  if (off + 6 > src.size) return null;
  const m = src.read(off, 6, 'cpio magic');
  // 07070 then 1, 2 or 7
  if (m[0] !== 0x30 || m[1] !== 0x37 || m[2] !== 0x30 || m[3] !== 0x37 || m[4] !== 0x30) return null;
  return m[5] === 0x31 ? 'newc' : m[5] === 0x32 ? 'crc' : m[5] === 0x37 ? 'odc' : null;
}

/** A binary header is only two magic bytes: also ask for a NUL-terminated name where its size says. */
function plausibleBinary(src: ByteSource, dialect: Dialect): boolean {
  if (src.size < BIN_HEADER + 2) return false;
  const b = Bytes.at(src, 0, BIN_HEADER, 'cpio header');
  const namesize = dialect === 'bin-le' ? b.u16le(20) : b.u16be(20);
  if (namesize < 2 || BIN_HEADER + namesize > src.size) return false;
  return src.read(BIN_HEADER + namesize - 1, 1, 'cpio member name')[0] === 0;
}

function compressedAt(src: ByteSource, off: number): string | null {
  const n = Math.min(6, src.size - off);
  if (n < 2) return null;
  const b = src.read(off, n, 'compressed stream magic');
  for (const [m, name] of COMPRESSED) if (m.length <= n && m.every((v, i) => b[i] === v)) return name;
  return null;
}

export const cpioFormat: Format = {
  name: 'cpio',
  exclusive: true,
  orderingHint: 'sort the member list: `find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --reproducible`',
  detect(src: ByteSource): number {
    const d = src.size >= BIN_HEADER ? magicAt(src, 0) : null;
    if (d === 'bin-le' || d === 'bin-be') return plausibleBinary(src, d) ? 70 : 0;
    return src.size >= 76 && d ? 90 : 0;
  },
  open(src: ByteSource, ctx: OpenContext): Container {
    return openCpio(src, ctx);
  },
};

/** where each field of a newc or crc header sits: eight hex digits each, after the six-byte magic */
const NEWC_FIELDS = ['ino', 'mode', 'uid', 'gid', 'nlink', 'mtime', 'filesize', 'devmajor', 'devminor', 'rdevmajor', 'rdevminor', 'namesize', 'check'];
const NEWC_AT: Record<string, [number, number]> = Object.fromEntries(NEWC_FIELDS.map((name, i) => [name, [6 + i * 8, 8]]));

/** each byte's value as a digit (hex, upper or lower case), 99 for a byte that is none */
const DIGIT = new Uint8Array(256).fill(99);
for (let c = 0; c < 10; c++) DIGIT[0x30 + c] = c;
for (let c = 0; c < 6; c++) DIGIT[0x41 + c] = DIGIT[0x61 + c] = 10 + c;

/** the number in `len` digits of `radix` at `off` of `d`, or -1 when a byte there is no such digit */
function digits(d: Uint8Array, off: number, len: number, radix: number): number {
  if (len <= 0 || off + len > d.length) return -1;
  let v = 0;
  for (let i = off; i < off + len; i++) {
    const digit = DIGIT[d[i]!]!;
    if (digit >= radix) return -1;
    v = v * radix + digit;
  }
  return v;
}

/** the newc/crc header's thirteen numbers, parsed into here (one header at a time) */
const NEWC_VALUES = new Float64Array(NEWC_FIELDS.length);

function readHeader(b: Bytes, dialect: Dialect): Header {
  const d = b.bytes(0, b.length);
  // digits read from the bytes: a header is parsed per member, and archives hold a million of them
  const num = (off: number, len: number, radix: 8 | 16, name: string): number => {
    const v = digits(d, off, len, radix);
    if (v < 0) throw b.error(off, `cpio ${name} field is not a ${radix === 16 ? 'hex' : 'octal'} number: ${JSON.stringify(b.ascii(off, len, false))}`);
    return v;
  };
  if (dialect === 'newc' || dialect === 'crc') {
    // in header order, so that the first malformed field is the one named
    const v = NEWC_VALUES;
    for (let k = 0; k < NEWC_FIELDS.length; k++) v[k] = num(6 + 8 * k, 8, 16, NEWC_FIELDS[k]!);
    return {
      dialect, headerSize: 110, ino: v[0]!, mode: v[1]!, uid: v[2]!, gid: v[3]!, nlink: v[4]!, mtime: v[5]!, filesize: v[6]!,
      devmajor: v[7]!, devminor: v[8]!, rdevmajor: v[9]!, rdevminor: v[10]!, namesize: v[11]!, check: v[12]!, at: NEWC_AT,
    };
  }
  const at: Record<string, [number, number]> = {};
  const h = { dialect } as Header;
  if (dialect === 'bin-le' || dialect === 'bin-be') {
    // 0 magic, 2 dev, 4 ino, 6 mode, 8 uid, 10 gid, 12 nlink, 14 rdev, 16 mtime (2 words, most significant
    // first), 20 namesize, 22 filesize (2 words, most significant first); each word in the writer's byte order
    const w = dialect === 'bin-le' ? (o: number): number => b.u16le(o) : (o: number): number => b.u16be(o);
    const layout: [string, number, number][] = [
      ['dev', 2, 2], ['ino', 4, 2], ['mode', 6, 2], ['uid', 8, 2], ['gid', 10, 2], ['nlink', 12, 2], ['rdev', 14, 2],
      ['mtime', 16, 4], ['namesize', 20, 2], ['filesize', 22, 4],
    ];
    for (const [name, off, len] of layout) at[name] = [off, len];
    const dev = w(2);
    const rdev = w(14);
    h.headerSize = BIN_HEADER;
    h.ino = w(4);
    h.mode = w(6);
    h.uid = w(8);
    h.gid = w(10);
    h.nlink = w(12);
    h.mtime = w(16) * 0x10000 + w(18);
    h.namesize = w(20);
    h.filesize = w(22) * 0x10000 + w(24);
    h.devmajor = dev >> 8;
    h.devminor = dev & 0xff;
    h.rdevmajor = rdev >> 8;
    h.rdevminor = rdev & 0xff;
    h.check = 0;
    at.devmajor = at.dev as [number, number];
    at.rdevmajor = at.rdev as [number, number];
  } else if (dialect === 'odc') {
    // 0 magic(6) dev(6) ino(6) mode(6) uid(6) gid(6) nlink(6) rdev(6) mtime(11) namesize(6) filesize(11)
    const layout: [string, number, number][] = [
      ['dev', 6, 6], ['ino', 12, 6], ['mode', 18, 6], ['uid', 24, 6], ['gid', 30, 6], ['nlink', 36, 6],
      ['rdev', 42, 6], ['mtime', 48, 11], ['namesize', 59, 6], ['filesize', 65, 11],
    ];
    const v: Record<string, number> = {};
    for (const [name, off, len] of layout) {
      v[name] = num(off, len, 8, name);
      at[name] = [off, len];
    }
    h.headerSize = 76;
    h.ino = v.ino as number;
    h.mode = v.mode as number;
    h.uid = v.uid as number;
    h.gid = v.gid as number;
    h.nlink = v.nlink as number;
    h.mtime = v.mtime as number;
    h.namesize = v.namesize as number;
    h.filesize = v.filesize as number;
    // odc keeps 18-bit dev/rdev as one number; split the usual 8:8 way
    h.devmajor = Math.floor((v.dev as number) / 256);
    h.devminor = (v.dev as number) % 256;
    h.rdevmajor = Math.floor((v.rdev as number) / 256);
    h.rdevminor = (v.rdev as number) % 256;
    h.check = 0;
    at.devmajor = at.dev as [number, number];
    at.rdevmajor = at.rdev as [number, number];
  }
  h.at = at;
  return h;
}


function normalize(name: string): string {
  const usual = rootedUsual(name);
  if (usual !== undefined) return usual;
  let s = name;
  while (s.startsWith('./')) s = s.slice(2);
  s = s.replace(/^\/+/, '').replace(/\/+$/, '');
  if (s === '.' || s === '') return '/';
  return '/' + s;
}

/** the padding after `n` bytes of a header and name, or of data: newc and crc align to 4 bytes, bin to 2, odc not at all */
function padTo(d: Dialect, n: number): number {
  if (d === 'odc') return 0;
  if (d === 'bin-le' || d === 'bin-be') return n % 2;
  return (4 - (n % 4)) % 4;
}

export function openCpio(src: ByteSource, ctx: OpenContext): Container {
  const entries: Entry[] = [];
  const rows = new CpioRows(src);
  const regions = new RegionList();
  const notes: string[] = [];
  const fields: Field[] = [];
  // the counter keeps rows, not strings: a row's path is read back from its name
  const seen = new PathCounter((i) => rows.path(i));
  let off = 0;
  let archive = 1;
  let inArchive = false;
  let partial: string | undefined;
  while (off < src.size) {
    const dialect = magicAt(src, off);
    if (!dialect) {
      if (inArchive) throw new ReprodiffError('E_FORMAT', 'no cpio header where one is expected', { file: src.name, structure: 'cpio header', offset: off });
      // between archives: zero padding, then another archive or a compressed stream
      const z = off + zeroRun(src, off, 'cpio padding');
      if (z > off) regions.add(`cpio padding after archive ${archive - 1}`, 'padding', src.spans(off, z - off));
      off = z;
      if (off >= src.size) break;
      if (magicAt(src, off)) continue;
      const comp = compressedAt(src, off);
      const path = `/archive-${archive}`;
      entries.push({
        path,
        type: 'file',
        size: src.size - off,
        extents: [{ offset: off, length: src.size - off }],
        fields: [field('cpio.archive.compression', comp ?? 'unknown', 'content', src.spans(off, Math.min(6, src.size - off)))],
        meta: {},
        order: entries.length,
      });
      notes.push(`archive ${archive} at offset ${off} is ${comp ? `${comp}-compressed` : 'not a cpio archive'}: exposed as ${path}`);
      off = src.size;
      break;
    }
    inArchive = true;
    const binary = dialect === 'bin-le' || dialect === 'bin-be';
    const headerLen = dialect === 'odc' ? 76 : binary ? BIN_HEADER : 110;
    const hb = Bytes.at(src, off, headerLen, 'cpio header');
    const h = readHeader(hb, dialect);
    checkCap(h.namesize, MAX_NAME, 'cpio name size', src.name, off);
    if (h.namesize < 1) throw hb.error(0, 'cpio name size is 0');
    const nameOff = off + headerLen;
    const nb = Bytes.at(src, nameOff, h.namesize, 'cpio member name');
    const rawName = nb.utf8(0, h.namesize - 1);
    if (nb.u8(h.namesize - 1) !== 0) notes.push(`cpio member at ${off}: name is not NUL-terminated`);
    const namePad = padTo(dialect, headerLen + h.namesize);
    const dataOff = nameOff + h.namesize + namePad;
    if (h.filesize > src.size - Math.min(dataOff, src.size)) {
      throw new ReprodiffError('E_TRUNCATED', `cpio member ${JSON.stringify(rawName)} claims ${h.filesize} bytes but only ${Math.max(0, src.size - dataOff)} remain`, {
        file: src.name,
        structure: 'cpio member',
        offset: off,
      });
    }
    const dataPad = padTo(dialect, h.filesize);
    if (dataOff + h.filesize + dataPad > src.size) throw hb.error(0, 'cpio member padding runs past the end', 'E_FORMAT');
    const next = dataOff + h.filesize + dataPad;
    if (rawName === TRAILER) {
      // a trailer's header and padding are regions of their own kind: the members' are in `rows`
      regions.add('cpio header', 'metadata', src.spans(off, headerLen + h.namesize));
      if (namePad) regions.add('cpio name padding', 'padding', src.spans(nameOff + h.namesize, namePad));
      if (dataPad) regions.add('cpio data padding', 'padding', src.spans(dataOff + h.filesize, dataPad));
      fields.push(field(archive === 1 ? 'cpio.trailer' : `cpio.archive[${archive}].trailer`, dialect, 'layout', src.spans(off, next - off)));
      if (h.filesize) regions.add('cpio trailer data', 'metadata', src.spans(dataOff, h.filesize));
      inArchive = false;
      archive++;
      off = next;
      continue;
    }
    checkTime('listing cpio members', src.name, off);
    const stop = entryStop(entries.length + 1, ctx.limits, 'cpio members', off);
    if (stop) {
      partial = stop.describe();
      notes.push(partial);
      break;
    }
    const type = typeFromMode(h.mode);
    let path = normalize(rawName);
    const dup = seen.count(path, rows.n);
    if (dup > 0) {
      notes.push(`cpio member ${path} appears again at offset ${off} (a later copy replaces the earlier one when unpacked)`);
      path = `${path}#${dup + 1}`;
    }
    let target: string | undefined;
    if (type === 'symlink') {
      checkCap(h.filesize, MAX_NAME, 'cpio symlink target size', src.name, dataOff);
      target = decodeName(src.read(dataOff, h.filesize, 'cpio symlink target'));
    }
    const row = rows.add(off, h.namesize, h.filesize, dialect, type, target);
    if (dup > 0) rows.renamed.set(row, path);
    entries.push(new CpioEntry(rows, row));
    off = next;
  }
  if (inArchive && !partial) notes.push('the last cpio archive has no TRAILER!!!');
  rows.trim();
  const all = rows.n ? [...rows.regions(), ...regions.list()] : regions.list();
  return { format: 'cpio', source: src, fields, entries, regions: all, notes, ...(partial ? { partial } : {}) };
}

const headerLength = (d: Dialect): number => (d === 'odc' ? 76 : d === 'bin-le' || d === 'bin-be' ? BIN_HEADER : 110);

/** The fields of the member whose header is at `at`, read from the header again. */
function headerFields(src: ByteSource, at: number, dialect: Dialect, dataOff: number): Field[] {
  const hb = Bytes.at(src, at, headerLength(dialect), 'cpio header');
  const h = readHeader(hb, dialect);
  const binary = dialect === 'bin-le' || dialect === 'bin-be';
  const f: Field[] = [];
  const sp = (name: string): Span[] => {
    const a = h.at[name] as [number, number];
    return hb.spans(a[0], a[1]);
  };
  f.push(field('cpio.ino', h.ino, 'inode', sp('ino'), { hint: CPIO_HINTS.ino }));
  f.push(field('cpio.mode', '0' + h.mode.toString(8), 'permissions', sp('mode')));
  f.push(field('cpio.uid', h.uid, 'ownership', sp('uid'), { hint: CPIO_HINTS.owner }));
  f.push(field('cpio.gid', h.gid, 'ownership', sp('gid'), { hint: CPIO_HINTS.owner }));
  f.push(field('cpio.nlink', h.nlink, 'inode', sp('nlink'), { hint: CPIO_HINTS.ino }));
  f.push(field('cpio.mtime', isoFromUnix(h.mtime), 'timestamp', sp('mtime'), { hint: CPIO_HINTS.mtime }));
  f.push(field('cpio.filesize', h.filesize, 'size', sp('filesize'), { derived: true }));
  if (dialect === 'odc' || binary) {
    f.push(field('cpio.dev', `${h.devmajor}:${h.devminor}`, 'inode', sp('dev'), { hint: CPIO_HINTS.dev }));
    f.push(field('cpio.rdev', `${h.rdevmajor}:${h.rdevminor}`, 'content', sp('rdev')));
  } else {
    f.push(field('cpio.devmajor', h.devmajor, 'inode', sp('devmajor'), { hint: CPIO_HINTS.dev }));
    f.push(field('cpio.devminor', h.devminor, 'inode', sp('devminor'), { hint: CPIO_HINTS.dev }));
    f.push(field('cpio.rdevmajor', h.rdevmajor, 'content', sp('rdevmajor')));
    f.push(field('cpio.rdevminor', h.rdevminor, 'content', sp('rdevminor')));
  }
  f.push(field('cpio.namesize', h.namesize, 'size', sp('namesize'), { derived: true }));
  if (dialect === 'crc') {
    f.push(field('cpio.check', h.check, 'checksum', sp('check'), { covers: src.spans(dataOff, h.filesize), derived: true }));
  }
  return f;
}

const NO_EXTENTS: Extent[] = [];

const DIALECTS: Dialect[] = ['newc', 'crc', 'odc', 'bin-le', 'bin-be'];

/**
 * Where each member's header, name, data and padding are, a row a member in typed arrays (18 bytes in an
 * archive under 4 GiB, 22 over: the header's offset, the name and data sizes, the dialect and the type; the
 * paddings follow from them): an initramfs holds tens of thousands of members, a hostile archive millions.
 * The members' entries and the regions of their headers and padding read from here.
 */
class CpioRows extends ArchiveRows<Dialect> {
  private nameRow: Uint32Array = new Uint32Array(16);

  constructor(readonly src: ByteSource) {
    super(DIALECTS, src.size < 2 ** 32);
  }

  add(at: number, namesize: number, size: number, dialect: Dialect, type: EntryType, target: string | undefined): number {
    const i = this.push(at, size, type, dialect, target);
    this.nameRow[i] = namesize;
    return i;
  }

  protected growOwn(m: number): void {
    this.nameRow = grown(this.nameRow, new Uint32Array(m));
  }

  protected readPath(i: number): string {
    const at = this.at(i) + headerLength(this.dialect(i));
    return normalize(decodeName(this.src.read(at, this.nameRow[i]! - 1, 'cpio member name')));
  }

  /** where the name (with its NUL) ends: the name padding runs from there to `data` */
  nameEnd(i: number): number {
    return this.at(i) + headerLength(this.dialect(i)) + this.nameRow[i]!;
  }
  data(i: number): number {
    const d = this.dialect(i);
    return this.nameEnd(i) + padTo(d, headerLength(d) + this.nameRow[i]!);
  }
  dataEnd(i: number): number {
    return this.data(i) + this.size(i);
  }
  /** where the next header starts: the data padding runs from the data's end to there */
  next(i: number): number {
    return this.dataEnd(i) + padTo(this.dialect(i), this.size(i));
  }

  /** the members' headers (with their names), name padding and data padding, as three regions over the rows */
  regions(): Region[] {
    return [
      new RowRegion('cpio header', 'metadata', this, (i) => this.at(i), (i) => this.nameEnd(i)),
      new RowRegion('cpio name padding', 'padding', this, (i) => this.nameEnd(i), (i) => this.data(i)),
      new RowRegion('cpio data padding', 'padding', this, (i) => this.dataEnd(i), (i) => this.next(i)),
    ];
  }
}

/**
 * A member keeps its row: its path, fields, metadata, size and extents are read from the row and the header
 * again when asked (not cached), as the tar and ISO 9660 readers do.
 */
class CpioEntry extends RowEntry<CpioRows> implements Entry {
  get extents(): Extent[] {
    const size = this.size;
    return size > 0 ? [{ offset: this.rows.data(this.order), length: size }] : NO_EXTENTS;
  }

  get fields(): Field[] {
    const r = this.rows;
    return headerFields(r.src, r.at(this.order), r.dialect(this.order), r.data(this.order));
  }

  fieldsTouching(touched: (offset: number, length: number) => boolean): Field[] {
    return touched(this.rows.at(this.order), headerLength(this.rows.dialect(this.order))) ? this.fields : [];
  }

  /** the header with its name and padding, and the padding after the data: the member's own bytes */
  get records(): Span[] {
    const r = this.rows;
    const i = this.order;
    const head = r.src.spans(r.at(i), r.data(i) - r.at(i));
    const dataEnd = r.dataEnd(i);
    const next = r.next(i);
    return next > dataEnd ? [...head, ...r.src.spans(dataEnd, next - dataEnd)] : head;
  }

  get meta(): EntryMeta {
    const r = this.rows;
    const i = this.order;
    const target = r.targets.get(i);
    return new LazyMeta(target, () => {
      const dialect = r.dialect(i);
      const h = readHeader(Bytes.at(r.src, r.at(i), headerLength(dialect), 'cpio header'), dialect);
      const meta: EntryMeta = { mode: h.mode, uid: h.uid, gid: h.gid, nlink: h.nlink, ino: h.ino };
      const mt = isoFromUnix(h.mtime);
      if (mt !== null && mt !== undefined) meta.mtime = mt;
      if (target !== undefined) meta.target = target;
      return meta;
    });
  }
}

export { CPIO_HINTS as cpioHints };
