/**
 * PE/COFF images (EFI applications, systemd-boot stubs, UKIs, signed kernels), from the Microsoft PE
 * format specification: DOS header, COFF header, optional header (PE32 and PE32+), data directories,
 * section table, debug directory (CodeView, repro), base relocations, COFF symbol table and the
 * certificate table with its Authenticode signature. Sections are entries; the rest are fields and regions.
 */
import { Bytes } from '../../io/bytes.js';
import { guidToString } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import { checkCap } from '../../limits.js';
import type { Container, Entry, Field, Format, FormatName, OpenContext, Region, Span } from '../../model.js';
import { field } from '../../model.js';
import { isoFromUnix } from '../../util/time.js';
import { parseCertTable, MAX_CERT_TABLE } from './authenticode.js';
import { shortHash } from '../mbr/hash.js';

export const COFF_TIMESTAMP_HINT =
  'the linker or objcopy stamped the build time: objcopy 2.40 writes the current time even with SOURCE_DATE_EPOCH; link with `ld --no-insert-timestamp` or lld, or set the stamp after assembly as ukify does (and keep CheckSum 0)';
export const CODEVIEW_GUID_HINT = 'the linker generated a random PDB GUID: link with `/Brepro` (MSVC, lld-link) or derive it from the content';
export const PDB_PATH_HINT = 'the PDB path names the build folder: link with `/PDBALTPATH:%_PDB%` or build in a fixed path (-ffile-prefix-map)';

const DIR_NAMES = [
  'export', 'import', 'resource', 'exception', 'certificate', 'basereloc', 'debug', 'architecture',
  'globalptr', 'tls', 'load_config', 'bound_import', 'iat', 'delay_import', 'clr', 'reserved',
];
const DEBUG_TYPES: Record<number, string> = { 1: 'coff', 2: 'codeview', 4: 'misc', 9: 'borland', 12: 'vc_feature', 13: 'pogo', 14: 'iltcg', 16: 'repro', 20: 'ex_dllcharacteristics' };
const MACHINES: Record<number, string> = { 0x14c: 'i386', 0x8664: 'x86_64', 0xaa64: 'arm64', 0x1c2: 'thumb', 0x1c4: 'armv7', 0x5032: 'riscv32', 0x5064: 'riscv64', 0x6264: 'loongarch64', 0xebc: 'ebc' };
/** a section table larger than this is not believed */
const MAX_SECTIONS = 96;

export interface PeSection {
  name: string;
  index: number;
  virtualSize: number;
  virtualAddress: number;
  rawSize: number;
  rawPointer: number;
  characteristics: number;
  /** clipped to the file */
  fileLength: number;
  headerOffset: number;
}

export interface PeInfo {
  container: Container;
  sections: PeSection[];
  /** sections as entries, in table order */
  sectionEntries: Entry[];
  optOffset: number;
  pe32plus: boolean;
  certTable: { offset: number; size: number } | null;
}

/** Quick structural check: MZ, e_lfanew in range, PE signature. */
export function isPe(src: ByteSource): boolean {
  if (src.size < 0x40) return false;
  const d = src.read(0, 0x40, 'DOS header');
  if (d[0] !== 0x4d || d[1] !== 0x5a) return false;
  const lfanew = new DataView(d.buffer, d.byteOffset, 0x40).getUint32(0x3c, true);
  if (lfanew < 0x40 || lfanew + 24 > src.size) return false;
  const s = src.read(lfanew, 4, 'PE signature');
  return s[0] === 0x50 && s[1] === 0x45 && s[2] === 0 && s[3] === 0;
}

export function hasSection(src: ByteSource, name: string): boolean {
  try {
    const lfanew = Bytes.at(src, 0x3c, 4, 'DOS header').u32le(0);
    const coff = Bytes.at(src, lfanew + 4, 20, 'COFF header');
    const n = Math.min(coff.u16le(2), MAX_SECTIONS);
    const tbl = lfanew + 24 + coff.u16le(16);
    const t = Bytes.at(src, tbl, n * 40, 'section table');
    for (let i = 0; i < n; i++) if (t.ascii(i * 40, 8) === name) return true;
  } catch {
    return false;
  }
  return false;
}

export const peFormat: Format = {
  name: 'pe',
  exclusive: true,
  detect(src: ByteSource): number {
    return isPe(src) ? 60 : 0;
  },
  open(src: ByteSource, ctx: OpenContext): Container {
    return parsePe(src, ctx, 'pe').container;
  },
};

function pushRegion(regions: Region[], name: string, role: Region['role'], spans: Span[]): void {
  if (spans.length && spans.some((s) => s.length > 0)) regions.push({ name, role, spans });
}

export function parsePe(src: ByteSource, ctx: OpenContext, format: FormatName): PeInfo {
  const fields: Field[] = [];
  const regions: Region[] = [];
  const notes: string[] = [];
  const dos = Bytes.at(src, 0, 0x40, 'DOS header');
  if (dos.u16le(0) !== 0x5a4d) throw dos.error(0, 'no MZ signature');
  const lfanew = dos.u32le(0x3c);
  if (lfanew < 0x40 || lfanew > src.size - 24) throw dos.error(0x3c, `e_lfanew ${lfanew} points outside the ${src.size}-byte file`);
  fields.push(field('pe.dos.e_lfanew', lfanew, 'layout', dos.spans(0x3c, 4), { derived: true }));
  const sig = Bytes.at(src, lfanew, 4, 'PE signature');
  if (sig.u32le(0) !== 0x4550) throw sig.error(0, 'no PE signature at e_lfanew');
  // COFF file header
  const coff = Bytes.at(src, lfanew + 4, 20, 'COFF header');
  const machine = coff.u16le(0);
  const nsec = coff.u16le(2);
  const timestamp = coff.u32le(4);
  const symPtr = coff.u32le(8);
  const nsym = coff.u32le(12);
  const optSize = coff.u16le(16);
  fields.push(field('pe.coff.machine', MACHINES[machine] ?? `0x${machine.toString(16)}`, 'content', coff.spans(0, 2)));
  fields.push(field('pe.coff.number_of_sections', nsec, 'layout', coff.spans(2, 2), { derived: true }));
  fields.push(field('pe.coff.timestamp', timestamp === 0 ? null : isoFromUnix(timestamp), 'timestamp', coff.spans(4, 4), { hint: COFF_TIMESTAMP_HINT }));
  fields.push(field('pe.coff.symbol_table_pointer', symPtr, 'layout', coff.spans(8, 4), { derived: true }));
  fields.push(field('pe.coff.number_of_symbols', nsym, 'layout', coff.spans(12, 4), { derived: true }));
  fields.push(field('pe.coff.size_of_optional_header', optSize, 'layout', coff.spans(16, 2), { derived: true }));
  fields.push(field('pe.coff.characteristics', coff.u16le(18), 'content', coff.spans(18, 2)));
  checkCap(nsec, MAX_SECTIONS, 'PE section count', src.name, lfanew + 6);
  // optional header
  const optOff = lfanew + 24;
  if (optSize < 2 || optOff + optSize > src.size) throw coff.error(16, `optional header of ${optSize} bytes does not fit the file`);
  const opt = Bytes.at(src, optOff, optSize, 'optional header');
  const magic = opt.u16le(0);
  if (magic !== 0x10b && magic !== 0x20b) throw opt.error(0, `unknown optional header magic 0x${magic.toString(16)}`);
  const plus = magic === 0x20b;
  const minSize = plus ? 112 : 96;
  if (optSize < minSize) throw opt.error(0, `optional header of ${optSize} bytes is shorter than ${minSize}`);
  fields.push(field('pe.opt.magic', plus ? 'PE32+' : 'PE32', 'content', opt.spans(0, 2)));
  fields.push(field('pe.opt.linker_version', `${opt.u8(2)}.${opt.u8(3)}`, 'content', opt.spans(2, 2)));
  fields.push(field('pe.opt.size_of_code', opt.u32le(4), 'size', opt.spans(4, 4), { derived: true }));
  fields.push(field('pe.opt.size_of_initialized_data', opt.u32le(8), 'size', opt.spans(8, 4), { derived: true }));
  fields.push(field('pe.opt.size_of_uninitialized_data', opt.u32le(12), 'size', opt.spans(12, 4), { derived: true }));
  fields.push(field('pe.opt.entry_point', opt.u32le(16), 'layout', opt.spans(16, 4), { derived: true }));
  fields.push(field('pe.opt.base_of_code', opt.u32le(20), 'layout', opt.spans(20, 4), { derived: true }));
  if (plus) fields.push(field('pe.opt.image_base', opt.u64le(24), 'layout', opt.spans(24, 8)));
  else {
    fields.push(field('pe.opt.base_of_data', opt.u32le(24), 'layout', opt.spans(24, 4), { derived: true }));
    fields.push(field('pe.opt.image_base', opt.u32le(28), 'layout', opt.spans(28, 4)));
  }
  fields.push(field('pe.opt.section_alignment', opt.u32le(32), 'layout', opt.spans(32, 4)));
  fields.push(field('pe.opt.file_alignment', opt.u32le(36), 'layout', opt.spans(36, 4)));
  fields.push(field('pe.opt.os_version', `${opt.u16le(40)}.${opt.u16le(42)}`, 'content', opt.spans(40, 4)));
  fields.push(field('pe.opt.image_version', `${opt.u16le(44)}.${opt.u16le(46)}`, 'content', opt.spans(44, 4)));
  fields.push(field('pe.opt.subsystem_version', `${opt.u16le(48)}.${opt.u16le(50)}`, 'content', opt.spans(48, 4)));
  fields.push(field('pe.opt.size_of_image', opt.u32le(56), 'size', opt.spans(56, 4), { derived: true }));
  const sizeOfHeaders = opt.u32le(60);
  fields.push(field('pe.opt.size_of_headers', sizeOfHeaders, 'size', opt.spans(60, 4), { derived: true }));
  const checksumOff = optOff + 64;
  const checksumField = field('pe.opt.checksum', opt.u32le(64), 'checksum', opt.spans(64, 4), { derived: true });
  fields.push(checksumField);
  fields.push(field('pe.opt.subsystem', opt.u16le(68), 'content', opt.spans(68, 2)));
  fields.push(field('pe.opt.dll_characteristics', opt.u16le(70), 'content', opt.spans(70, 2)));
  const nrvaOff = plus ? 108 : 92;
  const nrva = opt.u32le(nrvaOff);
  fields.push(field('pe.opt.number_of_rva_and_sizes', nrva, 'layout', opt.spans(nrvaOff, 4)));
  const dirOff = nrvaOff + 4;
  const ndirs = Math.min(nrva, 16, Math.floor((optSize - dirOff) / 8));
  if (nrva > ndirs) notes.push(`NumberOfRvaAndSizes ${nrva}: only ${ndirs} data directories fit the optional header`);
  const dirs: { rva: number; size: number }[] = [];
  for (let i = 0; i < ndirs; i++) {
    const rva = opt.u32le(dirOff + i * 8);
    const size = opt.u32le(dirOff + i * 8 + 4);
    dirs.push({ rva, size });
    if (rva || size) {
      const n = DIR_NAMES[i] as string;
      fields.push(field(`pe.dir.${n}.${i === 4 ? 'offset' : 'rva'}`, rva, 'layout', opt.spans(dirOff + i * 8, 4), { derived: true }));
      fields.push(field(`pe.dir.${n}.size`, size, 'size', opt.spans(dirOff + i * 8 + 4, 4), { derived: true }));
    }
  }
  // section table
  const tblOff = optOff + optSize;
  const tbl = Bytes.at(src, tblOff, nsec * 40, 'section table');
  // COFF string table for long section names
  const strTab = symPtr && nsym ? symPtr + nsym * 18 : 0;
  const sections: PeSection[] = [];
  const entries: Entry[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < nsec; i++) {
    const o = i * 40;
    let name = tbl.ascii(o, 8);
    if (/^\/\d+$/.test(name) && strTab) {
      const at = strTab + Number(name.slice(1));
      if (at < src.size) {
        const raw = src.read(at, Math.min(256, src.size - at), 'COFF string table');
        const end = raw.indexOf(0);
        name = new TextDecoder('latin1').decode(raw.subarray(0, end < 0 ? raw.length : end));
      }
    }
    const s: PeSection = {
      name,
      index: i,
      virtualSize: tbl.u32le(o + 8),
      virtualAddress: tbl.u32le(o + 12),
      rawSize: tbl.u32le(o + 16),
      rawPointer: tbl.u32le(o + 20),
      characteristics: tbl.u32le(o + 36),
      fileLength: 0,
      headerOffset: tblOff + o,
    };
    if (s.rawSize && s.rawPointer >= src.size) {
      throw tbl.error(o + 20, `section ${name} starts at ${s.rawPointer}, past the end of the ${src.size}-byte file`);
    }
    s.fileLength = s.rawSize ? Math.min(s.rawSize, src.size - s.rawPointer) : 0;
    if (s.fileLength < s.rawSize) notes.push(`section ${name} is cut off: ${s.rawSize} bytes declared, ${s.fileLength} in the file`);
    sections.push(s);
    const f: Field[] = [
      field('pe.section.name', name, 'content', tbl.spans(o, 8)),
      field('pe.section.virtual_size', s.virtualSize, 'size', tbl.spans(o + 8, 4), { derived: true }),
      field('pe.section.virtual_address', s.virtualAddress, 'layout', tbl.spans(o + 12, 4), { derived: true }),
      field('pe.section.raw_size', s.rawSize, 'size', tbl.spans(o + 16, 4), { derived: true }),
      field('pe.section.raw_pointer', s.rawPointer, 'layout', tbl.spans(o + 20, 4), { derived: true }),
      field('pe.section.characteristics', `0x${s.characteristics.toString(16).padStart(8, '0')}`, 'content', tbl.spans(o + 36, 4)),
    ];
    const relocs = tbl.u32le(o + 24);
    if (relocs) f.push(field('pe.section.relocations_pointer', relocs, 'layout', tbl.spans(o + 24, 4), { derived: true }));
    let path = '/' + (name || `section-${i}`).replace(/\//g, '_');
    const dup = seen.get(path);
    seen.set(path, (dup ?? 0) + 1);
    if (dup) path = `${path}#${dup + 1}`;
    entries.push({
      path,
      type: 'file',
      size: s.fileLength,
      extents: s.fileLength ? [{ offset: s.rawPointer, length: s.fileLength }] : [],
      fields: f,
      meta: {},
      order: i,
    });
  }
  const headerEnd = Math.min(src.size, Math.max(tblOff + nsec * 40, sizeOfHeaders));
  pushRegion(regions, 'PE headers', 'metadata', src.spans(0, headerEnd));
  const rvaToOff = (rva: number, len: number): number | null => {
    for (const s of sections) {
      if (rva >= s.virtualAddress && rva + len <= s.virtualAddress + Math.max(s.virtualSize, s.rawSize)) {
        const o = rva - s.virtualAddress;
        if (o + len <= s.fileLength) return s.rawPointer + o;
      }
    }
    if (rva + len <= headerEnd) return rva;
    return null;
  };
  // debug directory
  const dbg = dirs[6];
  if (dbg && dbg.size) {
    const off = rvaToOff(dbg.rva, dbg.size);
    if (off === null) notes.push('the debug directory is not inside any section');
    else {
      const n = Math.min(Math.floor(dbg.size / 28), 64);
      const d = Bytes.at(src, off, n * 28, 'debug directory');
      for (let i = 0; i < n; i++) {
        const o = i * 28;
        const type = d.u32le(o + 12);
        const size = d.u32le(o + 16);
        const ptr = d.u32le(o + 24);
        const pre = `pe.debug[${i}].`;
        const ts = d.u32le(o + 4);
        fields.push(field(`${pre}type`, DEBUG_TYPES[type] ?? type, 'content', d.spans(o + 12, 4)));
        fields.push(field(`${pre}timestamp`, ts === 0 ? null : isoFromUnix(ts), 'timestamp', d.spans(o + 4, 4), { hint: COFF_TIMESTAMP_HINT }));
        fields.push(field(`${pre}size`, size, 'size', d.spans(o + 16, 4), { derived: true }));
        fields.push(field(`${pre}pointer`, ptr, 'layout', d.spans(o + 24, 4), { derived: true }));
        if (!size || ptr + size > src.size || size > 64 * 1024) continue;
        const data = Bytes.at(src, ptr, size, 'debug data');
        if (type === 2 && size >= 24 && data.ascii(0, 4) === 'RSDS') {
          fields.push(field('pe.codeview.guid', guidToString(data.bytes(4, 16)), 'random-id', data.spans(4, 16), { hint: CODEVIEW_GUID_HINT }));
          fields.push(field('pe.codeview.age', data.u32le(20), 'content', data.spans(20, 4)));
          fields.push(field('pe.codeview.pdb_path', data.ascii(24, size - 24), 'build-path', data.spans(24, size - 24), { hint: PDB_PATH_HINT }));
        } else if (type === 16) {
          fields.push(field('pe.debug.repro_hash', data.hex(0, size), 'checksum', data.spans(0, size), { derived: true }));
        }
      }
    }
  }
  // base relocations: count blocks
  const rel = dirs[5];
  if (rel && rel.size) {
    const off = rvaToOff(rel.rva, rel.size);
    if (off === null) notes.push('the base relocation table is not inside any section');
    else {
      let p = 0;
      let blocks = 0;
      const r = Bytes.at(src, off, rel.size, 'base relocation table');
      while (p + 8 <= rel.size) {
        const bs = r.u32le(p + 4);
        if (bs < 8) break;
        p += bs;
        blocks++;
      }
      fields.push(field('pe.reloc.blocks', blocks, 'layout', r.spans(0, rel.size), { derived: true }));
    }
  }
  // COFF symbol table
  if (symPtr && nsym) {
    const symBytes = nsym * 18;
    if (symPtr + symBytes + 4 <= src.size) {
      const strSize = Bytes.at(src, symPtr + symBytes, 4, 'COFF string table').u32le(0);
      const total = symBytes + (strSize >= 4 && symPtr + symBytes + strSize <= src.size ? strSize : 4);
      pushRegion(regions, 'COFF symbol and string tables', 'metadata', src.spans(symPtr, total));
      // as one field: a table that only moved (a section before it grew) is placement, not an unknown change
      fields.push(field('pe.coff.symbol_table', shortHash(src.read(symPtr, total, 'COFF symbol table')), 'content', src.spans(symPtr, total), { derived: true }));
    } else notes.push(`the COFF symbol table (${nsym} symbols at ${symPtr}) runs past the end of the file`);
  }
  // certificate table (a file offset, not an RVA)
  let certTable: PeInfo['certTable'] = null;
  const cert = dirs[4];
  const certDirOff = optOff + dirOff + 4 * 8;
  const coversUntil = (end: number): Span[] => {
    const out: Span[] = [];
    out.push(...src.spans(0, checksumOff));
    if (ndirs > 4) {
      out.push(...src.spans(checksumOff + 4, certDirOff - checksumOff - 4));
      out.push(...src.spans(certDirOff + 8, end - certDirOff - 8));
    } else out.push(...src.spans(checksumOff + 4, end - checksumOff - 4));
    return out;
  };
  if (cert && cert.size) {
    if (cert.rva + cert.size > src.size || cert.rva < headerEnd) {
      notes.push(`the certificate table (${cert.size} bytes at ${cert.rva}) does not fit the file`);
    } else {
      checkCap(cert.size, MAX_CERT_TABLE, 'certificate table size', src.name, certDirOff);
      certTable = { offset: cert.rva, size: cert.size };
      const imageCovers = coversUntil(cert.rva);
      if (cert.rva + cert.size < src.size) imageCovers.push(...src.spans(cert.rva + cert.size, src.size - cert.rva - cert.size));
      const ct = parseCertTable(src, cert.rva, cert.size, imageCovers);
      fields.push(...ct.fields);
      regions.push(...ct.regions);
      notes.push(...ct.notes);
    }
  }
  // the PE checksum (CheckSumMappedFile) sums the whole file but its own four bytes, the certificate table
  // included: signing tools recompute it after appending the signature
  checksumField.covers = [...src.spans(0, checksumOff), ...src.spans(checksumOff + 4, src.size - checksumOff - 4)];
  // gaps between sections, and the overlay after the last one
  const placed = sections.filter((s) => s.fileLength > 0).sort((a, b) => a.rawPointer - b.rawPointer);
  let pos = headerEnd;
  for (const s of placed) {
    if (s.rawPointer > pos) pushRegion(regions, 'gap between PE sections', 'padding', src.spans(pos, s.rawPointer - pos));
    pos = Math.max(pos, s.rawPointer + s.fileLength);
  }
  const overlayEnd = certTable && certTable.offset >= pos ? certTable.offset : src.size;
  if (overlayEnd > pos) {
    const symInside = symPtr >= pos && symPtr < overlayEnd;
    const len = overlayEnd - pos;
    if (!symInside) {
      entries.push({ path: '/overlay', type: 'file', size: len, extents: [{ offset: pos, length: len }], fields: [], meta: {}, order: entries.length });
      notes.push(`${len} bytes after the last section (overlay)`);
    }
  }
  if (certTable && certTable.offset + certTable.size < src.size) {
    const after = certTable.offset + certTable.size;
    pushRegion(regions, 'data after the certificate table', 'unused', src.spans(after, src.size - after));
    notes.push(`${src.size - after} bytes after the certificate table`);
  }
  void ctx;
  const container: Container = { format, source: src, fields, entries, regions, notes };
  return { container, sections, sectionEntries: entries.filter((e) => e.path !== '/overlay'), optOffset: optOff, pe32plus: plus, certTable };
}
