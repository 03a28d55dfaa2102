/**
 * Python byte-compiled files (.pyc). The header (PEP 552 since Python 3.7): a 16-bit magic number naming the
 * bytecode version followed by `\r\n`; a 32-bit flags word (0: timestamp-based, bit 0: hash-based, bit 1:
 * check_source); then the source's mtime and size (timestamp-based) or an 8-byte SipHash of the source
 * (hash-based). Python 3.3-3.6 have no flags (magic, mtime, size); older ones only magic and mtime.
 * The marshalled code object after the header is one `/code` entry: its contents are compared as bytes
 * (marshal is not parsed; embedded paths and names are found by the content heuristics).
 */
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import type { Container, Field, Format, OpenContext } from '../../model.js';
import { field } from '../../model.js';
import { isoFromUnix } from '../../util/time.js';

export const PYC_HINTS = {
  mtime:
    'py_compile and compileall write the source file\'s mtime: set SOURCE_DATE_EPOCH (py_compile then writes checked-hash pycs) or compile with `--invalidation-mode checked-hash`',
  hash: 'a hash-based pyc holds a SipHash of its source: the sources differ between the builds',
  flags: 'one build wrote timestamp-based pycs and the other hash-based ones: set SOURCE_DATE_EPOCH in both, or pass the same `--invalidation-mode`',
};

/** Magic numbers (the 16-bit little-endian word) of each release's bytecode, from CPython's importlib history. */
const VERSIONS: [number, number, string][] = [
  [20121, 20121, '1.5'],
  [50823, 50823, '2.0'],
  [60202, 60202, '2.1'],
  [60717, 60717, '2.2'],
  [62011, 62021, '2.3'],
  [62041, 62061, '2.4'],
  [62071, 62131, '2.5'],
  [62151, 62161, '2.6'],
  [62171, 62211, '2.7'],
  [3000, 3131, '3.0'],
  [3141, 3151, '3.1'],
  [3160, 3180, '3.2'],
  [3190, 3230, '3.3'],
  [3250, 3310, '3.4'],
  [3320, 3351, '3.5'],
  [3360, 3379, '3.6'],
  [3390, 3394, '3.7'],
  [3400, 3413, '3.8'],
  [3420, 3425, '3.9'],
  [3430, 3439, '3.10'],
  [3450, 3495, '3.11'],
  [3500, 3531, '3.12'],
  [3550, 3571, '3.13'],
  [3600, 3649, '3.14'],
  [3650, 3699, '3.15'],
];

function versionOf(magic: number): string | null {
  for (const [lo, hi, v] of VERSIONS) if (magic >= lo && magic <= hi) return v;
  return null;
}

/** The header's layout for a bytecode version: 16 bytes with flags (3.7+), 12 (3.3-3.6), 8 (older). */
function headerSize(version: string): 8 | 12 | 16 {
  const [major, minor] = version.split('.').map(Number) as [number, number];
  if (major < 3 || minor < 3) return 8;
  return minor < 7 ? 12 : 16;
}

export const pycFormat: Format = {
  name: 'pyc',
  exclusive: true,
  detect(src: ByteSource): number {
    if (src.size < 9) return 0;
    const b = src.read(0, 4, 'pyc magic');
    if (b[2] !== 0x0d || b[3] !== 0x0a) return 0;
    const version = versionOf((b[0] as number) | ((b[1] as number) << 8));
    if (!version || src.size <= headerSize(version)) return 0;
    if (headerSize(version) === 16) {
      // flags: only bits 0 and 1 are defined
      const f = src.read(4, 4, 'pyc flags');
      if ((f[0] as number) > 3 || f[1] || f[2] || f[3]) return 0;
    }
    return 60;
  },
  open(src: ByteSource, ctx: OpenContext): Container {
    void ctx;
    return openPyc(src);
  },
};

export function openPyc(src: ByteSource): Container {
  const head = Bytes.at(src, 0, Math.min(16, src.size), 'pyc header');
  const magic = head.u16le(0);
  if (head.u8(2) !== 0x0d || head.u8(3) !== 0x0a) throw head.error(2, 'pyc magic does not end with \\r\\n');
  const version = versionOf(magic);
  if (!version) throw head.error(0, `pyc magic number ${magic} is not one of a known Python release`, 'E_UNSUPPORTED');
  const size = headerSize(version);
  if (src.size <= size) throw head.error(0, `pyc file of ${src.size} bytes is no longer than its ${size}-byte header`);
  const fields: Field[] = [field('pyc.magic', `${magic} (Python ${version})`, 'content', head.spans(0, 4))];
  const notes: string[] = [];
  let tsOff = 4;
  if (size === 16) {
    const flags = head.u32le(4);
    const mode = flags & 1 ? (flags & 2 ? 'checked-hash' : 'unchecked-hash') : 'timestamp';
    fields.push(field('pyc.flags', mode, 'content', head.spans(4, 4), { hint: PYC_HINTS.flags }));
    if (flags & ~3) notes.push(`pyc flags 0x${flags.toString(16)} has undefined bits set`);
    if (flags & 1) {
      fields.push(field('pyc.source_hash', head.hex(8, 8), 'checksum', head.spans(8, 8), { derived: true, hint: PYC_HINTS.hash }));
      tsOff = -1;
    } else tsOff = 8;
  }
  if (tsOff > 0) {
    fields.push(field('pyc.source_mtime', isoFromUnix(head.u32le(tsOff)), 'timestamp', head.spans(tsOff, 4), { hint: PYC_HINTS.mtime }));
    if (size >= 12) fields.push(field('pyc.source_size', head.u32le(tsOff + 4), 'size', head.spans(tsOff + 4, 4), { derived: true }));
  }
  notes.push(`Python ${version} bytecode; the marshalled code object is compared as bytes`);
  const codeSize = src.size - size;
  return {
    format: 'pyc',
    source: src,
    producer: `Python ${version}`,
    fields,
    entries: [{ path: '/code', type: 'file', size: codeSize, extents: [{ offset: size, length: codeSize }], fields: [], meta: {}, order: 0 }],
    regions: [{ name: 'pyc header', role: 'metadata', spans: src.spans(0, size) }],
    notes,
  };
}
