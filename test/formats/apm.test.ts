import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { apmFormat } from '../../src/formats/apm/index.js';
import { BufferSource } from '../../src/io/source.js';
import { FileSource } from '../../src/io/file.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container, Field } from '../../src/model.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const { dir, cleanup } = scratch('reprodiff-apm-');
afterAll(cleanup);
const ctx = { limits: DEFAULT_LIMITS };
const get = (fields: Field[], name: string): Field | undefined => fields.find((f) => f.name === name);
const openBuf = async (d: Uint8Array): Promise<Container> => apmFormat.open(new BufferSource('crafted.img', d), ctx);

/** `xorriso -report_system_area plain` APM rows: name, type, start and size in blocks. */
function xorrisoApm(iso: string): { name: string; type: string; start: number; size: number }[] {
  const out = run('xorriso', ['-indev', iso, '-report_system_area', 'plain']);
  const names = [...out.matchAll(/^APM partition name :\s+(\d+)\s+(\S+)/gm)];
  const types = [...out.matchAll(/^APM partition type :\s+(\d+)\s+(\S+)/gm)];
  const ranges = [...out.matchAll(/^APM start and size :\s+(\d+)\s+(\d+)\s+(\d+)/gm)];
  return names.map((m, i) => ({ name: m[2]!, type: types[i]![2]!, start: Number(ranges[i]![2]), size: Number(ranges[i]![3]) }));
}

function checkAgainstXorriso(c: Container, iso: string): void {
  const rows = xorrisoApm(iso);
  expect(rows.length).toBeGreaterThan(0);
  const ours = c.entries.map((e) => {
    const n = e.path.replace('/partition-', '');
    return {
      name: get(e.fields, `apm.part.${n}.name`)?.value,
      type: get(e.fields, `apm.part.${n}.type`)?.value,
      start: get(e.fields, `apm.part.${n}.start`)?.value,
      size: get(e.fields, `apm.part.${n}.blocks`)?.value,
    };
  });
  expect(ours).toEqual(rows);
}

describe('APM on xorriso ISOs', () => {
  it.skipIf(!hasTool('xorriso'))('xorriso -hfsplus: the map agrees with -report_system_area', async () => {
    const tree = join(dir, 'tree');
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, 'readme.txt'), 'hello\n');
    const iso = join(dir, 'apm.iso');
    run('xorriso', ['-as', 'mkisofs', '-hfsplus', '-apm-block-size', '2048', '-o', iso, tree]);
    const src = new FileSource(iso);
    expect(apmFormat.detect(src)).toBeGreaterThan(0);
    const c = await apmFormat.open(src, ctx);
    expect(c.notes).toEqual([]);
    expect(get(c.fields, 'apm.ddm.block_size')?.value).toBe(2048);
    expect(get(c.fields, 'apm.part.1.type')?.value).toBe('Apple_partition_map');
    checkAgainstXorriso(c, iso);
    const hfs = c.entries.find((e) => get(e.fields, `${e.path.replace('/partition-', 'apm.part.')}.type`)?.value === 'Apple_HFS');
    const start = get(hfs!.fields, `${hfs!.path.replace('/partition-', 'apm.part.')}.start`)?.value as number;
    expect(hfs?.extents[0]?.offset).toBe(start * 2048);
    // HFS+ volume header signature 'H+' at 1024 bytes into the partition
    expect(Buffer.from(src.read(start * 2048 + 1024, 2)).toString('latin1')).toBe('H+');
  });

  it.skipIf(!hasTool('grub-mkrescue') || !hasTool('xorriso'))('grub-mkrescue output agrees with xorriso', async () => {
    const g = join(dir, 'gtree', 'boot', 'grub');
    mkdirSync(g, { recursive: true });
    writeFileSync(join(g, 'grub.cfg'), 'set timeout=0\n');
    const iso = join(dir, 'grub.iso');
    run('grub-mkrescue', ['-o', iso, join(dir, 'gtree')]);
    const c = await apmFormat.open(new FileSource(iso), ctx);
    checkAgainstXorriso(c, iso);
  });

  it.skipIf(!hasTool('xorriso'))('an ISO without APM is not taken for one', () => {
    const tree = join(dir, 'plain');
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, 'a'), 'a');
    const iso = join(dir, 'plain.iso');
    run('xorriso', ['-as', 'mkisofs', '-o', iso, tree]);
    expect(apmFormat.detect(new FileSource(iso))).toBe(0);
  });
});

describe('APM on crafted bad input', () => {
  function map(blocks = 16, entries = 2): Uint8Array {
    const d = new Uint8Array(blocks * 512);
    const v = new DataView(d.buffer);
    d.set(Buffer.from('ER'), 0);
    v.setUint16(2, 512, false);
    for (let i = 1; i <= entries; i++) {
      const o = i * 512;
      d.set(Buffer.from('PM'), o);
      v.setUint32(o + 4, entries, false);
      v.setUint32(o + 8, i === 1 ? 1 : 8, false);
      v.setUint32(o + 12, i === 1 ? entries : 4, false);
      d.set(Buffer.from(i === 1 ? 'Apple_partition_map' : 'Apple_HFS'), o + 48);
    }
    return d;
  }

  it('reads a crafted 512-byte-block map', async () => {
    const c = await openBuf(map());
    expect(c.notes).toEqual([]);
    expect(c.entries.map((e) => [e.path, e.extents])).toEqual([['/partition-2', [{ offset: 8 * 512, length: 4 * 512 }]]]);
  });

  it('a map claiming 2^32-1 entries is capped and stops at the first missing PM', async () => {
    const d = map();
    new DataView(d.buffer).setUint32(512 + 4, 0xffffffff, false);
    const c = await openBuf(d);
    expect(c.notes.join('\n')).toMatch(/over the limit/);
    expect(c.notes.join('\n')).toMatch(/no 'PM' signature/);
  });

  it('a partition past the end is clipped; a map without PM entries is not APM', async () => {
    const d = map();
    new DataView(d.buffer).setUint32(2 * 512 + 12, 1000, false);
    const c = await openBuf(d);
    expect(c.entries[0]?.extents).toEqual([{ offset: 8 * 512, length: 8 * 512 }]);
    const none = map();
    none[512] = 0;
    expect(apmFormat.detect(new BufferSource('x', none))).toBe(0);
    await expect(openBuf(none)).rejects.toMatchObject({ code: 'E_FORMAT' });
  });
});
