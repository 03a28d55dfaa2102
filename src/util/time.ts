/** Decoders for the date formats found in images. All return ISO 8601 UTC strings, or null when unset or invalid. */

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** From a UTC epoch in milliseconds; `fraction` digits kept when the format carries them. */
export function isoFromMs(ms: number, fractionDigits = 0): string | null {
  if (!Number.isFinite(ms)) return null;
  // images repeat the same few times over and over (a tree stamped within seconds): decode each once
  if (Math.abs(ms) >= 2 ** 49 || !Number.isInteger(ms) || fractionDigits > 7) return isoFromMsUncached(ms, fractionDigits);
  const key = ms * 8 + fractionDigits;
  const hit = ISO_CACHE.get(key);
  if (hit !== undefined) return hit;
  const s = isoFromMsUncached(ms, fractionDigits);
  if (ISO_CACHE.size >= 4096) ISO_CACHE.clear();
  ISO_CACHE.set(key, s);
  return s;
}

const ISO_CACHE = new Map<number, string | null>();

function isoFromMsUncached(ms: number, fractionDigits: number): string | null {
  const d = new Date(ms);
  const t = d.getTime();
  if (Number.isNaN(t)) return null;
  if (t >= YEAR_0 && t < YEAR_10000) {
    // toISOString is YYYY-MM-DDTHH:MM:SS.sssZ
    const iso = d.toISOString();
    if (fractionDigits <= 0) return `${iso.slice(0, 19)}Z`;
    if (fractionDigits <= 3) return `${iso.slice(0, 20 + fractionDigits)}Z`;
  }
  const base = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  if (fractionDigits > 0) {
    const frac = String(((ms % 1000) + 1000) % 1000).padStart(3, '0');
    return `${base}.${frac.slice(0, fractionDigits).padEnd(fractionDigits, '0')}Z`;
  }
  return `${base}Z`;
}

const YEAR_0 = -62167219200000; // 0000-01-01T00:00:00Z
const YEAR_10000 = 253402300800000;

/** Unix seconds (may be negative) to ISO. */
export function isoFromUnix(seconds: number): string | null {
  return isoFromMs(seconds * 1000);
}

/**
 * ISO 9660 8.4.26.1 dec-datetime: 16 ASCII digits `YYYYMMDDHHMMSScc` and a signed offset from GMT in 15-minute units.
 * All zeros (digits '0' and offset 0) means "not specified": null.
 */
export function isoDate17(b: Uint8Array): string | null {
  const s = String.fromCharCode(...b.subarray(0, 16));
  if (!/^\d{16}$/.test(s) || /^0{16}$/.test(s)) return null;
  const y = +s.slice(0, 4), mo = +s.slice(4, 6), d = +s.slice(6, 8);
  const h = +s.slice(8, 10), mi = +s.slice(10, 12), sec = +s.slice(12, 14), cs = +s.slice(14, 16);
  const off = ((b[16] as number) << 24) >> 24;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return null;
  const ms = Date.UTC(y, mo - 1, d, h, mi, sec, cs * 10) - off * 15 * 60 * 1000;
  return isoFromMs(ms, 2);
}

/** ISO 9660 9.1.5 recording date: years since 1900, month, day, hour, minute, second, GMT offset in 15-minute units. */
export function isoDate7(b: Uint8Array): string | null {
  const y = b[0] as number;
  const mo = b[1] as number;
  const d = b[2] as number;
  const h = b[3] as number;
  const mi = b[4] as number;
  const s = b[5] as number;
  if (y === 0 && mo === 0 && d === 0 && h === 0 && mi === 0 && s === 0) return null;
  const off = ((b[6] as number) << 24) >> 24;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return null;
  const ms = Date.UTC(1900 + y, mo - 1, d, h, mi, s) - off * 15 * 60 * 1000;
  return isoFromMs(ms);
}

/**
 * FAT/DOS packed date and time. DOS times are the local time of the machine that wrote them, with no zone:
 * they are returned without a zone designator (`2026-11-22T06:45:16`), never as if they were UTC.
 * `centiseconds` is the 10 ms creation field.
 */
export function dosDateTime(date: number, time: number, centiseconds = 0): string | null {
  if (date === 0 && time === 0) return null;
  const y = 1980 + (date >> 9), mo = (date >> 5) & 0xf, d = date & 0x1f;
  const h = time >> 11, mi = (time >> 5) & 0x3f, s = (time & 0x1f) * 2;
  if (mo < 1 || mo > 12 || d < 1) return null;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s) + centiseconds * 10;
  const iso = isoFromMs(ms, centiseconds ? 2 : 0);
  return iso === null ? null : iso.replace(/Z$/, '');
}

/**
 * Milliseconds of an ISO 8601 time value. A time without a zone (a DOS local time) is read as the same wall
 * clock in UTC, so results do not depend on the zone of the machine running the comparison.
 */
export function msOfIso(v: string): number {
  return Date.parse(/(?:Z|[+-]\d\d:?\d\d)$/.test(v) || !/T\d/.test(v) ? v : `${v}Z`);
}
