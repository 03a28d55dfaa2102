/**
 * Linux x86 boot images (bzImage), from Documentation/arch/x86/boot.rst: the real-mode setup header
 * (boot protocol 2.x), the kernel version string it points to, and the compressed vmlinux payload
 * (exposed as `/payload` for the walker to open its compression layer). A bzImage with an EFI stub is
 * also a PE image: its PE headers and any Authenticode signature are read by the PE reader.
 */
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import type { Container, Entry, Field, Format, OpenContext } from '../../model.js';
import { field } from '../../model.js';
import { isPe, parsePe } from '../pe/index.js';

export const KBUILD_HINT =
  'the kernel version string records the build user, host and time: set KBUILD_BUILD_TIMESTAMP (e.g. from SOURCE_DATE_EPOCH), KBUILD_BUILD_USER, KBUILD_BUILD_HOST and KBUILD_BUILD_VERSION';

const COMPRESSORS: [number[], string][] = [
  [[0x1f, 0x8b], 'gzip'],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 'xz'],
  [[0x28, 0xb5, 0x2f, 0xfd], 'zstd'],
  [[0x02, 0x21, 0x4c, 0x18], 'lz4'],
  [[0x42, 0x5a, 0x68], 'bzip2'],
  [[0x5d, 0x00, 0x00], 'lzma'],
  [[0x89, 0x4c, 0x5a, 0x4f], 'lzo'],
  [[0x7f, 0x45, 0x4c, 0x46], 'elf'],
];

export function isBzImage(src: ByteSource): boolean {
  if (src.size < 0x270) return false;
  const b = src.read(0x1fe, 8, 'setup header');
  return b[0] === 0x55 && b[1] === 0xaa && b[4] === 0x48 && b[5] === 0x64 && b[6] === 0x72 && b[7] === 0x53;
}

export const linuxFormat: Format = {
  name: 'linux',
  exclusive: true,
  detect(src: ByteSource): number {
    return isBzImage(src) ? 85 : 0;
  },
  open(src: ByteSource, ctx: OpenContext): Container {
    return openLinux(src, ctx);
  },
};

/** Splits `6.1.0-18-amd64 (user@host) (compiler...) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)`. */
export function splitVersion(v: string): { release: string; buildHost: [string, number] | null; buildDate: [string, number] | null; compiler: [string, number] | null } {
  const release = v.split(' ')[0] ?? '';
  let buildHost: [string, number] | null = null;
  let compiler: [string, number] | null = null;
  const hm = /^\S+ \(([^()\s]+@[^()\s]+)\)/.exec(v);
  if (hm) buildHost = [hm[1] as string, v.indexOf(hm[1] as string)];
  const hash = v.search(/ #\d/);
  if (hm) {
    // the compiler part: balanced parentheses after the user@host
    let i = hm[0].length;
    while (v[i] === ' ') i++;
    if (v[i] === '(') {
      let depth = 0;
      const start = i;
      for (; i < v.length; i++) {
        if (v[i] === '(') depth++;
        else if (v[i] === ')' && --depth === 0) break;
      }
      compiler = [v.slice(start + 1, i), start + 1];
    }
  }
  let buildDate: [string, number] | null = null;
  if (hash >= 0) {
    const tail = v.slice(hash);
    const paren = /\((\d{4}-\d{2}-\d{2})\)\s*$/.exec(tail);
    const ctime = /(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} [ \d]\d \d{2}:\d{2}:\d{2} (?:\S+ )?\d{4}/.exec(tail);
    if (paren) buildDate = [paren[1] as string, hash + tail.lastIndexOf(paren[1] as string)];
    else if (ctime) buildDate = [ctime[0], hash + tail.indexOf(ctime[0])];
  }
  return { release, buildHost, buildDate, compiler };
}

function isoOfBuildDate(s: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return `${s}T00:00:00Z`;
  const m = /^\w{3} (\w{3}) +(\d+) (\d{2}:\d{2}:\d{2}) (?:(\S+) )?(\d{4})$/.exec(s);
  if (m && (m[4] === undefined || m[4] === 'UTC' || m[4] === 'GMT')) {
    const d = new Date(`${m[1]} ${m[2]} ${m[5]} ${m[3]} UTC`);
    if (!Number.isNaN(d.getTime())) return d.toISOString().replace('.000Z', 'Z');
  }
  return s;
}

export function openLinux(src: ByteSource, ctx: OpenContext): Container {
  let c: Container;
  if (isPe(src)) {
    c = parsePe(src, ctx, 'linux').container;
    // sections overlap the payload; keep only the payload as an entry
    c.entries = [];
  } else c = { format: 'linux', source: src, fields: [], entries: [], regions: [], notes: [] };
  const h = Bytes.at(src, 0x1f1, 0x270 - 0x1f1, 'setup header');
  const at = (off: number): number => off - 0x1f1;
  const fields: Field[] = [];
  const version = h.u16le(at(0x206));
  const setupSects = h.u8(at(0x1f1)) || 4;
  fields.push(field('linux.boot_protocol', `${version >> 8}.${String(version & 0xff).padStart(2, '0')}`, 'content', h.spans(at(0x206), 2)));
  fields.push(field('linux.setup_sects', h.u8(at(0x1f1)), 'layout', h.spans(at(0x1f1), 1), { derived: true }));
  fields.push(field('linux.syssize', h.u32le(at(0x1f4)), 'size', h.spans(at(0x1f4), 4), { derived: true }));
  fields.push(field('linux.loadflags', h.u8(at(0x211)), 'content', h.spans(at(0x211), 1)));
  if (version >= 0x20c) fields.push(field('linux.xloadflags', h.u16le(at(0x236)), 'content', h.spans(at(0x236), 2)));
  if (version >= 0x20a) {
    fields.push(field('linux.pref_address', h.u64le(at(0x258)), 'layout', h.spans(at(0x258), 8)));
    fields.push(field('linux.init_size', h.u32le(at(0x260)), 'size', h.spans(at(0x260), 4), { derived: true }));
  }
  if (version >= 0x20b) fields.push(field('linux.handover_offset', h.u32le(at(0x264)), 'layout', h.spans(at(0x264), 4), { derived: true }));
  // the version string
  const kvOff = h.u16le(at(0x20e));
  if (kvOff) {
    const off = kvOff + 0x200;
    if (off < src.size) {
      const raw = src.read(off, Math.min(512, src.size - off), 'kernel version string');
      const end = raw.indexOf(0);
      const len = end < 0 ? raw.length : end;
      const vb = new Bytes(raw.subarray(0, len), src, off, 'kernel version string');
      const text = vb.ascii(0, len, false);
      fields.push(field('linux.kernel_version_offset', kvOff, 'layout', h.spans(at(0x20e), 2), { derived: true }));
      fields.push(field('linux.version', text, 'content', vb.spans(0, len)));
      const parts = splitVersion(text);
      fields.push(field('linux.release', parts.release, 'content', vb.spans(0, parts.release.length)));
      if (parts.buildHost) fields.push(field('linux.build_host', parts.buildHost[0], 'build-path', vb.spans(parts.buildHost[1], parts.buildHost[0].length), { hint: KBUILD_HINT }));
      if (parts.compiler) fields.push(field('linux.compiler', parts.compiler[0], 'content', vb.spans(parts.compiler[1], parts.compiler[0].length)));
      if (parts.buildDate) fields.push(field('linux.build_date', isoOfBuildDate(parts.buildDate[0]), 'timestamp', vb.spans(parts.buildDate[1], parts.buildDate[0].length), { hint: KBUILD_HINT }));
    } else c.notes.push(`kernel_version offset ${kvOff} points past the end of the file`);
  }
  // the compressed payload
  const entries: Entry[] = [];
  if (version >= 0x208) {
    const pOff = h.u32le(at(0x248));
    const pLen = h.u32le(at(0x24c));
    const start = (setupSects + 1) * 512 + pOff;
    fields.push(field('linux.payload_offset', pOff, 'layout', h.spans(at(0x248), 4), { derived: true }));
    fields.push(field('linux.payload_length', pLen, 'size', h.spans(at(0x24c), 4), { derived: true }));
    if (pLen && start + pLen <= src.size) {
      const m = src.read(start, Math.min(6, pLen), 'payload magic');
      const comp = COMPRESSORS.find(([mm]) => mm.length <= m.length && mm.every((v, i) => m[i] === v));
      entries.push({
        path: '/payload',
        type: 'file',
        size: pLen,
        extents: [{ offset: start, length: pLen }],
        fields: [field('linux.payload_format', comp ? comp[1] : 'unknown', 'content', src.spans(start, Math.min(6, pLen)))],
        meta: {},
        order: 0,
      });
    } else if (pLen) c.notes.push(`the kernel payload (${pLen} bytes at ${start}) runs past the end of the file`);
  }
  c.regions.push({ name: 'Linux setup header', role: 'metadata', spans: h.spans(0, h.length) });
  c.fields.push(...fields);
  c.entries = entries;
  return c;
}
