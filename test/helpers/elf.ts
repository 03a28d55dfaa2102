/**
 * Crafted ELF files for the byte-order path and the hostile cases: a file header, the sections given, a
 * section name table and the section header table, in either class and byte order. The DWARF helpers build
 * a version 4 compile unit and line header by hand.
 */

export interface CraftSection {
  name: string;
  type: number;
  flags?: number;
  data: Buffer;
  addralign?: number;
  entsize?: number;
  link?: number;
  /** overrides after layout (hostile cases) */
  offset?: number;
  size?: number;
}

export interface CraftOptions {
  is64: boolean;
  le: boolean;
  machine?: number;
  /** hostile overrides of the file header */
  shnum?: number;
  shstrndx?: number;
}

export class W {
  parts: Buffer[] = [];
  constructor(readonly le: boolean) {}
  u8(v: number): this {
    this.parts.push(Buffer.from([v & 0xff]));
    return this;
  }
  u16(v: number): this {
    const b = Buffer.alloc(2);
    if (this.le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  u64(v: number): this {
    const b = Buffer.alloc(8);
    if (this.le) b.writeBigUInt64LE(BigInt(v));
    else b.writeBigUInt64BE(BigInt(v));
    this.parts.push(b);
    return this;
  }
  word(v: number, is64: boolean): this {
    return is64 ? this.u64(v) : this.u32(v);
  }
  uleb(v: number): this {
    const out: number[] = [];
    do {
      let byte = v % 128;
      v = Math.floor(v / 128);
      if (v) byte |= 0x80;
      out.push(byte);
    } while (v);
    this.parts.push(Buffer.from(out));
    return this;
  }
  str(s: string): this {
    this.parts.push(Buffer.from(s + '\0', 'utf8'));
    return this;
  }
  raw(b: Buffer | number[]): this {
    this.parts.push(Buffer.from(b));
    return this;
  }
  get length(): number {
    return this.parts.reduce((n, p) => n + p.length, 0);
  }
  buf(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** An ET_EXEC file with the given sections (after a NULL section), then .shstrtab, then the section headers. */
export function craftElf(sections: CraftSection[], o: CraftOptions): Buffer {
  const { is64, le } = o;
  const ehsize = is64 ? 64 : 52;
  const shentsize = is64 ? 64 : 40;
  const names = new W(le).u8(0);
  const nameOff: number[] = [];
  const all = [...sections, { name: '.shstrtab', type: 3, data: Buffer.alloc(0) }];
  for (const s of all) {
    nameOff.push(names.length);
    names.str(s.name);
  }
  all[all.length - 1]!.data = names.buf();
  const body: Buffer[] = [];
  let pos = ehsize;
  const offsets: number[] = [];
  for (const s of all) {
    const align = Math.max(1, s.addralign ?? 1);
    const pad = (align - (pos % align)) % align;
    body.push(Buffer.alloc(pad));
    pos += pad;
    offsets.push(pos);
    body.push(s.data);
    pos += s.data.length;
  }
  const padSh = (8 - (pos % 8)) % 8;
  body.push(Buffer.alloc(padSh));
  pos += padSh;
  const shoff = pos;
  const sh = new W(le);
  sh.raw(Buffer.alloc(shentsize));
  all.forEach((s, i) => {
    sh.u32(nameOff[i]!).u32(s.type).word(s.flags ?? 0, is64).word(0, is64).word(s.offset ?? offsets[i]!, is64).word(s.size ?? s.data.length, is64);
    sh.u32(s.link ?? 0).u32(0).word(s.addralign ?? 1, is64).word(s.entsize ?? 0, is64);
  });
  const shnum = o.shnum ?? all.length + 1;
  const h = new W(le);
  h.raw([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  h.u16(2).u16(o.machine ?? (is64 ? 21 : 20)).u32(1).word(0, is64).word(0, is64).word(shoff, is64).u32(0);
  h.u16(ehsize).u16(is64 ? 56 : 32).u16(0).u16(shentsize).u16(shnum).u16(o.shstrndx ?? all.length);
  return Buffer.concat([h.buf(), ...body, sh.buf()]);
}

/** A GNU build-id note. */
export function buildIdNote(le: boolean, id: Buffer): Buffer {
  return new W(le).u32(4).u32(id.length).u32(3).str('GNU').raw(id).buf();
}

export interface CraftDwarf {
  abbrev: Buffer;
  info: Buffer;
  str: Buffer;
  line: Buffer;
}

/**
 * A DWARF 4 compile unit: producer and comp_dir as DW_FORM_strp, name inline; a line header with one include
 * directory and one file.
 */
export function craftDwarf4(le: boolean, o: { compDir: string; name: string; producer: string; includeDir: string; file: string }): CraftDwarf {
  const str = new W(le).str(o.producer);
  const compDirAt = str.length;
  str.str(o.compDir);
  const abbrev = new W(le).uleb(1).uleb(0x11).u8(0);
  abbrev.uleb(0x25).uleb(0x0e).uleb(0x03).uleb(0x08).uleb(0x1b).uleb(0x0e).uleb(0x10).uleb(0x17).uleb(0).uleb(0).uleb(0);
  const die = new W(le).uleb(1).u32(0).str(o.name).u32(compDirAt).u32(0);
  const cu = new W(le).u16(4).u32(0).u8(8).raw(die.buf());
  const info = new W(le).u32(cu.length).raw(cu.buf());
  const hdr = new W(le).u8(1).u8(1).u8(1).u8(0xfb).u8(14).u8(13).raw([0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1]);
  hdr.str(o.includeDir).u8(0).str(o.file).uleb(1).uleb(0).uleb(0).u8(0);
  const program = Buffer.from([0, 1, 1]); // DW_LNE_end_sequence
  const unit = new W(le).u16(4).u32(hdr.length).raw(hdr.buf()).raw(program);
  const line = new W(le).u32(unit.length).raw(unit.buf());
  return { abbrev: abbrev.buf(), info: info.buf(), str: str.buf(), line: line.buf() };
}

/** A crafted file with a build id, a .comment and the DWARF above. */
export function craftWithDwarf(o: CraftOptions, d: CraftDwarf, id: Buffer, comment = 'GCC: (crafted) 1.0'): Buffer {
  return craftElf(
    [
      { name: '.note.gnu.build-id', type: 7, flags: 2, data: buildIdNote(o.le, id), addralign: 4 },
      { name: '.comment', type: 1, flags: 0x30, data: Buffer.from(comment + '\0'), entsize: 1 },
      { name: '.debug_abbrev', type: 1, data: d.abbrev },
      { name: '.debug_info', type: 1, data: d.info },
      { name: '.debug_str', type: 1, flags: 0x30, data: d.str, entsize: 1 },
      { name: '.debug_line', type: 1, data: d.line },
    ],
    o,
  );
}
