import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hfsplusFormat } from '../../src/formats/hfsplus/index.js';
import { iso9660Format } from '../../src/formats/iso9660/index.js';
import { BufferSource, ExtentSource } from '../../src/io/source.js';
import { FileSource } from '../../src/io/file.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container, Entry, Field } from '../../src/model.js';
import { BIN } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const { dir, cleanup } = scratch('reprodiff-hfsplus-');
afterAll(cleanup);
const ctx = { limits: DEFAULT_LIMITS };
const get = (fields: Field[], name: string): Field | undefined => fields.find((f) => f.name === name);
const value = (fields: Field[], name: string): unknown => get(fields, name)?.value;
const hasHp = hasTool('hpmount') && hasTool('hpls') && hasTool('hpcopy') && hasTool('hpumount');
const UTC = { ...process.env, TZ: 'UTC', HOME: dir };

/** A tree with nested folders, a name with a space, an accented name, an empty file, a symlink, a 300 kB file. */
function makeTree(name: string): string {
  const t = join(dir, name);
  mkdirSync(join(t, 'dir/sub'), { recursive: true });
  mkdirSync(join(t, 'with space'), { recursive: true });
  writeFileSync(join(t, 'dir/sub/a.txt'), 'abc');
  writeFileSync(join(t, 'empty'), '');
  writeFileSync(join(t, 'with space/Café.txt'), 'x\n');
  writeFileSync(join(t, 'UPPER.TXT'), 'y\n');
  writeFileSync(join(t, 'big.bin'), Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 13 + (i >> 9)) & 0xff)));
  symlinkSync('dir/sub/a.txt', join(t, 'link'));
  return t;
}

/** The Apple_HFS partition of an xorriso image, as `xorriso -report_system_area plain` reports it: byte offset and length. */
function hfsPartition(iso: string): { offset: number; length: number } {
  const out = run('xorriso', ['-indev', iso, '-report_system_area', 'plain']);
  const bs = Number(/^APM block size\s*:\s*(\d+)/m.exec(out)?.[1] ?? NaN);
  const types = [...out.matchAll(/^APM partition type :\s+(\d+)\s+(\S+)/gm)];
  const ranges = [...out.matchAll(/^APM start and size :\s+(\d+)\s+(\d+)\s+(\d+)/gm)];
  const i = types.findIndex((m) => m[2] === 'Apple_HFS');
  expect(i).toBeGreaterThanOrEqual(0);
  return { offset: Number(ranges[i]![2]) * bs, length: Number(ranges[i]![3]) * bs };
}

/** Cuts the HFS+ volume out of the ISO with dd, as a person would. */
function extract(iso: string, out: string, part: { offset: number; length: number }): string {
  run('dd', [`if=${iso}`, `of=${out}`, 'bs=512', `skip=${part.offset / 512}`, `count=${part.length / 512}`, 'status=none']);
  return out;
}

interface HpRow {
  cnid: number;
  type: 'd' | 'f';
  dataSize?: number;
  rsrcSize?: number;
  items?: number;
  date: string;
  path: string;
}

/**
 * Runs hpmount/hpls (hfsplus 1.0.4) on a copy of the volume. libhfsp 1.0.4 reads the alternate header at
 * sector 1 (it never learns the volume size for native volumes), so the copy gets the header there too;
 * sectors 0-1 are the unused boot blocks, nothing else changes.
 */
function hpls(volume: string): HpRow[] {
  const copy = `${volume}.hp`;
  const b = readFileSync(volume);
  b.copy(b, 512, 1024, 1536);
  writeFileSync(copy, b);
  const opts = { cwd: dir, env: UTC, input: '', timeout: 20_000 };
  run('hpmount', ['-r', copy], opts);
  try {
    const out = run('hpls', ['-ilaR'], opts);
    const rows: HpRow[] = [];
    let folder = '';
    for (const line of out.split('\n')) {
      const head = /^\.\/(.*):$/.exec(line) ?? (line === '.:' ? ['', ''] : null);
      if (head) {
        folder = head[1] ? `/${head[1]}` : '';
        continue;
      }
      const m = /^\s*(\d+) ([df])\s+(.*?)\s+([A-Z][a-z]{2} [ \d]\d (?:\d\d:\d\d| \d{4})) (.*)$/.exec(line);
      if (!m) continue;
      const row: HpRow = { cnid: Number(m[1]), type: m[2] as 'd' | 'f', date: m[4]!, path: `${folder}/${m[5]}` };
      if (row.type === 'f') {
        const sz = /(\S+)\s+(\d+)\s+(\d+)$/.exec(m[3]!);
        row.dataSize = Number(sz?.[2]);
        row.rsrcSize = Number(sz?.[3]);
      } else row.items = Number(/^(\d+) item/.exec(m[3]!)?.[1]);
      rows.push(row);
    }
    return rows;
  } finally {
    spawnSync('hpumount', [], { cwd: dir, env: UTC, input: '' });
  }
}

/** hpls drops what Latin-1 cannot show (the combining accent of a decomposed name); so does this. */
const asHpls = (p: string): string => p.normalize('NFD').replace(/[\u0300-\u036f]/g, '');

/** hpls -l's date: `Mon dd HH:MM` (this year) in the TZ of its environment. */
function lsDate(iso: string): string {
  const d = new Date(iso);
  const mon = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

function content(c: Container, e: Entry): Buffer {
  return Buffer.from(new ExtentSource(e.path, c.source, e.extents).read(0, e.size));
}

describe('HFS+ written by xorriso -hfsplus', () => {
  const has = hasTool('xorriso') && hasTool('dd');
  it.skipIf(!has || !hasHp)('listing, CNIDs, sizes, dates and contents agree with hpls and hpcopy', async () => {
    const tree = makeTree('tree1');
    const iso = join(dir, 'x.iso');
    run('xorriso', ['-as', 'mkisofs', '-R', '-hfsplus', '-o', iso, tree]);
    const vol = extract(iso, join(dir, 'x.hfs'), hfsPartition(iso));
    const src = new FileSource(vol);
    expect(hfsplusFormat.detect(src)).toBeGreaterThan(0);
    const c = await hfsplusFormat.open(src, ctx);
    expect(c.notes).toEqual([]);
    expect(c.producer).toBe('xorriso (libisofs)');

    const rows = hpls(vol);
    expect(rows.length).toBe(9);
    const ours = c.entries.filter((e) => e.path !== '/');
    expect(ours.map((e) => asHpls(e.path)).sort()).toEqual(rows.map((r) => r.path).sort());
    for (const r of rows) {
      const e = ours.find((x) => asHpls(x.path) === r.path)!;
      const p = e.type === 'dir' ? 'hfsplus.folder' : 'hfsplus.file';
      expect(value(e.fields, `${p}.cnid`), r.path).toBe(r.cnid);
      expect(e.type === 'dir' ? 'd' : 'f').toBe(r.type);
      expect(lsDate(String(value(e.fields, `${p}.content_mod_date`))), r.path).toBe(r.date);
      if (r.type === 'f') {
        expect(value(e.fields, 'hfsplus.file.data_fork.logical_size')).toBe(r.dataSize);
        expect(value(e.fields, 'hfsplus.file.resource_fork.logical_size')).toBe(r.rsrcSize);
      } else expect(value(e.fields, 'hfsplus.folder.valence')).toBe(r.items);
    }
    // the name is stored decomposed (TN1150: canonical decomposition), in UTF-16BE
    expect(ours.some((e) => e.path === '/with space/Café.txt'.normalize('NFD'))).toBe(true);
    // contents: hpcopy -r (raw) of each regular file, from within its folder
    for (const e of ours.filter((x) => x.type === 'file' && !x.path.includes('space'))) {
      const parts = e.path.split('/').filter(Boolean);
      const out = join(dir, `copy-${parts.join('_')}`);
      const copy = `${vol}.hp`;
      const opts = { cwd: dir, env: UTC, input: '', timeout: 20_000 };
      run('hpmount', ['-r', copy], opts);
      try {
        for (const d of parts.slice(0, -1)) run('hpcd', [d], opts);
        run('hpcopy', ['-r', parts[parts.length - 1]!, out], opts);
      } finally {
        spawnSync('hpumount', [], { cwd: dir, env: UTC, input: '' });
      }
      expect(content(c, e).equals(readFileSync(out)), e.path).toBe(true);
    }
    expect(content(c, c.entries.find((e) => e.path === '/big.bin')!).equals(readFileSync(join(tree, 'big.bin')))).toBe(true);
    const link = c.entries.find((e) => e.path === '/link')!;
    expect(link.type).toBe('symlink');
    expect(link.meta.target).toBe('dir/sub/a.txt');
    expect(link.meta.mode).toBe(0o120777);
  });

  it.skipIf(!has)('headers: the alternate is a copy of the primary; counts, dates and the volume name agree with the image', async () => {
    const tree = makeTree('tree2');
    const when = new Date('2024-03-04T05:06:07Z');
    const iso = join(dir, 'sde.iso');
    run('xorriso', ['-as', 'mkisofs', '-R', '-hfsplus', '-V', 'MYVOL', '-o', iso, tree], {
      env: { ...process.env, SOURCE_DATE_EPOCH: String(when.getTime() / 1000) },
    });
    const part = hfsPartition(iso);
    const c = await hfsplusFormat.open(new FileSource(extract(iso, join(dir, 'sde.hfs'), part)), ctx);
    expect(c.notes).toEqual([]);
    const names = c.fields.filter((f) => f.name.startsWith('hfsplus.header.')).map((f) => f.name);
    expect(names.length).toBeGreaterThan(40);
    for (const n of names) expect(value(c.fields, n.replace('hfsplus.header.', 'hfsplus.backup.header.')), n).toEqual(value(c.fields, n));
    // SOURCE_DATE_EPOCH is xorriso's modification date: the volume dates follow it
    expect(value(c.fields, 'hfsplus.header.modify_date')).toBe('2024-03-04T05:06:07Z');
    expect(value(c.fields, 'hfsplus.header.create_date')).toBe('2024-03-04T05:06:07Z');
    expect(get(c.fields, 'hfsplus.header.create_date')?.hint).toMatch(/local time/);
    expect(get(c.fields, 'hfsplus.header.finder_info.volume_id')?.kind).toBe('random-id');
    const files = c.entries.filter((e) => e.type !== 'dir');
    const folders = c.entries.filter((e) => e.type === 'dir' && e.path !== '/');
    expect(value(c.fields, 'hfsplus.header.file_count')).toBe(files.length);
    expect(value(c.fields, 'hfsplus.header.folder_count')).toBe(folders.length);
    expect(value(c.fields, 'hfsplus.header.block_size')! as number * (value(c.fields, 'hfsplus.header.total_blocks') as number)).toBe(part.length);
    const root = c.entries.find((e) => e.path === '/')!;
    expect(value(root.fields, 'hfsplus.key.name')).toBe('MYVOL');
    expect(value(root.fields, 'hfsplus.thread.name')).toBe('MYVOL');
    expect(value(c.fields, 'hfsplus.catalog.header.key_compare_type')).toBe('case-folding (0xCF)');
    // the catalog dates are the files' own times (touched here), not SOURCE_DATE_EPOCH
    const a = c.entries.find((e) => e.path === '/dir/sub/a.txt')!;
    const mtime = new Date(Number(run('stat', ['-c', '%Y', join(tree, 'dir/sub/a.txt')]).trim()) * 1000);
    expect(value(a.fields, 'hfsplus.file.content_mod_date')).toBe(mtime.toISOString().replace('.000Z', 'Z'));
    expect(a.meta.mode).toBe(0o100644);
  });

  it.skipIf(!has)('file data is shared with the ISO 9660 file extents', async () => {
    const tree = makeTree('tree3');
    const iso = join(dir, 'shared.iso');
    run('xorriso', ['-as', 'mkisofs', '-R', '-hfsplus', '-o', iso, tree]);
    const part = hfsPartition(iso);
    const whole = new FileSource(iso);
    const vol = await hfsplusFormat.open(new ExtentSource('hfs', whole, [part]), ctx);
    const isoC = await iso9660Format.open(whole, ctx);
    for (const p of ['/big.bin', '/dir/sub/a.txt', '/UPPER.TXT']) {
      const h = vol.entries.find((e) => e.path === p)!;
      const i = isoC.entries.find((e) => e.path === p)!;
      expect(h.extents[0]!.offset + part.offset, p).toBe(i.extents[0]!.offset);
      expect(h.size).toBe(i.size);
    }
  });

  it.skipIf(!has)('HFSX: the signature and the binary key compare type are read and noted', async () => {
    const tree = makeTree('tree5');
    const iso = join(dir, 'hx.iso');
    run('xorriso', ['-as', 'mkisofs', '-R', '-hfsplus', '-o', iso, tree]);
    const b = readFileSync(extract(iso, join(dir, 'hx.hfs'), hfsPartition(iso)));
    const plain = await hfsplusFormat.open(new BufferSource('h.hfs', Buffer.from(b)), ctx);
    // xorriso writes HFS+ only: make it HFSX ('HX', version 5) with a case-sensitive (0xBC) catalog
    for (const at of [1024, b.length - 1024]) {
      b.write('HX', at, 'latin1');
      b.writeUInt16BE(5, at + 2);
    }
    const cat = b.readUInt32BE(1024 + 272 + 16) * b.readUInt32BE(1024 + 40);
    b[cat + 14 + 37] = 0xbc;
    const c = await hfsplusFormat.open(new BufferSource('hx.hfs', b), ctx);
    expect(c.notes).toEqual(['HFSX: names compare case-sensitively (binary)']);
    expect(value(c.fields, 'hfsplus.header.signature')).toBe('HX');
    expect(value(c.fields, 'hfsplus.catalog.header.key_compare_type')).toBe('binary (0xBC)');
    expect(c.entries.map((e) => e.path)).toEqual(plain.entries.map((e) => e.path));
  });

  it.skipIf(!has)('a fork continued in the extents overflow file (more than eight extents) reads whole', async () => {
    const tree = makeTree('tree4');
    const iso = join(dir, 'ovf.iso');
    run('xorriso', ['-as', 'mkisofs', '-R', '-hfsplus', '-o', iso, tree]);
    const b = readFileSync(extract(iso, join(dir, 'ovf.hfs'), hfsPartition(iso)));
    const made = overflowed(b, await hfsplusFormat.open(new BufferSource('ovf.hfs', b), ctx));
    const c = await hfsplusFormat.open(new BufferSource('ovf2.hfs', made), ctx);
    expect(c.notes).toEqual([]);
    const big = c.entries.find((e) => e.path === '/big.bin')!;
    expect(value(big.fields, 'hfsplus.file.data_fork.extents')!.toString().split(',').length).toBe(8);
    expect(get(big.fields, 'hfsplus.file.data_fork.overflow_extents')).toBeDefined();
    expect(content(c, big).equals(readFileSync(join(tree, 'big.bin')))).toBe(true);
    expect(value(c.fields, 'hfsplus.extents.header.leaf_records')).toBe(1);
  });
});

/**
 * Rewrites /big.bin's one extent as eight one-block extents plus an overflow record with the rest, in an
 * extents B-tree grown to two nodes (header and one leaf) at two blocks appended to the volume; the alternate
 * header moves to the new end.
 */
function overflowed(b: Buffer, c: Container): Buffer {
  const bs = value(c.fields, 'hfsplus.header.block_size') as number;
  const total = value(c.fields, 'hfsplus.header.total_blocks') as number;
  const nodeSize = value(c.fields, 'hfsplus.extents.header.node_size') as number;
  expect(nodeSize).toBeLessThanOrEqual(bs);
  const out = Buffer.alloc(b.length + 3 * bs);
  b.copy(out, 0, 0, b.length);
  const vh = 1024;
  // the extents file: header node copied, then a leaf node, at blocks total and total+1
  const extFork = vh + 192;
  const oldExt = out.readUInt32BE(extFork + 16) * bs;
  const head = Buffer.from(b.subarray(oldExt, oldExt + nodeSize));
  head.writeUInt16BE(1, 14); // treeDepth
  head.writeUInt32BE(1, 16); // rootNode
  head.writeUInt32BE(1, 20); // leafRecords
  head.writeUInt32BE(1, 24); // firstLeafNode
  head.writeUInt32BE(1, 28); // lastLeafNode
  head.writeUInt32BE(2, 36); // totalNodes
  head.writeUInt32BE(0, 40); // freeNodes
  const mapOff = head.readUInt16BE(nodeSize - 6); // record 2: the map
  head[mapOff] = 0xc0;
  head.copy(out, total * bs);
  const big = c.entries.find((e) => e.path === '/big.bin')!;
  const d = big.records![0]!.offset + 2 + b.readUInt16BE(big.records![0]!.offset);
  const fork = d + 88;
  const start = out.readUInt32BE(fork + 16);
  const count = out.readUInt32BE(fork + 20);
  expect(count).toBeGreaterThan(9);
  for (let i = 0; i < 8; i++) {
    out.writeUInt32BE(start + i, fork + 16 + i * 8);
    out.writeUInt32BE(1, fork + 20 + i * 8);
  }
  const leaf = Buffer.alloc(nodeSize);
  leaf[8] = 0xff; // kind: leaf
  leaf[9] = 1; // height
  leaf.writeUInt16BE(1, 10); // numRecords
  leaf.writeUInt16BE(10, 14); // keyLength
  leaf[16] = 0; // forkType: data
  leaf.writeUInt32BE(value(big.fields, 'hfsplus.file.cnid') as number, 18); // fileID
  leaf.writeUInt32BE(8, 22); // startBlock
  leaf.writeUInt32BE(start + 8, 26);
  leaf.writeUInt32BE(count - 8, 30);
  leaf.writeUInt16BE(14, nodeSize - 2);
  leaf.writeUInt16BE(14 + 12 + 64, nodeSize - 4);
  leaf.copy(out, total * bs + nodeSize);
  const extBlocks = Math.ceil((2 * nodeSize) / bs);
  out.writeBigUInt64BE(BigInt(2 * nodeSize), extFork);
  out.writeUInt32BE(extBlocks, extFork + 12);
  out.writeUInt32BE(total, extFork + 16);
  out.writeUInt32BE(extBlocks, extFork + 20);
  const newTotal = total + 3;
  out.writeUInt32BE(newTotal, vh + 44);
  const end = newTotal * bs;
  const res = out.subarray(0, end);
  res.copy(res, end - 1024, vh, vh + 512);
  return Buffer.from(res);
}

describe('HFS+ in grub-mkrescue ISOs', () => {
  const has = hasTool('grub-mkrescue') && hasTool('xorriso') && hasTool('mformat') && hasTool('sgdisk');
  it.skipIf(!has)('two builds seconds apart: the HFS+ dates are named, nothing is left unexplained, no whole-partition root', async () => {
    const tree = join(dir, 'grubtree');
    mkdirSync(join(tree, 'boot/grub'), { recursive: true });
    writeFileSync(join(tree, 'boot/grub/grub.cfg'), 'set timeout=1\nmenuentry "x" { echo hi }\n');
    writeFileSync(join(tree, 'hello.txt'), 'hello\n');
    const fixed = new Date('2024-01-01T00:00:00Z');
    for (const f of ['boot/grub/grub.cfg', 'hello.txt', 'boot/grub', 'boot', '.']) utimesSync(join(tree, f), fixed, fixed);
    const env = { ...process.env, SOURCE_DATE_EPOCH: undefined } as NodeJS.ProcessEnv;
    const a = join(dir, 'ga.iso');
    const bIso = join(dir, 'gb.iso');
    run('grub-mkrescue', ['-o', a, tree], { env });
    await new Promise((r) => setTimeout(r, 2100));
    run('grub-mkrescue', ['-o', bIso, tree], { env });
    // the HFS+ partition, from sgdisk's listing
    const p = run('sgdisk', ['-p', a]);
    const row = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+.*\sAF00\s/m.exec(p);
    expect(row).not.toBeNull();
    const part = Number(row![1]);
    // the volume cut out with dd at sgdisk's sectors lists as hpls lists it
    const first = Number(row![2]);
    const vol = extract(a, join(dir, 'ga.hfs'), { offset: first * 512, length: (Number(row![3]) - first + 1) * 512 });
    const c = await hfsplusFormat.open(new FileSource(vol), ctx);
    expect(c.notes).toEqual([]);
    const listed = hasHp ? hpls(vol).map((x) => x.path).sort() : undefined;
    if (listed) expect(c.entries.filter((e) => e.path !== '/').map((e) => asHpls(e.path)).sort()).toEqual(listed);
    expect(c.entries.some((e) => e.path === '/System/Library/CoreServices/boot.efi')).toBe(true);
    const r = spawnSync(process.execPath, [BIN, a, bIso, '--json', '-', '-q'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(1);
    const rep = JSON.parse(r.stdout) as { bytes: { unexplained: number }; findings: { path: string; format: string; field: string | null; kind: string; root: boolean }[] };
    expect(rep.bytes.unexplained).toBe(0);
    const roots = rep.findings.filter((f) => f.root);
    expect(roots.filter((f) => f.path === `/partition-${part}` && f.field === null)).toEqual([]);
    expect(roots.some((f) => f.format === 'hfsplus' && f.field === 'hfsplus.header.modify_date' && f.kind === 'timestamp')).toBe(true);
    expect(roots.some((f) => f.format === 'hfsplus' && f.path.startsWith(`/partition-${part}//`) && f.kind === 'timestamp')).toBe(true);
    // the alternate header's dates are copies of the primary's, not causes of their own
    const alt = rep.findings.filter((f) => f.field?.startsWith('hfsplus.backup.header.'));
    expect(alt.length).toBeGreaterThan(0);
    expect(alt.every((f) => !f.root)).toBe(true);
  }, 120_000);
});
