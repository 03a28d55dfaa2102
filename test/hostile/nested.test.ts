/**
 * A bad nested entry stops only itself: a corrupt member, a size its headers lie about or a broken stream
 * inside a container is one unknown finding for that entry (what is wrong, where, its bytes unexplained) and
 * the comparison goes on (exit 1). Limits hit by the inputs themselves behave the same way. A temporary folder
 * that cannot take decoded data is trouble (exit 2 naming TMPDIR), never a quiet change of what is explained.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { expectClean, runCapped } from './harness.js';
import type { Report } from '../../src/report/types.js';

const { dir, cleanup } = scratch('reprodiff-hostile-nested-');
afterAll(() => cleanup());

/** Patches member `big.bin` of a zip made by `zip`: its declared size (local and central headers), or its first deflate bytes. */
const PATCH = `
import struct, sys
path, mode = sys.argv[1], sys.argv[2]
d = bytearray(open(path, 'rb').read())
name = b'big.bin'
i = 0
while True:
    i = d.index(b'PK\\x03\\x04', i)
    nlen, xlen = struct.unpack_from('<HH', d, i + 26)
    if d[i + 30:i + 30 + nlen] == name: break
    i += 4
if mode == 'size':
    struct.pack_into('<I', d, i + 22, 4294967280)
    j = 0
    while True:
        j = d.index(b'PK\\x01\\x02', j)
        n = struct.unpack_from('<H', d, j + 28)[0]
        if d[j + 46:j + 46 + n] == name: break
        j += 4
    struct.pack_into('<I', d, j + 24, 4294967280)
else:
    start = i + 30 + nlen + xlen
    d[start:start + 8] = b'\\xff' * 8
open(path, 'wb').write(d)
`;

function compare(a: string, b: string, flags: string[] = [], env: NodeJS.ProcessEnv = {}): { status: number | null; stderr: string; report: Report | undefined } {
  const r = expectClean(runCapped([a, b, '--json', '-', '--jobs', '1', '-q', ...flags], 60_000, env), 60_000);
  return { status: r.status, stderr: r.stderr, report: r.status === 1 ? (JSON.parse(r.stdout) as Report) : undefined };
}

function changed(a: string, b: string, flags: string[] = []): Report {
  const r = compare(a, b, flags);
  expect(r.status, r.stderr).toBe(1);
  return r.report!;
}

/** A folder per build holding x.zip (ok.txt and big.bin, big.bin patched by `mode`) and n.txt, which differ. */
function zipTrees(name: string, mode: 'size' | 'deflate'): [string, string] {
  const out: string[] = [];
  for (const side of ['a', 'b']) {
    const d = join(dir, `${name}-${side}`);
    mkdirSync(join(d, 'src'), { recursive: true });
    writeFileSync(join(d, 'src/ok.txt'), `hello ${side}\n`);
    writeFileSync(join(d, 'src/big.bin'), `${'x'.repeat(1000)}${side}\n`);
    writeFileSync(join(d, 'n.txt'), `note ${side}\n`);
    run('zip', ['-q', '-X', '../x.zip', 'ok.txt', 'big.bin'], { cwd: join(d, 'src') });
    run('python3', ['-c', PATCH, join(d, 'x.zip'), mode]);
    run('rm', ['-r', join(d, 'src')]);
    out.push(d);
  }
  return out as [string, string];
}

function tarOf(tree: string, out: string): string {
  run('tar', ['--mtime=2020-01-01', '--owner=0', '--group=0', '--sort=name', '-C', tree, '-cf', out, '.']);
  return out;
}

/** The unknown finding at `path`, with the other changes of the pair still reported. */
function badEntry(r: Report, path: string, detail: RegExp): void {
  const f = r.findings.find((x) => x.path === path && x.kind === 'unknown');
  expect(f, JSON.stringify(r.findings.map((x) => [x.path, x.kind, x.detail]))).toBeDefined();
  expect(f!.detail).toMatch(/^not examined: /);
  expect(f!.detail).toMatch(detail);
  expect(f!.root).toBe(true);
  expect(r.bytes.unexplained).toBeGreaterThan(0);
  expect(r.bytes.explained + r.bytes.unexplained).toBe(r.bytes.differing);
  // the rest of the comparison went on
  expect(r.findings.some((x) => x.path.endsWith('n.txt') && x.kind === 'content')).toBe(true);
  expect(r.findings.some((x) => x.path.endsWith('x.zip//ok.txt') && x.kind === 'content')).toBe(true);
}

describe('a bad nested entry stops only itself', () => {
  it.skipIf(!hasTool('zip') || !hasTool('tar') || !hasTool('python3'))('a tar holding a zip whose member declares 4,294,967,280 bytes', () => {
    const [ta, tb] = zipTrees('lie', 'size');
    const r = changed(tarOf(ta, join(dir, 'lie-a.tar')), tarOf(tb, join(dir, 'lie-b.tar')));
    badEntry(r, '/x.zip//big.bin', /lie-a\.tar\/\/x\.zip: zip member data at offset \d+ .*member declares 4294967280 bytes, over the limit of 1073741824/);
  });

  it.skipIf(!hasTool('zip') || !hasTool('tar') || !hasTool('python3'))('a tar holding a zip with a corrupt deflate stream', () => {
    const [ta, tb] = zipTrees('bad', 'deflate');
    const r = changed(tarOf(ta, join(dir, 'bad-a.tar')), tarOf(tb, join(dir, 'bad-b.tar')));
    badEntry(r, '/x.zip//big.bin', /bad-a\.tar\/\/x\.zip: zip member data at offset \d+ .*corrupt deflate data/);
  });

  it.skipIf(!hasTool('zip') || !hasTool('xorriso') || !hasTool('python3'))('an ISO holding a zip whose member lies about its size', () => {
    const [ta, tb] = zipTrees('iso', 'size');
    const iso = (tree: string, out: string): string => {
      run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-V', 'NESTED', '-o', out, tree]);
      return out;
    };
    const r = changed(iso(ta, join(dir, 'lie-a.iso')), iso(tb, join(dir, 'lie-b.iso')));
    badEntry(r, '/x.zip//big.bin', /member declares 4294967280 bytes, over the limit/);
  });

  it.skipIf(!hasTool('gzip') || !hasTool('tar'))('a tar holding a gzip stream that does not inflate', () => {
    const trees: string[] = [];
    for (const side of ['a', 'b']) {
      const d = join(dir, `gz-${side}`);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'n.txt'), `note ${side}\n`);
      writeFileSync(join(d, 'data'), `${'line of text\n'.repeat(500)}${side}\n`);
      run('gzip', ['-n', join(d, 'data')]);
      // the first deflate bytes made an invalid block type
      run('python3', ['-c', `import sys; p = sys.argv[1]; d = bytearray(open(p, 'rb').read()); d[10:14] = b'\\xff' * 4; open(p, 'wb').write(d)`, join(d, 'data.gz')]);
      trees.push(d);
    }
    const r = changed(tarOf(trees[0]!, join(dir, 'gz-a.tar')), tarOf(trees[1]!, join(dir, 'gz-b.tar')));
    const f = r.findings.find((x) => x.path === '/data.gz' && x.kind === 'unknown');
    expect(f?.detail, JSON.stringify(r.findings.map((x) => [x.path, x.kind, x.detail]))).toMatch(/^not examined: .*gz-a\.tar\/\/data\.gz.*(corrupt|invalid)/);
    // not called content: nothing in it was examined
    expect(r.findings.filter((x) => x.path === '/data.gz' && x.kind === 'content' && x.root)).toEqual([]);
    expect(r.findings.some((x) => x.path === '/n.txt' && x.kind === 'content')).toBe(true);
    expect(r.bytes.unexplained).toBeGreaterThan(0);
  });
});

describe('limits on the inputs behave like limits inside', () => {
  const zeros = Buffer.alloc(3 << 20);
  for (const [tool, ext, args] of [
    ['gzip', 'gz', ['-n', '-c']],
    ['xz', 'xz', ['-c']],
    ['lz4', 'lz4', ['-c']],
    ['zstd', 'zst', ['-q', '-c']],
    ['bzip2', 'bz2', ['-c']],
  ] as const) {
    it.skipIf(!hasTool(tool))(`a ${tool} stream over --max-decoded as the input itself`, () => {
      // compressed by the real tool straight to the file (its output is bytes)
      const file = (side: string): string => {
        const raw = join(dir, `top-${side}.raw`);
        writeFileSync(raw, Buffer.concat([zeros, Buffer.from(`tail ${side}\n`)]));
        const out = join(dir, `top-${side}.${ext}`);
        run('sh', ['-c', `${tool} ${args.join(' ')} < "$1" > "$2"`, 'sh', raw, out]);
        return out;
      };
      const r = changed(file('a'), file('b'), ['--max-decoded', '1']);
      const f = r.findings.find((x) => x.kind === 'unknown' && x.path === '/');
      expect(f?.detail, JSON.stringify(r.findings)).toMatch(/^not examined: .*top-a\.\w+: .*(limit of 1048576|over the limit)/);
      expect(f?.hint).toMatch(/raise the limit/);
      expect(r.bytes.differing).toBeGreaterThan(0);
      // every differing byte is unexplained, but those past the shorter input's end (the files' sizes differ)
      const past = Math.abs(r.inputs[0]!.size - r.inputs[1]!.size);
      expect(r.bytes.unexplained).toBeGreaterThan(0);
      expect(r.bytes.unexplained).toBe(r.bytes.differing - past);
    });
  }

  it.skipIf(!hasTool('zip'))('a zip with one member over --max-decoded beside a small changed one', () => {
    const zips: string[] = [];
    for (const side of ['a', 'b']) {
      const d = join(dir, `zipbig-${side}`);
      mkdirSync(d, { recursive: true });
      // the small member's length differs, so the big one after it moves and is read
      writeFileSync(join(d, 'small.txt'), side === 'a' ? 'hello a\n' : 'hello bb\n');
      writeFileSync(join(d, 'big.bin'), zeros);
      for (const f of ['small.txt', 'big.bin']) utimesSync(join(d, f), 1577836800, 1577836800);
      const out = join(dir, `zipbig-${side}.zip`);
      run('zip', ['-q', '-X', out, 'small.txt', 'big.bin'], { cwd: d });
      zips.push(out);
    }
    const r = changed(zips[0]!, zips[1]!, ['--max-decoded', '1']);
    const f = r.findings.find((x) => x.path === '/big.bin' && x.kind === 'unknown');
    expect(f?.detail, JSON.stringify(r.findings.map((x) => [x.path, x.kind, x.detail]))).toMatch(/^not examined: .*zipbig-a\.zip: zip member data at offset \d+ .*member declares 3145728 bytes, over the limit of 1048576/);
    expect(r.findings.some((x) => x.path === '/small.txt' && x.kind === 'content')).toBe(true);
    expect(r.bytes.unexplained).toBeGreaterThan(0);
  });
});

describe('a failing temporary folder', () => {
  it.skipIf(!hasTool('cpio') || !hasTool('gzip') || !hasTool('tar'))('TMPDIR unusable while an initrd spills: exit 2 naming TMPDIR, not other causes', () => {
    const big = randomBytes(2 << 20);
    const tars: string[] = [];
    for (const [side, year] of [
      ['a', 2020],
      ['b', 2021],
    ] as const) {
      const d = join(dir, `initrd-${side}`);
      mkdirSync(join(d, 'root/etc'), { recursive: true });
      writeFileSync(join(d, 'root/big.bin'), big);
      writeFileSync(join(d, 'root/etc/conf'), 'conf\n');
      const t = Date.UTC(year, 0, 1) / 1000;
      utimesSync(join(d, 'root/etc/conf'), t, t);
      run('sh', ['-c', 'find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -n > ../initrd.gz'], { cwd: join(d, 'root') });
      run('rm', ['-r', join(d, 'root')]);
      tars.push(tarOf(d, join(dir, `initrd-${side}.tar`)));
    }
    // with a usable temporary folder, the cause inside the spilled initrd is found
    const good = compare(tars[0]!, tars[1]!, ['--in-memory', '1']);
    expect(good.status, good.stderr).toBe(1);
    // (the folders' times may differ too: the times of one container are one cause, at one of its entries)
    const inside = good.report!.findings.filter((f) => f.root && f.path.startsWith('/initrd.gz//'));
    expect(inside.some((f) => f.kind === 'timestamp' && f.format === 'cpio'), JSON.stringify(good.report!.findings.map((f) => [f.path, f.kind, f.root]))).toBe(true);
    expect(good.report!.findings.filter((f) => f.root && f.path === '/initrd.gz' && f.kind === 'content')).toEqual([]);
    // without one, the run says so and stops
    const bad = compare(tars[0]!, tars[1]!, ['--in-memory', '1'], { TMPDIR: join(dir, 'nonexistent') });
    expect(bad.status, bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/reprodiff: .*cannot make a temporary file in .*nonexistent \(TMPDIR\)/);
    expect(bad.stderr).toMatch(/set TMPDIR to a writable folder/);
  });
});

describe('a bug inside one entry is not a bad entry', () => {
  it.skipIf(!hasTool('zip') || !hasTool('python3'))('a programming error while a member is read stops the run; a rejection does not', async () => {
    const { Comparer } = await import('../../src/compare/compare.js');
    const { compareContent } = await import('../../src/compare/content.js');
    const { WorkerPool } = await import('../../src/compare/pool.js');
    const { newScope } = await import('../../src/compare/types.js');
    const { FileSource } = await import('../../src/io/file.js');
    const { TempFiles } = await import('../../src/io/spill.js');
    const { DEFAULT_LIMITS } = await import('../../src/limits.js');
    const { openViews } = await import('../../src/walk/open.js');
    const [ta, tb] = zipTrees('bug', 'deflate');
    const temp = new TempFiles();
    const ctx = { limits: DEFAULT_LIMITS, temp };
    const pool = new WorkerPool(1);
    const rootA = new FileSource(join(ta, 'x.zip'));
    const rootB = new FileSource(join(tb, 'x.zip'));
    try {
      const compareBig = async (plant: boolean): Promise<InstanceType<typeof Comparer>> => {
        const [va, vb] = [(await openViews(rootA, ctx)).views[0]!, (await openViews(rootB, ctx)).views[0]!];
        const cx = new Comparer(rootA, rootB, pool, ctx);
        const ea = va.entries.find((e) => e.path === '/big.bin' || e.path === 'big.bin')!;
        const eb = vb.entries.find((e) => e.path === '/big.bin' || e.path === 'big.bin')!;
        if (plant) {
          // a reader tripping over its own code, as one reading past a buffer's end through a DataView would
          const src = ea.contentSource!;
          const bug = (): never => {
            throw new RangeError('Offset is outside the bounds of the DataView');
          };
          Object.assign(src, { read: bug, readInto: bug });
        }
        const scope = newScope('/', va.format);
        await compareContent(cx, { ca: va, cb: vb, ea, eb, path: '/big.bin', prefix: '', depth: 0, scope, placed: [] });
        return cx;
      };
      // the corrupt member is a finding of its own
      const cx = await compareBig(false);
      expect(cx.findings.map((f) => [f.path, f.kind, f.detail])).toEqual([['/big.bin', 'unknown', expect.stringMatching(/^not examined: .*corrupt deflate data/)]]);
      // a bug is not: it stops the run, as an internal error
      await expect(compareBig(true)).rejects.toThrow(RangeError);
    } finally {
      rootA.close();
      rootB.close();
      temp.close();
      await pool.close();
    }
  });
});
