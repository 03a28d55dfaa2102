/**
 * zip archives: yauzl walks the central directory (and checks it); this reader records the raw structures with
 * their spans: the end of central directory record (and its zip64 forms), every central directory header, every
 * local file header (a separate copy of most fields) and data descriptor. Stored members point at their data;
 * deflated members get a lazily inflated source; other methods are opaque.
 */
import yauzl from 'yauzl';
import { ReprodiffError, isReprodiffError } from '../../errors.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import type { TempFiles } from '../../io/spill.js';
import { checkTime, entryStop, type Limits } from '../../limits.js';
import type { Container, Entry, EntryMeta, EntryType, Field, Format, Span } from '../../model.js';
import type { Extent } from '../../io/source.js';
import { field } from '../../model.js';
import { RegionList } from '../../util/regions.js';
import { dosDateTime } from '../../util/time.js';
import { ZIP_TIME_HINT, extraFields, type Zip64Values } from './extra.js';
import { InflateSource, SourceReader } from './reader.js';
import { decodeName } from '../../util/names.js';
import { PathCounter } from '../../util/path-counter.js';
import { LazyMeta } from '../../util/lazy-meta.js';
import { PairRows } from '../../util/rows.js';

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

function nextEntry(zf: yauzl.ZipFile): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    const onEntry = (e: yauzl.Entry): void => {
      done();
      resolve(e);
    };
    const onEnd = (): void => {
      done();
      resolve(null);
    };
    const onError = (e: Error): void => {
      done();
      reject(e);
    };
    const done = (): void => {
      zf.off('entry', onEntry);
      zf.off('end', onEnd);
      zf.off('error', onError);
    };
    zf.on('entry', onEntry);
    zf.on('end', onEnd);
    zf.on('error', onError);
    zf.readEntry();
  });
}

function localHeaderOf(zf: yauzl.ZipFile, e: yauzl.Entry): Promise<{ fileDataStart: number }> {
  return new Promise((resolve, reject) => {
    zf.readLocalFileHeader(e, { minimal: true }, (err, h) => (err ? reject(err) : resolve(h)));
  });
}

/** `./a/b/` -> `/a/b`. */
function normalizePath(p: string): string {
  let s = p.replace(/\\/g, '/');
  for (;;) {
    const t = s.replace(/^\.\/+/, '').replace(/^\/+/, '');
    if (t === s) break;
    s = t;
  }
  s = s.replace(/\/+$/, '');
  return s === '' || s === '.' ? '/' : '/' + s;
}

interface CdInfo {
  fields: Field[];
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
  crcField: Field;
}

class ZipReader {
  private readonly fields: Field[] = [];
  private readonly regions = new RegionList();
  private readonly notes: string[] = [];
  private readonly entries: ZipEntry[] = [];
  /** the paths met, while listing (dropped once the listing is done: entries keep the reader) */
  private paths = new PathCounter();
  /** where each member's local header, data and descriptor start and end, a row a member */
  private readonly ranges = new PairRows();

  constructor(
    readonly src: ByteSource,
    private readonly limits: Limits,
    private readonly temp: TempFiles | undefined,
  ) {}

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

    let zf: yauzl.ZipFile;
    try {
      zf = await openYauzl(src);
    } catch (e) {
      this.fail(e, 'zip end of central directory', eocdAt);
    }
    try {
      let cdPos = cdStart;
      for (let i = 0; ; i++) {
        let ye: yauzl.Entry | null;
        try {
          ye = await nextEntry(zf);
        } catch (e) {
          this.fail(e, 'zip central directory header', cdPos);
        }
        if (ye === null) break;
        checkTime('listing zip entries', src.name, cdPos);
        const stop = entryStop(i + 1, this.limits, `zip entries (the central directory lists ${count})`, cdPos);
        if (stop) {
          partial = stop.describe();
          this.notes.push(partial);
          break;
        }
        const cd = this.centralHeader(cdPos, i);
        // our own reading and yauzl's must agree on where each header is and what it points at
        if (cd.localOffset !== ye.relativeOffsetOfLocalHeader || cd.nameLength !== ye.fileNameLength) {
          throw new ReprodiffError('E_FORMAT', 'central directory header disagrees with its yauzl reading', {
            file: src.name,
            structure: 'zip central directory header',
            offset: cdPos,
          });
        }
        let dataStart: number;
        try {
          dataStart = (await localHeaderOf(zf, ye)).fileDataStart;
        } catch (e) {
          this.fail(e, 'zip local file header', cd.localOffset);
        }
        await this.member(cd, cdPos, i, dataStart);
        cdPos = cd.next;
      }
      if (cdPos !== cdEnd && !partial) this.notes.push(`the central directory ends at ${cdPos}, its record says ${cdEnd}`);
      this.regions.add('zip central directory', 'metadata', src.spans(cdStart, Math.min(cdPos, src.size) - cdStart));
    } finally {
      zf.close();
    }
    this.layout(cdStart);
    this.paths = new PathCounter();
    return { format: 'zip', source: src, fields: this.fields, entries: this.entries, regions: this.regions.list(), notes: this.notes, ...(partial ? { partial } : {}) };
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

  /** One central directory header at `at`; fields named `zip.cd.*`. */
  private centralHeader(at: number, index: number, notes: string[] = this.notes): CdInfo {
    const src = this.src;
    const h = Bytes.at(src, at, 46, 'zip central directory header');
    if (h.u32le(0) !== CD_SIG) throw h.error(0, 'bad central directory header signature');
    const nameLen = h.u16le(28); // 28 - file name length
    const extraLen = h.u16le(30); // 30 - extra field length
    const commentLen = h.u16le(32); // 32 - file comment length
    const b = Bytes.at(src, at, 46 + nameLen + extraLen + commentLen, 'zip central directory header');
    const madeBy = b.u16le(4); // 4 - version made by
    const flags = b.u16le(8); // 8 - general purpose bit flag
    const method = b.u16le(10); // 10 - compression method
    const time = b.u16le(12); // 12 - last mod file time
    const date = b.u16le(14); // 14 - last mod file date
    const crc = b.u32le(16); // 16 - crc-32
    const csize = b.u32le(20); // 20 - compressed size
    const usize = b.u32le(24); // 24 - uncompressed size
    const disk = b.u16le(34); // 34 - disk number start
    const internal = b.u16le(36); // 36 - internal file attributes
    const external = b.u32le(38); // 38 - external file attributes
    const lho = b.u32le(42); // 42 - relative offset of local header
    const name = b.utf8(46, nameLen);
    const f: Field[] = [];
    f.push(field('zip.cd.version_made_by', madeBy, 'layout', b.spans(4, 2)));
    f.push(field('zip.cd.version_needed', b.u16le(6), 'layout', b.spans(6, 2)));
    f.push(field('zip.cd.flags', flags, 'layout', b.spans(8, 2)));
    f.push(field('zip.cd.method', METHODS[method] ?? method, 'layout', b.spans(10, 2)));
    f.push(field('zip.cd.mtime', dosDateTime(date, time), 'timestamp', b.spans(12, 4), { hint: ZIP_TIME_HINT }));
    const crcField = field('zip.cd.crc32', crc.toString(16).padStart(8, '0'), 'checksum', b.spans(16, 4));
    f.push(crcField);
    f.push(field('zip.cd.compressed_size', csize, 'size', b.spans(20, 4), { derived: true }));
    f.push(field('zip.cd.uncompressed_size', usize, 'size', b.spans(24, 4), { derived: true }));
    f.push(field('zip.cd.name_length', nameLen, 'size', b.spans(28, 2), { derived: true }));
    f.push(field('zip.cd.extra_length', extraLen, 'size', b.spans(30, 2), { derived: true }));
    f.push(field('zip.cd.comment_length', commentLen, 'size', b.spans(32, 2), { derived: true }));
    f.push(field('zip.cd.disk_start', disk, 'layout', b.spans(34, 2)));
    f.push(field('zip.cd.internal_attr', internal, 'content', b.spans(36, 2)));
    f.push(field('zip.cd.dos_attr', external & 0xffff, 'permissions', b.spans(38, 2)));
    f.push(field('zip.cd.unix_mode', external >>> 16, 'permissions', b.spans(40, 2)));
    f.push(field('zip.cd.local_header_offset', lho, 'layout', b.spans(42, 4), { derived: true }));
    f.push(field('zip.cd.name', name, 'content', b.spans(46, nameLen)));
    f.push(field('zip.cd.order', index, 'ordering', b.spans(0, 4), { hint: ORDER_HINT }));
    const z64: Zip64Values = {};
    const need = { uncompressedSize: usize === 0xffffffff, compressedSize: csize === 0xffffffff, localHeaderOffset: lho === 0xffffffff, diskStart: disk === 0xffff };
    f.push(...extraFields(b, 46 + nameLen, extraLen, 'zip.cd.', need, z64, notes));
    f.push(field('zip.cd.comment', b.utf8(46 + nameLen + extraLen, commentLen), 'content', b.spans(46 + nameLen + extraLen, commentLen)));
    return {
      fields: f,
      flags,
      method,
      crc,
      compressedSize: z64.compressedSize ?? csize,
      uncompressedSize: z64.uncompressedSize ?? usize,
      localOffset: z64.localHeaderOffset ?? lho,
      name,
      madeBy,
      external,
      nameLength: nameLen,
      next: at + b.length,
      crcField,
    };
  }

  /**
   * The member's local header (and data descriptor) after its central directory header `cd`: every field of
   * the member, checked; `notes` takes what is odd about them.
   */
  private localPart(cd: CdInfo, dataStart: number, notes: string[]): { f: Field[]; localCrc: Field; ddCrc: Field | undefined; local: Bytes; z64: Zip64Values; descriptor?: Span[]; end: number } {
    const src = this.src;
    const at = cd.localOffset;
    const h = Bytes.at(src, at, 30, 'zip local file header');
    if (h.u32le(0) !== LOCAL_SIG) throw h.error(0, 'bad local file header signature');
    const nameLen = h.u16le(26); // 26 - file name length
    const extraLen = h.u16le(28); // 28 - extra field length
    const b = Bytes.at(src, at, 30 + nameLen + extraLen, 'zip local file header');
    if (at + b.length !== dataStart) throw b.error(26, `local header ends at ${at + b.length}, yauzl says the data starts at ${dataStart}`);
    const flags = b.u16le(6); // 6 - general purpose bit flag
    const csize = b.u32le(18); // 18 - compressed size
    const usize = b.u32le(22); // 22 - uncompressed size
    const f: Field[] = [...cd.fields];

    f.push(field('zip.local.offset', at, 'layout', b.spans(0, 4), { derived: true }));
    f.push(field('zip.local.version_needed', b.u16le(4), 'layout', b.spans(4, 2)));
    f.push(field('zip.local.flags', flags, 'layout', b.spans(6, 2)));
    const method = b.u16le(8); // 8 - compression method
    f.push(field('zip.local.method', METHODS[method] ?? method, 'layout', b.spans(8, 2)));
    f.push(field('zip.local.mtime', dosDateTime(b.u16le(12), b.u16le(10)), 'timestamp', b.spans(10, 4), { hint: ZIP_TIME_HINT }));
    const localCrc = field('zip.local.crc32', b.u32le(14).toString(16).padStart(8, '0'), 'checksum', b.spans(14, 4));
    f.push(localCrc);
    f.push(field('zip.local.compressed_size', csize, 'size', b.spans(18, 4), { derived: true }));
    f.push(field('zip.local.uncompressed_size', usize, 'size', b.spans(22, 4), { derived: true }));
    f.push(field('zip.local.name_length', nameLen, 'size', b.spans(26, 2), { derived: true }));
    f.push(field('zip.local.extra_length', extraLen, 'size', b.spans(28, 2), { derived: true }));
    f.push(field('zip.local.name', b.utf8(30, nameLen), 'content', b.spans(30, nameLen)));
    const z64: Zip64Values = {};
    // a local zip64 record holds both sizes (APPNOTE 4.5.3), even when the header's own fields are not 0xffffffff
    f.push(...extraFields(b, 30 + nameLen, extraLen, 'zip.local.', { uncompressedSize: true, compressedSize: true, localHeaderOffset: false, diskStart: false }, z64, notes));
    if (method !== cd.method) notes.push(`${cd.name}: the local header says method ${method}, the central directory ${cd.method}`);

    const dataEnd = dataStart + cd.compressedSize;
    if (dataEnd > src.size) {
      throw new ReprodiffError('E_TRUNCATED', `member data of ${cd.compressedSize} bytes runs past the end of the file`, { file: src.name, structure: 'zip member data', offset: dataStart });
    }
    if (!(flags & 0x8)) return { f, localCrc, ddCrc: undefined, local: b, z64, end: dataEnd };
    // data descriptor: optional signature, crc-32, sizes (8 bytes each for zip64 members)
    const wide = z64.compressedSize !== undefined || cd.compressedSize >= 0xffffffff;
    const sig = dataEnd + 4 <= src.size && Bytes.at(src, dataEnd, 4, 'zip data descriptor').u32le(0) === DD_SIG;
    const len = (sig ? 4 : 0) + 4 + (wide ? 16 : 8);
    const d = Bytes.at(src, dataEnd, len, 'zip data descriptor');
    const o = sig ? 4 : 0;
    const ddCrc = field('zip.dd.crc32', d.u32le(o).toString(16).padStart(8, '0'), 'checksum', d.spans(o, 4));
    f.push(ddCrc);
    f.push(field('zip.dd.compressed_size', wide ? d.u64le(o + 4) : d.u32le(o + 4), 'size', d.spans(o + 4, wide ? 8 : 4), { derived: true }));
    f.push(field('zip.dd.uncompressed_size', wide ? d.u64le(o + 12) : d.u32le(o + 8), 'size', d.spans(wide ? o + 12 : o + 8, wide ? 8 : 4), { derived: true }));
    return { f, localCrc, ddCrc, local: b, z64, descriptor: d.spans(0, len), end: dataEnd + len };
  }

  /**
   * Member `index`'s fields, made again from its headers (what was odd about them was noted while listing):
   * an archive of a million members keeps no field between the listing and the comparison.
   */
  memberFields(cdAt: number, index: number, dataStart: number, covers: Span[], rank: number): Field[] {
    const { f, localCrc, ddCrc, cd } = this.reread(cdAt, index, dataStart);
    // the CRC is over the uncompressed data
    cd.crcField.covers = covers;
    localCrc.covers = covers;
    if (ddCrc) ddCrc.covers = covers;
    const lo = f.find((x) => x.name === 'zip.local.offset');
    if (lo) f.push(field('zip.local.order', rank, 'ordering', lo.spans, { hint: ORDER_HINT }));
    return f;
  }

  /** Member `index`'s headers parsed again; what is odd about them was noted while listing, and is not noted twice. */
  private reread(cdAt: number, index: number, dataStart: number): ReturnType<ZipReader['localPart']> & { cd: CdInfo } {
    const quiet: string[] = [];
    const cd = this.centralHeader(cdAt, index, quiet);
    return { ...this.localPart(cd, dataStart, quiet), cd };
  }

  /** The path of the member whose central directory header is at `cdAt`, read from its name again. */
  memberPath(cdAt: number): string {
    const h = Bytes.at(this.src, cdAt, 46, 'zip central directory header');
    return normalizePath(decodeName(this.src.read(cdAt + 46, h.u16le(28), 'zip central directory header')));
  }

  /** Member `index`'s metadata, read again from its headers. */
  memberMeta(cdAt: number, index: number, dataStart: number, target: string | undefined): EntryMeta {
    const { f, cd } = this.reread(cdAt, index, dataStart);
    const meta: EntryMeta = {};
    const host = cd.madeBy >> 8;
    const mode = cd.external >>> 16;
    if (host === 3 && mode !== 0) meta.mode = mode & 0o7777;
    const mt = f.find((x) => x.name === 'zip.cd.ut.mtime')?.value ?? f.find((x) => x.name === 'zip.cd.mtime')?.value;
    if (typeof mt === 'string') meta.mtime = mt;
    const uid = f.find((x) => x.name === 'zip.local.ux.uid')?.value;
    const gid = f.find((x) => x.name === 'zip.local.ux.gid')?.value;
    if (typeof uid === 'number') meta.uid = uid;
    if (typeof gid === 'number') meta.gid = gid;
    if (target !== undefined) meta.target = target;
    return meta;
  }

  private async member(cd: CdInfo, cdAt: number, index: number, dataStart: number): Promise<void> {
    const src = this.src;
    const at = cd.localOffset;
    const { local: b, descriptor, end } = this.localPart(cd, dataStart, this.notes);
    this.regions.add('zip local file header', 'metadata', b.spans(0, b.length));
    if (descriptor) this.regions.add('zip data descriptor', 'metadata', descriptor);

    // entry type: a trailing slash, the Unix mode of Unix-made entries, or the MS-DOS directory attribute
    const host = cd.madeBy >> 8;
    const mode = cd.external >>> 16;
    let type: EntryType = 'file';
    if (cd.name.endsWith('/') || (host === 0 && cd.external & 0x10)) type = 'dir';
    else if (host === 3 && (mode & 0o170000) === 0o120000) type = 'symlink';
    else if (host === 3 && (mode & 0o170000) === 0o040000) type = 'dir';
    let path = normalizePath(cd.name);
    const seen = this.paths.count(path);
    if (seen > 0) {
      this.notes.push(`the path ${path} occurs ${seen + 1} times; later copies are listed as ${path}~N`);
      path = `${path}~${seen + 1}`;
    }
    const entry = new ZipEntry(this, type, type === 'dir' ? 0 : cd.uncompressedSize, index, cdAt, dataStart, cd.compressedSize);
    if (seen > 0) entry.renamed = path;

    // content
    if (cd.flags & 0x1) entry.opaque = 'encrypted member';
    else if (cd.method === 0) {
      if (cd.compressedSize !== cd.uncompressedSize) throw b.error(18, `stored member has compressed size ${cd.compressedSize} but uncompressed size ${cd.uncompressedSize}`);
      if (cd.compressedSize > 0 && type !== 'dir') entry.stored = true;
    } else if (cd.method === 8) {
      if (cd.uncompressedSize > 0 && type !== 'dir') {
        const cs = new InflateSource(`${src.name}//${path.slice(1)}`, {
          parent: src,
          offset: dataStart,
          compressedSize: cd.compressedSize,
          size: cd.uncompressedSize,
          maxOutput: this.limits.maxDecodedBytes,
          streamId: `${src.name}#zip:${index}`,
          inMemory: this.limits.memoryDecodedBytes,
          ...(this.temp ? { temp: this.temp } : {}),
        });
        entry.contentSource = cs;
      }
    } else {
      entry.opaque = `compression method ${METHODS[cd.method] ?? cd.method} is not decoded`;
    }
    if (type === 'symlink') {
      // Info-ZIP stores a symlink's target as the member's content; it stays the entry's content as well
      entry.size = cd.uncompressedSize;
      const ext = entry.extents[0];
      if (ext && ext.length <= 4096) entry.target = decodeName((entry.contentSource ?? src).read(ext.offset, ext.length, 'zip symlink target'));
    }
    this.ranges.push(at, end);
    this.entries.push(entry);
  }

  /** The order of local headers in the file body, gaps and overlaps between members. */
  private layout(cdStart: number): void {
    const r = this.ranges;
    const sorted = Array.from({ length: r.length }, (_, i) => i).sort((x, y) => r.x(x) - r.x(y));
    sorted.forEach((m, i) => (this.entries[m]!.rank = i));
    let pos = 0;
    for (const m of sorted) {
      const start = r.x(m);
      const end = r.y(m);
      const path = this.entries[m]!.path;
      if (start > pos) {
        this.notes.push(`${start - pos} bytes at ${pos} are not part of any member${pos === 0 ? ' (a prefix such as a self-extractor stub)' : ''}`);
        this.regions.add('zip unreferenced bytes', 'unused', this.src.spans(pos, start - pos));
      } else if (start < pos) {
        this.notes.push(`member ${path} overlaps the member before it (at ${start}, before ${pos}): a possible zip bomb`);
      }
      pos = Math.max(pos, end);
    }
    if (cdStart > pos) {
      this.notes.push(`${cdStart - pos} bytes at ${pos} before the central directory are not part of any member`);
      this.regions.add('zip unreferenced bytes', 'unused', this.src.spans(pos, cdStart - pos));
    } else if (cdStart < pos) {
      this.notes.push('member data overlaps the central directory');
    }
  }
}

/**
 * A zip member: where its central directory header and data are, its listing values; its fields are made
 * again from its headers each time they are asked for (LazyFields), never kept.
 */
class ZipEntry implements Entry {
  contentSource?: ByteSource;
  /** a stored member's data is its content, in the archive */
  stored = false;
  opaque?: string;
  /** a symlink's target (its content) */
  target?: string;
  /** its place among the local headers in file order (set once all are listed) */
  rank = -1;
  /** the path of a later copy of a path (`/a~2`) */
  renamed?: string;

  constructor(
    private readonly reader: ZipReader,
    readonly type: EntryType,
    public size: number,
    readonly order: number,
    private readonly cdAt: number,
    private readonly dataStart: number,
    private readonly compressedSize: number,
  ) {}

  /** read from the central directory header again when asked: a million members keep no path strings */
  get path(): string {
    return this.renamed ?? this.reader.memberPath(this.cdAt);
  }

  /** made when asked: a million members keep no extent objects */
  get extents(): Extent[] {
    if (this.stored) return [{ offset: this.dataStart, length: this.compressedSize }];
    const cs = this.contentSource;
    return cs ? [{ offset: 0, length: cs.size }] : NO_EXTENTS;
  }

  /** what the member's CRC-32 is over: its data, decoded */
  private get covers(): Span[] {
    const cs = this.contentSource;
    return cs ? cs.spans(0, cs.size) : this.reader.src.spans(this.dataStart, this.compressedSize);
  }

  get meta(): EntryMeta {
    return new LazyMeta(this.target, () => this.reader.memberMeta(this.cdAt, this.order, this.dataStart, this.target));
  }

  get fields(): Field[] {
    return this.readFields();
  }

  readFields(): Field[] {
    return this.reader.memberFields(this.cdAt, this.order, this.dataStart, this.covers, this.rank);
  }
}

const NO_EXTENTS: Extent[] = [];
