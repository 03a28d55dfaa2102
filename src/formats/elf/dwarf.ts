/**
 * Enough DWARF (versions 2 to 5, 32- and 64-bit formats) to name the build paths a compiler records: the
 * compile unit DIE of every unit in `.debug_info` (DW_AT_name, DW_AT_comp_dir, DW_AT_producer, as inline
 * strings, DW_FORM_strp, DW_FORM_line_strp or DW_FORM_strx* through `.debug_str_offsets`), and the include
 * directories and file names of every `.debug_line` header (version 2 to 4 inline strings, version 5 entry
 * formats). Each string becomes a field of the section its bytes are in; the references to it (offsets into
 * a string section) are layout fields of the section that holds them.
 *
 * Only the first DIE of each unit is read: deeper DIEs are the unit's content.
 */
import { ReprodiffError } from '../../errors.js';
import { checkTime, type Limits } from '../../limits.js';
import type { Kind } from '../../model.js';
import { EView, type SectionContent } from './reader.js';

export const BUILD_PATH_HINT =
  'the compiler records the build directory and source paths in the debug info: build in a fixed directory, or map it with `-ffile-prefix-map=OLD=NEW` (gcc 8+, clang 10+; `-fdebug-prefix-map=OLD=NEW` for the debug info only), e.g. -ffile-prefix-map=$PWD=.';

/** the bytes of a unit's first DIE read at once */
const DIE_WINDOW = 64 * 1024;
/** units of one section read at most */
const MAX_UNITS = 1_000_000;
/** abbreviations parsed over all tables together */
const MAX_ABBREVS = 4_000_000;
/** attributes of one abbreviation */
const MAX_ATTRS = 4096;
/** directory and file entries of one line header */
const MAX_LINE_ENTRIES = 1_000_000;

// attributes
const AT_NAME = 0x03;
const AT_COMP_DIR = 0x1b;
const AT_PRODUCER = 0x25;
const AT_STR_OFFSETS_BASE = 0x72;
// line header content types
const LNCT_PATH = 1;

interface Abbrev {
  tag: number;
  attrs: { at: number; form: number }[];
}

interface FormCtx {
  v: EView;
  offSize: number;
  addrSize: number;
  version: number;
}

/** A string a form refers to: inline at `at`, or an offset (strp) or index (strx) held in `refLen` bytes at `at`. */
interface StrRef {
  how: 'inline' | 'strp' | 'line_strp' | 'strx';
  /** inline: the string; otherwise the offset or index */
  value: number | string;
  at: number;
  refLen: number;
}

/**
 * Skips one attribute value of `form` at `p` and returns where the next begins; for string forms it also
 * says where the string is. Unknown forms are E_UNSUPPORTED (the rest of the DIE cannot be found).
 */
function readForm(c: FormCtx, form: number, p: number, depth = 0): { next: number; str?: StrRef; num?: number } {
  const v = c.v;
  switch (form) {
    case 0x01: // addr
      return { next: p + c.addrSize };
    case 0x03: // block2
      return { next: p + 2 + v.u16(p) };
    case 0x04: // block4
      return { next: p + 4 + v.u32(p) };
    case 0x05: // data2
    case 0x12: // ref2
    case 0x26: // strx2
    case 0x2a: // addrx2
      return strxOr(form === 0x26, v, p, 2);
    case 0x06: // data4
    case 0x13: // ref4
    case 0x1c: // ref_sup4
    case 0x28: // strx4
    case 0x2c: // addrx4
      return strxOr(form === 0x28, v, p, 4);
    case 0x07: // data8
    case 0x14: // ref8
    case 0x20: // ref_sig8
    case 0x24: // ref_sup8
      return { next: p + 8, num: v.u64(p) };
    case 0x08: {
      // string
      const s = v.cstring(p);
      if (!s) throw v.error(p, 'DW_FORM_string is not terminated within the unit');
      return { next: p + s[1] + 1, str: { how: 'inline', value: s[0], at: p, refLen: s[1] } };
    }
    case 0x09: // block
    case 0x18: {
      // exprloc
      const [n, q] = v.uleb(p);
      return { next: q + n };
    }
    case 0x0a: // block1
      return { next: p + 1 + v.u8(p) };
    case 0x0b: // data1
    case 0x0c: // flag
    case 0x11: // ref1
    case 0x25: // strx1
    case 0x29: // addrx1
      return strxOr(form === 0x25, v, p, 1);
    case 0x27: // strx3
      return { next: p + 3, str: { how: 'strx', value: v.u24(p), at: p, refLen: 3 } };
    case 0x2b: // addrx3
      return { next: p + 3 };
    case 0x0d: // sdata
      return { next: v.sleb(p) };
    case 0x0f: // udata
    case 0x15: // ref_udata
    case 0x1b: // addrx
    case 0x22: // loclistx
    case 0x23: // rnglistx
    case 0x1f01: {
      // GNU_addr_index
      const [n, q] = v.uleb(p);
      return { next: q, num: n };
    }
    case 0x1a: // strx
    case 0x1f02: {
      // GNU_str_index
      const [n, q] = v.uleb(p);
      return { next: q, str: { how: 'strx', value: n, at: p, refLen: q - p } };
    }
    case 0x0e: // strp
      return { next: p + c.offSize, str: { how: 'strp', value: v.uint(p, c.offSize), at: p, refLen: c.offSize } };
    case 0x1f: // line_strp
      return { next: p + c.offSize, str: { how: 'line_strp', value: v.uint(p, c.offSize), at: p, refLen: c.offSize } };
    case 0x10: // ref_addr: an address in DWARF 2, an offset later
      return { next: p + (c.version <= 2 ? c.addrSize : c.offSize) };
    case 0x17: // sec_offset
    case 0x1d: // strp_sup
    case 0x1f20: // GNU_ref_alt
    case 0x1f21: // GNU_strp_alt
      return { next: p + c.offSize, num: v.uint(p, c.offSize) };
    case 0x19: // flag_present
    case 0x21: // implicit_const (its value is in the abbreviation)
      return { next: p };
    case 0x1e: // data16
      return { next: p + 16 };
    case 0x16: {
      // indirect
      if (depth > 4) throw v.error(p, 'DW_FORM_indirect nests too deep');
      const [f, q] = v.uleb(p);
      return readForm(c, f, q, depth + 1);
    }
    default:
      throw v.error(p, `unknown DWARF form 0x${form.toString(16)}`, 'E_UNSUPPORTED');
  }
}

function strxOr(isStrx: boolean, v: EView, p: number, n: number): { next: number; str?: StrRef; num?: number } {
  const x = v.uint(p, n);
  return isStrx ? { next: p + n, str: { how: 'strx', value: x, at: p, refLen: n } } : { next: p + n, num: x };
}

/** The abbreviation tables of `.debug_abbrev`, parsed on first use. */
class Abbrevs {
  private readonly tables = new Map<number, Map<number, Abbrev>>();
  private parsed = 0;
  constructor(
    private readonly sc: SectionContent,
    private readonly data: EView,
  ) {}

  table(offset: number): Map<number, Abbrev> {
    let t = this.tables.get(offset);
    if (t) return t;
    t = new Map();
    this.tables.set(offset, t);
    const v = this.data;
    let p = offset;
    while (p < v.length) {
      if (++this.parsed > MAX_ABBREVS) throw v.error(p, `more than ${MAX_ABBREVS} abbreviations`, 'E_LIMIT');
      const [code, q] = v.uleb(p);
      if (code === 0) break;
      const [tag, r] = v.uleb(q);
      p = r + 1; // DW_CHILDREN_*
      const attrs: Abbrev['attrs'] = [];
      for (;;) {
        const [at, a] = v.uleb(p);
        const [form, b] = v.uleb(a);
        p = b;
        if (form === 0x21) p = v.sleb(p);
        if (at === 0 && form === 0) break;
        if (attrs.length >= MAX_ATTRS) throw v.error(p, `an abbreviation with more than ${MAX_ATTRS} attributes`, 'E_LIMIT');
        attrs.push({ at, form });
      }
      // the first definition of a code counts
      if (!t.has(code)) t.set(code, { tag, attrs });
    }
    return t;
  }

  get name(): string {
    return this.sc.name;
  }
}

/** What was read, for listings and cross-checks: every reference, also those to strings another one named first. */
export interface DwarfListing {
  units: { offset: number; version: number; name?: string; comp_dir?: string; producer?: string }[];
  lines: { offset: number; version: number; dirs: string[]; files: string[] }[];
}

export interface DwarfSections {
  get(name: string): SectionContent | undefined;
}

/** Reads the units of `.debug_info` and `.debug_line`; what cannot be read is a note. */
export function readDwarf(secs: DwarfSections, limits: Limits, notes: string[]): DwarfListing {
  const listing: DwarfListing = { units: [], lines: [] };
  const strings = new StringFields(secs);
  const info = secs.get('.debug_info');
  const abbrevSc = secs.get('.debug_abbrev');
  if (info && abbrevSc) {
    if (abbrevSc.size > limits.maxStructureBytes) notes.push(`${abbrevSc.name}: ${abbrevSc.size} bytes, over the limit of ${limits.maxStructureBytes}; compile units not read`);
    else {
      const abbrevs = new Abbrevs(abbrevSc, abbrevSc.view(0, abbrevSc.size, 'abbreviation table'));
      readUnits(info, abbrevs, strings, listing, notes);
    }
  }
  const line = secs.get('.debug_line');
  if (line) readLineHeaders(line, strings, limits, listing, notes);
  return listing;
}

/** Strings become fields once per place, whoever refers to them first names them. */
class StringFields {
  private readonly done = new Map<SectionContent, Set<number>>();
  constructor(readonly secs: DwarfSections) {}

  /** The field for a string at `offset` of section `secName`; the text, or undefined when it cannot be read. */
  at(secName: string, offset: number, fieldName: string, kind: Kind, notes: string[]): string | undefined {
    const sc = this.secs.get(secName);
    if (!sc) {
      notes.push(`${fieldName}: refers to ${secName}, which the file does not have`);
      return undefined;
    }
    const s = sc.cstring(offset);
    if (!s) {
      notes.push(`${fieldName}: no terminated string at offset ${offset} of ${secName}`);
      return undefined;
    }
    this.inline(sc, offset, s[1], s[0], fieldName, kind);
    return s[0];
  }

  /** A field over a string's bytes (and its NUL) in `sc`, once per place. */
  inline(sc: SectionContent, offset: number, length: number, text: string, fieldName: string, kind: Kind): void {
    let set = this.done.get(sc);
    if (!set) this.done.set(sc, (set = new Set()));
    if (set.has(offset)) return;
    set.add(offset);
    sc.put(fieldName, text, kind, offset, length + 1, kind === 'build-path' ? { hint: BUILD_PATH_HINT } : undefined);
  }
}

interface UnitHeader {
  /** where the unit's first DIE starts and where the unit ends, in the section */
  die: number;
  end: number;
  offSize: number;
  version: number;
  addrSize: number;
  abbrevOffset: number;
}

/** unit_length: [length, offset size, bytes of the length field]; undefined for reserved values */
function unitLength(v: EView, p: number): [number, number, number] | undefined {
  const l = v.u32(p);
  if (l === 0xffffffff) return [v.u64(p + 4), 8, 12];
  if (l >= 0xfffffff0) return undefined;
  return [l, 4, 4];
}

function readUnits(info: SectionContent, abbrevs: Abbrevs, strings: StringFields, listing: DwarfListing, notes: string[]): void {
  let pos = 0;
  for (let i = 0; pos + 11 <= info.size; i++) {
    checkTime('DWARF compile units', info.src.name, pos);
    if (i >= MAX_UNITS) {
      notes.push(`${info.name}: more than ${MAX_UNITS} units; the rest are not read`);
      return;
    }
    const hv = info.view(pos, Math.min(info.size - pos, 40), 'unit header');
    const ul = unitLength(hv, 0);
    if (!ul) {
      notes.push(`${info.name}: unit ${i} at +${pos} has a reserved unit_length; the rest of the section is not read`);
      return;
    }
    const [len, offSize, lenBytes] = ul;
    const end = pos + lenBytes + len;
    if (end > info.size) {
      notes.push(`${info.name}: unit ${i} at +${pos} claims ${len} bytes, past the end of the ${info.size}-byte section; it is not read`);
      return;
    }
    const pre = `dwarf.cu[${i}].`;
    info.put(`${pre}unit_length`, len, 'size', pos, lenBytes, { derived: true });
    try {
      const h = unitHeader(hv, pos, lenBytes, offSize, end);
      if (h) {
        info.put(`${pre}debug_abbrev_offset`, h.abbrevOffset, 'layout', h.abbrevAt, offSize, { derived: true });
        const unit: DwarfListing['units'][number] = { offset: pos, version: h.version };
        listing.units.push(unit);
        readUnitDie(info, h, abbrevs, strings, pre, unit, notes);
      } else notes.push(`${info.name}: unit ${i} at +${pos} has DWARF version ${hv.u16(lenBytes)}, not 2 to 5; it is not read`);
    } catch (e) {
      if (!(e instanceof ReprodiffError)) throw e;
      notes.push(`${info.name}: unit ${i} at +${pos}: ${e.message}`);
    }
    pos = end;
  }
}

function unitHeader(hv: EView, pos: number, lenBytes: number, offSize: number, end: number): (UnitHeader & { abbrevAt: number }) | undefined {
  const version = hv.u16(lenBytes);
  let p = lenBytes + 2;
  let addrSize: number;
  let abbrevOffset: number;
  let abbrevAt: number;
  if (version >= 2 && version <= 4) {
    abbrevOffset = hv.uint(p, offSize);
    abbrevAt = pos + p;
    addrSize = hv.u8(p + offSize);
    p += offSize + 1;
  } else if (version === 5) {
    const unitType = hv.u8(p);
    addrSize = hv.u8(p + 1);
    abbrevOffset = hv.uint(p + 2, offSize);
    abbrevAt = pos + p + 2;
    p += 2 + offSize;
    if (unitType === 4 || unitType === 5) p += 8; // skeleton, split_compile: dwo_id
    else if (unitType === 2 || unitType === 6) p += 8 + offSize; // type, split_type: signature and offset
  } else return undefined;
  if (pos + p > end) throw hv.error(p, 'the unit header runs past the unit');
  return { die: pos + p, end, offSize, version, addrSize, abbrevOffset, abbrevAt };
}

function readUnitDie(info: SectionContent, h: UnitHeader, abbrevs: Abbrevs, strings: StringFields, pre: string, unit: DwarfListing['units'][number], notes: string[]): void {
  if (h.die >= h.end) return;
  const window = Math.min(h.end - h.die, DIE_WINDOW);
  const v = info.view(h.die, window, 'compile unit DIE');
  const [code, q] = v.uleb(0);
  if (code === 0) return;
  const ab = abbrevs.table(h.abbrevOffset).get(code);
  if (!ab) throw v.error(0, `abbreviation ${code} is not in the table at offset ${h.abbrevOffset} of ${abbrevs.name}`);
  const c: FormCtx = { v, offSize: h.offSize, addrSize: h.addrSize, version: h.version };
  const wanted: { at: number; str: StrRef }[] = [];
  let strOffsetsBase: number | undefined;
  let p = q;
  for (const a of ab.attrs) {
    const r = readForm(c, a.form, p);
    if (a.at === AT_STR_OFFSETS_BASE && r.num !== undefined) strOffsetsBase = r.num;
    if ((a.at === AT_NAME || a.at === AT_COMP_DIR || a.at === AT_PRODUCER) && r.str) wanted.push({ at: a.at, str: r.str });
    if (r.next <= p && a.form !== 0x19 && a.form !== 0x21) throw v.error(p, 'an attribute value does not advance');
    p = r.next;
  }
  for (const { at, str } of wanted) {
    const what = at === AT_NAME ? 'name' : at === AT_COMP_DIR ? 'comp_dir' : 'producer';
    const kind: Kind = at === AT_PRODUCER ? 'content' : 'build-path';
    const name = `${pre}${what}`;
    const secPlace = { offSize: h.offSize, base: strOffsetsBase ?? (h.offSize === 8 ? 16 : 8) };
    const text = resolveString(info, h.die, str, name, kind, strings, secPlace, notes);
    if (text !== undefined) unit[what] = text;
  }
}

/**
 * Makes the field of a string a form refers to: inline strings where they are, strp and line_strp strings in
 * their string section (the offset a layout field), strx strings through `.debug_str_offsets`.
 */
function resolveString(
  holder: SectionContent,
  base: number,
  str: StrRef,
  name: string,
  kind: Kind,
  strings: StringFields,
  strx: { offSize: number; base: number } | undefined,
  notes: string[],
): string | undefined {
  const at = base + str.at;
  if (str.how === 'inline') {
    strings.inline(holder, at, str.refLen, str.value as string, name, kind);
    return str.value as string;
  }
  const offset = str.value as number;
  if (str.how === 'strp' || str.how === 'line_strp') {
    holder.put(`${name}.offset`, offset, 'layout', at, str.refLen, { derived: true });
    return strings.at(str.how === 'strp' ? '.debug_str' : '.debug_line_str', offset, name, kind, notes);
  }
  // strx: an index into this unit's slice of .debug_str_offsets
  holder.put(`${name}.index`, offset, 'layout', at, str.refLen, { derived: true });
  if (!strx) {
    notes.push(`${name}: DW_FORM_strx outside a unit's DIE is not followed`);
    return undefined;
  }
  const so = strings.secs.get('.debug_str_offsets');
  if (!so) {
    notes.push(`${name}: DW_FORM_strx without a .debug_str_offsets section`);
    return undefined;
  }
  const slot = strx.base + offset * strx.offSize;
  if (!Number.isSafeInteger(slot) || slot + strx.offSize > so.size) {
    notes.push(`${name}: string index ${offset} is past the end of ${so.name}`);
    return undefined;
  }
  const target = so.view(slot, strx.offSize, 'string offset').uint(0, strx.offSize);
  so.put(`${name}.offset`, target, 'layout', slot, strx.offSize, { derived: true });
  return strings.at('.debug_str', target, name, kind, notes);
}

/** The headers of the line number programs: include directories and file names. */
function readLineHeaders(line: SectionContent, strings: StringFields, limits: Limits, listing: DwarfListing, notes: string[]): void {
  let pos = 0;
  for (let j = 0; pos + 10 <= line.size; j++) {
    checkTime('DWARF line headers', line.src.name, pos);
    if (j >= MAX_UNITS) {
      notes.push(`${line.name}: more than ${MAX_UNITS} units; the rest are not read`);
      return;
    }
    const hv = line.view(pos, Math.min(line.size - pos, 32), 'line header');
    const ul = unitLength(hv, 0);
    if (!ul) {
      notes.push(`${line.name}: unit ${j} at +${pos} has a reserved unit_length; the rest of the section is not read`);
      return;
    }
    const [len, offSize, lenBytes] = ul;
    const end = pos + lenBytes + len;
    if (end > line.size) {
      notes.push(`${line.name}: unit ${j} at +${pos} claims ${len} bytes, past the end of the ${line.size}-byte section; it is not read`);
      return;
    }
    const pre = `dwarf.line[${j}].`;
    line.put(`${pre}unit_length`, len, 'size', pos, lenBytes, { derived: true });
    try {
      const version = hv.u16(lenBytes);
      if (version < 2 || version > 5) notes.push(`${line.name}: unit ${j} at +${pos} has version ${version}, not 2 to 5; it is not read`);
      else {
        let p = lenBytes + 2;
        let addrSize = 8;
        if (version === 5) {
          addrSize = hv.u8(p);
          p += 2;
        }
        const headerLength = hv.uint(p, offSize);
        line.put(`${pre}header_length`, headerLength, 'size', pos + p, offSize, { derived: true });
        p += offSize;
        const programStart = pos + p + headerLength;
        if (programStart > end) throw hv.error(p, `header_length ${headerLength} runs past the unit`);
        if (programStart - pos > limits.maxStructureBytes) throw hv.error(p, `a line header of ${programStart - pos} bytes`, 'E_LIMIT');
        const v = line.view(pos, programStart - pos, 'line header');
        const c: FormCtx = { v, offSize, addrSize, version };
        const unit: DwarfListing['lines'][number] = { offset: pos, version, dirs: [], files: [] };
        listing.lines.push(unit);
        readLineEntries(line, pos, c, p, pre, strings, unit, notes);
      }
    } catch (e) {
      if (!(e instanceof ReprodiffError)) throw e;
      notes.push(`${line.name}: unit ${j} at +${pos}: ${e.message}`);
    }
    pos = end;
  }
}

function readLineEntries(line: SectionContent, base: number, c: FormCtx, start: number, pre: string, strings: StringFields, unit: DwarfListing['lines'][number], notes: string[]): void {
  const v = c.v;
  let p = start + 1; // minimum_instruction_length
  if (c.version >= 4) p++; // maximum_operations_per_instruction
  p += 3; // default_is_stmt, line_base, line_range
  const opcodeBase = v.u8(p);
  p += 1 + Math.max(0, opcodeBase - 1);
  if (c.version <= 4) {
    // include_directories: strings up to an empty one; file_names: string, directory, mtime, length
    for (let k = 1; ; k++) {
      const s = v.cstring(p);
      if (!s) throw v.error(p, 'include_directories runs past the header');
      if (s[1] === 0) {
        p++;
        break;
      }
      if (k > MAX_LINE_ENTRIES) throw v.error(p, `more than ${MAX_LINE_ENTRIES} directories`, 'E_LIMIT');
      strings.inline(line, base + p, s[1], s[0], `${pre}dir[${k}]`, 'build-path');
      unit.dirs.push(s[0]);
      p += s[1] + 1;
    }
    for (let k = 1; ; k++) {
      const s = v.cstring(p);
      if (!s) throw v.error(p, 'file_names runs past the header');
      if (s[1] === 0) break;
      if (k > MAX_LINE_ENTRIES) throw v.error(p, `more than ${MAX_LINE_ENTRIES} files`, 'E_LIMIT');
      strings.inline(line, base + p, s[1], s[0], `${pre}file[${k}]`, 'build-path');
      unit.files.push(s[0]);
      p += s[1] + 1;
      for (let n = 0; n < 3; n++) p = v.uleb(p)[1];
    }
    return;
  }
  // version 5: entry formats, then the entries
  for (const what of ['dir', 'file'] as const) {
    const nFormats = v.u8(p++);
    const formats: [number, number][] = [];
    for (let k = 0; k < nFormats; k++) {
      const [type, q] = v.uleb(p);
      const [form, r] = v.uleb(q);
      formats.push([type, form]);
      p = r;
    }
    const [count, q] = v.uleb(p);
    p = q;
    if (count > MAX_LINE_ENTRIES) throw v.error(p, `${count} ${what} entries`, 'E_LIMIT');
    if (count > 0 && nFormats === 0) throw v.error(p, `${count} ${what} entries without a format`);
    for (let k = 0; k < count; k++) {
      for (const [type, form] of formats) {
        const r = readForm(c, form, p);
        if (type === LNCT_PATH && r.str) {
          const text = resolveString(line, base, r.str, `${pre}${what}[${k}]`, 'build-path', strings, undefined, notes);
          (what === 'dir' ? unit.dirs : unit.files).push(text ?? '');
        }
        if (r.next <= p && form !== 0x19 && form !== 0x21) throw v.error(p, 'an entry value does not advance');
        p = r.next;
      }
    }
  }
}

