/**
 * What lint says about one field of one build: whether its value will differ in the next build. Pure
 * functions over a field's name, kind and value; the walk (index.ts) gives them where the field sits.
 */
import type { Field } from '../model.js';
import { TEXT_PATH_PATTERNS } from '../classify/values-path.js';
import { entropy } from '../classify/content-types.js';

export const HINT_SDE = 'take the time from SOURCE_DATE_EPOCH (or clamp to it) instead of the current time';
export const HINT_TEMP_NAME = 'the name of a temporary file (mktemp) is recorded: give the tool a fixed name or leave the name out (gzip -n)';
export const HINT_DERIVED_ID = 'xorriso derives this id from the volume date: set SOURCE_DATE_EPOCH (or -volume_date uuid) and it follows';

/** A verdict on one field: flagged, with how sure and why. */
export interface Verdict {
  kind: Field['kind'];
  confidence: number;
  why: string;
  hint?: string;
  /** groups verdicts of one cause: the same key in one container folds */
  cause: string;
}

const UUID_RE = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

/** The 16 bytes of a UUID's text, in text order. */
function uuidBytes(text: string): number[] | null {
  const m = UUID_RE.exec(text);
  if (!m) return null;
  const h = text.replace(/-/g, '');
  const out: number[] = [];
  for (let i = 0; i < 32; i += 2) out.push(parseInt(h.slice(i, i + 2), 16));
  return out;
}

/**
 * True when a GUID is made of the ASCII digits of a date with the version and variant bits set over them, as
 * libisofs derives GPT GUIDs from the volume date (`2023111422132000` → `33323032-3131-4431-b230-…`).
 */
export function dateDerivedGuid(text: string): boolean {
  const b = uuidBytes(text);
  if (!b) return false;
  let digits = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 6 || i === 8) continue; // version and variant bits written over the digits
    const c = b[i] as number;
    if (c >= 0x30 && c <= 0x39) digits++;
  }
  return digits >= 13;
}

/** The RFC 4122 version of a UUID's text, or 0 when its variant bits are not RFC 4122. */
export function uuidVersion(text: string): number {
  const b = uuidBytes(text);
  if (!b) return -1;
  if (((b[8] as number) & 0xc0) !== 0x80) return 0;
  return (b[6] as number) >> 4;
}

/** A serial that someone chose (`-i 12345678`, `deadbeef`, `00000001`), not drawn at random. */
export function chosenLooking(hexText: string): boolean {
  const h = hexText.toLowerCase();
  if (/^0+$/.test(h)) return true;
  if (new Set(h).size <= 4) return true;
  const seq = '0123456789abcdef0123456789abcdef';
  const rev = [...seq].reverse().join('');
  if (seq.includes(h) || rev.includes(h)) return true;
  return /^(dead|beef|cafe|babe|face|feed|c0de|f00d|0000|1234)+$/.test(h) || /^(.{2})\1+$/.test(h) || /^(.{4})\1+$/.test(h);
}

/**
 * A random temporary name: a mktemp suffix of 6 to 12 letters and digits after a separator, mixing cases or
 * letters and digits (`mkinitramfs-MAIN_zfoLdW`, `tmp.Xa8f3Q`).
 */
export function tempName(value: string): string | null {
  const base = value.slice(value.lastIndexOf('/') + 1);
  const m = /(?:^tmp|[._-])([A-Za-z0-9]{6,12})(?:\.[A-Za-z0-9]{1,4})?$/.exec(base);
  if (!m) return null;
  const s = m[1] as string;
  const upper = /[A-Z]/.test(s), lower = /[a-z]/.test(s), digit = /\d/.test(s);
  const mixes = (upper && lower ? 1 : 0) + (digit && (upper || lower) ? 1 : 0);
  if (mixes === 0) return null;
  // words (`Debian`, `MainWindow`) and version tags (`ubuntu20`, `12rc`) are not random
  if (/^[A-Z]?[a-z]+$|^[A-Z][a-z]{3,}[A-Z][a-z]{3,}$/.test(s)) return null;
  if (/^[A-Z]?[a-z]+\d{1,3}$|^\d+[a-z]{1,2}$/.test(s)) return null;
  if (entropy(s) < 2.0) return null;
  return s;
}

/** The build path a value holds (`/build/pkg-x/…`, `/tmp/…`, `/home/user/…`), described, or null. */
export function buildPathIn(value: string): string | null {
  const pattern = TEXT_PATH_PATTERNS[0];
  if (!pattern) return null;
  const re = new RegExp(pattern.re.source, 'g');
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const d = pattern.decode(m, value);
    if (d?.tag) return `${d.tag}: ${d.value}`;
  }
  return null;
}

/** The first two steps of a path: what copies of one build folder share (`/build/pkg-x`). */
export function pathRoot(value: string): string {
  const m = /\/[^/\s]+(?:\/[^/\s]+)?/.exec(value);
  return m ? m[0] : value;
}

/**
 * A random-id field: flagged when its value is drawn at random (a v4 UUID, a serial that does not look
 * chosen), not when it is derived (from the volume date, or a name-based UUID), absent or zero.
 * `derived` tells when a value derived from the volume date is flagged with the date.
 */
export function judgeRandomId(f: Field, opts: { xorriso: boolean; datesFlagged: boolean }): Verdict | null {
  const v = f.value;
  if (v === null || v === '' || v === 0 || v === 'none' || typeof v === 'boolean') return null;
  const hint = f.hint;
  const text = String(v);
  if (/^[0-]+$/.test(text)) return null;
  if (typeof v === 'string' && UUID_RE.test(text)) {
    if (/^[0-]+$/.test(text)) return null;
    if (dateDerivedGuid(text)) {
      return opts.datesFlagged
        ? { kind: 'random-id', confidence: 0.9, why: 'GUID derived from the volume date, which is not fixed', hint: HINT_DERIVED_ID, cause: 'derived-from-volume-date' }
        : null;
    }
    const version = uuidVersion(text);
    if (version === 4) return { kind: 'random-id', confidence: 0.95, why: 'random UUID (version 4)', hint, cause: `value:${text.toLowerCase()}` };
    if (version === 1 || version === 6 || version === 7) return { kind: 'random-id', confidence: 0.85, why: `time-based UUID (version ${version})`, hint, cause: `value:${text.toLowerCase()}` };
    if (version === 3 || version === 5) return null; // name-based: the same name gives the same UUID
    const b = uuidBytes(text) ?? [];
    if (new Set(b).size >= 12) return { kind: 'random-id', confidence: 0.5, why: '16 random-looking bytes (no UUID version bits)', hint, cause: `value:${text.toLowerCase()}` };
    return null;
  }
  if (f.name === 'mbr.disk_signature' && opts.xorriso) {
    // xorriso writes it from the volume time: fixed dates give a fixed signature
    return opts.datesFlagged ? { kind: 'random-id', confidence: 0.8, why: 'MBR disk signature xorriso derives from the volume time, which is not fixed', hint: HINT_DERIVED_ID, cause: 'derived-from-volume-date' } : null;
  }
  if (f.name.startsWith('tar.') && f.name.endsWith('name')) {
    return { kind: 'random-id', confidence: 0.8, why: 'member name made of a process id', hint, cause: `field:${f.name}` };
  }
  if (typeof v === 'number') {
    // per-inode generation numbers and the like: one cause per field name
    return { kind: 'random-id', confidence: 0.6, why: 'number drawn at random when the file system was made', hint, cause: `field:${f.name.replace(/\d+/g, '#')}` };
  }
  if (/^[0-9a-f]+$/i.test(text)) {
    if (chosenLooking(text)) return null;
    return { kind: 'random-id', confidence: text.length >= 8 ? 0.7 : 0.5, why: 'serial or id that looks drawn at random (a fixed one given to the tool is not flagged when it looks chosen)', hint, cause: `value:${text.toLowerCase()}` };
  }
  return null;
}

/** A build-path field (a name or path of the build machine recorded in the image), or null when it is fixed text. */
export function judgeBuildPath(f: Field): Verdict | null {
  if (typeof f.value !== 'string' || f.value === '') return null;
  const temp = f.name.endsWith('fname') || f.name.endsWith('pdb_path') ? tempName(f.value) : null;
  if (temp) return { kind: 'random-id', confidence: 0.85, why: `random temporary name (…${temp})`, hint: f.hint ?? HINT_TEMP_NAME, cause: `value:${f.value}` };
  const where = buildPathIn(f.value);
  if (where) return { kind: 'build-path', confidence: 0.85, why: `build path in a ${where}`, hint: f.hint, cause: `path:${pathRoot(f.value)}` };
  if (f.name === 'linux.build_host') {
    const host = f.value.slice(f.value.indexOf('@') + 1);
    // a mail address (debian-kernel@lists.debian.org) is fixed; a bare host name is the machine's
    if (!host.includes('.')) return { kind: 'build-path', confidence: 0.6, why: 'user and host of the build machine', hint: f.hint, cause: `field:${f.name}` };
  }
  return null;
}
