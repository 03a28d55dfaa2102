/**
 * Crafted hostile HFS+ volumes, made from a real xorriso -hfsplus volume: a truncated header, catalog node
 * sizes of 0 and 65535, a huge node count, a leaf chain that loops, an index node that names itself, record
 * offsets out of their node, a folder that is its own parent, extents past the volume. Each must end with exit
 * 0/1/2, a clear message, no trace, in time; the reader says what it met.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReprodiffError } from '../../src/errors.js';
import { hfsplusFormat } from '../../src/formats/hfsplus/index.js';
import { BufferSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container } from '../../src/model.js';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { expectClean, runCapped } from './harness.js';

const { dir, cleanup } = scratch('reprodiff-hostile-hfs-');
afterAll(() => cleanup());
const has = hasTool('xorriso');
const ctx = { limits: DEFAULT_LIMITS };
let base = Buffer.alloc(0);
let parsed: Container;

const open = async (b: Buffer): Promise<Container> => hfsplusFormat.open(new BufferSource('hostile.hfs', b), ctx);

beforeAll(async () => {
  if (!has) return;
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'dir/sub'), { recursive: true });
  // enough names for several catalog leaves under an index node
  for (let i = 0; i < 150; i++) writeFileSync(join(tree, `file-with-a-long-name-${String(i).padStart(3, '0')}.txt`), `${i}\n`);
  writeFileSync(join(tree, 'dir/sub/a.txt'), 'abc');
  const iso = join(dir, 'base.iso');
  run('xorriso', ['-as', 'mkisofs', '-R', '-hfsplus', '-o', iso, tree]);
  const out = run('xorriso', ['-indev', iso, '-report_system_area', 'plain']);
  const bs = Number(/^APM block size\s*:\s*(\d+)/m.exec(out)?.[1]);
  const types = [...out.matchAll(/^APM partition type :\s+(\d+)\s+(\S+)/gm)];
  const ranges = [...out.matchAll(/^APM start and size :\s+(\d+)\s+(\d+)\s+(\d+)/gm)];
  const i = types.findIndex((m) => m[2] === 'Apple_HFS');
  const img = readFileSync(iso);
  base = Buffer.from(img.subarray(Number(ranges[i]![2]) * bs, (Number(ranges[i]![2]) + Number(ranges[i]![3])) * bs));
  parsed = await open(base);
}, 60_000);

/** Where the catalog's nodes are: its first extent, node size, root and first leaf. */
function catalog(b: Buffer): { at: number; nodeSize: number; root: number; firstLeaf: number; depth: number } {
  const bs = b.readUInt32BE(1024 + 40);
  const at = b.readUInt32BE(1024 + 272 + 16) * bs;
  return { at, nodeSize: b.readUInt16BE(at + 32), root: b.readUInt32BE(at + 16), firstLeaf: b.readUInt32BE(at + 24), depth: b.readUInt16BE(at + 14) };
}

function write(name: string, b: Buffer): string {
  const f = join(dir, name);
  writeFileSync(f, b);
  return f;
}

/** The mutated volume goes through the CLI (inspect, and a compare with the intact one) and the reader. */
async function check(name: string, b: Buffer, note?: RegExp): Promise<Container | undefined> {
  const f = write(name, b);
  expectClean(runCapped(['inspect', f]));
  expectClean(runCapped([write('base.hfs', base), f]));
  let c: Container;
  try {
    c = await open(b);
  } catch (e) {
    expect(e).toBeInstanceOf(ReprodiffError);
    return undefined;
  }
  if (note) expect(c.notes.join('\n')).toMatch(note);
  return c;
}

describe('HFS+ hostile volumes', () => {
  it.skipIf(!has)('the base volume has an index node and several leaves, and reads without notes', () => {
    expect(parsed.notes).toEqual([]);
    const cat = catalog(base);
    expect(cat.depth).toBeGreaterThan(1);
    expect(parsed.entries.length).toBeGreaterThan(150);
  });

  it.skipIf(!has)('a volume header cut short', async () => {
    const f = write('short.hfs', base.subarray(0, 1300));
    const r = expectClean(runCapped(['inspect', f]));
    expect(r.status).toBe(2);
    await expect(open(base.subarray(0, 1300))).rejects.toBeInstanceOf(ReprodiffError);
    // cut inside the catalog: the alternate header and the rest are missing, and the reader says so
    const cat = catalog(base);
    await check('half.hfs', base.subarray(0, cat.at + cat.nodeSize + 100), /past the end/);
  });

  it.skipIf(!has)('catalog node size 0, 65535 and a huge node count', async () => {
    const cat = catalog(base);
    for (const size of [0, 0xffff]) {
      const b = Buffer.from(base);
      b.writeUInt16BE(size, cat.at + 32);
      const c = await check(`nodesize-${size}.hfs`, b, new RegExp(`node size ${size} is not a power of two`));
      expect(c?.entries).toEqual([]);
    }
    const b = Buffer.from(base);
    b.writeUInt32BE(0xffffffff, cat.at + 36);
    await check('totalnodes.hfs', b, /counts 4294967295 nodes but the fork holds/);
  });

  it.skipIf(!has)('a leaf chain whose fLink loops back to the first leaf', async () => {
    const cat = catalog(base);
    const b = Buffer.from(base);
    // walk the chain to the last leaf, then point it at the first
    let n = cat.firstLeaf;
    for (let i = 0; i < 1000; i++) {
      const next = b.readUInt32BE(cat.at + n * cat.nodeSize);
      if (next === 0) break;
      n = next;
    }
    expect(n).not.toBe(cat.firstLeaf);
    b.writeUInt32BE(cat.firstLeaf, cat.at + n * cat.nodeSize);
    const c = await check('leafloop.hfs', b, /already read \(a loop/);
    expect(c!.entries.length).toBe(parsed.entries.length);
    // a leaf that links to itself
    const s = Buffer.from(base);
    s.writeUInt32BE(cat.firstLeaf, cat.at + cat.firstLeaf * cat.nodeSize);
    await check('selfleaf.hfs', s, /already read/);
  });

  it.skipIf(!has)('an index record whose child is the index node itself', async () => {
    const cat = catalog(base);
    const b = Buffer.from(base);
    const node = cat.at + cat.root * cat.nodeSize;
    const r0 = b.readUInt16BE(node + cat.nodeSize - 2);
    const keyLen = b.readUInt16BE(node + r0) + 2;
    b.writeUInt32BE(cat.root, node + r0 + keyLen);
    await check('indexloop.hfs', b, /names node \d+ as a leaf, but it was read as another kind/);
  });

  it.skipIf(!has)('record offsets out of their node, and a record count past the node', async () => {
    const cat = catalog(base);
    const leaf = cat.at + cat.firstLeaf * cat.nodeSize;
    const b = Buffer.from(base);
    b.writeUInt16BE(0xfff0, leaf + cat.nodeSize - 4); // record 1 ends past the node
    await check('offsets.hfs', b, /record 0 ends at offset 65520/);
    const c = Buffer.from(base);
    c.writeUInt16BE(0xffff, leaf + 10); // numRecords
    await check('numrecords.hfs', c, /65535 records do not fit/);
  });

  it.skipIf(!has)('a folder that is its own parent, and two folders that are each other\'s parent', async () => {
    const dirEntry = parsed.entries.find((e) => e.path === '/dir')!;
    const subEntry = parsed.entries.find((e) => e.path === '/dir/sub')!;
    const cnid = (e: typeof dirEntry): number => e.fields.find((f) => f.name === 'hfsplus.folder.cnid')!.value as number;
    const keyParent = (e: typeof dirEntry): number => e.fields.find((f) => f.name === 'hfsplus.key.parent_id')!.spans[0]!.offset;
    const b = Buffer.from(base);
    b.writeUInt32BE(cnid(dirEntry), keyParent(dirEntry));
    const c = await check('selfparent.hfs', b, /does not lead to the root/);
    expect(c!.entries.some((e) => e.path === `/?cnid-${cnid(dirEntry)}/dir`)).toBe(true);
    const d = Buffer.from(base);
    d.writeUInt32BE(cnid(subEntry), keyParent(dirEntry));
    await check('cycle.hfs', d, /does not lead to the root/);
  });

  it.skipIf(!has)('extents past the volume', async () => {
    const a = parsed.entries.find((e) => e.path === '/dir/sub/a.txt')!;
    const ext = a.fields.find((f) => f.name === 'hfsplus.file.data_fork.extents')!.spans[0]!.offset;
    const b = Buffer.from(base);
    b.writeUInt32BE(0xffffff00, ext);
    b.writeUInt32BE(0xffffffff, ext + 4);
    const c = await check('extents.hfs', b, /runs past the \d+ blocks of the volume/);
    expect(c!.entries.find((e) => e.path === '/dir/sub/a.txt')!.extents).toEqual([]);
    // the catalog file itself past the volume
    const d = Buffer.from(base);
    d.writeUInt32BE(0x7fffffff, 1024 + 272 + 16);
    await check('catalog-extent.hfs', d, /catalog file: extent 2147483647/);
  });
});
