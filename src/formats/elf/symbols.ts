/**
 * Symbol tables (SHT_SYMTAB, SHT_DYNSYM) with their string tables: each symbol an entry below its table's
 * entry (`/.symtab/main`), so a symbol that appears, goes or changes is named. File symbols (STT_FILE) hold
 * source names, often paths: they are entries by position (`/.symtab/[file 3]`) and their name a build path.
 */
import { checkEntries, checkTime, type Limits } from '../../limits.js';
import type { Entry, Field, Span } from '../../model.js';
import type { SectionContent } from './reader.js';

export const SYMBOL_PATH_HINT =
  'a file symbol names the source or object it came from: a temporary or absolute path here (LTO writes /tmp/ccXXXX.ltrans0.o) varies between builds; build with -ffile-prefix-map=OLD=NEW, or strip local symbols (`strip --strip-debug` keeps them, `-x` drops them)';

const TYPES = ['NOTYPE', 'OBJECT', 'FUNC', 'SECTION', 'FILE', 'COMMON', 'TLS'];
const BINDS = ['LOCAL', 'GLOBAL', 'WEAK'];
const VIS = ['DEFAULT', 'INTERNAL', 'HIDDEN', 'PROTECTED'];

export interface SymbolTable {
  /** the table's section */
  table: SectionContent;
  /** its string table (sh_link), when present */
  strings: SectionContent | undefined;
  /** the table's entry path, e.g. `/.symtab` */
  path: string;
  is64: boolean;
}

function named(list: readonly string[], v: number): string {
  return list[v] ?? String(v);
}

/** The symbols of one table as entries; `order` numbers them after `firstOrder`. */
export function readSymbols(t: SymbolTable, limits: Limits, firstOrder: number, notes: string[]): Entry[] {
  const { table, strings, is64 } = t;
  const entsize = is64 ? 24 : 16;
  const count = Math.floor(table.size / entsize);
  if (table.size % entsize) notes.push(`${table.name}: ${table.size % entsize} bytes after the last symbol`);
  checkEntries(count, limits, `symbols in ${table.name}`);
  const out: Entry[] = [];
  const seen = new Map<string, number>();
  let files = 0;
  // read in pieces: a table of a million symbols is 24 MB
  const CHUNK = 4096;
  for (let first = 1; first < count; first += CHUNK) {
    checkTime('ELF symbols', table.src.name, first * entsize);
    const n = Math.min(CHUNK, count - first);
    const v = table.view(first * entsize, n * entsize, 'symbol table');
    for (let k = 0; k < n; k++) {
      const i = first + k;
      const o = k * entsize;
      const nameOff = v.u32(o);
      const info = is64 ? v.u8(o + 4) : v.u8(o + 12);
      const other = is64 ? v.u8(o + 5) : v.u8(o + 13);
      const shndx = is64 ? v.u16(o + 6) : v.u16(o + 14);
      const value = is64 ? v.u64(o + 8) : v.u32(o + 4);
      const size = is64 ? v.u64(o + 16) : v.u32(o + 8);
      const type = info & 0xf;
      const rec = i * entsize;
      const fields: Field[] = [];
      const records: Span[] = [...table.src.spans(rec, entsize)];
      const off = (x32: number, x64: number): number => rec + (is64 ? x64 : x32);
      let name = '';
      if (nameOff && strings) {
        const s = strings.cstring(nameOff);
        if (s) {
          name = s[0];
          const f = strings.make('elf.sym.name', name, type === 4 ? 'build-path' : 'content', nameOff, s[1], type === 4 ? { hint: SYMBOL_PATH_HINT } : undefined);
          fields.push(f);
          records.push(...f.spans);
        } else notes.push(`${table.name}: the name of symbol ${i} (at +${nameOff} of ${strings.name}) is not a terminated string`);
      }
      fields.push(table.make('elf.sym.name_offset', nameOff, 'layout', rec, 4, { derived: true }));
      fields.push(table.make('elf.sym.value', value, 'layout', off(4, 8), is64 ? 8 : 4, { derived: true }));
      fields.push(table.make('elf.sym.size', size, 'size', off(8, 16), is64 ? 8 : 4, { derived: true }));
      fields.push(table.make('elf.sym.info', `${named(TYPES, type)} ${named(BINDS, info >> 4)}`, 'content', off(12, 4), 1));
      fields.push(table.make('elf.sym.visibility', named(VIS, other & 3), 'content', off(13, 5), 1));
      fields.push(table.make('elf.sym.shndx', shndx, 'layout', off(14, 6), 2, { derived: true }));
      let leaf: string;
      if (type === 4) leaf = `[file ${++files}]`;
      else if (name) leaf = name;
      else if (type === 3) leaf = `[section ${shndx}]`;
      else leaf = `[symbol ${i}]`;
      let path = `${t.path}/${leaf}`;
      const dup = seen.get(path);
      seen.set(path, (dup ?? 0) + 1);
      if (dup) path = `${path}#${dup + 1}`;
      out.push({ path, type: 'other', size: 0, extents: [], fields, meta: {}, order: firstOrder + out.length, records });
    }
  }
  return out;
}
