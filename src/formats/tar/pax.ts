/** POSIX.1-2001 pax extended header records: `"%d %s=%s\n"`, the length counting the whole record. */
import type { Bytes } from '../../io/bytes.js';
import type { Field, Kind, Value } from '../../model.js';
import { field } from '../../model.js';
import { isoFromUnix } from '../../util/time.js';

export const TAR_MTIME_HINT =
  'GNU tar: --mtime=@$SOURCE_DATE_EPOCH --clamp-mtime --sort=name (or touch the tree to SOURCE_DATE_EPOCH before archiving)';
export const TAR_OWNER_HINT = 'GNU tar: --owner=0 --group=0 --numeric-owner';
export const PAX_TIME_HINT =
  'GNU tar --format=pax: --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime and --mtime=@$SOURCE_DATE_EPOCH --clamp-mtime';
export const PAX_NAME_HINT =
  'the extended header name carries the process id: GNU tar --pax-option=exthdr.name=%d/PaxHeaders/%f,globexthdr.name=/tmp/GlobalHead.%n';

export const SPARSE_NAME_HINT =
  'GNU tar names pax sparse members GNUSparseFile.<pid>/<name>: archive without --sparse (-S) for reproducible output';

export interface PaxRecord {
  key: string;
  value: string;
  /** offset and length of the whole record within the data */
  off: number;
  len: number;
}

/**
 * Parses the records of one extended header's data (`b` covers exactly the data). Malformed records stop
 * the parse with an error at their offset.
 */
export function parsePax(b: Bytes): PaxRecord[] {
  const out: PaxRecord[] = [];
  let p = 0;
  while (p < b.length) {
    // trailing NUL padding inside the declared size is tolerated
    if (b.u8(p) === 0) break;
    let q = p;
    let len = 0;
    while (q < b.length && q - p < 20) {
      const c = b.u8(q);
      if (c === 0x20) break;
      if (c < 0x30 || c > 0x39) throw b.error(q, 'pax record length is not a decimal number');
      len = len * 10 + (c - 0x30);
      q++;
    }
    if (q >= b.length || b.u8(q) !== 0x20 || q === p) throw b.error(p, 'pax record has no length');
    if (len <= q - p + 1 || p + len > b.length) throw b.error(p, `pax record length ${len} does not fit the header data`);
    if (b.u8(p + len - 1) !== 0x0a) throw b.error(p + len - 1, 'pax record does not end with a newline');
    const body = b.bytes(q + 1, p + len - 1 - (q + 1));
    const eq = body.indexOf(0x3d);
    if (eq < 0) throw b.error(q + 1, 'pax record has no "="');
    const key = b.utf8(q + 1, eq);
    const value = b.utf8(q + 1 + eq + 1, body.length - eq - 1);
    out.push({ key, value, off: p, len });
    p += len;
  }
  return out;
}

/** `1795331844.542500809` (or negative) to ISO 8601 with the fraction digits the record carries. */
export function isoFromPaxTime(text: string): string | null {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return null;
  const neg = m[1] === '-';
  const frac = m[3] ?? '';
  const digits = Math.min(frac.length, 9);
  const ns = BigInt(m[2] as string) * 1_000_000_000n + BigInt((frac.slice(0, 9) || '0').padEnd(9, '0'));
  const signed = neg ? -ns : ns;
  let secs = signed / 1_000_000_000n;
  let rem = signed - secs * 1_000_000_000n;
  if (rem < 0n) {
    secs -= 1n;
    rem += 1_000_000_000n;
  }
  if (secs > 8_640_000_000_000n || secs < -8_640_000_000_000n) return null;
  const base = isoFromUnix(Number(secs));
  if (base === null || digits === 0) return base;
  return `${base.slice(0, -1)}.${rem.toString().padStart(9, '0').slice(0, digits)}Z`;
}

function kindOf(key: string): Kind {
  if (key === 'mtime' || key === 'atime' || key === 'ctime' || key === 'LIBARCHIVE.creationtime') return 'timestamp';
  if (key === 'uid' || key === 'gid' || key === 'uname' || key === 'gname') return 'ownership';
  if (key === 'size' || key === 'GNU.sparse.size' || key === 'GNU.sparse.realsize') return 'size';
  return 'content';
}

/** One field per record: `${prefix}${key}` with the record's bytes as spans. */
export function paxFields(b: Bytes, records: PaxRecord[], prefix: string): Field[] {
  return records.map((r) => {
    const kind = kindOf(r.key);
    let value: Value = r.value;
    const extra: Partial<Field> = {};
    if (kind === 'timestamp') {
      value = isoFromPaxTime(r.value) ?? r.value;
      extra.hint = r.key === 'mtime' ? TAR_MTIME_HINT : PAX_TIME_HINT;
    } else if (kind === 'ownership') {
      if (r.key === 'uid' || r.key === 'gid') value = /^\d+$/.test(r.value) ? Number(r.value) : r.value;
      extra.hint = TAR_OWNER_HINT;
    } else if (kind === 'size') {
      value = /^\d+$/.test(r.value) ? Number(r.value) : r.value;
      extra.derived = true;
    }
    return field(`${prefix}${r.key}`, value, kind, b.spans(r.off, r.len), extra);
  });
}
