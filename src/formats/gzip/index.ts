/**
 * gzip (RFC 1952) as a container: one `/content` entry holding the decoded data of every member,
 * the members' headers and trailers as fields, zero padding after the last member as a region.
 */
import { crc32, inflateRawSync } from 'node:zlib';
import { ReprodiffError } from '../../errors.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import type { Container, Field, Format, OpenContext, Region } from '../../model.js';
import { field } from '../../model.js';
import { isoFromUnix } from '../../util/time.js';
import { contentEntry, readCompressed, streamId } from '../../util/layer.js';

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
  detect(src: ByteSource): number {
    if (src.size < 18) return 0;
    const b = src.read(0, 3, 'gzip magic');
    return b[0] === 0x1f && b[1] === 0x8b && b[2] === 8 ? 90 : 0;
  },
  open(src: ByteSource, ctx: OpenContext): Container {
    return openGzip(src, ctx);
  },
};

export function openGzip(src: ByteSource, ctx: OpenContext): Container {
  const maxOut = ctx.limits.maxDecodedBytes;
  const input = readCompressed(src, maxOut, 'gzip');
  const b = new Bytes(input, src, 0, 'gzip member');
  const stream = streamId(src, 'gzip');
  const fields: Field[] = [];
  const regions: Region[] = [];
  const notes: string[] = [];
  const chunks: Uint8Array[] = [];
  let outPos = 0;
  let p = 0;
  let member = 0;
  while (p < input.length) {
    if (member > 0 && input[p] === 0) {
      let q = p;
      while (q < input.length && input[q] === 0) q++;
      if (q === input.length) {
        regions.push({ name: 'gzip trailing zero padding', role: 'padding', spans: b.spans(p, q - p) });
        p = q;
        break;
      }
    }
    if (input.length - p < 18 || input[p] !== 0x1f || input[p + 1] !== 0x8b) {
      if (member === 0) throw b.error(p, 'not a gzip member');
      notes.push(`${input.length - p} bytes after the last gzip member at offset ${p} are not gzip data`);
      regions.push({ name: 'data after the gzip stream', role: 'unused', spans: b.spans(p, input.length - p) });
      p = input.length;
      break;
    }
    if (input[p + 2] !== 8) throw b.error(p + 2, `unknown gzip compression method ${input[p + 2]}`, 'E_UNSUPPORTED');
    const pre = member === 0 ? 'gzip.' : `gzip.member[${member}].`;
    const start = p;
    const flg = b.u8(p + 3);
    if (flg & 0xe0) throw b.error(p + 3, 'reserved gzip flag bits are set');
    fields.push(field(`${pre}header.flags`, flg, 'content', b.spans(p + 3, 1)));
    const mtime = b.u32le(p + 4);
    fields.push(
      field(`${pre}header.mtime`, mtime === 0 ? null : isoFromUnix(mtime), 'timestamp', b.spans(p + 4, 4), { hint: GZIP_MTIME_HINT }),
    );
    fields.push(field(`${pre}header.xfl`, b.u8(p + 8), 'content', b.spans(p + 8, 1)));
    const os = b.u8(p + 9);
    fields.push(field(`${pre}header.os`, OS_NAMES[os] ?? os, 'content', b.spans(p + 9, 1)));
    let q = p + 10;
    if (flg & 4) {
      const xlen = b.u16le(q);
      if (q + 2 + xlen > input.length) throw b.error(q, 'gzip extra field runs past the end');
      fields.push(field(`${pre}header.extra`, b.hex(q + 2, xlen), 'content', b.spans(q, 2 + xlen)));
      q += 2 + xlen;
    }
    const zstring = (what: string): [string, number, number] => {
      const s = q;
      while (q < input.length && input[q] !== 0) q++;
      if (q >= input.length) throw b.error(s, `gzip ${what} is not terminated`);
      q++;
      return [b.ascii(s, q - 1 - s, false), s, q - s];
    };
    if (flg & 8) {
      const [name, s, n] = zstring('file name');
      fields.push(field(`${pre}header.fname`, name, 'build-path', b.spans(s, n), { hint: GZIP_NAME_HINT }));
    }
    if (flg & 16) {
      const [comment, s, n] = zstring('comment');
      fields.push(field(`${pre}header.comment`, comment, 'content', b.spans(s, n)));
    }
    if (flg & 2) {
      fields.push(
        field(`${pre}header.crc16`, b.u16le(q), 'checksum', b.spans(q, 2), { covers: b.spans(start, q - start), derived: true }),
      );
      q += 2;
    }
    regions.push({ name: `gzip member ${member} header`, role: 'metadata', spans: b.spans(start, q - start) });
    // the deflate stream: inflate it to learn where it ends
    let res: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      const room = Math.max(1, maxOut - outPos);
      res = inflateRawSync(input.subarray(q), { info: true, maxOutputLength: room, chunkSize: outputChunk(input, q, room) }) as unknown as typeof res;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ERR_BUFFER_TOO_LARGE') {
        throw new ReprodiffError('E_LIMIT', `decoded data exceeds the limit of ${maxOut} bytes`, { file: src.name, structure: 'gzip stream', offset: q });
      }
      throw new ReprodiffError('E_FORMAT', `corrupt deflate data: ${err.message}`, { file: src.name, structure: 'gzip stream', offset: q });
    }
    const used = res.engine.bytesWritten;
    const data = new Uint8Array(res.buffer.buffer, res.buffer.byteOffset, res.buffer.byteLength);
    q += used;
    if (q + 8 > input.length) throw b.error(q, 'gzip trailer is truncated');
    const crc = b.u32le(q);
    const isize = b.u32le(q + 4);
    const outSpan = [{ stream, offset: outPos, length: data.length }];
    const actualCrc = crc32(data);
    if (actualCrc !== crc) notes.push(`gzip member ${member}: CRC32 ${crc.toString(16)} does not match the data (${actualCrc.toString(16)})`);
    if (isize !== data.length % 2 ** 32) notes.push(`gzip member ${member}: ISIZE ${isize} does not match the data (${data.length})`);
    fields.push(
      field(`${pre}trailer.crc32`, crc.toString(16).padStart(8, '0'), 'checksum', b.spans(q, 4), { covers: outSpan, derived: true }),
    );
    fields.push(field(`${pre}trailer.isize`, isize, 'size', b.spans(q + 4, 4), { derived: true }));
    regions.push({ name: `gzip member ${member} trailer`, role: 'metadata', spans: b.spans(q, 8) });
    chunks.push(data);
    outPos += data.length;
    p = q + 8;
    member++;
    if (member > ctx.limits.maxEntries) throw b.error(p, `more than ${ctx.limits.maxEntries} gzip members`, 'E_LIMIT');
  }
  let data: Uint8Array;
  if (chunks.length === 1) data = chunks[0] as Uint8Array;
  else {
    data = new Uint8Array(outPos);
    let o = 0;
    for (const c of chunks) {
      data.set(c, o);
      o += c.length;
    }
  }
  if (member > 1) notes.push(`${member} gzip members`);
  return {
    format: 'gzip',
    source: src,
    fields,
    entries: [contentEntry(src, 'gzip', data, src.spans(0, src.size))],
    regions,
    notes,
  };
}

/**
 * The output chunk size for inflating the member at `at`: the size the stream's last trailer states (ISIZE,
 * the decoded size mod 2^32), when that is plausible. zlib then writes the whole output into one chunk and
 * hands it back as is; with its default 16 KiB chunks it gathers them and copies them into one buffer at the
 * end, which holds the decoded data twice at the peak (2 x 137 MB for a Debian installer initrd). A wrong
 * ISIZE (several members, a lying trailer) only changes the chunk size, not the result; deflate expands at
 * most about 1032:1, which bounds what is believed.
 */
function outputChunk(input: Uint8Array, at: number, room: number): number {
  const DEFAULT = 64 * 1024;
  if (input.length < at + 8) return DEFAULT;
  const n = input.length;
  const isize = (input[n - 4]! | (input[n - 3]! << 8) | (input[n - 2]! << 16)) + input[n - 1]! * 0x1000000;
  if (isize === 0 || isize > 1032 * (n - at) + 1024 || isize >= room) return DEFAULT;
  return Math.max(DEFAULT, isize + 1);
}
