/**
 * zip archives: yauzl walks the central directory (and checks it); this reader reads every structure again
 * itself and records them with their spans: the end of central directory record (and its zip64 forms), every
 * central directory header, every local file header (a separate copy of most fields) and data descriptor.
 * Members are kept as rows, their fields made from the headers when asked. Stored members point at their
 * data; deflated members get a lazily inflated source; other methods are opaque.
 */
import yauzl from 'yauzl';
import { ReprodiffError, isReprodiffError } from '../../errors.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import type { TempFiles } from '../../io/spill.js';
import { checkTime, entryStop, type Limits } from '../../limits.js';
import type { Container, Entry, EntryMeta, EntryType, Field, Format, Region, Span } from '../../model.js';
import type { Extent } from '../../io/source.js';
import { field } from '../../model.js';
import { RegionList, RowRegion } from '../../util/regions.js';
import { dosDateTime } from '../../util/time.js';
import { ZIP_TIME_HINT, extraFields, type Zip64Values } from './extra.js';
import { InflateSource, SourceReader } from './reader.js';
import { decodeName, rootedUsual } from '../../util/names.js';
import { PathCounter } from '../../util/path-counter.js';
import { LazyMeta } from '../../util/lazy-meta.js';
import { ArchiveRows, grown, RowEntry } from '../../util/rows.js';

export { InflateSource } from './reader.js';

const EOCD_SIG = 0x06054b50;
const Z64_LOCATOR_SIG = 0x07064b50;
const Z64_EOCD_SIG = 0x06064b50;
const CD_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const DD_SIG = 0x08074b50;
const MAX_COMMENT = 0xffff;
const EOCD_SIZE = 22;

const METHODS: Record<number, string> = {
  0: 'stored', 1: 'shrunk', 6: 'imploded', 8: 'deflate', 9: 'deflate64', 12: 'bzip2', 14: 'lzma', 93: 'zstd', 95: 'xz', 98: 'ppmd',
};

const ORDER_HINT = 'sort the file list before zipping (e.g. find . -print0 | LC_ALL=C sort -z | xargs -0 zip -X out.zip)';

/** Which of a header's byte ranges (offsets in the archive) to make fields for; undefined: all. */
type Want = ((offset: number, length: number) => boolean) | undefined;

/**
 * Adds to `f` the field `make` gives for the `len` bytes at `off` of `b`, unless `want` says no to them;
 * gives the field made.
 */
function fieldMaker(b: Bytes, f: Field[], want: Want): (off: number, len: number, make: (spans: Span[]) => Field) => Field | undefined {
  return (off, len, make) => {
    if (want && !want(b.base + off, len)) return undefined;
    const x = make(b.spans(off, len));
    f.push(x);
    return x;
  };
}

/** A member's place in one of the archive's two orders, as a field over the signature of the header it orders. */
function orderField(name: 'zip.cd.order' | 'zip.local.order', value: number, spans: Span[]): Field {
  return field(name, value, 'ordering', spans, { hint: ORDER_HINT });
}

/** Finds the end of central directory record: scanning back from the end, bounded by the longest comment. */
function findEocd(src: ByteSource): number {
  if (src.size < EOCD_SIZE) return -1;
  const span = Math.min(src.size, EOCD_SIZE + MAX_COMMENT);
  const base = src.size - span;
  const tail = src.read(base, span, 'zip end of central directory');
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  for (let i = span - EOCD_SIZE; i >= 0; i--) {
    if (view.getUint32(i, true) !== EOCD_SIG) continue;
    // the comment must end exactly at the end of the file
    if (i + EOCD_SIZE + view.getUint16(i + 20, true) === span) return base + i;
  }
  return -1;
}

export const zipFormat: Format = {
  name: 'zip',
  exclusive: true,
  orderingHint: 'add files in sorted order (`find . | LC_ALL=C sort | zip -X -@ out.zip`)',
  presenceHint:
    'one build writes these extra fields and the other does not: run zip with the same options for both (`zip -X` leaves out the extended timestamp and uid/gid fields)',
  detect(src: ByteSource): number {
    const at = findEocd(src);
    if (at < 0) return 0;
    // an empty archive is just the record; otherwise the central directory sits before it
    return at === 0 || src.read(0, 4, 'zip')[0] === 0x50 ? 80 : 50;
  },
  open(src: ByteSource, ctx): Promise<Container> {
    return new ZipReader(src, ctx.limits, ctx.temp).read();
  },
};

function openYauzl(src: ByteSource): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.fromRandomAccessReader(
      new SourceReader(src),
      src.size,
      { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: false, strictFileNames: false },
      (err, zf) => (err ? reject(err) : resolve(zf)),
    );
  });
}

/** `./a/b/` -> `/a/b`. */
function normalizePath(p: string): string {
  const usual = p.indexOf('\\') < 0 ? rootedUsual(p) : undefined;
  if (usual !== undefined) return usual;
  let s = p.replace(/\\/g, '/');
  for (;;) {
    const t = s.replace(/^\.\/+/, '').replace(/^\/+/, '');
    if (t === s) break;
    s = t;
  }
  s = s.replace(/\/+$/, '');
  return s === '' || s === '.' ? '/' : '/' + s;
}

/** What the listing keeps of a central directory header: its values, no fields. */
interface CdValues {
  b: Bytes;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  uncompressedSize: number;
  localOffset: number;
  name: string;
  madeBy: number;
  external: number;
  nameLength: number;
  next: number;
  /** the extra fields' own fields (none when there is no extra block) */
  extras: Field[];
}

/** A local header checked: its bytes, its extra fields, the data descriptor after the data (0 bytes when none). */
interface LocalPlace {
  b: Bytes;
  extras: Field[];
  /** where the data starts and ends */
  dataStart: number;
  dataEnd: number;
  /** the descriptor's length, whether it starts with its signature, and whether its sizes are 8 bytes wide */
  dd: number;
  ddSig: boolean;
  wide: boolean;
}

const NO_FIELDS: Field[] = [];
/** a local zip64 record holds both sizes (APPNOTE 4.5.3), even when the header's own fields are not 0xffffffff */
const LOCAL_NEED = { uncompressedSize: true, compressedSize: true, localHeaderOffset: false, diskStart: false };

class ZipReader {
  private readonly fields: Field[] = [];
  /** the end records' regions, then (after the members' own) the central directory and unreferenced bytes */
  private readonly regions = new RegionList();
  private readonly after = new RegionList();
  /** the members' local headers and data descriptors */
  private members: Region[] = [];
  private readonly notes: string[] = [];
  private readonly entries: ZipEntry[] = [];
  /** the paths met, while listing (dropped once the listing is done: entries keep the reader) */
  private paths: PathCounter;
  /** the members, a row each */
  readonly rows: ZipRows;

  constructor(
    readonly src: ByteSource,
    private readonly limits: Limits,
    private readonly temp: TempFiles | undefined,
  ) {
    this.rows = new ZipRows(src, this);
    this.paths = this.pathCounter();
  }

  /** a counter of the paths met that keeps rows, not strings (a row's path is read back from its header) */
  private pathCounter(expected?: number): PathCounter {
    return new PathCounter((i) => this.rows.path(i), expected);
  }

  private fail(e: unknown, structure: string, offset?: number): never {
    if (isReprodiffError(e)) throw e;
    throw new ReprodiffError('E_FORMAT', (e as Error).message, { file: this.src.name, structure, offset });
  }

  async read(): Promise<Container> {
    const src = this.src;
    const eocdAt = findEocd(src);
    if (eocdAt < 0) throw new ReprodiffError('E_FORMAT', 'no end of central directory record', { file: src.name, structure: 'zip end of central directory' });
    const { cdStart, cdEnd, count } = this.eocd(eocdAt);
    let partial: string | undefined;
    if (cdEnd > src.size) {
      throw new ReprodiffError('E_TRUNCATED', `central directory at ${cdStart} (${cdEnd - cdStart} bytes) runs past the end of the file`, {
        file: src.name,
        structure: 'zip end of central directory',
        offset: eocdAt,
      });
    }

    // room for the members the record counts, as many as the central directory can hold (46 bytes a header at
    // least) and the limit allows: a record that lies costs no more than its archive's size
    const expected = Math.min(count, Math.floor((cdEnd - cdStart) / 46), this.limits.maxEntries);
    this.rows.reserve(expected);
    this.paths = this.pathCounter(expected);

    let zf: yauzl.ZipFile;
    try {
      zf = await openYauzl(src);
    } catch (e) {
      this.fail(e, 'zip end of central directory', eocdAt);
    }
    let cdPos = cdStart;
    try {
      partial = await this.walk(zf, count, () => cdPos, (next) => (cdPos = next));
      if (cdPos !== cdEnd && !partial) this.notes.push(`the central directory ends at ${cdPos}, its record says ${cdEnd}`);
      this.after.add('zip central directory', 'metadata', src.spans(cdStart, Math.min(cdPos, src.size) - cdStart));
    } finally {
      zf.close();
    }
    this.layout(cdStart);
    this.paths = this.pathCounter();
    this.rows.trim();
    return { format: 'zip', source: src, fields: this.fields, entries: this.entries, regions: [...this.regions.list(), ...this.members, ...this.after.list()], notes: this.notes, ...(partial ? { partial } : {}) };
  }

  /**
   * Reads yauzl's entries one after the other, each member listed as it comes (no promise per member: a
   * million members are a million events, not a million promises); resolves with the limit that stopped the
   * listing, if one did. `pos` and `moved` read and advance where the next central directory header is.
   */
  private walk(zf: yauzl.ZipFile, count: number, pos: () => number, moved: (next: number) => void): Promise<string | undefined> {
    const src = this.src;
    return new Promise((resolve, reject) => {
      let i = 0;
      let offset = pos();
      let structure = 'zip central directory header';
      zf.on('error', (e: Error) => reject(isReprodiffError(e) ? e : new ReprodiffError('E_FORMAT', e.message, { file: src.name, structure, offset })));
      zf.on('end', () => resolve(undefined));
      zf.on('entry', (ye: yauzl.Entry) => {
        try {
          const cdPos = pos();
          checkTime('listing zip entries', src.name, cdPos);
          const stop = entryStop(++i, this.limits, `zip entries (the central directory lists ${count})`, cdPos);
          if (stop) {
            const partial = stop.describe();
            this.notes.push(partial);
            resolve(partial);
            return;
          }
          const cd = this.centralValues(cdPos, this.notes);
          // our own reading and yauzl's must agree on where each header is and what it points at
          if (cd.localOffset !== ye.relativeOffsetOfLocalHeader || cd.nameLength !== ye.fileNameLength) {
            throw new ReprodiffError('E_FORMAT', 'central directory header disagrees with its yauzl reading', { file: src.name, structure: 'zip central directory header', offset: cdPos });
          }
          structure = 'zip local file header';
          offset = cd.localOffset;
          this.member(cd, cdPos);
          moved(cd.next);
          structure = 'zip central directory header';
          offset = cd.next;
          zf.readEntry();
        } catch (e) {
          reject(e);
        }
      });
      zf.readEntry();
    });
  }

  /** EOCD, and the zip64 locator and record when present. */
  private eocd(at: number): { cdStart: number; cdEnd: number; count: number } {
    const src = this.src;
    const b = Bytes.at(src, at, EOCD_SIZE, 'zip end of central directory');
    const f = this.fields;
    const commentLen = b.u16le(20);
    // the signature as a field too: when the record moves (a member compressed to another size), its bytes are
    // the same at another offset, which the comparison calls placement instead of leaving them unexplained
    f.push(field('zip.eocd.signature', b.hex(0, 4), 'content', b.spans(0, 4))); // 0 - signature PK\5\6
    f.push(field('zip.eocd.disk', b.u16le(4), 'layout', b.spans(4, 2))); // 4 - number of this disk
    f.push(field('zip.eocd.cd_disk', b.u16le(6), 'layout', b.spans(6, 2))); // 6 - disk where the central directory starts
    f.push(field('zip.eocd.disk_entries', b.u16le(8), 'size', b.spans(8, 2), { derived: true })); // 8 - entries on this disk
    f.push(field('zip.eocd.entries', b.u16le(10), 'size', b.spans(10, 2), { derived: true })); // 10 - total entries
    f.push(field('zip.eocd.cd_size', b.u32le(12), 'layout', b.spans(12, 4), { derived: true })); // 12 - size of the central directory
    f.push(field('zip.eocd.cd_offset', b.u32le(16), 'layout', b.spans(16, 4), { derived: true })); // 16 - offset of the central directory
    f.push(field('zip.eocd.comment_length', commentLen, 'size', b.spans(20, 2), { derived: true })); // 20 - comment length
    const comment = Bytes.at(src, at + EOCD_SIZE, commentLen, 'zip comment');
    f.push(field('zip.eocd.comment', comment.utf8(0, commentLen), 'content', comment.spans(0, commentLen)));
    this.regions.add('zip end of central directory', 'metadata', src.spans(at, EOCD_SIZE + commentLen));
    let count = b.u16le(10);
    let cdSize = b.u32le(12);
    let cdStart = b.u32le(16);
    if (b.u16le(4) !== 0 || b.u16le(6) !== 0) throw b.error(4, 'multi-disk archives are not supported', 'E_UNSUPPORTED');
    if (at >= 20 && Bytes.at(src, at - 20, 4, 'zip64 locator').u32le(0) === Z64_LOCATOR_SIG) {
      const l = Bytes.at(src, at - 20, 20, 'zip64 end of central directory locator');
      const recAt = l.u64le(8); // 8 - offset of the zip64 EOCD record
      f.push(field('zip.zip64_locator.disk', l.u32le(4), 'layout', l.spans(4, 4)));
      f.push(field('zip.zip64_locator.offset', recAt, 'layout', l.spans(8, 8), { derived: true }));
      f.push(field('zip.zip64_locator.disks', l.u32le(16), 'layout', l.spans(16, 4)));
      this.regions.add('zip64 end of central directory locator', 'metadata', l.spans(0, 20));
      if (recAt + 56 > at - 20) throw l.error(8, `zip64 record offset ${recAt} is not before the locator`);
      const r = Bytes.at(src, recAt, 56, 'zip64 end of central directory record');
      if (r.u32le(0) !== Z64_EOCD_SIG) throw r.error(0, 'zip64 end of central directory record has a bad signature');
      const recSize = r.u64le(4); // 4 - size of the rest of the record
      if (recSize < 44 || recAt + 12 + recSize > at - 20) throw r.error(4, `zip64 record size ${recSize} does not fit`);
      f.push(field('zip.zip64_eocd.size', recSize, 'size', r.spans(4, 8), { derived: true }));
      f.push(field('zip.zip64_eocd.version_made_by', r.u16le(12), 'layout', r.spans(12, 2)));
      f.push(field('zip.zip64_eocd.version_needed', r.u16le(14), 'layout', r.spans(14, 2)));
      f.push(field('zip.zip64_eocd.disk', r.u32le(16), 'layout', r.spans(16, 4)));
      f.push(field('zip.zip64_eocd.cd_disk', r.u32le(20), 'layout', r.spans(20, 4)));
      f.push(field('zip.zip64_eocd.disk_entries', r.u64le(24), 'size', r.spans(24, 8), { derived: true }));
      f.push(field('zip.zip64_eocd.entries', r.u64le(32), 'size', r.spans(32, 8), { derived: true }));
      f.push(field('zip.zip64_eocd.cd_size', r.u64le(40), 'layout', r.spans(40, 8), { derived: true }));
      f.push(field('zip.zip64_eocd.cd_offset', r.u64le(48), 'layout', r.spans(48, 8), { derived: true }));
      this.regions.add('zip64 end of central directory record', 'metadata', src.spans(recAt, 12 + recSize));
      count = r.u64le(32);
      cdSize = r.u64le(40);
      cdStart = r.u64le(48);
    }
    return { cdStart, cdEnd: cdStart + cdSize, count };
  }

  /**
   * One central directory header at `at`, checked: the values the listing needs, no fields; `notes` takes
   * what is odd about its extra fields.
   */
  private centralValues(at: number, notes: string[]): CdValues {
    const src = this.src;
    const h = Bytes.at(src, at, 46, 'zip central directory header');
    if (h.u32le(0) !== CD_SIG) throw h.error(0, 'bad central directory header signature');
    const nameLen = h.u16le(28); // 28 - file name length
    const extraLen = h.u16le(30); // 30 - extra field length
    const commentLen = h.u16le(32); // 32 - file comment length
    const b = Bytes.at(src, at, 46 + nameLen + extraLen + commentLen, 'zip central directory header');
    const csize = b.u32le(20); // 20 - compressed size
    const usize = b.u32le(24); // 24 - uncompressed size
    const disk = b.u16le(34); // 34 - disk number start
    const lho = b.u32le(42); // 42 - relative offset of local header
    const z64: Zip64Values = {};
    const need = { uncompressedSize: usize === 0xffffffff, compressedSize: csize === 0xffffffff, localHeaderOffset: lho === 0xffffffff, diskStart: disk === 0xffff };
    const extras = extraLen > 0 ? extraFields(b, 46 + nameLen, extraLen, 'zip.cd.', need, z64, notes) : NO_FIELDS;
    return {
      b,
      flags: b.u16le(8), // 8 - general purpose bit flag
      method: b.u16le(10), // 10 - compression method
      crc: b.u32le(16), // 16 - crc-32
      compressedSize: z64.compressedSize ?? csize,
      uncompressedSize: z64.uncompressedSize ?? usize,
      localOffset: z64.localHeaderOffset ?? lho,
      name: b.utf8(46, nameLen),
      madeBy: b.u16le(4), // 4 - version made by
      external: b.u32le(38), // 38 - external file attributes
      nameLength: nameLen,
      next: at + b.length,
      extras,
    };
  }

  /**
   * One central directory header's fields, named `zip.cd.*`, made from its values `cd`; with `want`, only
   * those over bytes it says yes to (and the order, which no byte holds).
   */
  private centralFields(cd: CdValues, index: number, want?: Want): { f: Field[]; crcField: Field | undefined } {
    const b = cd.b;
    const nameLen = cd.nameLength;
    const extraLen = b.u16le(30);
    const commentLen = b.u16le(32);
    const external = cd.external;
    const f: Field[] = [];
    const put = fieldMaker(b, f, want);
    put(4, 2, (x) => field('zip.cd.version_made_by', cd.madeBy, 'layout', x));
    put(6, 2, (x) => field('zip.cd.version_needed', b.u16le(6), 'layout', x));
    put(8, 2, (x) => field('zip.cd.flags', cd.flags, 'layout', x));
    put(10, 2, (x) => field('zip.cd.method', METHODS[cd.method] ?? cd.method, 'layout', x));
    put(12, 4, (x) => field('zip.cd.mtime', dosDateTime(b.u16le(14), b.u16le(12)), 'timestamp', x, { hint: ZIP_TIME_HINT }));
    const crcField = put(16, 4, (x) => field('zip.cd.crc32', cd.crc.toString(16).padStart(8, '0'), 'checksum', x));
    put(20, 4, (x) => field('zip.cd.compressed_size', b.u32le(20), 'size', x, { derived: true }));
    put(24, 4, (x) => field('zip.cd.uncompressed_size', b.u32le(24), 'size', x, { derived: true }));
    put(28, 2, (x) => field('zip.cd.name_length', nameLen, 'size', x, { derived: true }));
    put(30, 2, (x) => field('zip.cd.extra_length', extraLen, 'size', x, { derived: true }));
    put(32, 2, (x) => field('zip.cd.comment_length', commentLen, 'size', x, { derived: true }));
    put(34, 2, (x) => field('zip.cd.disk_start', b.u16le(34), 'layout', x));
    put(36, 2, (x) => field('zip.cd.internal_attr', b.u16le(36), 'content', x));
    put(38, 2, (x) => field('zip.cd.dos_attr', external & 0xffff, 'permissions', x));
    put(40, 2, (x) => field('zip.cd.unix_mode', external >>> 16, 'permissions', x));
    put(42, 4, (x) => field('zip.cd.local_header_offset', b.u32le(42), 'layout', x, { derived: true }));
    put(46, nameLen, (x) => field('zip.cd.name', cd.name, 'content', x));
    f.push(orderField('zip.cd.order', index, b.spans(0, 4)));
    // the extra fields were made with the values: all of them, touched or not
    f.push(...cd.extras);
    const c = 46 + nameLen + extraLen;
    put(c, commentLen, (x) => field('zip.cd.comment', b.utf8(c, commentLen), 'content', x));
    return { f, crcField };
  }

  /**
   * The local header of the member whose central directory header gave `cd`, and its data descriptor,
   * checked: where they are; `notes` takes what is odd about them.
   */
  private localPlace(cd: CdValues, notes: string[]): LocalPlace {
    const src = this.src;
    const at = cd.localOffset;
    const h = Bytes.at(src, at, 30, 'zip local file header');
    if (h.u32le(0) !== LOCAL_SIG) throw h.error(0, 'bad local file header signature');
    const nameLen = h.u16le(26); // 26 - file name length
    const extraLen = h.u16le(28); // 28 - extra field length
    const b = Bytes.at(src, at, 30 + nameLen + extraLen, 'zip local file header');
    const dataStart = at + b.length;
    const z64: Zip64Values = {};
    const extras = extraLen > 0 ? extraFields(b, 30 + nameLen, extraLen, 'zip.local.', LOCAL_NEED, z64, notes) : NO_FIELDS;
    const method = b.u16le(8); // 8 - compression method
    if (method !== cd.method) notes.push(`${cd.name}: the local header says method ${method}, the central directory ${cd.method}`);
    const dataEnd = dataStart + cd.compressedSize;
    if (dataEnd > src.size) {
      throw new ReprodiffError('E_TRUNCATED', `member data of ${cd.compressedSize} bytes runs past the end of the file`, { file: src.name, structure: 'zip member data', offset: dataStart });
    }
    const place = { b, extras, dataStart, dataEnd, dd: 0, ddSig: false, wide: false };
    if (!(b.u16le(6) & 0x8)) return place; // 6 - general purpose bit flag
    // data descriptor: optional signature, crc-32, sizes (8 bytes each for zip64 members)
    place.wide = z64.compressedSize !== undefined || cd.compressedSize >= 0xffffffff;
    place.ddSig = dataEnd + 4 <= src.size && Bytes.at(src, dataEnd, 4, 'zip data descriptor').u32le(0) === DD_SIG;
    place.dd = (place.ddSig ? 4 : 0) + 4 + (place.wide ? 16 : 8);
    Bytes.at(src, dataEnd, place.dd, 'zip data descriptor');
    return place;
  }

  /**
   * The fields of a member's local header and data descriptor, `zip.local.*` and `zip.dd.*`, added to `f`;
   * with `want`, only those over bytes it says yes to.
   */
  private localFields(cd: CdValues, p: LocalPlace, f: Field[], want?: Want): { localCrc: Field | undefined; ddCrc: Field | undefined } {
    const b = p.b;
    const nameLen = b.u16le(26);
    const put = fieldMaker(b, f, want);
    put(0, 4, (x) => field('zip.local.offset', cd.localOffset, 'layout', x, { derived: true }));
    put(4, 2, (x) => field('zip.local.version_needed', b.u16le(4), 'layout', x));
    put(6, 2, (x) => field('zip.local.flags', b.u16le(6), 'layout', x));
    const method = b.u16le(8);
    put(8, 2, (x) => field('zip.local.method', METHODS[method] ?? method, 'layout', x));
    put(10, 4, (x) => field('zip.local.mtime', dosDateTime(b.u16le(12), b.u16le(10)), 'timestamp', x, { hint: ZIP_TIME_HINT }));
    const localCrc = put(14, 4, (x) => field('zip.local.crc32', b.u32le(14).toString(16).padStart(8, '0'), 'checksum', x));
    put(18, 4, (x) => field('zip.local.compressed_size', b.u32le(18), 'size', x, { derived: true }));
    put(22, 4, (x) => field('zip.local.uncompressed_size', b.u32le(22), 'size', x, { derived: true }));
    put(26, 2, (x) => field('zip.local.name_length', nameLen, 'size', x, { derived: true }));
    put(28, 2, (x) => field('zip.local.extra_length', b.u16le(28), 'size', x, { derived: true }));
    put(30, nameLen, (x) => field('zip.local.name', b.utf8(30, nameLen), 'content', x));
    f.push(...p.extras);
    if (p.dd === 0) return { localCrc, ddCrc: undefined };
    const d = Bytes.at(this.src, p.dataEnd, p.dd, 'zip data descriptor');
    const o = p.ddSig ? 4 : 0;
    const w = p.wide;
    const dput = fieldMaker(d, f, want);
    const ddCrc = dput(o, 4, (x) => field('zip.dd.crc32', d.u32le(o).toString(16).padStart(8, '0'), 'checksum', x));
    dput(o + 4, w ? 8 : 4, (x) => field('zip.dd.compressed_size', w ? d.u64le(o + 4) : d.u32le(o + 4), 'size', x, { derived: true }));
    dput(w ? o + 12 : o + 8, w ? 8 : 4, (x) => field('zip.dd.uncompressed_size', w ? d.u64le(o + 12) : d.u32le(o + 8), 'size', x, { derived: true }));
    return { localCrc, ddCrc };
  }

  /**
   * Row `i`'s headers parsed again (what is odd about them was noted while listing, and is not noted twice):
   * an archive of a million members keeps no field between the listing and the comparison.
   */
  private reread(i: number): { cd: CdValues; place: LocalPlace } {
    const quiet: string[] = [];
    const cd = this.centralValues(this.rows.at(i), quiet);
    return { cd, place: this.localPlace(cd, quiet) };
  }

  /**
   * Row `i`'s fields, made again from its headers (with `want`, only those over bytes it says yes to); the
   * CRC fields cover what `covers` gives.
   */
  memberFields(i: number, covers: () => Span[], want?: Want): Field[] {
    const { cd, place } = this.reread(i);
    const { f, crcField } = this.centralFields(cd, i, want);
    const { localCrc, ddCrc } = this.localFields(cd, place, f, want);
    // the CRC is over the uncompressed data
    if (crcField || localCrc || ddCrc) {
      const over = covers();
      for (const x of [crcField, localCrc, ddCrc]) if (x) x.covers = over;
    }
    f.push(orderField('zip.local.order', this.rows.rank(i), place.b.spans(0, 4)));
    return f;
  }

  /** Row `i`'s two order fields alone: its place in the central directory and among the local headers. */
  memberOrder(i: number): Field[] {
    const r = this.rows;
    return [orderField('zip.cd.order', i, this.src.spans(r.at(i), 4)), orderField('zip.local.order', r.rank(i), this.src.spans(r.local(i), 4))];
  }

  /** The path of the member whose central directory header is at `cdAt`, read from its name again. */
  memberPath(cdAt: number): string {
    const h = Bytes.at(this.src, cdAt, 46, 'zip central directory header');
    return normalizePath(decodeName(this.src.read(cdAt + 46, h.u16le(28), 'zip central directory header')));
  }

  /** Row `i`'s own bytes: its central directory header, local header and data descriptor. */
  memberRecords(i: number): Span[] {
    const r = this.rows;
    const src = this.src;
    const h = Bytes.at(src, r.at(i), 46, 'zip central directory header');
    const out = [...src.spans(r.at(i), 46 + h.u16le(28) + h.u16le(30) + h.u16le(32)), ...src.spans(r.local(i), r.data(i) - r.local(i))];
    const dd = r.descriptor(i);
    if (dd > 0) out.push(...src.spans(r.data(i) + r.csize(i), dd));
    return out;
  }

  /** Row `i`'s metadata, read again from its headers. */
  memberMeta(i: number, target: string | undefined): EntryMeta {
    const { cd, place } = this.reread(i);
    const meta: EntryMeta = {};
    const host = cd.madeBy >> 8;
    const mode = cd.external >>> 16;
    if (host === 3 && mode !== 0) meta.mode = mode & 0o7777;
    const mt = cd.extras.find((x) => x.name === 'zip.cd.ut.mtime')?.value ?? dosDateTime(cd.b.u16le(14), cd.b.u16le(12));
    if (typeof mt === 'string') meta.mtime = mt;
    const uid = place.extras.find((x) => x.name === 'zip.local.ux.uid')?.value;
    const gid = place.extras.find((x) => x.name === 'zip.local.ux.gid')?.value;
    if (typeof uid === 'number') meta.uid = uid;
    if (typeof gid === 'number') meta.gid = gid;
    if (target !== undefined) meta.target = target;
    return meta;
  }

  /** Row `i`'s content, a deflated member, inflated when read. */
  inflated(i: number): InflateSource {
    const r = this.rows;
    const src = this.src;
    return new InflateSource(`${src.name}//${r.path(i).slice(1)}`, {
      parent: src,
      offset: r.data(i),
      compressedSize: r.csize(i),
      size: r.size(i),
      maxOutput: this.limits.maxDecodedBytes,
      streamId: `${src.name}#zip:${i}`,
      inMemory: this.limits.memoryDecodedBytes,
      ...(this.temp ? { temp: this.temp } : {}),
    });
  }

  private member(cd: CdValues, cdAt: number): void {
    const src = this.src;
    const place = this.localPlace(cd, this.notes);
    const dataStart = place.dataStart;
    const b = place.b;

    // entry type: a trailing slash, the Unix mode of Unix-made entries, or the MS-DOS directory attribute
    const host = cd.madeBy >> 8;
    const mode = cd.external >>> 16;
    let type: EntryType = 'file';
    if (cd.name.endsWith('/') || (host === 0 && cd.external & 0x10)) type = 'dir';
    else if (host === 3 && (mode & 0o170000) === 0o120000) type = 'symlink';
    else if (host === 3 && (mode & 0o170000) === 0o040000) type = 'dir';
    let path = normalizePath(cd.name);
    const seen = this.paths.count(path, this.rows.n);
    if (seen > 0) {
      this.notes.push(`the path ${path} occurs ${seen + 1} times; later copies are listed as ${path}~N`);
      path = `${path}~${seen + 1}`;
    }

    // content
    let storage: Storage = 'none';
    let opaque: string | undefined;
    if (cd.flags & 0x1) opaque = 'encrypted member';
    else if (cd.method === 0) {
      if (cd.compressedSize !== cd.uncompressedSize) throw b.error(18, `stored member has compressed size ${cd.compressedSize} but uncompressed size ${cd.uncompressedSize}`);
      if (cd.compressedSize > 0 && type !== 'dir') storage = 'stored';
    } else if (cd.method === 8) {
      if (cd.uncompressedSize > 0 && type !== 'dir') storage = 'deflate';
    } else {
      opaque = `compression method ${METHODS[cd.method] ?? cd.method} is not decoded`;
    }
    if (opaque !== undefined) storage = 'opaque';
    const rows = this.rows;
    const i = rows.add(cdAt, cd.localOffset, dataStart, cd.compressedSize, place.dd, type === 'dir' ? 0 : cd.uncompressedSize, type, storage);
    if (seen > 0) rows.renamed.set(i, path);
    if (opaque !== undefined) rows.opaque.set(i, opaque);
    const entry = new ZipEntry(rows, i);
    if (type === 'symlink') {
      // Info-ZIP stores a symlink's target as the member's content; it stays the entry's content as well
      const ext = entry.extents[0];
      if (ext && ext.length <= 4096) rows.targets.set(i, decodeName((entry.contentSource ?? src).read(ext.offset, ext.length, 'zip symlink target')));
    }
    this.entries.push(entry);
  }

  /** The order of local headers in the file body, gaps and overlaps between members; the members' regions. */
  private layout(cdStart: number): void {
    const r = this.rows;
    this.members = this.memberRegions();
    const sorted = Array.from({ length: r.n }, (_, i) => i).sort((x, y) => r.local(x) - r.local(y));
    sorted.forEach((m, i) => r.setRank(m, i));
    let pos = 0;
    for (const m of sorted) {
      const start = r.local(m);
      const end = r.data(m) + r.csize(m) + r.descriptor(m);
      if (start > pos) {
        this.notes.push(`${start - pos} bytes at ${pos} are not part of any member${pos === 0 ? ' (a prefix such as a self-extractor stub)' : ''}`);
        this.after.add('zip unreferenced bytes', 'unused', this.src.spans(pos, start - pos));
      } else if (start < pos) {
        this.notes.push(`member ${r.path(m)} overlaps the member before it (at ${start}, before ${pos}): a possible zip bomb`);
      }
      pos = Math.max(pos, end);
    }
    if (cdStart > pos) {
      this.notes.push(`${cdStart - pos} bytes at ${pos} before the central directory are not part of any member`);
      this.after.add('zip unreferenced bytes', 'unused', this.src.spans(pos, cdStart - pos));
    } else if (cdStart < pos) {
      this.notes.push('member data overlaps the central directory');
    }
  }

  /**
   * The regions of the members' local headers and data descriptors: searched in the rows when the members lie
   * in the file in their central directory's order, one after the other (the usual case: no span is kept),
   * else spans of their own.
   */
  private memberRegions(): Region[] {
    const r = this.rows;
    const src = this.src;
    const dataEnd = (i: number): number => r.data(i) + r.csize(i);
    let inOrder = true;
    let descriptors = false;
    for (let i = 0; i < r.n; i++) {
      if (i > 0 && r.local(i) < dataEnd(i - 1) + r.descriptor(i - 1)) inOrder = false;
      if (r.descriptor(i) > 0) descriptors = true;
    }
    if (r.n === 0) return [];
    if (inOrder) {
      const byLocal = { n: r.n, src, at: (i: number) => r.local(i) };
      const out: Region[] = [new RowRegion('zip local file header', 'metadata', byLocal, (i) => r.local(i), (i) => r.data(i))];
      if (descriptors) out.push(new RowRegion('zip data descriptor', 'metadata', byLocal, dataEnd, (i) => dataEnd(i) + r.descriptor(i)));
      return out;
    }
    const list = new RegionList();
    for (let i = 0; i < r.n; i++) {
      list.add('zip local file header', 'metadata', src.spans(r.local(i), r.data(i) - r.local(i)));
      if (r.descriptor(i) > 0) list.add('zip data descriptor', 'metadata', src.spans(dataEnd(i), r.descriptor(i)));
    }
    return list.list();
  }
}

/** How a member's content is kept: none (a directory, an empty file), stored as is, deflated, or not readable (`opaque` says why). */
type Storage = 'none' | 'stored' | 'deflate' | 'opaque';
const STORAGES: readonly Storage[] = ['none', 'stored', 'deflate', 'opaque'];

/** deflated members' sources kept at once (each keeps its digest once hashed); past this many the oldest is let go */
const SOURCES_KEPT = 4096;

/**
 * The members, a row each in typed arrays (31 bytes in an archive under 4 GiB, 43 over: where the central
 * directory header and data are, the local header's length, the data's stored size, the descriptor's length,
 * the content's size, type, storage and the member's place among the local headers): a zip of a million members keeps no object but its
 * entries. The shared rows' "dialect" is how the content is stored.
 */
class ZipRows extends ArchiveRows<Storage> {
  private dataRow: Float64Array | Uint32Array;
  private csizeRow: Float64Array | Uint32Array;
  /** the local header's length (the data starts right after it) */
  private localRow = new Uint32Array(16);
  private ddRow = new Uint8Array(16);
  private rankRow = new Uint32Array(16);
  /** why a member's content cannot be read, by row */
  readonly opaque = new Map<number, string>();
  /** deflated members' sources made so far, the most recently asked for last */
  private readonly sources = new Map<number, InflateSource>();

  constructor(
    readonly src: ByteSource,
    readonly reader: ZipReader,
  ) {
    super(STORAGES, src.size < 2 ** 32);
    this.dataRow = this.offsets(16);
    this.csizeRow = this.offsets(16);
  }

  add(cdAt: number, local: number, data: number, csize: number, dd: number, size: number, type: EntryType, storage: Storage): number {
    const i = this.push(cdAt, size, type, storage, undefined);
    this.dataRow[i] = data;
    this.csizeRow[i] = csize;
    this.localRow[i] = data - local;
    this.ddRow[i] = dd;
    return i;
  }

  protected growOwn(m: number): void {
    this.dataRow = grown(this.dataRow, this.offsets(m));
    this.csizeRow = grown(this.csizeRow, this.offsets(m));
    this.localRow = grown(this.localRow, new Uint32Array(m));
    this.ddRow = grown(this.ddRow, new Uint8Array(m));
    this.rankRow = grown(this.rankRow, new Uint32Array(m));
  }

  protected readPath(i: number): string {
    return this.reader.memberPath(this.at(i));
  }

  /** where the data starts */
  data(i: number): number {
    return this.dataRow[i]!;
  }
  /** the data's stored (compressed) size */
  csize(i: number): number {
    return this.csizeRow[i]!;
  }
  /** where the local header starts */
  local(i: number): number {
    return this.dataRow[i]! - this.localRow[i]!;
  }
  /** the data descriptor's length (0: none) */
  descriptor(i: number): number {
    return this.ddRow[i]!;
  }
  /** the member's place among the local headers in file order */
  rank(i: number): number {
    return this.rankRow[i]!;
  }
  setRank(i: number, rank: number): void {
    this.rankRow[i] = rank;
  }

  /** A deflated member's content: the same source while it is among the last SOURCES_KEPT asked for. */
  source(i: number): InflateSource | undefined {
    if (this.dialect(i) !== 'deflate') return undefined;
    let s = this.sources.get(i);
    if (s) this.sources.delete(i);
    else s = this.reader.inflated(i);
    this.sources.set(i, s);
    if (this.sources.size > SOURCES_KEPT) this.sources.delete(this.sources.keys().next().value as number);
    return s;
  }
}

/**
 * A zip member keeps its row: its path, fields, metadata, extents and content are read from the row and its
 * headers again when asked, as the cpio and tar readers do.
 */
class ZipEntry extends RowEntry<ZipRows> implements Entry {
  get opaque(): string | undefined {
    return this.rows.opaque.get(this.order);
  }
  get contentSource(): InflateSource | undefined {
    return this.rows.source(this.order);
  }

  /** made when asked: a million members keep no extent objects */
  get extents(): Extent[] {
    const r = this.rows;
    const i = this.order;
    const storage = r.dialect(i);
    if (storage === 'stored') return [{ offset: r.data(i), length: r.csize(i) }];
    return storage === 'deflate' ? [{ offset: 0, length: r.size(i) }] : NO_EXTENTS;
  }

  /** the central directory header, local header and data descriptor: the member's own bytes */
  get records(): Span[] {
    return this.rows.reader.memberRecords(this.order);
  }

  /** its place among the local headers in file order; the fields of both its places */
  get placeRank(): number {
    return this.rows.rank(this.order);
  }
  placeFields(): Field[] {
    return this.rows.reader.memberOrder(this.order);
  }

  /** what the member's CRC-32 is over: its data, decoded */
  private get covers(): Span[] {
    const cs = this.contentSource;
    const r = this.rows;
    return cs ? cs.spans(0, cs.size) : r.src.spans(r.data(this.order), r.csize(this.order));
  }

  get meta(): EntryMeta {
    const target = this.rows.targets.get(this.order);
    return new LazyMeta(target, () => this.rows.reader.memberMeta(this.order, target));
  }

  get fields(): Field[] {
    return this.readFields();
  }

  readFields(): Field[] {
    return this.rows.reader.memberFields(this.order, () => this.covers);
  }

  /** only the fields over differing bytes (and the order): what the comparer asks for when the records stay in place */
  fieldsTouching(touched: (offset: number, length: number) => boolean): Field[] {
    return this.rows.reader.memberFields(this.order, () => this.covers, touched);
  }
}

const NO_EXTENTS: Extent[] = [];
