/**
 * Crafted hostile ELF files: header counts and offsets past the end, a section name table index out of
 * range, DWARF units longer than their section, abbreviation tables that never end or use huge codes, DIEs
 * nested a hundred thousand deep, line headers claiming 2^40 entries, notes and compressed sections that lie
 * about their sizes. Each must open with notes or fail with a typed error, and compare cleanly in the CLI.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { isReprodiffError } from '../../src/errors.js';
import { BufferSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { parseElf } from '../../src/formats/elf/index.js';
import { scratch } from '../helpers/tools.js';
import { buildIdNote, craftDwarf4, craftElf, craftWithDwarf, W, type CraftSection } from '../helpers/elf.js';
import { expectClean, runCapped } from './harness.js';

const { dir, cleanup } = scratch('reprodiff-hostile-elf-');
afterAll(() => cleanup());

const le = true;
const is64 = true;
const dwarf = (): ReturnType<typeof craftDwarf4> => craftDwarf4(le, { compDir: '/build/a', name: 'x.c', producer: 'crafted', includeDir: '/build/a/inc', file: 'x.c' });
const good = craftWithDwarf({ is64, le }, dwarf(), Buffer.alloc(20, 1));

/** Parses in process (a typed error or notes), then compares against the good file in the CLI. */
function hostile(name: string, bytes: Buffer, expectNote?: RegExp): void {
  const t0 = Date.now();
  let notes: string[] = [];
  try {
    notes = parseElf(new BufferSource(name, new Uint8Array(bytes)), { limits: { ...DEFAULT_LIMITS } }).container.notes;
  } catch (e) {
    expect(isReprodiffError(e), String(e)).toBe(true);
  }
  expect(Date.now() - t0).toBeLessThan(10_000);
  if (expectNote) expect(notes.join('\n')).toMatch(expectNote);
  const a = join(dir, `${name}.good`);
  const b = join(dir, name);
  writeFileSync(a, good);
  writeFileSync(b, bytes);
  expectClean(runCapped([a, b, '--json', '-', '--jobs', '1']));
}

function withDebug(patch: Partial<Record<'abbrev' | 'info' | 'str' | 'line', Buffer>>): Buffer {
  return craftWithDwarf({ is64, le }, { ...dwarf(), ...patch }, Buffer.alloc(20, 2));
}

describe('hostile ELF headers', () => {
  it('e_shnum of 65535 with the table at the end of the file', () => {
    hostile('shnum.elf', craftWithDwarf({ is64, le, shnum: 65535 }, dwarf(), Buffer.alloc(20, 3)));
  });

  it('a section starting past the end of the file, and one running past it', () => {
    const secs: CraftSection[] = [
      { name: '.far', type: 1, data: Buffer.alloc(4), offset: 0x7fff_ffff },
      { name: '.long', type: 1, data: Buffer.alloc(4), size: 0x7fff_ffff },
    ];
    hostile('offsets.elf', craftElf(secs, { is64, le }), /^(?=[\s\S]*past the end of the \d+-byte file)(?=[\s\S]*cut off)/);
  });

  it('e_shstrndx out of range', () => {
    hostile('shstrndx.elf', craftWithDwarf({ is64, le, shstrndx: 999 }, dwarf(), Buffer.alloc(20, 4)), /e_shstrndx 999 is not a section/);
  });

  it('a note claiming 4 GB, and a compressed section that lies about its size', () => {
    const note = new W(le).u32(4).u32(0xffff_fff0).u32(3).str('GNU').buf();
    const zlib = deflateSync(Buffer.alloc(1000, 0x41));
    const chdr = (size: number, data: Buffer): Buffer => new W(le).u32(1).u32(0).u64(size).u64(1).raw(data).buf();
    hostile(
      'notes.elf',
      craftElf(
        [
          { name: '.note.big', type: 7, data: note, addralign: 4 },
          { name: '.debug_str', type: 1, flags: 0x800, data: chdr(2 ** 40, zlib) },
          { name: '.debug_info', type: 1, flags: 0x800, data: chdr(10, zlib) },
          { name: '.debug_line', type: 1, flags: 0x800, data: chdr(100, Buffer.from('not zlib at all')) },
          { name: '.note.ok', type: 7, data: buildIdNote(le, Buffer.alloc(20, 5)), addralign: 4 },
        ],
        { is64, le },
      ),
      /^(?=[\s\S]*runs past the end of the section)(?=[\s\S]*over the limit)(?=[\s\S]*not decoded)/,
    );
  });
});

describe('hostile DWARF', () => {
  it('a compile unit whose length runs past .debug_info', () => {
    const info = Buffer.from(dwarf().info);
    info.writeUInt32LE(0x7fff_fff0, 0);
    hostile('culength.elf', withDebug({ info }), /claims \d+ bytes, past the end/);
  });

  it('a 64-bit unit length past the section, and a reserved one', () => {
    const info64 = new W(le).u32(0xffff_ffff).u64(2 ** 52).u16(4).buf();
    hostile('culength64.elf', withDebug({ info: info64 }), /past the end/);
    hostile('reserved.elf', withDebug({ info: new W(le).u32(0xffff_fff5).u32(0).u32(0).buf() }), /reserved unit_length/);
  });

  it('huge abbreviation codes and a LEB128 longer than 53 bits', () => {
    const abbrev = new W(le).uleb(2 ** 50).uleb(0x11).u8(0).uleb(0x03).uleb(0x08).uleb(0).uleb(0).uleb(0).buf();
    const die = new W(le).uleb(2 ** 50).str('x.c');
    const info = new W(le).u32(7 + die.length).u16(4).u32(0).u8(8).raw(die.buf()).buf();
    hostile('abbrevcode.elf', withDebug({ abbrev, info }));
    const long = Buffer.from([...Array(12).fill(0xff), 0x01]);
    hostile('leb.elf', withDebug({ abbrev: Buffer.concat([long, abbrev]) }), /LEB128|abbreviation/);
  });

  it('an abbreviation whose attribute list never ends', () => {
    const w = new W(le).uleb(1).uleb(0x11).u8(1);
    for (let i = 0; i < 50_000; i++) w.uleb(0x03).uleb(0x0b);
    hostile('abbrevloop.elf', withDebug({ abbrev: w.buf() }), /more than 4096 attributes|outside/);
  });

  it('DIEs nested 100,000 deep', () => {
    const abbrev = new W(le).uleb(1).uleb(0x11).u8(1).uleb(0x03).uleb(0x08).uleb(0).uleb(0).uleb(2).uleb(0x0b).u8(1).uleb(0).uleb(0).uleb(0).buf();
    const body = new W(le).uleb(1).str('deep.c').raw(Buffer.alloc(100_000, 2)).raw(Buffer.alloc(100_001, 0));
    const info = new W(le).u32(7 + body.length).u16(4).u32(0).u8(8).raw(body.buf()).buf();
    hostile('deep.elf', withDebug({ abbrev, info }));
  });

  it('a version 5 line header claiming 2^40 directories, and one with an unknown form', () => {
    const v5 = (dirForm: number, count: number): Buffer => {
      const h = new W(le).u8(1).u8(1).u8(1).u8(0xfb).u8(14).u8(1).u8(1).uleb(1).uleb(dirForm).uleb(count).str('/d').u8(0).uleb(0);
      const unit = new W(le).u16(5).u8(8).u8(0).u32(h.length).raw(h.buf());
      return new W(le).u32(unit.length).raw(unit.buf()).buf();
    };
    hostile('linecount.elf', withDebug({ line: v5(0x08, 2 ** 40) }), /entries/);
    hostile('lineform.elf', withDebug({ line: v5(0x7777, 1) }), /unknown DWARF form/);
  });
});
