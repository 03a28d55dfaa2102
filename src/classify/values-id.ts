/**
 * Identifier decoders for the content heuristics: UUIDs in text (with their version: v4 random, v1/v6/v7
 * time-based), UUIDs in binary (RFC 4122 byte order or the mixed-endian GUID order), and random-looking
 * hex or base64 tokens.
 */
import { isoFromMs } from '../util/time.js';
import { entropy, plausibleMs, type BinaryDecoder, type Decoded, type PairVerdict, type TextPattern } from './content-types.js';

const HINT_UUID = 'pass a fixed UUID to the tool that generates it (or derive it from a seed such as SOURCE_DATE_EPOCH)';
const HINT_MACHINE_ID = 'leave machine ids empty in images (systemd fills /etc/machine-id on first boot)';
const HINT_TOKEN = 'generate it from a fixed seed, or leave it out of the image';

/** Unix milliseconds of a time-based UUID (v1, v6, v7), from its 32 hex digits; null for the other versions. */
export function uuidTimeMs(h32: string, version: number): number | null {
  if (version === 7) return parseInt(h32.slice(0, 12), 16);
  let ticks: bigint;
  if (version === 1) ticks = (BigInt(`0x${h32.slice(13, 16)}`) << 48n) | (BigInt(`0x${h32.slice(8, 12)}`) << 32n) | BigInt(`0x${h32.slice(0, 8)}`);
  else if (version === 6) ticks = (BigInt(`0x${h32.slice(0, 8)}`) << 28n) | (BigInt(`0x${h32.slice(8, 12)}`) << 12n) | BigInt(`0x${h32.slice(13, 16)}`);
  else return null;
  // 100 ns intervals since 1582-10-15
  return Number(ticks / 10_000n) - 12_219_292_800_000;
}

function formatUuid(h32: string): string {
  return `${h32.slice(0, 8)}-${h32.slice(8, 12)}-${h32.slice(12, 16)}-${h32.slice(16, 20)}-${h32.slice(20)}`;
}

/** Version of an RFC 4122 UUID given as 32 hex digits, or 0 when the variant bits are not RFC 4122. */
function rfcVersion(h32: string): number {
  const variant = parseInt(h32[16] as string, 16);
  if ((variant & 0xc) !== 0x8) return 0;
  return parseInt(h32[12] as string, 16);
}

function uuidVerdict(a: Decoded, b: Decoded, where: string): PairVerdict | null {
  const va = Number(a.tag), vb = Number(b.tag);
  if (va === vb && (va === 1 || va === 6 || va === 7)) {
    const msA = uuidTimeMs(a.value.replace(/-/g, ''), va), msB = uuidTimeMs(b.value.replace(/-/g, ''), vb);
    if (msA !== null && msB !== null && plausibleMs(msA) && plausibleMs(msB)) {
      return {
        kind: 'timestamp',
        confidence: 0.9,
        a: isoFromMs(msA, 3),
        b: isoFromMs(msB, 3),
        description: `UUID v${va} ${where} (time-based: ${a.value} vs ${b.value}; its other bits are random or a node id)`,
        hint: HINT_UUID,
        msA,
        msB,
      };
    }
  }
  if (va === vb && va === 4) return { kind: 'random-id', confidence: 0.95, a: a.value, b: b.value, description: `UUID v4 (random) ${where}`, hint: HINT_UUID };
  if (va === vb && (va === 3 || va === 5)) {
    return { kind: 'random-id', confidence: 0.6, a: a.value, b: b.value, description: `UUID v${va} (name-based) ${where}: the name it hashes differs`, hint: HINT_UUID };
  }
  return { kind: 'random-id', confidence: 0.75, a: a.value, b: b.value, description: `UUID ${where}`, hint: HINT_UUID };
}

const uuidText: TextPattern = {
  id: 'uuid-text',
  re: /(?<![0-9A-Za-z-])([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{12})(?![0-9A-Za-z-])/g,
  decode(m) {
    const h32 = `${m[1]}${m[2]}${m[3]}${m[4]}${m[5]}`.toLowerCase();
    return { value: formatUuid(h32), tag: String(rfcVersion(h32)) };
  },
  pair: (a, b) => uuidVerdict(a, b, 'in text'),
};

/** Bits of a 16-byte UUID in RFC 4122 order; GUIDs keep the first three fields little-endian. */
const GUID_ORDER = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
const RFC_ORDER = [...Array(16).keys()];

function binaryUuid(bytes: Uint8Array, guid: boolean): string {
  let s = '';
  for (const i of guid ? GUID_ORDER : RFC_ORDER) s += (bytes[i] as number).toString(16).padStart(2, '0');
  return s;
}

export const binaryUuidDecoder: BinaryDecoder = {
  id: 'uuid-binary',
  width: 16,
  decode(buf, off) {
    const bytes = buf.subarray(off, off + 16);
    return { value: '', bytes };
  },
  pair(a, b) {
    const x = a.bytes as Uint8Array, y = b.bytes as Uint8Array;
    let differ = 0;
    for (let i = 0; i < 16; i++) if (x[i] !== y[i]) differ++;
    for (const guid of [false, true]) {
      // version nibble (byte 6, or 7 in a GUID) and RFC 4122 variant bits (byte 8), on both sides
      const vi = guid ? 7 : 6;
      const bitsA = (x[vi] as number) >> 4, bitsB = (y[vi] as number) >> 4;
      if (bitsA !== bitsB || bitsA < 1 || bitsA > 8 || ((x[8] as number) & 0xc0) !== 0x80 || ((y[8] as number) & 0xc0) !== 0x80) continue;
      const ha = binaryUuid(x, guid), hb = binaryUuid(y, guid);
      const va = rfcVersion(ha), vb = rfcVersion(hb);
      if (va !== vb || va < 1 || va > 8) continue;
      const timeBased = va === 1 || va === 6 || va === 7;
      // random UUIDs differ almost everywhere; time-based ones may differ only in their time fields,
      // and then their two times must be plausible and close (checked below), or the bits are chance
      if (timeBased) {
        const ta = uuidTimeMs(ha, va), tb = uuidTimeMs(hb, vb);
        if (ta === null || tb === null || !plausibleMs(ta) || !plausibleMs(tb) || Math.abs(ta - tb) > 2 * 86_400_000) continue;
      } else if (differ < 10) continue;
      {
        const layout = guid ? 'in binary, GUID (mixed-endian) byte order' : 'in binary, RFC 4122 byte order';
        const v = uuidVerdict({ value: formatUuid(ha), tag: String(va) }, { value: formatUuid(hb), tag: String(vb) }, layout);
        if (v) return { ...v, confidence: v.confidence - 0.05 };
      }
    }
    // text that moved is not a random id
    if (differ < 13 || printableCount(x) >= 12 || printableCount(y) >= 12) return null;
    const ha = binaryUuid(x, false), hb = binaryUuid(y, false);
    return { kind: 'random-id', confidence: 0.45, a: ha, b: hb, description: '16 random-looking bytes (a UUID/GUID without version bits, a key or a digest)', hint: HINT_UUID };
  },
};

function printableCount(x: Uint8Array): number {
  let n = 0;
  for (const c of x) if (c >= 0x20 && c < 0x7f) n++;
  return n;
}

const HASH_HEX_LENGTHS: Record<number, string> = { 40: 'SHA-1', 56: 'SHA-224', 64: 'SHA-256', 96: 'SHA-384', 128: 'SHA-512' };

const hexToken: TextPattern = {
  id: 'hex-token',
  re: /(?<![0-9A-Za-z])(?:0x)?([0-9a-f]{16,}|[0-9A-F]{16,})(?![0-9A-Za-z])/g,
  decode(m) {
    const t = m[1] as string;
    if (/^\d+$/.test(t) || entropy(t) < 2.8) return null;
    return { value: t.toLowerCase() };
  },
  pair(a, b) {
    const len = a.value.length;
    const digest = HASH_HEX_LENGTHS[len];
    if (digest && b.value.length === len) {
      return { kind: 'checksum', confidence: 0.5, a: a.value, b: b.value, description: `${len}-digit hex token (a ${digest} digest of content that differs, or a random id)` };
    }
    if (len === 32 && b.value.length === 32) {
      return { kind: 'random-id', confidence: 0.6, a: a.value, b: b.value, description: '32-digit hex token (a machine id, a random 128-bit id, or an MD5 digest)', hint: HINT_MACHINE_ID };
    }
    return { kind: 'random-id', confidence: 0.55, a: a.value, b: b.value, description: `random-looking hex token of ${len} digits`, hint: HINT_TOKEN };
  },
};

const base64Token: TextPattern = {
  id: 'base64-token',
  re: /(?<![0-9A-Za-z+/_-])([A-Za-z0-9+/]{22,}={0,2}|[A-Za-z0-9_-]{22,})(?![0-9A-Za-z+/=_-])/g,
  decode(m) {
    const t = m[1] as string;
    if (!/[a-z]/.test(t) || !/[A-Z]/.test(t) || !/\d/.test(t)) return null;
    // words and paths are not tokens: ask for a high entropy and few separators
    if (entropy(t) < 4.0 || (t.match(/[/_-]/g)?.length ?? 0) > t.length / 8) return null;
    return { value: t };
  },
  pair: (a, b) => ({ kind: 'random-id', confidence: 0.5, a: a.value, b: b.value, description: `random-looking base64 token of ${a.value.length} characters (a key, salt, nonce or id)`, hint: HINT_TOKEN }),
};

export const TEXT_ID_PATTERNS: TextPattern[] = [uuidText, hexToken, base64Token];
