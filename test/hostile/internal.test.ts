/**
 * A bug is never a clean rejection. Real images, mutated (seeded), are opened through the walker as inspect
 * and compare open them, every entry's fields, metadata and content read: each outcome must be a listing or a
 * typed format error (ReprodiffError). An InternalError, or anything else thrown, is a failure of this test.
 * A test format with a planted bug proves the check can fail: its TypeError must come out as an
 * InternalError, not as one more format that "did not recognise" the image.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InternalError, isReprodiffError, ReprodiffError } from '../../src/errors.js';
import { FORMATS } from '../../src/formats/index.js';
import { BufferSource } from '../../src/io/source.js';
import { TempFiles } from '../../src/io/spill.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Format, OpenContext } from '../../src/model.js';
import { openViews } from '../../src/walk/open.js';
import { Walker } from '../../src/walk/walker.js';
import { SAMPLES } from '../helpers/cli.js';
import { prng } from '../helpers/mutate.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const w = scratch();
const temp = new TempFiles();
afterAll(() => {
  temp.close();
  w.cleanup();
});

/** Small limits, so that a mutated count cannot make one case slow. */
const ctx: OpenContext = { limits: { ...DEFAULT_LIMITS, maxDecodedBytes: 64 << 20, maxEntrySeconds: 10 }, temp };

/** Everything reading one image through the walker can do: open, list, read fields, metadata and contents. */
async function readAll(src: BufferSource, formats: readonly Format[]): Promise<void> {
  const top = await openViews(src, ctx, formats);
  const walker = new Walker(ctx, () => undefined, formats);
  await walker.walk(top.views, {
    entry(_c, e) {
      void e.fields.length;
      void e.meta.mtime;
      const content = e.contentSource;
      if (content && !e.opaque) for (const x of e.extents) content.read(x.offset, Math.min(x.length, 1 << 16), 'content');
    },
  });
}

/** How the cases ended: listed, or rejected with a typed error. */
const outcomes = { listed: 0, rejected: 0 };

/** What went wrong opening `count` mutants of `image`: one line per case that was not a clean outcome. */
async function problems(name: string, image: Uint8Array, count: number, formats: readonly Format[] = FORMATS): Promise<string[]> {
  const r = prng(0x5eed ^ image.length);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let d = image.slice();
    const how = r() % 4;
    if (how === 0) for (let k = 0; k < 8; k++) d[r() % d.length] ^= 1 << r() % 8;
    else if (how === 1) {
      const at = r() % Math.max(1, d.length - 4);
      new DataView(d.buffer).setUint32(at, [0, 0xffffffff, 0x7fffffff, d.length, r()][r() % 5]!, true);
    } else if (how === 2) d = d.subarray(0, r() % d.length);
    else {
      const at = r() % d.length;
      d.fill(r() & 0xff, at, at + 1 + (r() % 64));
    }
    try {
      await readAll(new BufferSource(`${name}#${i}`, d), formats);
      outcomes.listed++;
    } catch (e) {
      if (isReprodiffError(e)) {
        outcomes.rejected++; // a typed rejection: clean
        continue;
      }
      out.push(`${name} case ${i}: ${e instanceof InternalError ? e.describe() : String(e)}`);
    }
  }
  return out;
}

let built: [string, Uint8Array][] | undefined;

/** Images built by the real tools (once), plus the committed samples. */
function images(): [string, Uint8Array][] {
  if (built) return built;
  const list: [string, Uint8Array][] = (built = []);
  const t = join(w.dir, 'tree');
  run('mkdir', ['-p', join(t, 'etc'), join(t, 'usr/share')]);
  run('sh', ['-c', `printf 'ID=debian\\n' > ${t}/etc/os-release && seq 1 3000 > ${t}/usr/share/numbers && ln -s ../etc/os-release ${t}/usr/link`]);
  const make = (file: string, tools: string[], cmd: string): void => {
    if (!tools.every(hasTool)) return;
    run('sh', ['-c', cmd], { cwd: w.dir });
    list.push([file, new Uint8Array(readFileSync(join(w.dir, file)))]);
  };
  make('fat.img', ['mkfs.fat', 'mcopy'], 'mkfs.fat -C -n T fat.img 1024 >/dev/null && mcopy -s -i fat.img tree/etc tree/usr ::/');
  make('t.cpio', ['cpio'], '(cd tree && find . | sort | cpio -o -H newc --quiet) > t.cpio');
  make('t.cpio.gz', ['cpio', 'gzip'], 'gzip -n -c t.cpio > t.cpio.gz');
  make('t.cpio.xz', ['cpio', 'xz'], 'xz -c --check=crc32 t.cpio > t.cpio.xz');
  make('t.cpio.zst', ['cpio', 'zstd'], 'zstd -q -c t.cpio > t.cpio.zst');
  make('t.sqfs', ['mksquashfs'], 'mksquashfs tree t.sqfs -noappend -quiet -no-progress >/dev/null');
  make('t.zip', ['zip'], '(cd tree && zip -q -r ../t.zip .)');
  make('t.tar', ['tar'], 'tar --format=pax -cf t.tar -C tree .');
  for (const s of ['hybrid-a.iso', 'uki-a.efi']) list.push([s, new Uint8Array(readFileSync(join(SAMPLES, s)))]);
  return list;
}

describe('mutated real images opened through the walker', () => {
  it('end in a listing or a typed format error, never an internal error', async () => {
    const all: string[] = [];
    for (const [name, image] of images()) all.push(...(await problems(name, image, 60)));
    expect(all).toEqual([]);
    // the mutants reach the parsers: some still list, some are rejected
    expect(outcomes.listed).toBeGreaterThan(50);
    expect(outcomes.rejected).toBeGreaterThan(50);
  }, 300_000);

  it('report a parser bug as an internal error, so that the check above can fail', async () => {
    // a format that recognises cpio archives and then trips over its own code, as a parser reading past a
    // buffer's end through a DataView would
    const buggy: Format = {
      name: 'cpio',
      exclusive: true,
      detect: (src) => (src.size >= 6 && String.fromCharCode(...src.read(0, 6)) === '070701' ? 200 : 0),
      open(src) {
        const head = src.read(0, Math.min(src.size, 16));
        new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(64); // RangeError: a bug
        throw new ReprodiffError('E_FORMAT', 'unreachable', { file: src.name });
      },
    };
    const cpio = images().find(([n]) => n === 't.cpio');
    if (!cpio) return; // no cpio tool: nothing to plant the bug in
    const found = await problems('t.cpio', cpio[1], 10, [buggy, ...FORMATS]);
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]).toMatch(/internal error while reading t\.cpio#\d+ as cpio at offset 0 \(0x0\): .*Offset is outside the bounds of the DataView — please report/);
  });
});
