/**
 * gzip (RFC 1952) as a container: one `/content` entry holding the decoded data of every member,
 * the members' headers and trailers as fields, zero padding after the last member as a region.
 */
import { ReprodiffError } from '../../errors.js';
import { Bytes } from '../../io/bytes.js';
import { zeroRun, type ByteSource } from '../../io/source.js';
import type { Container, Field, FieldGroups, Format, OpenContext, Span } from '../../model.js';
import { RegionList } from '../../util/regions.js';
import { field } from '../../model.js';
import { isoFromUnix } from '../../util/time.js';
import { checkCap } from '../../limits.js';
import { inflateStream } from '../../codec/inflate.js';
import { DecodedSink } from '../../io/spill.js';
import { contentEntry, streamId } from '../../util/layer.js';
import { MemberRows, type DecodedStream, type Inflated, type MemberTable } from '../../walk/once.js';
import { grown } from '../../util/rows.js';

export const GZIP_MTIME_HINT =
  'gzip stores the input file\'s mtime: compress with `gzip -n` (or GZIP=-n, `pigz -n`, Python gzip mtime=0), or set the input mtime to SOURCE_DATE_EPOCH';
export const GZIP_NAME_HINT = 'gzip stores the input file name: use `gzip -n`, or compress from a pipe (`gzip -c < file`)';

const OS_NAMES: Record<number, string> = {
  0: 'FAT', 1: 'Amiga', 2: 'VMS', 3: 'Unix', 4: 'VM/CMS', 5: 'Atari TOS', 6: 'HPFS', 7: 'Macintosh', 8: 'Z-System',
  9: 'CP/M', 10: 'TOPS-20', 11: 'NTFS', 12: 'QDOS', 13: 'Acorn RISCOS', 255: 'unknown',
};

export const gzipFormat: Format = {
  name: 'gzip',
  exclusive: true,
  transparentEntry: '/content',
  detect(src: ByteSource): number {
    if (src.size < 18) return 0;
    const b = src.read(0, 3, 'gzip magic');
    return b[0] === 0x1f && b[1] === 0x8b && b[2] === 8 ? 90 : 0;
  },
  open(src: ByteSource, ctx: OpenContext): Container | Promise<Container> {
    // the same gzip stream stored again (an initrd in the ISO, in the squashfs and in a UKI) is inflated once
    if (!ctx.once) return openGzip(src, ctx);
    return ctx.once.open(src, 'gzip', ctx, {
      here: (keep) => openGzip(src, ctx, undefined, keep),
      list: (known) => openGzip(src, ctx, known),
      large: (end) => lastIsize(src, end) > ctx.limits.memoryDecodedBytes,
    });
  },
};

/**
 * The gzip stream `src` as a container. `known`: what inflating these very bytes gave before (its members'
 * results and the decoded bytes), so that only the headers are read; `keep` is told what inflating them gave.
 * The first member's fields are the container's; every later member keeps where it is and what inflating it
 * gave, and makes its fields again when asked (a field group a member).
 */
export function openGzip(src: ByteSource, ctx: OpenContext, known?: DecodedStream, keep?: (d: DecodedStream) => void): Container {
  const maxOut = ctx.limits.maxDecodedBytes;
  const size = src.size;
  checkCap(size, maxOut, 'gzip stream size', src.name, 0);
  const stream = streamId(src, 'gzip');
  const fields: Field[] = [];
  const regions = new RegionList();
  const notes: string[] = [];
  // every member's output, in memory or, past limits.memoryDecodedBytes, in a temporary file; the compressed
  // input is read piece by piece too, so neither is ever held whole
  const sink = known ? undefined : new DecodedSink(`${src.name}//content`, ctx.limits.memoryDecodedBytes, ctx.temp, lastIsize(src));
  const rows = known ? undefined : new MemberRows();
  const table = known?.members;
  const at = new MemberPlaces();
  let produced = 0;
  let p = 0;
  let member = 0;
  while (p < size) {
    if (member > 0) {
      const zeros = zeroRun(src, p, 'gzip padding');
      if (zeros > 0 && p + zeros === size) {
        regions.add('gzip trailing zero padding', 'padding', src.spans(p, zeros));
        p = size;
        break;
      }
    }
    const start = p;
    // the member header, read through a window that holds it (its optional name and comment end within
    // HEADER_WINDOW bytes), found first with small reads: a stream of many members reads little per member
    const b = Bytes.at(src, start, headerExtent(src, start), 'gzip member');
    const win = b.data;
    if (size - p < 18 || win[0] !== 0x1f || win[1] !== 0x8b) {
      if (member === 0) throw b.error(0, 'not a gzip member');
      notes.push(`${size - p} bytes after the last gzip member at offset ${p} are not gzip data`);
      regions.add('data after the gzip stream', 'unused', src.spans(p, size - p));
      p = size;
      break;
    }
    const q = memberHeader(b, size, member === 0 ? fields : undefined);
    // one region for every member's header and trailer: a trailer and the next header merge into one span
    regions.add('gzip member headers and trailers', 'metadata', b.spans(0, q));
    // the deflate stream: inflate it to learn where it ends
    const before = produced;
    let inflated: Inflated;
    if (sink) {
      const place = { file: src.name, structure: 'gzip stream', offset: start + q };
      inflated = inflateStream(src, start + q, size, (chunk) => sink.write(chunk), {
        maxOut: maxOut - before,
        over: () => new ReprodiffError('E_LIMIT', `decoded data exceeds the limit of ${maxOut} bytes`, place),
        place,
        what: 'decoding gzip',
      });
      rows!.add(inflated);
    } else {
      if (member >= table!.count) throw new ReprodiffError('E_FORMAT', 'gzip stream has more members than when it was decoded', { file: src.name, structure: 'gzip member', offset: start });
      inflated = { used: table!.used[member]!, crc: table!.crc[member]!, size: table!.size[member]! };
    }
    const outSize = inflated.size;
    produced += outSize;
    const end = start + q + inflated.used;
    if (end + 8 > size) throw new ReprodiffError('E_FORMAT', 'gzip trailer is truncated', { file: src.name, structure: 'gzip member', offset: end });
    const t = Bytes.at(src, end, 8, 'gzip trailer');
    const crc = t.u32le(0);
    const isize = t.u32le(4);
    if (inflated.crc !== crc) notes.push(`gzip member ${member}: CRC32 ${crc.toString(16)} does not match the data (${inflated.crc.toString(16)})`);
    if (isize !== outSize % 2 ** 32) notes.push(`gzip member ${member}: ISIZE ${isize} does not match the data (${outSize})`);
    if (member === 0) fields.push(...trailerFields(t, 'gzip.', stream, before, outSize));
    else at.add(start, q, before);
    regions.add('gzip member headers and trailers', 'metadata', t.spans(0, 8));
    p = end + 8;
    member++;
    if (member > ctx.limits.maxEntries) throw new ReprodiffError('E_LIMIT', `more than ${ctx.limits.maxEntries} gzip members`, { file: src.name, structure: 'gzip member', offset: p });
  }
  if (member > 1) notes.push(`${member} gzip members`);
  const store = sink ? sink.finish() : known!.store;
  const members = rows ? rows.table() : table!;
  keep?.({ members, store });
  return {
    format: 'gzip',
    source: src,
    fields,
    ...(member > 1 ? { fieldGroups: at.groups(src, stream, members) } : {}),
    entries: [contentEntry(src, 'gzip', store, src.spans(0, src.size))],
    regions: regions.list(),
    notes,
  };
}

/**
 * Parses the member header in `b` (its first bytes at the member's start; the stream is `size` bytes long),
 * checking it, and gives its length; with `out`, its fields are pushed there.
 */
function memberHeader(b: Bytes, size: number, out?: Field[], pre = 'gzip.'): number {
  const win = b.data;
  if (win[2] !== 8) throw b.error(2, `unknown gzip compression method ${win[2]}`, 'E_UNSUPPORTED');
  const flg = b.u8(3);
  if (flg & 0xe0) throw b.error(3, 'reserved gzip flag bits are set');
  if (out) {
    out.push(field(`${pre}header.flags`, flg, 'content', b.spans(3, 1)));
    const mtime = b.u32le(4);
    out.push(field(`${pre}header.mtime`, mtime === 0 ? null : isoFromUnix(mtime), 'timestamp', b.spans(4, 4), { hint: GZIP_MTIME_HINT }));
    out.push(field(`${pre}header.xfl`, b.u8(8), 'content', b.spans(8, 1)));
    const os = b.u8(9);
    out.push(field(`${pre}header.os`, OS_NAMES[os] ?? os, 'content', b.spans(9, 1)));
  }
  let q = 10;
  if (flg & 4) {
    const xlen = b.u16le(q);
    if (q + 2 + xlen > win.length) throw b.error(q, 'gzip extra field runs past the end');
    out?.push(field(`${pre}header.extra`, b.hex(q + 2, xlen), 'content', b.spans(q, 2 + xlen)));
    q += 2 + xlen;
  }
  const zstring = (what: string): [number, number] => {
    const s = q;
    while (q < win.length && win[q] !== 0) q++;
    if (q >= win.length) {
      if (b.base + win.length < size) throw b.error(s, `gzip ${what} is not terminated within ${HEADER_WINDOW} bytes`, 'E_LIMIT');
      throw b.error(s, `gzip ${what} is not terminated`);
    }
    q++;
    return [s, q - s];
  };
  if (flg & 8) {
    const [s, n] = zstring('file name');
    out?.push(field(`${pre}header.fname`, b.ascii(s, n - 1, false), 'build-path', b.spans(s, n), { hint: GZIP_NAME_HINT }));
  }
  if (flg & 16) {
    const [s, n] = zstring('comment');
    out?.push(field(`${pre}header.comment`, b.ascii(s, n - 1, false), 'content', b.spans(s, n)));
  }
  if (flg & 2) {
    const crc16 = b.u16le(q);
    out?.push(field(`${pre}header.crc16`, crc16, 'checksum', b.spans(q, 2), { covers: b.spans(0, q), derived: true }));
    q += 2;
  }
  return q;
}

/** The trailer's fields: CRC-32 and size of the `outSize` bytes of the member's output at `before` in `stream`. */
function trailerFields(t: Bytes, pre: string, stream: string, before: number, outSize: number): Field[] {
  const outSpan = [{ stream, offset: before, length: outSize }];
  return [
    field(`${pre}trailer.crc32`, t.u32le(0).toString(16).padStart(8, '0'), 'checksum', t.spans(0, 4), { covers: outSpan, derived: true }),
    field(`${pre}trailer.isize`, t.u32le(4), 'size', t.spans(4, 4), { derived: true }),
  ];
}

/**
 * Where each member after the first is, a row a member (20 bytes): its start, its header's length and where its
 * output starts in the decoded stream; the compressed bytes it used and its output's size are in the stream's
 * member table. Its fields are read again from there.
 */
class MemberPlaces {
  private n = 0;
  private start = new Float64Array(16);
  private before = new Float64Array(16);
  private header = new Uint32Array(16);

  add(start: number, header: number, before: number): void {
    if (this.n === this.start.length) {
      const m = this.n * 2;
      this.start = grown(this.start, new Float64Array(m));
      this.before = grown(this.before, new Float64Array(m));
      this.header = grown(this.header, new Uint32Array(m));
    }
    const i = this.n++;
    this.start[i] = start;
    this.header[i] = header;
    this.before[i] = before;
  }

  /** members 1, 2, ... as field groups 0, 1, ... (`table`: what inflating every member, the first too, gave) */
  groups(src: ByteSource, stream: string, table: MemberTable): FieldGroups {
    const rows = { start: this.start.slice(0, this.n), header: this.header.slice(0, this.n), before: this.before.slice(0, this.n) };
    const trailerAt = (i: number): number => rows.start[i]! + rows.header[i]! + table.used[i + 1]!;
    return {
      count: this.n,
      fields(i: number): Field[] {
        const pre = `gzip.member[${i + 1}].`;
        const out: Field[] = [];
        memberHeader(Bytes.at(src, rows.start[i]!, rows.header[i]!, 'gzip member'), src.size, out, pre);
        out.push(...trailerFields(Bytes.at(src, trailerAt(i), 8, 'gzip trailer'), pre, stream, rows.before[i]!, table.size[i + 1]!));
        return out;
      },
      records(i: number): Span[] {
        return [...src.spans(rows.start[i]!, rows.header[i]!), ...src.spans(trailerAt(i), 8)];
      },
    };
  }
}

/** the bytes read at once for a member header: its optional name and comment must end within them */
const HEADER_WINDOW = 1 << 20;

/**
 * The last member's ISIZE (the decoded size mod 2^32) when the stream ends at `end`, as a hint of how much will
 * be decoded; 0 when too short.
 */
function lastIsize(src: ByteSource, end = src.size): number {
  if (end < 18) return 0;
  return Bytes.at(src, end - 4, 4, 'gzip trailer').u32le(0);
}

/**
 * How many bytes to read for the member header at `start`: up to the end of its optional fields (at least the
 * 18 bytes of the smallest member), or HEADER_WINDOW bytes when a name or comment does not end sooner (the
 * header parse then says so). Read a few KiB at a time.
 */
function headerExtent(src: ByteSource, start: number): number {
  const end = Math.min(src.size, start + HEADER_WINDOW);
  const whole = end - start;
  if (whole < 10) return whole;
  const flg = src.read(start, 10, 'gzip member')[3] as number;
  let q = start + 10;
  if (flg & 4) {
    if (q + 2 > end) return whole;
    const x = src.read(q, 2, 'gzip extra field');
    q += 2 + ((x[0] as number) | ((x[1] as number) << 8));
  }
  for (const bit of [8, 16]) {
    if (!(flg & bit)) continue;
    // past the terminating zero of the name (8) or the comment (16)
    let found = false;
    while (!found && q < end) {
      const w = src.read(q, Math.min(4096, end - q), 'gzip member');
      const z = w.indexOf(0);
      if (z >= 0) found = true;
      q += z >= 0 ? z + 1 : w.length;
    }
    if (!found) return whole;
  }
  if (flg & 2) q += 2;
  return Math.min(whole, Math.max(q - start, 18));
}
