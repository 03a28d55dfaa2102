/**
 * Extra fields of zip headers (APPNOTE 4.5 and Info-ZIP's extra.fld): each a (id u16, size u16, data) record.
 * Decoded here: 0x5455 UT extended timestamp, 0x7875 ux uid/gid, 0x5855 old Info-ZIP Unix, 0x000a NTFS times,
 * 0x0001 zip64 sizes and offset, 0x7075 Info-ZIP Unicode path. Others are kept as hex.
 */
import type { Bytes } from '../../io/bytes.js';
import type { Field } from '../../model.js';
import { field } from '../../model.js';
import { isoFromUnix } from '../../util/time.js';

export const ZIP_TIME_HINT =
  'touch the files to SOURCE_DATE_EPOCH and run zip with TZ=UTC (or post-process with strip-nondeterminism); zip -X drops the extended timestamp and uid/gid extra fields';
export const ZIP_OWNER_HINT = 'zip -X drops the uid/gid extra fields (ux, UX)';

/** The values the zip64 record replaces, filled in when present. */
export interface Zip64Values {
  uncompressedSize?: number;
  compressedSize?: number;
  localHeaderOffset?: number;
  diskStart?: number;
}

/** What the zip64 record must hold: for the central directory, one value per 0xffffffff field; local headers hold both sizes. */
export interface Zip64Need {
  uncompressedSize: boolean;
  compressedSize: boolean;
  localHeaderOffset: boolean;
  diskStart: boolean;
}

/** FILETIME (100 ns ticks since 1601-01-01) to ISO with 7 fraction digits, null for 0. */
export function isoFromFiletime(ticks: bigint): string | null {
  if (ticks === 0n) return null;
  const secs = ticks / 10_000_000n - 11_644_473_600n;
  const frac = ticks % 10_000_000n;
  const base = isoFromUnix(Number(secs));
  if (base === null) return null;
  return frac === 0n ? base : `${base.slice(0, -1)}.${frac.toString().padStart(7, '0')}Z`;
}

/**
 * Decodes the extra-field block `b[off, off+len)` into fields named `${prefix}<name>`. A record that runs past
 * the block stops the parse with a note (the rest is kept as one hex field).
 */
export function extraFields(b: Bytes, off: number, len: number, prefix: string, need: Zip64Need, z64: Zip64Values, notes: string[]): Field[] {
  const out: Field[] = [];
  let p = off;
  const end = off + len;
  while (p + 4 <= end) {
    const id = b.u16le(p); // 0 - header id
    const size = b.u16le(p + 2); // 2 - data size
    const d = p + 4;
    if (d + size > end) {
      notes.push(`${b.src.name}: extra field 0x${id.toString(16).padStart(4, '0')} at ${b.base + p} runs past its block`);
      out.push(field(`${prefix}extra.malformed`, b.hex(p, end - p), 'content', b.spans(p, end - p)));
      return out;
    }
    const ts = (name: string, at: number): void => {
      out.push(field(`${prefix}${name}`, isoFromUnix(b.i32le(at)), 'timestamp', b.spans(at, 4), { hint: ZIP_TIME_HINT }));
    };
    switch (id) {
      case 0x5455: {
        // UT: flags, then mtime, atime, ctime as present (the central copy holds mtime only)
        if (size < 1) break;
        const flags = b.u8(d);
        out.push(field(`${prefix}ut.flags`, flags, 'content', b.spans(d, 1)));
        let q = d + 1;
        for (const [bit, name] of [[1, 'ut.mtime'], [2, 'ut.atime'], [4, 'ut.ctime']] as const) {
          if (flags & bit && q + 4 <= d + size) {
            ts(name, q);
            q += 4;
          }
        }
        break;
      }
      case 0x7875: {
        // ux: version 1, uid size, uid, gid size, gid (little-endian, variable width)
        if (size < 3 || b.u8(d) !== 1) break;
        const uidSize = b.u8(d + 1);
        if (2 + uidSize + 1 > size) break;
        const gidSize = b.u8(d + 2 + uidSize);
        if (3 + uidSize + gidSize > size || uidSize > 6 || gidSize > 6) break;
        const uint = (at: number, n: number): number => {
          let v = 0;
          for (let i = n - 1; i >= 0; i--) v = v * 256 + b.u8(at + i);
          return v;
        };
        out.push(field(`${prefix}ux.uid`, uint(d + 2, uidSize), 'ownership', b.spans(d + 2, uidSize), { hint: ZIP_OWNER_HINT }));
        out.push(field(`${prefix}ux.gid`, uint(d + 3 + uidSize, gidSize), 'ownership', b.spans(d + 3 + uidSize, gidSize), { hint: ZIP_OWNER_HINT }));
        break;
      }
      case 0x5855: {
        // UX (old Info-ZIP Unix): atime, mtime, then uid, gid u16 in local headers
        if (size >= 8) {
          ts('ux_old.atime', d);
          ts('ux_old.mtime', d + 4);
        }
        if (size >= 12) {
          out.push(field(`${prefix}ux_old.uid`, b.u16le(d + 8), 'ownership', b.spans(d + 8, 2), { hint: ZIP_OWNER_HINT }));
          out.push(field(`${prefix}ux_old.gid`, b.u16le(d + 10), 'ownership', b.spans(d + 10, 2), { hint: ZIP_OWNER_HINT }));
        }
        break;
      }
      case 0x000a: {
        // NTFS: reserved u32, then (tag u16, size u16, data); tag 1 holds mtime, atime, ctime as FILETIME
        let q = d + 4;
        while (q + 4 <= d + size) {
          const tag = b.u16le(q);
          const tsize = b.u16le(q + 2);
          if (q + 4 + tsize > d + size) break;
          if (tag === 1 && tsize >= 24) {
            for (const [i, name] of [[0, 'ntfs.mtime'], [1, 'ntfs.atime'], [2, 'ntfs.ctime']] as const) {
              const at = q + 4 + i * 8;
              out.push(field(`${prefix}${name}`, isoFromFiletime(b.u64leBig(at)), 'timestamp', b.spans(at, 8), { hint: ZIP_TIME_HINT }));
            }
          }
          q += 4 + tsize;
        }
        break;
      }
      case 0x0001: {
        let q = d;
        const take = (want: boolean, key: keyof Zip64Values, name: string, width: 8 | 4): void => {
          if (!want || q + width > d + size) return;
          const v = width === 8 ? b.u64le(q) : b.u32le(q);
          z64[key] = v;
          const kind = key === 'localHeaderOffset' || key === 'diskStart' ? 'layout' : 'size';
          out.push(field(`${prefix}zip64.${name}`, v, kind, b.spans(q, width), { derived: true }));
          q += width;
        };
        take(need.uncompressedSize, 'uncompressedSize', 'uncompressed_size', 8);
        take(need.compressedSize, 'compressedSize', 'compressed_size', 8);
        take(need.localHeaderOffset, 'localHeaderOffset', 'local_header_offset', 8);
        take(need.diskStart, 'diskStart', 'disk_start', 4);
        // values the header did not ask for (zip -fz writes some anyway)
        if (q < d + size) out.push(field(`${prefix}zip64.unneeded`, b.hex(q, d + size - q), 'size', b.spans(q, d + size - q), { derived: true }));
        break;
      }
      case 0x7075: {
        // Info-ZIP Unicode path: version, crc32 of the header's name, UTF-8 name
        if (size >= 5) out.push(field(`${prefix}unicode_path`, b.utf8(d + 5, size - 5), 'content', b.spans(d, size)));
        break;
      }
      default:
        out.push(field(`${prefix}extra.0x${id.toString(16).padStart(4, '0')}`, b.hex(d, size), 'content', b.spans(d, size)));
    }
    out.push(field(`${prefix}extra_header.0x${id.toString(16).padStart(4, '0')}`, size, 'size', b.spans(p, 4), { derived: true }));
    p = d + size;
  }
  if (p < end) out.push(field(`${prefix}extra.trailing`, b.hex(p, end - p), 'content', b.spans(p, end - p)));
  return out;
}
