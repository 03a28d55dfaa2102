#!/usr/bin/env node
/**
 * Decoder throughput on a real initrd: reprodiff's own decoders (src/codec, built into dist/) against the
 * reference command-line tools and, when installed, other npm decoders.
 *
 *   npm run build && node bench/codecs.mjs [initrd.cpio]
 *
 * Without an argument it builds a ~50 MB cpio from the Debian installer's netboot initrd
 * (debian-installer-12-netboot-amd64). Other candidates are looked up in the folder named by
 * CODEC_BENCH_MODULES (a folder with node_modules: `npm install --prefix DIR fzstd zstddec xz-decompress`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const here = new URL('..', import.meta.url).pathname;
const dist = join(here, 'dist/src/codec/index.js');
if (!existsSync(dist)) {
  console.error('build first: npm run build');
  process.exit(2);
}
const { decompress } = await import(pathToFileURL(dist).href);

const work = mkdtempSync(join(tmpdir(), 'reprodiff-bench-'));
const sh = (cmd) => execFileSync('sh', ['-c', cmd], { cwd: work, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 30 });
try {
  let cpio = process.argv[2];
  if (!cpio) {
    const initrd = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/initrd.gz';
    if (!existsSync(initrd)) throw new Error(`give an input file, or install debian-installer-12-netboot-amd64 (${initrd})`);
    sh(`mkdir t && cd t && zcat ${initrd} | cpio -idm --quiet 2>/dev/null; find . | LC_ALL=C sort > ../all`);
    // the first ~50 MB of files, in sorted order
    const list = readFileSync(join(work, 'all'), 'utf8').split('\n').filter(Boolean);
    let total = 0;
    const keep = [];
    for (const p of list) {
      keep.push(p);
      try {
        const st = statSync(join(work, 't', p), { throwIfNoEntry: false });
        if (st?.isFile()) total += st.size;
      } catch {}
      if (total > 50e6) break;
    }
    execFileSync('sh', ['-c', 'cd t && cpio -o -H newc --quiet > ../initrd.cpio'], { cwd: work, input: keep.join('\n') + '\n' });
    cpio = join(work, 'initrd.cpio');
  }
  const raw = readFileSync(cpio);
  const mb = raw.length / 1e6;
  console.log(`input: ${cpio}, ${mb.toFixed(1)} MB`);
  sh(`zstd -19 -T0 -q -c '${cpio}' > i.zst && xz -6 -T1 -c '${cpio}' > i.xz && lz4 -l -9 -q -c '${cpio}' > i.lz4 && gzip -9 -c '${cpio}' > i.gz`);

  const time = (fn) => {
    const t = process.hrtime.bigint();
    const out = fn();
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    return { s, out };
  };
  const row = (name, fn, check = true) => {
    try {
      const { s, out } = time(fn);
      const ok = !check || (out.length === raw.length && Buffer.compare(Buffer.from(out.buffer, out.byteOffset, out.length), raw) === 0);
      console.log(`${name.padEnd(34)} ${(mb / s).toFixed(1).padStart(7)} MB/s  ${s.toFixed(2).padStart(6)} s${ok ? '' : '  WRONG OUTPUT'}`);
    } catch (e) {
      console.log(`${name.padEnd(34)} failed: ${e.message}`);
    }
  };
  const asyncRow = async (name, fn) => {
    try {
      const t = process.hrtime.bigint();
      const out = await fn();
      const s = Number(process.hrtime.bigint() - t) / 1e9;
      const ok = out.length === raw.length && Buffer.compare(Buffer.from(out), raw) === 0;
      console.log(`${name.padEnd(34)} ${(mb / s).toFixed(1).padStart(7)} MB/s  ${s.toFixed(2).padStart(6)} s${ok ? '' : '  WRONG OUTPUT'}`);
    } catch (e) {
      console.log(`${name.padEnd(34)} failed: ${e.message}`);
    }
  };
  const file = (f) => readFileSync(join(work, f));
  const cap = { maxOutput: 1 << 30 };

  console.log('\n-- zstd (-19)');
  row('zstd -dc (reference, C)', () => sh('zstd -dc i.zst'));
  row('reprodiff zstd (fzstd, sync)', () => decompress('zstd', file('i.zst'), cap));
  console.log('\n-- xz (-6)');
  row('xz -dc (reference, C)', () => sh('xz -dc i.xz'));
  row('reprodiff xz (own LZMA2, sync)', () => decompress('xz', file('i.xz'), cap));
  console.log('\n-- lz4 legacy (-l -9)');
  row('lz4 -dc (reference, C)', () => sh('lz4 -dc i.lz4'));
  row('reprodiff lz4 (own, sync)', () => decompress('lz4', file('i.lz4'), cap));
  console.log('\n-- gzip (-9)');
  row('gzip -dc (reference, C)', () => sh('gzip -dc i.gz'));
  row('reprodiff gzip (node:zlib)', () => decompress('gzip', file('i.gz'), cap));

  const mods = process.env.CODEC_BENCH_MODULES;
  if (mods) {
    const req = createRequire(join(mods, 'package.json'));
    const load = async (name) => {
      try {
        return await import(pathToFileURL(req.resolve(name)).href);
      } catch {
        return null;
      }
    };
    console.log(`\n-- other candidates from ${mods}`);
    const fz = await load('fzstd');
    if (fz) row('fzstd.decompress (one call)', () => fz.decompress(file('i.zst')));
    const zd = await load('zstddec');
    if (zd) {
      const d = new zd.ZSTDDecoder();
      await d.init();
      row('zstddec (WASM; async init, sync decode)', () => d.decode(file('i.zst'), raw.length));
    }
    const xd = await load('xz-decompress');
    if (xd) {
      await asyncRow('xz-decompress (WASM, async stream)', async () => {
        const input = new Blob([file('i.xz')]).stream();
        const s = new (xd.XzReadableStream ?? xd.default.XzReadableStream)(input);
        return new Uint8Array(await new Response(s).arrayBuffer());
      });
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
