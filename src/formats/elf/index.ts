/**
 * ELF files (executables, shared objects, relocatable objects, kernels), 32- and 64-bit, either byte order,
 * from the System V gABI: the file header, program headers and section headers as fields, every section an
 * entry (`/.text`, `/.debug_info`) whose content is what its fields do not describe. On top of the sections:
 * notes (the build id as a checksum over the file), `.gnu_debuglink`, `.comment`, the symbol tables (each
 * symbol an entry, `/.symtab/main`), and the build paths in the DWARF debug info (dwarf.ts).
 * SHF_COMPRESSED sections (zlib, zstd) are decoded; their content and fields are in the decoded stream.
 */
import { decompress, type Codec } from '../../codec/index.js';
import { ReprodiffError } from '../../errors.js';
import { DecodedSource, SliceSource, type ByteSource, type Extent } from '../../io/source.js';
import { checkCap, checkTime, EntryLimit } from '../../limits.js';
import type { Container, Entry, Field, Format, OpenContext, Region, Span } from '../../model.js';
import { field } from '../../model.js';
import { readDwarf, type DwarfListing } from './dwarf.js';
import { readComment, readDebuglink, readNotes } from './notes.js';
import { EView, SectionContent } from './reader.js';
import { readSymbols } from './symbols.js';

const SHT: Record<number, string> = {
  0: 'NULL', 1: 'PROGBITS', 2: 'SYMTAB', 3: 'STRTAB', 4: 'RELA', 5: 'HASH', 6: 'DYNAMIC', 7: 'NOTE', 8: 'NOBITS', 9: 'REL',
  10: 'SHLIB', 11: 'DYNSYM', 14: 'INIT_ARRAY', 15: 'FINI_ARRAY', 16: 'PREINIT_ARRAY', 17: 'GROUP', 18: 'SYMTAB_SHNDX', 19: 'RELR',
  0x6ffffff5: 'GNU_ATTRIBUTES', 0x6ffffff6: 'GNU_HASH', 0x6ffffff7: 'GNU_LIBLIST', 0x6ffffffd: 'VERDEF', 0x6ffffffe: 'VERNEED', 0x6fffffff: 'VERSYM',
};
const PT: Record<number, string> = {
  0: 'NULL', 1: 'LOAD', 2: 'DYNAMIC', 3: 'INTERP', 4: 'NOTE', 5: 'SHLIB', 6: 'PHDR', 7: 'TLS',
  0x6474e550: 'GNU_EH_FRAME', 0x6474e551: 'GNU_STACK', 0x6474e552: 'GNU_RELRO', 0x6474e553: 'GNU_PROPERTY',
};
const ET: Record<number, string> = { 0: 'NONE', 1: 'REL', 2: 'EXEC', 3: 'DYN', 4: 'CORE' };
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_NOTE = 7;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;
const SHF_COMPRESSED = 0x800;
const SHN_XINDEX = 0xffff;
const PN_XNUM = 0xffff;

/** section headers believed at most (extended numbering allows 2^32) */
const MAX_SECTIONS = 1_000_000;
/** program headers believed at most */
const MAX_SEGMENTS = 65_536;

export interface ElfSection {
  index: number;
  name: string;
  /** the entry path */
  path: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
  /** where its header is in the file */
  headerOffset: number;
  /** bytes of it in the file (0 for SHT_NOBITS, clipped at the end of the file) */
  fileLength: number;
  /** its content (decoded when compressed); undefined when it has none in the file */
  content?: SectionContent;
  fields: Field[];
}

export function isElf(src: ByteSource): boolean {
  if (src.size < 52) return false;
  const b = src.read(0, 7, 'ELF identification');
  return b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46 && (b[4] === 1 || b[4] === 2) && (b[5] === 1 || b[5] === 2) && b[6] === 1;
}

export const elfFormat: Format = {
  name: 'elf',
  exclusive: true,
  detect(src: ByteSource): number {
    return isElf(src) ? 80 : 0;
  },
  open(src: ByteSource, ctx: OpenContext): Container {
    return openElf(src, ctx);
  },
};

export interface ElfInfo {
  container: Container;
  sections: ElfSection[];
  dwarf: DwarfListing;
}

export function openElf(src: ByteSource, ctx: OpenContext): Container {
  return parseElf(src, ctx).container;
}

/** The container, with the section table and what the DWARF reader found (for listings). */
export function parseElf(src: ByteSource, ctx: OpenContext): ElfInfo {
  const fields: Field[] = [];
  const regions: Region[] = [];
  const notes: string[] = [];
  const id = EView.at(src, 0, 16, 'ELF identification', true);
  if (id.u32(0) !== 0x464c457f) throw id.error(0, 'no ELF magic');
  const cls = id.u8(4);
  const data = id.u8(5);
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) throw id.error(4, `unknown ELF class ${cls} or data encoding ${data}`);
  const is64 = cls === 2;
  const le = data === 1;
  const ehsize = is64 ? 64 : 52;
  const h = EView.at(src, 0, ehsize, 'ELF header', le);
  const w = is64 ? 8 : 4;
  const put = (name: string, value: Field['value'], kind: Field['kind'], off: number, len: number, derived = false): void => {
    fields.push(field(name, value, kind, h.spans(off, len), derived ? { derived: true } : undefined));
  };
  put('elf.ident.class', is64 ? 'ELF64' : 'ELF32', 'content', 4, 1);
  put('elf.ident.data', le ? 'little-endian' : 'big-endian', 'content', 5, 1);
  put('elf.ident.version', id.u8(6), 'content', 6, 1);
  put('elf.ident.osabi', id.u8(7), 'content', 7, 1);
  put('elf.ident.abiversion', id.u8(8), 'content', 8, 1);
  put('elf.ident.pad', id.b.hex(9, 7), 'content', 9, 7);
  const type = h.u16(16);
  const machine = h.u16(18);
  put('elf.e_type', ET[type] ?? type, 'content', 16, 2);
  put('elf.e_machine', machine, 'content', 18, 2);
  put('elf.e_version', h.u32(20), 'content', 20, 4);
  const o = (x32: number, x64: number): number => (is64 ? x64 : x32);
  put('elf.e_entry', h.word(24, is64), 'layout', 24, w, true);
  const phoff = h.word(o(28, 32), is64);
  const shoff = h.word(o(32, 40), is64);
  put('elf.e_phoff', phoff, 'layout', o(28, 32), w, true);
  put('elf.e_shoff', shoff, 'layout', o(32, 40), w, true);
  put('elf.e_flags', `0x${h.u32(o(36, 48)).toString(16)}`, 'content', o(36, 48), 4);
  put('elf.e_ehsize', h.u16(o(40, 52)), 'size', o(40, 52), 2, true);
  const phentsize = h.u16(o(42, 54));
  let phnum = h.u16(o(44, 56));
  const shentsize = h.u16(o(46, 58));
  let shnum = h.u16(o(48, 60));
  let shstrndx = h.u16(o(50, 62));
  put('elf.e_phentsize', phentsize, 'size', o(42, 54), 2, true);
  put('elf.e_phnum', phnum, 'layout', o(44, 56), 2, true);
  put('elf.e_shentsize', shentsize, 'size', o(46, 58), 2, true);
  put('elf.e_shnum', shnum, 'layout', o(48, 60), 2, true);
  put('elf.e_shstrndx', shstrndx, 'layout', o(50, 62), 2, true);
  regions.push({ name: 'ELF header', role: 'metadata', spans: src.spans(0, ehsize) });

  // section header 0 carries the counts that do not fit the file header (extended numbering)
  const shSize = is64 ? 64 : 40;
  if (shoff) {
    if (shentsize < shSize) throw h.error(o(46, 58), `e_shentsize ${shentsize} is smaller than a section header (${shSize})`);
    const s0 = EView.at(src, shoff, shSize, 'section header 0', le);
    if (shnum === 0) shnum = s0.word(o(20, 32), is64);
    if (shstrndx === SHN_XINDEX) shstrndx = s0.u32(o(24, 40));
    if (phnum === PN_XNUM) phnum = s0.u32(o(28, 44));
  } else shnum = 0;
  checkCap(shnum, MAX_SECTIONS, 'ELF section count', src.name, o(48, 60));
  checkCap(phnum, MAX_SEGMENTS, 'ELF program header count', src.name, o(44, 56));
  checkCap(shnum * shentsize, ctx.limits.maxStructureBytes, 'ELF section header table size', src.name, shoff);

  // program headers
  const phSize = is64 ? 56 : 32;
  if (phnum && phoff) {
    if (phentsize < phSize) throw h.error(o(42, 54), `e_phentsize ${phentsize} is smaller than a program header (${phSize})`);
    const t = EView.at(src, phoff, phnum * phentsize, 'program header table', le);
    regions.push({ name: 'program header table', role: 'metadata', spans: src.spans(phoff, phnum * phentsize) });
    for (let i = 0; i < phnum; i++) {
      const b = i * phentsize;
      const pre = `elf.phdr[${i}].`;
      const pt = t.u32(b);
      const f = (name: string, value: Field['value'], kind: Field['kind'], x32: number, x64: number, len: number, derived = false): void => {
        fields.push(field(pre + name, value, kind, t.spans(b + (is64 ? x64 : x32), len), derived ? { derived: true } : undefined));
      };
      f('type', PT[pt] ?? `0x${pt.toString(16)}`, 'content', 0, 0, 4);
      f('flags', t.u32(b + o(24, 4)), 'content', 24, 4, 4);
      f('offset', t.word(b + o(4, 8), is64), 'layout', 4, 8, w, true);
      f('vaddr', t.word(b + o(8, 16), is64), 'layout', 8, 16, w, true);
      f('paddr', t.word(b + o(12, 24), is64), 'layout', 12, 24, w, true);
      f('filesz', t.word(b + o(16, 32), is64), 'size', 16, 32, w, true);
      f('memsz', t.word(b + o(20, 40), is64), 'size', 20, 40, w, true);
      f('align', t.word(b + o(28, 48), is64), 'content', 28, 48, w);
    }
  }

  // section headers
  const sections: ElfSection[] = [];
  if (shnum) {
    const t = EView.at(src, shoff, shnum * shentsize, 'section header table', le);
    regions.push({ name: 'section header table', role: 'metadata', spans: src.spans(shoff, shnum * shentsize) });
    for (let i = 0; i < shnum; i++) {
      const b = i * shentsize;
      const s: ElfSection = {
        index: i,
        name: '',
        path: '',
        type: t.u32(b + 4),
        flags: t.word(b + 8, is64),
        addr: t.word(b + o(12, 16), is64),
        offset: t.word(b + o(16, 24), is64),
        size: t.word(b + o(20, 32), is64),
        link: t.u32(b + o(24, 40)),
        info: t.u32(b + o(28, 44)),
        addralign: t.word(b + o(32, 48), is64),
        entsize: t.word(b + o(36, 56), is64),
        headerOffset: shoff + b,
        fileLength: 0,
        fields: [],
      };
      const f = (name: string, value: Field['value'], kind: Field['kind'], x32: number, x64: number, len: number, derived = false): void => {
        s.fields.push(field(`elf.section.${name}`, value, kind, t.spans(b + (is64 ? x64 : x32), len), derived ? { derived: true } : undefined));
      };
      f('name_offset', t.u32(b), 'layout', 0, 0, 4, true);
      f('type', SHT[s.type] ?? `0x${s.type.toString(16)}`, 'content', 4, 4, 4);
      f('flags', `0x${s.flags.toString(16)}`, 'content', 8, 8, w);
      f('addr', s.addr, 'layout', 12, 16, w, true);
      f('offset', s.offset, 'layout', 16, 24, w, true);
      f('size', s.size, 'size', 20, 32, w, true);
      f('link', s.link, 'layout', 24, 40, 4, true);
      f('info', s.info, 'layout', 28, 44, 4, true);
      f('addralign', s.addralign, 'content', 32, 48, w);
      f('entsize', s.entsize, 'content', 36, 56, w);
      if (s.type !== SHT_NOBITS && s.size > 0 && i > 0) {
        if (s.offset >= src.size) notes.push(`section ${i} starts at ${s.offset}, past the end of the ${src.size}-byte file`);
        else {
          s.fileLength = Math.min(s.size, src.size - s.offset);
          if (s.fileLength < s.size) notes.push(`section ${i} is cut off: ${s.size} bytes declared, ${s.fileLength} in the file`);
        }
      }
      sections.push(s);
    }
  }

  // section names
  const shstr = shstrndx < sections.length && shstrndx > 0 ? sections[shstrndx] : undefined;
  if (shnum && !shstr) notes.push(`e_shstrndx ${shstrndx} is not a section (${sections.length} sections): sections are unnamed`);
  if (shstr && shstr.type !== SHT_STRTAB) notes.push(`section ${shstrndx} (e_shstrndx) is not a string table`);
  if (shstr && shstr.fileLength) shstr.content = new SectionContent(`section ${shstrndx}`, new SliceSource(`${src.name}//[section ${shstrndx}]`, src, shstr.offset, shstr.fileLength), le);
  const seen = new Map<string, number>();
  for (const s of sections) {
    if (s.index === 0) continue;
    const nameOff = s.fields[0]!.value as number;
    const got = shstr?.content?.cstring(nameOff);
    if (got) {
      s.name = got[0];
      s.fields.unshift(shstr!.content!.make('elf.section.name', s.name, 'content', nameOff, got[1] + 1));
    } else if (shstr?.content) notes.push(`section ${s.index}: its name (at ${nameOff} of the section name table) is not a terminated string`);
    let path = '/' + (s.name ? s.name.replace(/\//g, '_') : `[section ${s.index}]`);
    const dup = seen.get(path);
    seen.set(path, (dup ?? 0) + 1);
    if (dup) path = `${path}#${dup + 1}`;
    s.path = path;
  }

  // contents: slices of the file, or decoded
  const streams: NonNullable<Container['streams']> = [];
  for (const s of sections) {
    if (!s.fileLength || s.index === 0) continue;
    const label = s.name || `section ${s.index}`;
    if (s === shstr && s.content) {
      s.content.name = label;
      continue;
    }
    if (s.flags & SHF_COMPRESSED) {
      const decoded = decodeSection(src, s, is64, le, ctx, notes);
      if (decoded) {
        streams.push({ id: decoded.stream, origin: decoded.origin });
        s.content = new SectionContent(label, decoded, le);
      }
      continue;
    }
    s.content = new SectionContent(label, new SliceSource(`${src.name}/${s.path}`, src, s.offset, s.fileLength), le);
  }

  // what the sections hold
  const byName = new Map<string, ElfSection>();
  for (const s of sections) if (s.name && !byName.has(s.name)) byName.set(s.name, s);
  const entries: Entry[] = [];
  const symbolEntries: Entry[] = [];
  let producer: string | undefined;
  let partial: string | undefined;
  for (const s of sections) {
    const sc = s.content;
    if (!sc) continue;
    checkTime('ELF sections', src.name, s.headerOffset);
    try {
      if (s.type === SHT_NOTE) readNotes(sc, s.addralign === 8 ? 8 : 4, src, notes);
      else if (s.name === '.gnu_debuglink') readDebuglink(sc, src, notes);
      else if (s.name === '.comment') producer ??= readComment(sc, notes);
      else if (s.type === SHT_SYMTAB || s.type === SHT_DYNSYM) {
        const strtab = s.link > 0 && s.link < sections.length ? sections[s.link]!.content : undefined;
        if (!strtab) notes.push(`${sc.name}: its string table (section ${s.link}) is not in the file`);
        const list = readSymbols({ table: sc, strings: strtab, path: s.path, is64 }, ctx.limits, 0, notes);
        for (const e of list) symbolEntries.push(e);
      }
    } catch (e) {
      if (e instanceof EntryLimit) {
        partial ??= e.describe();
        continue;
      }
      if (!(e instanceof ReprodiffError) || e.code === 'E_LIMIT') throw e;
      notes.push(`${sc.name}: ${e.describe()}`);
    }
  }
  const dwarf = readDwarf({ get: (name) => byName.get(name)?.content }, ctx.limits, notes);

  // sections as entries: their content is what no field describes
  for (const s of sections) {
    if (s.index === 0) continue;
    const sc = s.content;
    const extents: Extent[] = [];
    const decoded = sc && sc.src instanceof DecodedSource ? sc.src : undefined;
    if (sc) {
      const base = decoded ? 0 : s.offset;
      for (const [a, b] of sc.undescribed()) extents.push({ offset: base + a, length: b - a });
      s.fields.push(...sc.fields);
    }
    const size = extents.reduce((n, e) => n + e.length, 0);
    const entry: Entry = { path: s.path, type: 'file', size, extents, fields: s.fields, meta: {}, order: entries.length };
    if (decoded) entry.contentSource = decoded;
    if (s.fileLength && !sc) entry.opaque = 'compressed with a method this reader does not decode';
    entries.push(entry);
  }
  // symbols after their tables, numbered on
  for (const e of symbolEntries) {
    e.order = entries.length;
    entries.push(e);
  }
  // names of sections and symbols made their fields on other sections' bytes: those fields are made before
  // the entries (shstrtab, strtab) take their extents, since entries are built after every reader ran
  gaps(src, sections, ehsize, phoff, phnum * phentsize, shoff, shnum * shentsize, regions);
  const c: Container = { format: 'elf', source: src, fields, entries, regions, notes };
  if (producer) c.producer = producer;
  if (partial) c.partial = partial;
  if (streams.length) c.streams = streams;
  return { container: c, sections, dwarf };
}

/** Decodes a SHF_COMPRESSED section (Elf32_Chdr / Elf64_Chdr, then zlib or zstd data). */
function decodeSection(src: ByteSource, s: ElfSection, is64: boolean, le: boolean, ctx: OpenContext, notes: string[]): DecodedSource | undefined {
  const chSize = is64 ? 24 : 12;
  const label = s.name || `section ${s.index}`;
  if (s.fileLength < chSize) {
    notes.push(`${label}: compressed, but shorter than its compression header`);
    return undefined;
  }
  const ch = EView.at(src, s.offset, chSize, `compression header of ${label}`, le);
  const chType = ch.u32(0);
  const size = is64 ? ch.u64(8) : ch.u32(4);
  const f = (name: string, value: Field['value'], kind: Field['kind'], off: number, len: number, derived = false): void => {
    s.fields.push(field(`elf.chdr.${name}`, value, kind, ch.spans(off, len), derived ? { derived: true } : undefined));
  };
  f('type', chType === 1 ? 'zlib' : chType === 2 ? 'zstd' : chType, 'content', 0, 4);
  f('size', size, 'size', is64 ? 8 : 4, w(is64), true);
  f('addralign', is64 ? ch.u64(16) : ch.u32(8), 'content', is64 ? 16 : 8, w(is64));
  const codec: Codec | undefined = chType === 1 ? 'zlib' : chType === 2 ? 'zstd' : undefined;
  if (!codec) {
    notes.push(`${label}: compression type ${chType} is not decoded`);
    return undefined;
  }
  const cap = Math.min(ctx.limits.maxStructureBytes, ctx.limits.maxDecodedBytes);
  if (size > cap) {
    notes.push(`${label}: ${size} bytes decompressed, over the limit of ${cap}; its content is compared as stored`);
    return undefined;
  }
  const origin: Span[] = src.spans(s.offset + chSize, s.fileLength - chSize);
  const stream = `${src.name}/${s.path}#elf-${codec}`;
  try {
    const out = decompress(codec, src.read(s.offset + chSize, s.fileLength - chSize, `compressed ${label}`), { maxOutput: size, name: `${src.name}/${s.path}` });
    if (out.length !== size) notes.push(`${label}: decompresses to ${out.length} bytes, not the ${size} its header says`);
    return new DecodedSource(`${src.name}/${s.path}`, out, stream, origin);
  } catch (e) {
    if (!(e instanceof ReprodiffError)) throw e;
    notes.push(`${label}: not decoded: ${e.message}`);
    return undefined;
  }
}

function w(is64: boolean): number {
  return is64 ? 8 : 4;
}

/** Bytes of the file in no header table and no section: alignment padding between them. */
function gaps(src: ByteSource, sections: ElfSection[], ehsize: number, phoff: number, phLen: number, shoff: number, shLen: number, regions: Region[]): void {
  const used: [number, number][] = [[0, ehsize]];
  if (phLen) used.push([phoff, phoff + phLen]);
  if (shLen) used.push([shoff, shoff + shLen]);
  for (const s of sections) if (s.fileLength) used.push([s.offset, s.offset + s.fileLength]);
  used.sort((a, b) => a[0] - b[0]);
  let pos = 0;
  const spans: Span[] = [];
  for (const [a, b] of used) {
    if (a > pos) spans.push(...src.spans(pos, Math.min(a, src.size) - pos));
    pos = Math.max(pos, b);
  }
  if (pos < src.size) spans.push(...src.spans(pos, src.size - pos));
  if (spans.length) regions.push({ name: 'bytes between sections (alignment padding, or data no section holds)', role: 'padding', spans });
}
