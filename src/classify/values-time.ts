/**
 * Time decoders for the content heuristics: binary Unix times (32/64-bit, both byte orders, s/ms/µs/ns),
 * Windows FILETIME, ISO 9660 17- and 7-byte dates, DOS date/time pairs, and the date strings build tools write
 * (RFC 2822, ISO 8601, `date` and kernel banners, `__DATE__ __TIME__`, `22 Nov 2026`, build ids, decimal epochs).
 */
import { dosDateTime, isoDate17, isoDate7, isoFromMs, msOfIso } from '../util/time.js';
import {
  closenessConfidence,
  monthIndex,
  pad2,
  plausibleMs,
  PLAUSIBLE_MAX_MS,
  PLAUSIBLE_MIN_MS,
  YEAR,
  type BinaryDecoder,
  type Decoded,
  type PairVerdict,
  type TextPattern,
} from './content-types.js';

const HINT_SDE = 'take the time from SOURCE_DATE_EPOCH (or clamp to it) instead of the current time';
const HINT_KERNEL = 'set KBUILD_BUILD_TIMESTAMP (e.g. to the date of SOURCE_DATE_EPOCH) when building the kernel';
const HINT_CMACRO = 'gcc and clang take __DATE__ and __TIME__ from SOURCE_DATE_EPOCH: set it for the build (or drop the macros; -Wdate-time finds them)';
const HINT_DOS = 'set the files\' times to SOURCE_DATE_EPOCH before packing them (FAT and ZIP store DOS times)';
const HINT_ISO9660 = 'give the ISO tool fixed dates: xorriso and genisoimage honour SOURCE_DATE_EPOCH (xorriso -volume_date all_file_dates)';

// ---------------------------------------------------------------- binary

const LATE_MS = Date.UTC(2040, 0, 1);
const PLAUSIBLE_MIN_S = PLAUSIBLE_MIN_MS / 1000;
const PLAUSIBLE_MAX_S = PLAUSIBLE_MAX_MS / 1000;

function fracIso(seconds: number, frac: string): string | null {
  const base = isoFromMs(seconds * 1000);
  if (!base) return null;
  return frac ? `${base.slice(0, -1)}.${frac}Z` : base;
}

type Unit = 's' | 'ms' | 'us' | 'ns' | 'filetime';
const PER_SECOND: Record<Unit, bigint> = { s: 1n, ms: 1000n, us: 1_000_000n, ns: 1_000_000_000n, filetime: 10_000_000n };
const FRAC_DIGITS: Record<Unit, number> = { s: 0, ms: 3, us: 6, ns: 9, filetime: 7 };
const FILETIME_EPOCH_S = 11_644_473_600n;
const UNIT_NAME: Record<Unit, string> = { s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds', filetime: '100 ns since 1601' };

function decodeTicks(v: bigint, unit: Unit): Decoded | null {
  const per = PER_SECOND[unit];
  let sec = v / per;
  const rem = v % per;
  if (unit === 'filetime') sec -= FILETIME_EPOCH_S;
  const ms = Number(sec) * 1000 + Number((rem * 1000n) / per);
  if (!plausibleMs(ms)) return null;
  const digits = FRAC_DIGITS[unit];
  const value = fracIso(Number(sec), digits ? rem.toString().padStart(digits, '0') : '');
  return value ? { value, ms } : null;
}

function pairBinaryTimes(description: string, hint: string): (a: Decoded, b: Decoded) => PairVerdict | null {
  return (a, b) => {
    // two builds are seconds to days apart: a change of less than a second in a fine unit (ms, µs, ns)
    // is more likely low bytes of something else
    if (a.ms === undefined || b.ms === undefined || Math.abs(a.ms - b.ms) < 1000) return null;
    let confidence = closenessConfidence(a.ms, b.ms);
    if (confidence === null) return null;
    // build times far in the future are rarer than misread bytes
    if (Math.max(a.ms, b.ms) >= LATE_MS) confidence -= 0.15;
    return { kind: 'timestamp', confidence, a: a.value, b: b.value, description, hint, msA: a.ms, msB: b.ms };
  };
}

/**
 * Two 64-bit times in a fine unit that are days apart share their two most significant bytes; random
 * bytes next to one equal byte would read as "close" far too often (one byte of ns is 3 days).
 */
function topBytesEqual(x: Uint8Array, y: Uint8Array, le: boolean): boolean {
  const [i, j] = le ? [7, 6] : [0, 1];
  return x[i] === y[i] && x[j] === y[j];
}

/**
 * All four low bytes differ and none above: a 32-bit field that changed (a CRC, a seed) beside small numbers.
 * Read with them as a 64-bit ms or µs value it is always "within days", so it says nothing.
 */
function lowWordOnly(x: Uint8Array, y: Uint8Array, le: boolean): boolean {
  const at = (k: number): number => (le ? k : 7 - k);
  for (let k = 0; k < 4; k++) if (x[at(k)] === y[at(k)]) return false;
  for (let k = 4; k < 8; k++) if (x[at(k)] !== y[at(k)]) return false;
  return true;
}

function wholeSeconds(d: Decoded, unit: Unit): boolean {
  return unit !== 's' && !/\.\d*[1-9]\d*Z$/.test(d.value);
}

function unixDecoder(width: 4 | 8, le: boolean, unit: Unit): BinaryDecoder {
  const order = le ? 'little-endian' : 'big-endian';
  const description =
    unit === 'filetime'
      ? 'Windows FILETIME (64-bit little-endian, 100 ns since 1601)'
      : `${width * 8}-bit ${order} Unix time in ${UNIT_NAME[unit]}`;
  return {
    id: `unix${width * 8}${le ? 'le' : 'be'}-${unit}`,
    width,
    lsb: le ? 'start' : 'end',
    decode(_buf, off, dv) {
      if (width === 4) {
        const v = dv.getUint32(off, le);
        const d = plausibleMs(v * 1000) ? decodeTicks(BigInt(v), unit) : null;
        if (d) d.bytes = _buf.subarray(off, off + 4);
        return d;
      }
      // a rough value in floating point first: most readings fail the range check and need no BigInt
      const hi = dv.getUint32(le ? off + 4 : off, le), lo = dv.getUint32(le ? off : off + 4, le);
      if (unit === 's' && hi !== 0) return null;
      const approx = (hi * 4294967296 + lo) / Number(PER_SECOND[unit]) - (unit === 'filetime' ? Number(FILETIME_EPOCH_S) : 0);
      if (!(approx >= PLAUSIBLE_MIN_S - 1 && approx <= PLAUSIBLE_MAX_S + 1)) return null;
      const d = decodeTicks((BigInt(hi) << 32n) | BigInt(lo), unit);
      if (d) d.bytes = _buf.subarray(off, off + 8);
      return d;
    },
    pair(a, b) {
      const x = a.bytes as Uint8Array, y = b.bytes as Uint8Array;
      // two build times differ in their last byte (but for one pair in 256): a reading whose least significant
      // byte is the same on both sides has its differences in the wrong place
      // (whole seconds in a finer unit end in zero bits on both sides, and may)
      if (x[le ? 0 : width - 1] === y[le ? 0 : width - 1] && !(wholeSeconds(a, unit) && wholeSeconds(b, unit))) return null;
      if (width === 8 && unit !== 's' && (!topBytesEqual(x, y, le) || lowWordOnly(x, y, le))) return null;
      const v = pairBinaryTimes(description, HINT_SDE)(a, b);
      // how specific the reading is: 64-bit s, ms and µs times have their top 22 to 32 bits zero and FILETIMEs a
      // top byte of 1 or 2, which chance rarely gives; a fifth of all 64-bit numbers read as plausible ns
      if (v && width === 8) v.confidence += unit === 'ns' ? -0.05 : 0.02;
      return v;
    },
  };
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

const iso17: BinaryDecoder = {
  id: 'iso9660-date17',
  width: 17,
  printable: true,
  decode(buf, off) {
    for (let i = 0; i < 16; i++) if (!isDigit(buf[off + i])) return null;
    const off15 = ((buf[off + 16] as number) << 24) >> 24;
    if (off15 < -48 || off15 > 52) return null;
    const value = isoDate17(buf.subarray(off, off + 17));
    if (!value) return null;
    const ms = Date.parse(value);
    return plausibleMs(ms) ? { value, ms } : null;
  },
  pair(a, b) {
    if (a.ms === undefined || b.ms === undefined || a.value === b.value) return null;
    const confidence = Math.abs(a.ms - b.ms) <= 5 * YEAR * 1000 ? 0.9 : 0.7;
    return { kind: 'timestamp', confidence, a: a.value, b: b.value, description: 'ISO 9660 17-byte date (volume descriptor style)', hint: HINT_ISO9660, msA: a.ms, msB: b.ms };
  },
};

const iso7: BinaryDecoder = {
  id: 'iso9660-date7',
  width: 7,
  lsb: 'end',
  decode(buf, off) {
    const [y, mo, d, h, mi, s] = [buf[off], buf[off + 1], buf[off + 2], buf[off + 3], buf[off + 4], buf[off + 5]] as number[];
    const tz = ((buf[off + 6] as number) << 24) >> 24;
    if ((y as number) < 90 || (y as number) >= 200 || (h as number) > 23 || (mi as number) > 59 || (s as number) > 59 || tz < -48 || tz > 52) return null;
    if ((mo as number) < 1 || (mo as number) > 12 || (d as number) < 1 || (d as number) > 31) return null;
    const value = isoDate7(buf.subarray(off, off + 7));
    if (!value) return null;
    return { value, ms: Date.parse(value) };
  },
  pair(a, b) {
    const v = pairBinaryTimes('ISO 9660 7-byte recording date', HINT_ISO9660)(a, b);
    return v && { ...v, confidence: Math.min(0.85, v.confidence + 0.05) };
  },
};

function dosValid(date: number, time: number | null): boolean {
  const y = 1980 + (date >> 9), mo = (date >> 5) & 0xf, d = date & 0x1f;
  if (y < 1990 || mo < 1 || mo > 12 || d < 1) return false;
  if (time === null) return true;
  return time >> 11 <= 23 && ((time >> 5) & 0x3f) <= 59 && (time & 0x1f) <= 29;
}

/** DOS times come as time then date (FAT, ZIP, exFAT's 32-bit form), or as a date alone (FAT access date). */
function dosDecoder(order: 'time-date' | 'date'): BinaryDecoder {
  const width = order === 'date' ? 2 : 4;
  const description = order === 'date' ? 'DOS date (16-bit little-endian)' : 'DOS time and date (FAT/ZIP, little-endian)';
  return {
    id: `dos-${order}`,
    width,
    lsb: 'start',
    decode(_buf, off, dv) {
      const date = order === 'time-date' ? dv.getUint16(off + 2, true) : dv.getUint16(off, true);
      const time = order === 'date' ? null : dv.getUint16(off, true);
      if (!dosValid(date, time)) return null;
      const iso = dosDateTime(date, time ?? 0);
      if (!iso) return null;
      const ms = msOfIso(iso);
      return order === 'date' ? { value: iso.slice(0, 10), ms, dateOnly: true } : { value: iso, ms };
    },
    pair(a, b) {
      const v = pairBinaryTimes(description, HINT_DOS)(a, b);
      if (!v) return null;
      // four bytes that read as a close pair of DOS times usually also read as close Unix times, and Unix
      // times are the commoner in content: DOS ranks below them unless SOURCE_DATE_EPOCH picks it
      return { ...v, confidence: Math.min(order === 'date' ? 0.4 : 0.6, v.confidence - 0.15), dateOnly: a.dateOnly };
    },
  };
}

const isHexDigit = (c: number | undefined): boolean => c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));

const isDecimalDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

/**
 * Whether the eight digits at `off` are part of a short decimal number (an ar header's `1700000000`, a
 * decimal epoch in text): the run of hex digits around them holds decimal digits only and is shorter than
 * two cpio fields. A cpio newc or crc header is one run of 110 hex digits.
 */
function decimalNumber(buf: Uint8Array, off: number): boolean {
  let s = off;
  let e = off + 8;
  while (s > 0 && isHexDigit(buf[s - 1])) s--;
  while (e < buf.length && isHexDigit(buf[e])) e++;
  if (e - s >= 16) return false;
  for (let i = s; i < e; i++) if (!isDecimalDigit(buf[i])) return false;
  return true;
}

/** Eight hex digits of Unix seconds, as cpio's newc/crc headers write c_mtime (`%08X`). */
const hexSeconds: BinaryDecoder = {
  id: 'hex8-seconds',
  width: 8,
  lsb: 'end',
  printable: true,
  decode(buf, off) {
    for (let i = 0; i < 8; i++) if (!isHexDigit(buf[off + i])) return null;
    if (decimalNumber(buf, off)) return null;
    const v = parseInt(String.fromCharCode(...buf.subarray(off, off + 8)), 16);
    const d = plausibleMs(v * 1000) ? decodeTicks(BigInt(v), 's') : null;
    if (d) d.bytes = buf.subarray(off, off + 8);
    return d;
  },
  pair(a, b) {
    const x = a.bytes as Uint8Array, y = b.bytes as Uint8Array;
    if (x[7] === y[7]) return null; // the last digit of two build times differs (but for one pair in 16)
    const v = pairBinaryTimes('Unix time as 8 hex digits (cpio newc header style)', 'set the files\' times to SOURCE_DATE_EPOCH before archiving (cpio --reproducible does not; touch them first)')(a, b);
    return v && { ...v, confidence: Math.min(0.9, v.confidence + 0.05) };
  },
};

export const BINARY_TIME_DECODERS: BinaryDecoder[] = [
  hexSeconds,
  unixDecoder(4, true, 's'),
  unixDecoder(4, false, 's'),
  unixDecoder(8, true, 's'),
  unixDecoder(8, false, 's'),
  unixDecoder(8, true, 'ms'),
  unixDecoder(8, false, 'ms'),
  unixDecoder(8, true, 'us'),
  unixDecoder(8, false, 'us'),
  unixDecoder(8, true, 'ns'),
  unixDecoder(8, false, 'ns'),
  unixDecoder(8, true, 'filetime'),
  iso17,
  iso7,
  dosDecoder('time-date'),
  dosDecoder('date'),
];

// ---------------------------------------------------------------- text

const MON = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\\.?';
const DOW = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*';

const ZONES: Record<string, number> = {
  Z: 0, UT: 0, UTC: 0, GMT: 0, WET: 0, BST: 60, CET: 60, MET: 60, CEST: 120, MEST: 120, WEST: 60, EET: 120, EEST: 180,
  MSK: 180, IST: 330, JST: 540, KST: 540, AEST: 600, AEDT: 660, EST: -300, EDT: -240, CST: -360, CDT: -300,
  MST: -420, MDT: -360, PST: -480, PDT: -420,
};

/** Minutes east of UTC for a zone text, or null when unknown. Absent zone: UTC (build machines usually are). */
function zoneMinutes(z: string | undefined): number | null {
  if (!z) return 0;
  const t = z.trim();
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(t);
  if (m) return (m[1] === '-' ? -1 : 1) * (+(m[2] as string) * 60 + +(m[3] as string));
  return ZONES[t.toUpperCase()] ?? null;
}

interface Parts {
  y: number;
  mo: number; // 1..12
  d: number;
  h?: number;
  mi?: number;
  s?: number;
  frac?: string;
  zone?: string;
}

function partsToDecoded(p: Parts): Decoded | null {
  if (p.mo < 1 || p.mo > 12 || p.d < 1 || p.d > 31 || p.y < 1970 || p.y > 2199) return null;
  if (p.h === undefined) {
    const ms = Date.UTC(p.y, p.mo - 1, p.d);
    if (new Date(ms).getUTCDate() !== p.d) return null;
    return { value: `${p.y}-${pad2(p.mo)}-${pad2(p.d)}`, ms, dateOnly: true };
  }
  const mi = p.mi ?? 0, s = p.s ?? 0;
  if (p.h > 23 || mi > 59 || s > 60) return null;
  const zm = zoneMinutes(p.zone);
  const ms = Date.UTC(p.y, p.mo - 1, p.d, p.h, mi, s) - (zm ?? 0) * 60_000;
  if (new Date(Date.UTC(p.y, p.mo - 1, p.d)).getUTCDate() !== p.d) return null;
  const base = isoFromMs(ms);
  if (!base) return null;
  const value = p.frac ? `${base.slice(0, -1)}.${p.frac}Z` : base;
  return { value, ms: ms + (p.frac ? Math.floor(Number(`0.${p.frac}`) * 1000) : 0), tag: zm === null ? `zone ${p.zone} taken as UTC` : undefined };
}

function num(s: string | undefined): number | undefined {
  return s === undefined ? undefined : Number(s);
}

function pairTextTimes(base: number, description: string, hint: string): (a: Decoded, b: Decoded) => PairVerdict | null {
  return (a, b) => {
    let confidence = base;
    if (a.ms !== undefined && b.ms !== undefined && Math.abs(a.ms - b.ms) > 5 * YEAR * 1000) confidence -= 0.2;
    const desc = a.tag && !a.tag.startsWith('zone') ? a.tag : description;
    const h = a.tag === KERNEL_TAG ? HINT_KERNEL : a.tag === CMACRO_TAG ? HINT_CMACRO : hint;
    return { kind: 'timestamp', confidence, a: a.value, b: b.value, description: desc, hint: h, msA: a.ms, msB: b.ms, dateOnly: a.dateOnly, timeOnly: a.timeOnly };
  };
}

const KERNEL_TAG = 'date in a kernel build banner';
const CMACRO_TAG = 'C __DATE__ / __TIME__ style date';

/** Kernel banners: `#1 SMP PREEMPT_DYNAMIC Sun Nov 22 ...`, `Linux version ... (user@host) ... #1 SMP ... (2026-07-02)`. */
function kernelContext(text: string, start: number): boolean {
  const before = text.slice(Math.max(0, start - 80), start);
  return /#\d+\s+(SMP|PREEMPT)|#\d+\s+\S*\s*$|Linux version|PREEMPT_DYNAMIC|SMP PREEMPT/.test(before);
}

function withKernel(d: Decoded | null, text: string, start: number): Decoded | null {
  if (d && kernelContext(text, start)) d.tag = KERNEL_TAG;
  return d;
}

const rfc2822: TextPattern = {
  id: 'rfc2822',
  re: new RegExp(`(?<![A-Za-z0-9])(?:${DOW},?\\s+)?(\\d{1,2})\\s+${MON}\\s+(\\d{4}),?\\s+(\\d{1,2}):(\\d{2})(?::(\\d{2}))?(?:\\s*([+-]\\d{4}|[A-Z]{1,4}))?(?![A-Za-z0-9])`, 'g'),
  decode(m, text) {
    const mo = monthIndex(m[2] as string) + 1;
    return withKernel(partsToDecoded({ y: +(m[3] as string), mo, d: +(m[1] as string), h: num(m[4]), mi: num(m[5]), s: num(m[6]), zone: m[7] }), text, m.index);
  },
  pair: pairTextTimes(0.9, 'RFC 2822 date', HINT_SDE),
};

const dateDefault: TextPattern = {
  id: 'date-default',
  re: new RegExp(`(?<![A-Za-z])${DOW}\\s+${MON}\\s+(\\d{1,2})\\s+(\\d{1,2}):(\\d{2}):(\\d{2})(?:\\s+([A-Z]{2,5}|[+-]\\d{4}))?\\s+(\\d{4})(?!\\d)`, 'g'),
  decode(m, text) {
    const mo = monthIndex(m[1] as string) + 1;
    return withKernel(partsToDecoded({ y: +(m[7] as string), mo, d: +(m[2] as string), h: num(m[3]), mi: num(m[4]), s: num(m[5]), zone: m[6] }), text, m.index);
  },
  pair: pairTextTimes(0.9, '`date` / ctime style date', HINT_SDE),
};

const iso8601: TextPattern = {
  id: 'iso8601',
  re: /(?<![\d.:])(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(\s?(?:Z|UTC|GMT)|[+-]\d{2}:?\d{2})?)?(?![\d])/g,
  decode(m, text) {
    const d = partsToDecoded({ y: +(m[1] as string), mo: +(m[2] as string), d: +(m[3] as string), h: num(m[4]), mi: num(m[5]), s: num(m[6]), frac: m[7], zone: m[8] });
    return withKernel(d, text, m.index);
  },
  pair: (a, b) => pairTextTimes(a.dateOnly ? 0.8 : 0.9, a.dateOnly ? 'ISO 8601 date' : 'ISO 8601 date and time', HINT_SDE)(a, b),
};

const monthDayYear: TextPattern = {
  id: 'mdy',
  re: new RegExp(`(?<![A-Za-z])${MON}\\s+(\\d{1,2}),?\\s+(\\d{4})(?:\\s+(\\d{2}):(\\d{2}):(\\d{2}))?(?![\\d:])`, 'g'),
  decode(m, text) {
    const mo = monthIndex(m[1] as string) + 1;
    const d = partsToDecoded({ y: +(m[3] as string), mo, d: +(m[2] as string), h: num(m[4]), mi: num(m[5]), s: num(m[6]) });
    // `Nov 22 2026` (and `Nov  2 2026`, space-padded) is what __DATE__ expands to
    if (d && /^[A-Z][a-z]{2} [ \d]\d \d{4}/.test(m[0])) d.tag = CMACRO_TAG;
    return withKernel(d, text, m.index);
  },
  pair: (a, b) => pairTextTimes(a.dateOnly ? 0.8 : 0.9, a.dateOnly ? 'date `Mon DD YYYY`' : 'date and time `Mon DD YYYY HH:MM:SS`', HINT_SDE)(a, b),
};

const dayMonthYear: TextPattern = {
  id: 'dmy',
  re: new RegExp(`(?<![A-Za-z0-9])(\\d{1,2})[ /-]${MON}[ /-](\\d{4})(?:[ :](\\d{2}):(\\d{2})(?::(\\d{2}))?(?:\\s*([+-]\\d{4}|UTC|GMT|Z))?)?(?![\\d])`, 'g'),
  decode(m, text) {
    const mo = monthIndex(m[2] as string) + 1;
    return withKernel(partsToDecoded({ y: +(m[3] as string), mo, d: +(m[1] as string), h: num(m[4]), mi: num(m[5]), s: num(m[6]), zone: m[7] }), text, m.index);
  },
  pair: (a, b) => pairTextTimes(a.dateOnly ? 0.8 : 0.9, a.dateOnly ? 'date `DD Mon YYYY`' : 'date and time `DD Mon YYYY HH:MM:SS`', HINT_SDE)(a, b),
};

const timeOfDay: TextPattern = {
  id: 'time',
  re: /(?<![\d:])(\d{2}):(\d{2}):(\d{2})(?![\d:])/g,
  decode(m) {
    const h = +(m[1] as string), mi = +(m[2] as string), s = +(m[3] as string);
    if (h > 23 || mi > 59 || s > 60) return null;
    return { value: m[0], timeOnly: true };
  },
  pair: (a, b) => pairTextTimes(0.6, 'time of day `HH:MM:SS` (e.g. __TIME__)', HINT_SDE)(a, b),
};

const compactStamp: TextPattern = {
  id: 'compact',
  re: /(?<!\d)(\d{4})(\d{2})(\d{2})(?:([T_.-]?)(\d{2})(\d{2})(\d{2})?)?(Z?)(?![\dA-Za-z])/g,
  decode(m) {
    if (m[4] === 'T' && m[7] === undefined) return null;
    const d = partsToDecoded({ y: +(m[1] as string), mo: +(m[2] as string), d: +(m[3] as string), h: num(m[5]), mi: num(m[6]), s: num(m[7]) });
    if (!d || !plausibleMs(d.ms as number)) return null;
    d.tag = m[5] === undefined ? 'date digits YYYYMMDD (build id or version)' : 'date and time digits YYYYMMDDHHMM[SS] (build id or version)';
    return d;
  },
  pair(a, b) {
    if (a.ms === undefined || b.ms === undefined) return null;
    // bare digits could be any number: ask that the two be close
    if (Math.abs(a.ms - b.ms) > 5 * YEAR * 1000) return null;
    const confidence = a.dateOnly ? 0.6 : 0.85;
    return { kind: 'timestamp', confidence, a: a.value, b: b.value, description: a.tag as string, hint: HINT_SDE, msA: a.ms, msB: b.ms, dateOnly: a.dateOnly };
  },
};

const decimalEpoch: TextPattern = {
  id: 'epoch',
  re: /(?<![\d.])(\d{9,10}|\d{13}|\d{16}|\d{19})(?:\.(\d{1,9}))?(?![\d])/g,
  decode(m) {
    const digits = m[1] as string;
    const unit: Unit = digits.length <= 10 ? 's' : digits.length === 13 ? 'ms' : digits.length === 16 ? 'us' : 'ns';
    const d = decodeTicks(BigInt(digits), unit);
    if (!d) return null;
    if (m[2] && unit === 's') {
      d.value = `${d.value.slice(0, -1)}.${m[2]}Z`;
      d.ms = (d.ms as number) + Math.floor(Number(`0.${m[2]}`) * 1000);
    }
    d.tag = `Unix time in decimal ${UNIT_NAME[unit]}`;
    return d;
  },
  pair(a, b) {
    if (a.ms === undefined || b.ms === undefined) return null;
    const c = closenessConfidence(a.ms, b.ms);
    if (c === null) return null;
    return { kind: 'timestamp', confidence: c, a: a.value, b: b.value, description: a.tag as string, hint: HINT_SDE, msA: a.ms, msB: b.ms };
  },
};

export const TEXT_TIME_PATTERNS: TextPattern[] = [rfc2822, dateDefault, iso8601, monthDayYear, dayMonthYear, timeOfDay, compactStamp, decimalEpoch];
