import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container, Entry } from '../../src/model.js';
import { elfFormat, parseElf, type ElfInfo } from '../../src/formats/elf/index.js';
import { hasTool, scratch } from '../helpers/tools.js';
import { BIN } from '../helpers/cli.js';
import { craftDwarf4, craftWithDwarf } from '../helpers/elf.js';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const { dir, cleanup } = scratch('reprodiff-elf-');
afterAll(() => cleanup());

const SOURCE = `#include <stdio.h>
static const char built[] = "built " __DATE__ " " __TIME__;
int counter = 3;
int main(void) { printf("%s %d\\n", built, counter); return 0; }
`;
const env = (): NodeJS.ProcessEnv => {
  const e = { ...process.env };
  delete e.SOURCE_DATE_EPOCH;
  return e;
};
const sh = (cmd: string, cwd = dir): string => execFileSync('sh', ['-c', cmd], { cwd, env: env(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const readelf = (args: string, path: string): string => execFileSync('readelf', [...args.split(' '), path], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, LC_ALL: 'C' } });

function load(path: string): ElfInfo & { bytes: Uint8Array } {
  const bytes = new Uint8Array(readFileSync(path));
  const src = new BufferSource(path, bytes);
  expect(elfFormat.detect(src)).toBeGreaterThan(0);
  return { ...parseElf(src, ctx), bytes };
}
const val = (fs: { name: string; value: unknown }[], name: string): unknown => fs.find((f) => f.name === name)?.value;
const entry = (c: Container, path: string): Entry => {
  const e = c.entries.find((x) => x.path === path);
  expect(e, path).toBeDefined();
  return e!;
};
const text = (bytes: Uint8Array, spans: { offset: number; length: number; stream?: string }[]): string =>
  spans.map((s) => Buffer.from(bytes.subarray(s.offset, s.offset + s.length)).toString('latin1')).join('');

/** readelf -S -W: [index, name, type, addr, offset, size] */
function readelfSections(path: string): [number, string, string, number, number, number][] {
  const out: [number, string, string, number, number, number][] = [];
  for (const line of readelf('-S -W', path).split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s/.exec(line);
    if (m && m[1] !== '0') out.push([+m[1]!, m[2]!, m[3]!, parseInt(m[4]!, 16), parseInt(m[5]!, 16), parseInt(m[6]!, 16)]);
  }
  return out;
}

/** readelf -l -W: [type, offset, vaddr, filesz, memsz] */
function readelfSegments(path: string): [string, number, number, number, number][] {
  const out: [string, number, number, number, number][] = [];
  for (const line of readelf('-l -W', path).split('\n')) {
    const m = /^\s+(\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s/.exec(line);
    if (m) out.push([m[1]!, parseInt(m[2]!, 16), parseInt(m[3]!, 16), parseInt(m[4]!, 16), parseInt(m[5]!, 16)]);
  }
  return out;
}

/** readelf -s -W: per table, [value, size, type, name] (version suffixes of .dynsym names dropped) */
function readelfSymbols(path: string): Map<string, [number, number, string, string][]> {
  const out = new Map<string, [number, number, string, string][]>();
  let cur: [number, number, string, string][] | undefined;
  let t0 = '';
  for (const line of readelf('-s -W', path).split('\n')) {
    const t = /^Symbol table '([^']+)'/.exec(line);
    if (t) {
      out.set(t[1]!, (cur = []));
      t0 = t[1]!;
    }
    const m = /^\s+(\d+):\s+([0-9a-f]+)\s+(\d+|0x[0-9a-f]+)\s+(\S+)\s+\S+\s+\S+\s+\S+\s?(.*)$/.exec(line);
    // readelf adds the version to .dynsym names (`puts@GLIBC_2.2.5 (2)`); .symtab names may hold one themselves
    const name = (n: string): string => (t0 === '.dynsym' ? n.replace(/@.*$/, '') : n);
    if (m && cur && m[1] !== '0') cur.push([parseInt(m[2]!, 16), Number(m[3]), m[4]!, name(m[5]!)]);
  }
  return out;
}

function strip(v: string): string {
  return v.replace(/^.*\(offset: 0x[0-9a-f]+\): /, '').replace(/^\((?:indirect (?:line )?string|strp|line_strp|string)[^)]*\)(?::)? /, '').trim();
}

/** readelf --debug-dump=info: the compile unit DIEs' name, comp_dir and producer */
function readelfUnits(path: string): { name?: string; comp_dir?: string; producer?: string }[] {
  const out: { name?: string; comp_dir?: string; producer?: string }[] = [];
  let cur: Record<string, string> | undefined;
  for (const line of readelf('--debug-dump=info', path).split('\n')) {
    if (/^\s*<0><[0-9a-f]+>:/.test(line)) out.push((cur = {}));
    else if (/^\s*<\d+><[0-9a-f]+>:/.test(line)) cur = undefined;
    const m = /DW_AT_(producer|name|comp_dir)\s*:\s*(.*)$/.exec(line);
    if (m && cur) cur[m[1]!] = strip(m[2]!);
  }
  return out;
}

/** readelf --debug-dump=line: the directories and files of each header */
function readelfLines(path: string): { dirs: string[]; files: string[] }[] {
  const out: { dirs: string[]; files: string[] }[] = [];
  let table: string[] | undefined;
  for (const line of readelf('--debug-dump=line', path).split('\n')) {
    if (/^\s+Offset:\s+(0x)?[0-9a-f]+$/.test(line)) out.push({ dirs: [], files: [] });
    if (/The Directory Table/.test(line)) table = out[out.length - 1]!.dirs;
    else if (/The File Name Table/.test(line)) table = out[out.length - 1]!.files;
    else if (/^\s*$/.test(line) || /Line Number Statements|No Line Number/.test(line)) table = undefined;
    else if (table && /^\s+\d+\t/.test(line)) table.push(strip(line.split('\t').pop()!));
  }
  return out;
}

/** Checks a parse against readelf's listings. */
function crossCheck(path: string, info: ElfInfo, o: { dwarf?: boolean } = {}): void {
  const c = info.container;
  const secs = readelfSections(path);
  const named = c.entries.filter((e) => e.type === 'file');
  expect(named.map((e) => e.path)).toEqual(secs.map((s) => '/' + s[1]));
  secs.forEach(([, , type, addr, off, size], i) => {
    const f = named[i]!.fields;
    expect(val(f, 'elf.section.type')).toBe(type);
    expect(val(f, 'elf.section.addr')).toBe(addr);
    expect(val(f, 'elf.section.offset')).toBe(off);
    expect(val(f, 'elf.section.size')).toBe(size);
  });
  const segs = readelfSegments(path);
  expect(c.fields.filter((f) => /^elf\.phdr\[\d+\]\.type$/.test(f.name)).map((f) => f.value)).toEqual(segs.map((s) => s[0]));
  segs.forEach(([, off, vaddr, filesz, memsz], i) => {
    expect(val(c.fields, `elf.phdr[${i}].offset`)).toBe(off);
    expect(val(c.fields, `elf.phdr[${i}].vaddr`)).toBe(vaddr);
    expect(val(c.fields, `elf.phdr[${i}].filesz`)).toBe(filesz);
    expect(val(c.fields, `elf.phdr[${i}].memsz`)).toBe(memsz);
  });
  for (const [table, syms] of readelfSymbols(path)) {
    const ours = c.entries.filter((e) => e.path.startsWith(`/${table}/`));
    expect(ours.length, table).toBe(syms.length);
    syms.forEach(([value, size, type, name], i) => {
      const f = ours[i]!.fields;
      expect(val(f, 'elf.sym.value')).toBe(value);
      expect(val(f, 'elf.sym.size')).toBe(size);
      expect(String(val(f, 'elf.sym.info')).split(' ')[0]).toBe(type);
      // readelf names section symbols after their section
      if (type !== 'SECTION') expect(val(f, 'elf.sym.name') ?? '').toBe(name);
    });
  }
  const ids = [...readelf('-n', path).matchAll(/Build ID: ([0-9a-f]+)/g)].map((m) => m[1]);
  const ourIds = c.entries.flatMap((e) => e.fields.filter((f) => /build_id$/.test(f.name)).map((f) => f.value));
  expect(ourIds).toEqual(ids);
  if (o.dwarf === false) return;
  expect(info.dwarf.units.map((u) => ({ name: u.name, comp_dir: u.comp_dir, producer: u.producer }))).toEqual(
    readelfUnits(path).map((u) => ({ name: u.name, comp_dir: u.comp_dir, producer: u.producer })),
  );
  expect(info.dwarf.lines.map((l) => ({ dirs: l.dirs, files: l.files }))).toEqual(readelfLines(path));
  expect(c.notes).toEqual([]);
}

const gcc = hasTool('gcc') && hasTool('readelf');
const built: Record<string, string> = {};

beforeAll(() => {
  if (!gcc) return;
  const stamp = hasTool('faketime');
  for (const [side, time] of [
    ['a', '2026-12-02 06:45:17'],
    ['b', '2026-12-02 06:45:19'],
  ] as const) {
    const d = join(dir, `build-${side}`);
    mkdirSync(join(d, 'src'), { recursive: true });
    writeFileSync(join(d, 'src/hello.c'), SOURCE);
    if (!stamp && side === 'b') spawnSync('sleep', ['1.1']);
    sh(`${stamp ? `faketime '${time}' ` : ''}gcc -O2 -g -o a.out src/hello.c`, d);
    built[side] = join(d, 'a.out');
  }
  const a = join(dir, 'build-a');
  sh('gcc -O2 -gdwarf-4 -o dwarf4.out src/hello.c', a);
  sh('gcc -O2 -g -gz=zlib -o zdebug.out src/hello.c', a);
  sh("printf 'int f(int x) { return x * 2; }\\n' > t.c && gcc -m32 -O2 -g -c t.c -o t32.o", a);
});

describe('ELF: gcc builds, checked against readelf', () => {
  it.skipIf(!gcc)('lists headers, sections, segments, symbols, notes and DWARF 5 build paths as readelf does', () => {
    const info = load(built.a!);
    const c = info.container;
    crossCheck(built.a!, info);
    expect(val(c.fields, 'elf.ident.class')).toBe('ELF64');
    expect(val(c.fields, 'elf.e_shoff')).toBe(parseInt(/Start of section headers:\s+(\d+)/.exec(readelf('-h', built.a!))![1]!, 10));
    expect(c.producer).toBe(readelf('-p .comment', built.a!).split('\n').map((l) => /\]\s+(.*)$/.exec(l)?.[1]).find(Boolean));
    const comp = info.dwarf.units[0]!.comp_dir!;
    expect(comp).toBe(join(dir, 'build-a'));
    // the build path is a field over its bytes in .debug_line_str, with the fix
    const lineStr = entry(c, '/.debug_line_str');
    const f = lineStr.fields.find((x) => x.name === 'dwarf.cu[0].comp_dir')!;
    expect(f.kind).toBe('build-path');
    expect(f.hint).toMatch(/-ffile-prefix-map=OLD=NEW/);
    expect(text(info.bytes, f.spans)).toBe(`${comp}\0`);
    // what fields describe is not content again
    for (const x of lineStr.extents) for (const s of f.spans) expect(x.offset + x.length <= s.offset || x.offset >= s.offset + s.length).toBe(true);
    // the build id covers the whole file but itself
    const id = entry(c, '/.note.gnu.build-id').fields.find((x) => x.name === 'elf.note.build_id')!;
    expect(id.kind).toBe('checksum');
    expect(id.derived).toBe(true);
    const covered = id.covers!.reduce((n, s) => n + s.length, 0);
    expect(covered).toBe(info.bytes.length - 20);
    expect(entry(c, '/.note.gnu.build-id').extents).toEqual([]);
    // SHT_NOBITS has no extents
    expect(entry(c, '/.bss').extents).toEqual([]);
    expect(entry(c, '/.text').extents).toEqual([{ offset: val(entry(c, '/.text').fields, 'elf.section.offset'), length: val(entry(c, '/.text').fields, 'elf.section.size') }]);
  });

  it.skipIf(!gcc)('reads DWARF 4 (strp into .debug_str, inline line header strings)', () => {
    const p = join(dir, 'build-a/dwarf4.out');
    const info = load(p);
    crossCheck(p, info);
    expect(info.dwarf.units[0]!.version).toBe(4);
    expect(info.dwarf.lines[0]!.version).toBe(4);
    const f = entry(info.container, '/.debug_str').fields.find((x) => x.name === 'dwarf.cu[0].comp_dir')!;
    expect(text(info.bytes, f.spans)).toBe(`${join(dir, 'build-a')}\0`);
  });

  it.skipIf(!gcc)('decodes SHF_COMPRESSED (zlib) debug sections; their fields are in the decoded stream', () => {
    const p = join(dir, 'build-a/zdebug.out');
    const info = load(p);
    const flags = readelf('-S -W', p);
    expect(flags).toMatch(/\.debug_info\s+PROGBITS.* C /);
    crossCheck(p, info);
    // gcc compresses the sections that shrink: .debug_info, .debug_abbrev and .debug_str here
    const e = entry(info.container, '/.debug_str');
    expect(e.contentSource).toBeDefined();
    expect(val(e.fields, 'elf.chdr.type')).toBe('zlib');
    const f = e.fields.find((x) => x.name === 'dwarf.cu[0].producer')!;
    expect(f.value).toMatch(/^GNU C/);
    expect(f.spans[0]!.stream).toMatch(/#elf-zlib$/);
    expect(info.container.streams?.length).toBeGreaterThan(0);
  });

  it.skipIf(!gcc)('reads a 32-bit relocatable object (gcc -m32 -c)', () => {
    const p = join(dir, 'build-a/t32.o');
    const info = load(p);
    expect(val(info.container.fields, 'elf.ident.class')).toBe('ELF32');
    expect(val(info.container.fields, 'elf.e_type')).toBe('REL');
    crossCheck(p, info);
  });

  it.skipIf(!gcc || !hasTool('objcopy'))('reads .gnu_debuglink: its CRC32 is that of the debug file', () => {
    sh('objcopy --only-keep-debug build-a/a.out hello.debug && objcopy --strip-debug --add-gnu-debuglink=hello.debug build-a/a.out stripped.out');
    const info = load(join(dir, 'stripped.out'));
    const link = entry(info.container, '/.gnu_debuglink');
    expect(val(link.fields, 'elf.debuglink.file')).toBe('hello.debug');
    const crc = link.fields.find((f) => f.name === 'elf.debuglink.crc32')!;
    expect(crc.value).toBe(crc32(readFileSync(join(dir, 'hello.debug'))).toString(16).padStart(8, '0'));
    expect(crc.kind).toBe('checksum');
    expect(link.extents).toEqual([]);
    // readelf follows the link to the debug file for the DWARF
    crossCheck(join(dir, 'stripped.out'), info, { dwarf: false });
    expect(info.dwarf.units).toEqual([]);
  });
});

describe('ELF: crafted big-endian files', () => {
  for (const is64 of [true, false]) {
    it.skipIf(!hasTool('readelf'))(`reads a big-endian ELF${is64 ? 64 : 32} as readelf does`, () => {
      const d = craftDwarf4(false, { compDir: '/build/dir-a', name: 'hello.c', producer: 'GNU C17 crafted', includeDir: '/build/dir-a/include', file: 'hello.c' });
      const p = join(dir, `be${is64 ? 64 : 32}.elf`);
      writeFileSync(p, craftWithDwarf({ is64, le: false }, d, Buffer.alloc(20, 0xab)));
      const info = load(p);
      expect(val(info.container.fields, 'elf.ident.data')).toBe('big-endian');
      crossCheck(p, info);
      expect(info.dwarf.units[0]).toMatchObject({ name: 'hello.c', comp_dir: '/build/dir-a', producer: 'GNU C17 crafted' });
      expect(info.dwarf.lines[0]).toMatchObject({ dirs: ['/build/dir-a/include'], files: ['hello.c'] });
      expect(info.container.producer).toBe('GCC: (crafted) 1.0');
    });
  }
});

describe('ELF: two builds in two folders, seconds apart', () => {
  it.skipIf(!gcc)('reports only the build path and the __DATE__/__TIME__ as roots; the build id follows from them', () => {
    const r = spawnSync(process.execPath, [BIN, built.a!, built.b!, '--json', '-', '--jobs', '1'], { encoding: 'utf8', env: env() });
    expect(r.status, r.stderr).toBe(1);
    const rep = JSON.parse(r.stdout);
    expect(rep.bytes.unexplained).toBe(0);
    expect(rep.bytes.differing).toBeGreaterThan(20);
    const roots = rep.findings.filter((f: { root: boolean }) => f.root);
    expect([...new Set(roots.map((f: { kind: string }) => f.kind))].sort()).toEqual(['build-path', 'timestamp']);
    const bp = roots.find((f: { kind: string }) => f.kind === 'build-path');
    expect(bp.a).toBe(join(dir, 'build-a'));
    expect(bp.b).toBe(join(dir, 'build-b'));
    expect(bp.format).toBe('elf');
    expect(bp.hint).toMatch(/-ffile-prefix-map/);
    const ts = roots.filter((f: { kind: string }) => f.kind === 'timestamp');
    expect(ts.every((f: { path: string; hint: string }) => f.path === '/.rodata' && /SOURCE_DATE_EPOCH/.test(f.hint))).toBe(true);
    if (hasTool('faketime')) expect(ts.map((f: { a: string; b: string }) => [f.a, f.b])).toContainEqual(['2026-12-02T06:45:17Z', '2026-12-02T06:45:19Z']);
    const id = rep.findings.find((f: { field: string }) => f.field === 'elf.note.build_id');
    expect(id.root).toBe(false);
    const causes = id.causedBy.map((x: string) => rep.findings.find((f: { id: string }) => f.id === x).kind).sort();
    expect(causes).toEqual(['build-path', 'timestamp']);
  });
});
