#!/usr/bin/env node
/**
 * Speed and memory of reprodiff at release scale, against the baselines that bound it.
 *
 *   npm run bench                      # 2 GB pair, 0.5 GB pair, 100,000-file pair, UKI pair
 *   BENCH_SIZE_GB=0.5 npm run bench    # quick run: scale the big pair down
 *
 * Environment:
 *   BENCH_SIZE_GB        size of the big ISO pair in GB (default 2)
 *   BENCH_SMALL_GB       size of the small ISO pair (default 0.5, or a quarter of BENCH_SIZE_GB if that is smaller)
 *   BENCH_FILES          files in the many-files pair (default 100000)
 *   BENCH_SQUASHFS_FILES files in the squashfs pair (default 50000; 0 skips it)
 *   BENCH_DIFFOSCOPE_TIMEOUT  seconds before diffoscope is stopped (default 120; 0 skips diffoscope)
 *   BENCH_REPEAT         runs of each reprodiff and read-limit command; the median wall time is reported (default 3)
 *   BENCH_PROFILE=1      also run reprodiff once under --cpu-prof on the small pair and print the top functions
 *   BENCH_TARXZ=0        skips the tar.xz pair (/usr/share/doc and /usr/share/locale, tar | xz -1 -T1: one block)
 *   BENCH_LIVE_DIR       folder of a Debian live ISO built twice by bench/live/build.sh (a/ and b/, each with
 *                        live.iso, filesystem.squashfs and initrd.img; default /work/live): a row when it is there
 *   XDG_CACHE_HOME       the images are built once into $XDG_CACHE_HOME/reprodiff-bench (default ~/.cache)
 *
 * Every image pair is built twice a few seconds apart from the same inputs, so volume dates, file times and
 * (for the UKI) the PE timestamp, os-release build id and initrd member times differ, as in a real rebuild.
 * Each command runs under /usr/bin/time (Debian package `time`) for wall time, user+sys CPU and peak RSS.
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import {
  closeSync, copyFileSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync,
  statSync, writeFileSync, writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/reprodiff');
const GB = 1024 ** 3;
const MB = 1024 ** 2;

const num = (name, dflt) => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) die(`${name} must be a non-negative number, got ${JSON.stringify(v)}`);
  return n;
};
function die(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

const SIZE_GB = num('BENCH_SIZE_GB', 2);
const SMALL_GB = num('BENCH_SMALL_GB', Math.min(0.5, SIZE_GB / 4));
const FILES = Math.floor(num('BENCH_FILES', 100000));
const SQFS_FILES = Math.floor(num('BENCH_SQUASHFS_FILES', 50000));
const DIFFOSCOPE_TIMEOUT = num('BENCH_DIFFOSCOPE_TIMEOUT', 120);
const PROFILE = process.env.BENCH_PROFILE === '1';
const REPEAT = Math.max(1, Math.floor(num('BENCH_REPEAT', 3)));
const CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'reprodiff-bench');
const STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
const DI = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64';
const LIVE_DIR = process.env.BENCH_LIVE_DIR ?? '/work/live';

// ---------------------------------------------------------------- prerequisites

const which = (t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status === 0;
if (!existsSync(join(ROOT, 'dist/src/cli.js'))) die('build first: npm run build');
if (!existsSync('/usr/bin/time')) die('/usr/bin/time is missing: apt-get install time');
for (const t of ['xorriso', 'cmp', 'cat', 'cp', 'timeout']) if (!which(t)) die(`${t} is missing`);
const HAVE = {
  isoinfo: which('isoinfo'),
  diffoscope: DIFFOSCOPE_TIMEOUT > 0 && which('diffoscope'),
  uki: existsSync(STUB) && existsSync(join(DI, 'linux')) && existsSync(join(DI, 'initrd.gz'))
    && which('objcopy') && which('objdump') && which('cpio') && which('gzip'),
  squashfs: SQFS_FILES > 0 && which('mksquashfs') && which('unsquashfs'),
  tarxz: process.env.BENCH_TARXZ !== '0' && which('tar') && which('xz') && existsSync('/usr/share/doc') && existsSync('/usr/share/locale'),
  live: LIVE_DIR !== '' && ['a', 'b'].every((s) => ['live.iso', 'filesystem.squashfs', 'initrd.img'].every((f) => existsSync(join(LIVE_DIR, s, f))))
    && which('unsquashfs') && which('zcat') && which('isoinfo'),
};
mkdirSync(CACHE, { recursive: true });

const sh = (cmd, cwd) => execFileSync('sh', ['-c', cmd], { cwd, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 }).toString();
const log = (msg) => process.stderr.write(`bench: ${msg}\n`);
const sleep = (s) => spawnSync('sleep', [String(s)]);

// ---------------------------------------------------------------- inputs

/** Deterministic pseudo-random bytes: AES-256-CTR keystream keyed by a name. */
function writeRandomFile(path, size, seed) {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zero = Buffer.alloc(4 * MB);
  const fd = openSync(path, 'w');
  try {
    for (let left = size; left > 0;) {
      const n = Math.min(left, zero.length);
      writeSync(fd, cipher.update(zero.subarray(0, n)));
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Real small files from the system, in a fixed order, until `budget` bytes or `maxFiles`. */
function copyRealFiles(dest, budget, maxFiles) {
  let bytes = 0;
  let files = 0;
  const walk = (dir) => {
    let names;
    try { names = readdirSync(dir).sort(); } catch { return; }
    for (const name of names) {
      if (bytes >= budget || files >= maxFiles) return;
      const p = join(dir, name);
      let st;
      try { st = lstatSync(p); } catch { continue; }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size > 0 && st.size < MB) {
        const to = join(dest, relative('/', p));
        try {
          mkdirSync(dirname(to), { recursive: true });
          copyFileSync(p, to);
        } catch { continue; }
        bytes += st.size;
        files++;
      }
    }
  };
  for (const root of ['/usr/share/doc', '/usr/share/man', '/usr/lib/python3', '/usr/share']) walk(root);
  return { bytes, files };
}

/** Give every file and folder of a tree the current time, as a fresh checkout or copy would. */
const touchTree = (tree) => sh(`find . -exec touch -h {} +`, tree);

/** Build a.iso, wait, refresh the tree's times, build b.iso; reuse them when already built. */
function isoPair(name, makeTree) {
  return imagePair(name, 'iso', makeTree, (tree, out) => {
    log(`${name}: xorriso -> ${out}`);
    execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', 'BENCH', '-o', out, tree], { stdio: ['ignore', 'ignore', 'inherit'] });
  });
}

/**
 * What a distribution ships as a tar.xz: /usr/share/doc and /usr/share/locale copied into the tree, archived
 * by tar and compressed by `xz -1 -T1` (one block, so one decoder a build); the tree's times are refreshed
 * between the builds, so every member's time differs.
 */
function tarXzPair(name) {
  return imagePair(name, 'tar.xz', (tree) => {
    sh(`cp -a /usr/share/doc /usr/share/locale '${tree}/'`);
    return { files: Number(sh(`find '${tree}' | wc -l`).trim()) - 1 };
  }, (tree, out) => {
    log(`${name}: tar | xz -1 -T1 -> ${out}`);
    sh(`tar -C '${tree}' -cf - doc locale | xz -1 -T1 > '${out}'`);
  });
}

/** Build a.sqfs, wait, refresh the tree's times, build b.sqfs (mksquashfs defaults, as a live image build uses). */
function squashfsPair(name, makeTree) {
  return imagePair(name, 'sqfs', makeTree, (tree, out) => {
    log(`${name}: mksquashfs -> ${out}`);
    execFileSync('mksquashfs', [tree, out, '-noappend', '-quiet'], { stdio: ['ignore', 'ignore', 'inherit'] });
  });
}

/** Build a.EXT, wait, refresh the tree's times, build b.EXT with `build(tree, out)`; reuse them when already built. */
function imagePair(name, ext, makeTree, build) {
  const dir = join(CACHE, name);
  const done = join(dir, 'done.json');
  if (existsSync(done)) {
    log(`reusing ${dir}`);
    return { dir, a: join(dir, `a.${ext}`), b: join(dir, `b.${ext}`), ...JSON.parse(readFileSync(done, 'utf8')) };
  }
  rmSync(dir, { recursive: true, force: true });
  const tree = join(dir, 'tree');
  mkdirSync(tree, { recursive: true });
  log(`${name}: writing the input tree`);
  const info = makeTree(tree);
  for (const side of ['a', 'b']) {
    if (side === 'b') {
      sleep(3);
      touchTree(tree);
    }
    build(tree, join(dir, `${side}.${ext}`));
  }
  rmSync(tree, { recursive: true, force: true });
  writeFileSync(done, JSON.stringify(info));
  return { dir, a: join(dir, `a.${ext}`), b: join(dir, `b.${ext}`), ...info };
}

/**
 * Large pseudo-random files plus real small files, about `gb` GB in all. Every sized pair holds the same
 * real files (up to 5,000 files, 50 MB), so pairs of different sizes differ only in the size of the large
 * files and a memory comparison between them measures growth with size, not with the number of entries.
 */
function sizedTree(gb) {
  return (tree) => {
    const total = Math.round(gb * GB);
    const real = copyRealFiles(join(tree, 'usr'), Math.min(total / 4, 50 * MB), 5000);
    const big = 256 * MB;
    let left = total - real.bytes;
    let i = 0;
    mkdirSync(join(tree, 'live'), { recursive: true });
    while (left > 0) {
      const n = Math.min(big, left);
      writeRandomFile(join(tree, 'live', `blob${String(i).padStart(3, '0')}.img`), n, `blob${i}`);
      left -= n;
      i++;
    }
    return { files: real.files + i, bytes: total };
  };
}

/** `count` small files of 100..2,100 bytes in folders of 100. */
function manyFilesTree(count) {
  return (tree) => {
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const d = join(tree, `d${String(Math.floor(i / 100)).padStart(4, '0')}`);
      if (i % 100 === 0) mkdirSync(d, { recursive: true });
      const seed = createHash('sha256').update(`f${i}`).digest();
      const len = 100 + (seed.readUInt16LE(0) % 2000);
      const line = `file ${i} ${seed.toString('hex')}\n`;
      const body = line.repeat(Math.ceil(len / line.length)).slice(0, len);
      writeFileSync(join(d, `f${String(i).padStart(6, '0')}.txt`), body);
      bytes += len;
    }
    return { files: count, bytes };
  };
}

/** Two UKIs built seconds apart: stub + os-release (with a build id) + cmdline + d-i kernel + repacked initrd. */
function ukiPair() {
  const dir = join(CACHE, 'uki');
  const done = join(dir, 'done.json');
  if (existsSync(done)) {
    log(`reusing ${dir}`);
    return { dir, a: join(dir, 'a.efi'), b: join(dir, 'b.efi'), ...JSON.parse(readFileSync(done, 'utf8')) };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'initrd-tree'), { recursive: true });
  log('uki: unpacking the d-i initrd');
  sh(`gzip -dc '${DI}/initrd.gz' | cpio -id --quiet --no-absolute-filenames 2>/dev/null || true`, join(dir, 'initrd-tree'));
  // Where the new sections go: after the stub's last section, page aligned.
  let end = 0;
  for (const m of sh(`objdump -h '${STUB}'`).matchAll(/^\s*\d+\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s/gm)) {
    end = Math.max(end, parseInt(m[2], 16) + parseInt(m[1], 16));
  }
  const align = (n) => Math.ceil(n / 0x1000) * 0x1000;
  writeFileSync(join(dir, 'cmdline'), 'console=ttyS0 quiet\n');
  for (const side of ['a', 'b']) {
    if (side === 'b') {
      sleep(3);
      touchTree(join(dir, 'initrd-tree'));
    }
    log(`uki: objcopy -> ${side}.efi`);
    writeFileSync(join(dir, 'os-release'),
      `NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\nBUILD_ID="${new Date().toISOString()}"\n`);
    sh(`find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -6 > ../initrd`, join(dir, 'initrd-tree'));
    const sections = [['.osrel', 'os-release'], ['.cmdline', 'cmdline'], ['.linux', `${DI}/linux`], ['.initrd', 'initrd']];
    const args = [];
    let next = align(end);
    for (const [name, file] of sections) {
      const path = file.startsWith('/') ? file : join(dir, file);
      args.push('--add-section', `${name}=${path}`, '--change-section-vma', `${name}=0x${next.toString(16)}`);
      next = align(next + statSync(path).size);
    }
    execFileSync('objcopy', [...args, STUB, join(dir, `${side}.efi`)], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  rmSync(join(dir, 'initrd-tree'), { recursive: true, force: true });
  const info = { files: 4, bytes: statSync(join(dir, 'a.efi')).size };
  writeFileSync(done, JSON.stringify(info));
  return { dir, a: join(dir, 'a.efi'), b: join(dir, 'b.efi'), ...info };
}

// ---------------------------------------------------------------- measuring

const rows = [];
const TIMEFILE = join(CACHE, 'time.out');

/** Runs a command `repeat` times (see measureOnce) and records one row for it. */
function measure(pair, label, argv, { repeat = 1, ...opts } = {}) {
  const runs = [];
  for (let i = 0; i < repeat; i++) runs.push(measureOnce(pair, label, argv, opts));
  let row = runs[0];
  if (repeat > 1) {
    // the median wall time of `repeat` runs (the machine is shared: single runs are noisy), the largest RSS
    const failed = runs.find((r) => r.status !== 'ok');
    const mid = [...runs].sort((x, y) => x.wall - y.wall)[Math.floor(runs.length / 2)];
    row = { ...mid, rssMb: Math.max(...runs.map((r) => r.rssMb)), status: failed ? failed.status : 'ok', runs: runs.map((r) => r.wall) };
  }
  rows.push(row);
  return row;
}

/**
 * Run one command under /usr/bin/time; stdout goes to /dev/null. `ok` lists the exit codes that count as
 * success (reprodiff exits 1 when the inputs differ; cmp too).
 */
function measureOnce(pair, label, argv, { ok = [0], timeoutS = 0, kind = 'baseline', stdoutFile = '' } = {}) {
  const cmd = timeoutS > 0 ? ['timeout', '-k', '10', String(timeoutS), ...argv] : argv;
  log(`${pair}: ${label}`);
  const outFd = stdoutFile ? openSync(stdoutFile, 'w') : 'ignore';
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', TIMEFILE, ...cmd], {
    stdio: ['ignore', outFd, 'pipe'], maxBuffer: 1 << 26,
  });
  if (typeof outFd === 'number') {
    closeSync(outFd);
    rmSync(stdoutFile, { force: true });
  }
  const t = readFileSync(TIMEFILE, 'utf8').trim().split('\n').pop().split(/\s+/).map(Number);
  const [wall = NaN, user = NaN, sys = NaN, rssKb = NaN] = t;
  const code = r.status ?? -1;
  let status = ok.includes(code) ? 'ok' : `exit ${code}`;
  // timeout exits 124 when it stopped the command, 137 when it had to kill it after -k
  if (timeoutS > 0 && (code === 124 || code === 137)) status = 'timed out';
  if (status.startsWith('exit')) {
    const err = (r.stderr?.toString() ?? '').trim().split('\n').slice(-3).join(' | ');
    if (err) status += `: ${err.slice(0, 160)}`;
  }
  return { pair, label, kind, wall, cpu: user + sys, rssMb: rssKb / 1024, status };
}

const reprodiff = (pair, a, b, label = 'reprodiff', node = []) =>
  measure(pair, label, ['node', ...node, BIN, a, b, '-q', '--json', join(CACHE, `${pair}.${label.replace(/\W+/g, '_')}.json`)],
    { ok: [0, 1], kind: 'reprodiff', repeat: REPEAT });
const readLimit = (pair, a, b) => {
  spawnSync('cat', [a, b], { stdio: ['ignore', 'ignore', 'ignore'] }); // warm the page cache
  return measure(pair, 'cat A B (read limit)', ['cat', a, b], { repeat: REPEAT });
};
const diffoscope = (pair, a, b) => HAVE.diffoscope
  ? measure(pair, `diffoscope (timeout ${DIFFOSCOPE_TIMEOUT}s)`, ['diffoscope', '--no-progress', a, b], { ok: [0, 1], timeoutS: DIFFOSCOPE_TIMEOUT })
  : null;

// ---------------------------------------------------------------- the runs

const started = Date.now();
const bigName = `iso-${SIZE_GB}gb`;
const smallName = `iso-${SMALL_GB}gb`;
const big = isoPair(bigName, sizedTree(SIZE_GB));
const small = isoPair(smallName, sizedTree(SMALL_GB));
const many = isoPair(`iso-${FILES}files`, manyFilesTree(FILES));
const uki = HAVE.uki ? ukiPair() : null;
const sqfsName = `squashfs-${SQFS_FILES}files`;
const sqfs = HAVE.squashfs ? squashfsPair(sqfsName, manyFilesTree(SQFS_FILES)) : null;
if (!HAVE.squashfs && SQFS_FILES > 0) log('skipping the squashfs pair (needs squashfs-tools)');
const tarXzName = 'tar.xz';
const tarXz = HAVE.tarxz ? tarXzPair(tarXzName) : null;
if (!HAVE.tarxz) log('skipping the tar.xz pair (BENCH_TARXZ=0, or no tar, xz, /usr/share/doc or /usr/share/locale)');
if (!HAVE.uki) log('skipping the UKI pair (needs systemd-boot-efi, debian-installer-12-netboot-amd64, binutils, cpio)');

const copy = join(big.dir, 'a-copy.iso');
if (!existsSync(copy)) execFileSync('cp', ['--reflink=auto', big.a, copy]);

const R = {};
// big pair
R.bigRead = readLimit(bigName, big.a, big.b);
// GNU cmp stops at the first difference when its output is /dev/null, so it writes to a real file here.
R.bigCmp = measure(bigName, 'cmp -l A B > file', ['cmp', '-l', big.a, big.b], { ok: [0, 1], stdoutFile: join(CACHE, 'cmp.out') });
R.big = reprodiff(bigName, big.a, big.b);
R.big256 = reprodiff(bigName, big.a, big.b, 'reprodiff, node --max-old-space-size=256', ['--max-old-space-size=256']);
R.bigDiffo = diffoscope(bigName, big.a, big.b);
// identical copy
const copyName = `${bigName} identical copy`;
R.copyRead = readLimit(copyName, big.a, copy);
R.copy = reprodiff(copyName, big.a, copy);
// small pair
R.smallRead = readLimit(smallName, small.a, small.b);
R.small = reprodiff(smallName, small.a, small.b);
R.smallDiffo = diffoscope(smallName, small.a, small.b);
// many files
const manyName = `iso-${FILES}files`;
R.manyRead = readLimit(manyName, many.a, many.b);
R.manyIsoinfo = HAVE.isoinfo ? measure(manyName, 'isoinfo -R -l -i A', ['isoinfo', '-R', '-l', '-i', many.a], { repeat: REPEAT }) : null;
R.many = reprodiff(manyName, many.a, many.b);
R.manyDiffo = diffoscope(manyName, many.a, many.b);
// UKI
if (uki) {
  R.ukiRead = readLimit('uki', uki.a, uki.b);
  R.uki = reprodiff('uki', uki.a, uki.b);
  R.ukiDiffo = diffoscope('uki', uki.a, uki.b);
}

// squashfs (what a live image carries): unsquashfs listing one image is the baseline
if (sqfs) {
  R.sqfsRead = readLimit(sqfsName, sqfs.a, sqfs.b);
  R.sqfsList = measure(sqfsName, 'unsquashfs -lls A', ['unsquashfs', '-lls', sqfs.a], { repeat: REPEAT });
  R.sqfs = reprodiff(sqfsName, sqfs.a, sqfs.b);
  R.sqfsDiffo = diffoscope(sqfsName, sqfs.a, sqfs.b);
}

// a tar.xz pair: the bound is xz itself decoding both
if (tarXz) {
  R.txzXz = measure(tarXzName, 'xz -dc A; xz -dc B', ['sh', '-c', `xz -dc '${tarXz.a}' > /dev/null && xz -dc '${tarXz.b}' > /dev/null`], { repeat: REPEAT });
  R.txz = reprodiff(tarXzName, tarXz.a, tarXz.b);
  R.txzDiffo = diffoscope(tarXzName, tarXz.a, tarXz.b);
}

// the Debian live ISO built twice: its baseline is what the C tools take to list what it holds, one after
// another: both squashfs images, both initrds inflated, both ISO trees
const liveName = 'debian-live';
const liveSqfsName = 'debian-live-squashfs';
if (HAVE.live) {
  const at = (side, file) => join(LIVE_DIR, side, file);
  const q = (p) => `'${p.replace(/'/g, "'\\''")}'`;
  const floor = ['a', 'b'].flatMap((s) => [`unsquashfs -lls ${q(at(s, 'filesystem.squashfs'))}`, `zcat ${q(at(s, 'initrd.img'))}`, `isoinfo -R -l -i ${q(at(s, 'live.iso'))}`]);
  R.liveRead = readLimit(liveName, at('a', 'live.iso'), at('b', 'live.iso'));
  R.liveFloor = measure(liveName, "C tools' floor (unsquashfs -lls, zcat, isoinfo -R -l; both)", ['sh', '-c', floor.map((c) => `${c} > /dev/null`).join(' && ')], { repeat: REPEAT });
  R.live = reprodiff(liveName, at('a', 'live.iso'), at('b', 'live.iso'));
  // its two squashfs images alone: every file after the initrd moved, and the report must stay small
  R.liveSqfsList = measure(liveSqfsName, 'unsquashfs -lls A; unsquashfs -lls B', ['sh', '-c', ['a', 'b'].map((s) => `unsquashfs -lls ${q(at(s, 'filesystem.squashfs'))} > /dev/null`).join(' && ')], { repeat: REPEAT });
  R.liveSqfs = reprodiff(liveSqfsName, at('a', 'filesystem.squashfs'), at('b', 'filesystem.squashfs'));
  R.liveSqfsJson = statSync(join(CACHE, `${liveSqfsName}.reprodiff.json`)).size;
  R.liveDiffo = diffoscope(liveName, at('a', 'live.iso'), at('b', 'live.iso'));
} else if (LIVE_DIR !== '') log(`skipping the live ISO pair (no ${LIVE_DIR}/{a,b}/{live.iso,filesystem.squashfs,initrd.img}, or no unsquashfs, zcat or isoinfo)`);

let profile = null;
if (PROFILE) {
  const pdir = join(CACHE, 'prof');
  rmSync(pdir, { recursive: true, force: true });
  reprodiff(smallName, small.a, small.b, 'reprodiff --cpu-prof', ['--cpu-prof', `--cpu-prof-dir=${pdir}`]);
  profile = topFunctions(pdir, 15);
}

// ---------------------------------------------------------------- report

const f = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');
const ratio = (a, b) => (a && b && a.status === 'ok' && b.status === 'ok' && b.wall > 0 ? a.wall / b.wall : NaN);
const size = (n) => (n >= GB / 10 ? `${f(n / GB, 2)} GB` : `${f(n / MB, 1)} MB`);
const sizes = (p) => `${size(statSync(p.a).size)} + ${size(statSync(p.b).size)}`;

const head = ['pair', 'command', 'wall s', 'CPU s', 'peak RSS MB', 'status'];
const table = [head, ...rows.map((r) => [r.pair, r.label, f(r.wall), f(r.cpu), f(r.rssMb, 0), r.status.length > 60 ? `${r.status.slice(0, 57)}...` : r.status])];
const widths = head.map((_, i) => Math.max(...table.map((r) => r[i].length)));
const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
const out = [];
out.push(line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...table.slice(1).map(line));

for (const r of rows.filter((x) => x.status.startsWith('exit'))) out.push(`${r.pair}, ${r.label}: ${r.status}`);
out.push('', 'Inputs:');
out.push(`  ${bigName}: ${sizes(big)}, ${big.files} files;  ${smallName}: ${sizes(small)}, ${small.files} files;`);
out.push(`  ${manyName}: ${sizes(many)}, ${many.files} files${uki ? `;  uki: ${f(statSync(uki.a).size / MB, 1)} MB each` : ''}`);
if (sqfs) out.push(`  ${sqfsName}: ${sizes(sqfs)}, ${sqfs.files} files`);
if (tarXz) out.push(`  ${tarXzName}: ${sizes(tarXz)}, ${tarXz.files} files`);
if (R.live) out.push(`  ${liveName}: ${sizes({ a: join(LIVE_DIR, 'a', 'live.iso'), b: join(LIVE_DIR, 'b', 'live.iso') })} (${LIVE_DIR})`);
out.push('');
out.push('Ratios (wall time):');
const ratios = [
  [`${bigName}: reprodiff / read limit`, ratio(R.big, R.bigRead)],
  [`${copyName}: reprodiff / read limit`, ratio(R.copy, R.copyRead)],
  [`${smallName}: reprodiff / read limit`, ratio(R.small, R.smallRead)],
  [`${manyName}: reprodiff / read limit`, ratio(R.many, R.manyRead)],
  [`${manyName}: reprodiff / isoinfo -R -l`, ratio(R.many, R.manyIsoinfo)],
  ...(uki ? [['uki: reprodiff / read limit', ratio(R.uki, R.ukiRead)]] : []),
  ...(sqfs ? [[`${sqfsName}: reprodiff / unsquashfs -lls`, ratio(R.sqfs, R.sqfsList)]] : []),
  ...(R.live ? [[`${liveName}: reprodiff / read limit`, ratio(R.live, R.liveRead)], [`${liveName}: reprodiff / C tools' floor`, ratio(R.live, R.liveFloor)]] : []),
  ...(R.live ? [[`${liveSqfsName}: reprodiff / unsquashfs -lls`, ratio(R.liveSqfs, R.liveSqfsList)]] : []),
  ...(tarXz ? [[`${tarXzName}: reprodiff / xz -dc`, ratio(R.txz, R.txzXz)]] : []),
];
for (const [pair, d] of [[bigName, R.bigDiffo], [smallName, R.smallDiffo], [manyName, R.manyDiffo], ['uki', R.ukiDiffo], [sqfsName, R.sqfsDiffo], [liveName, R.liveDiffo], [tarXzName, R.txzDiffo]]) {
  if (!d) continue;
  const rp = { [bigName]: R.big, [smallName]: R.small, [manyName]: R.many, uki: R.uki, [sqfsName]: R.sqfs, [liveName]: R.live, [tarXzName]: R.txz }[pair];
  ratios.push([`${pair}: diffoscope / reprodiff`, rp.status !== 'ok' ? NaN : d.status === 'timed out' ? `> ${f(DIFFOSCOPE_TIMEOUT / rp.wall, 1)} (diffoscope timed out)` : ratio(d, rp)]);
}
for (const [k, v] of ratios) out.push(`  ${k}: ${typeof v === 'string' ? v : f(v)}`);
out.push('');

const verdicts = [];
const verdict = (pass, text) => verdicts.push(`${pass ? 'PASS' : 'FAIL'}  ${text}`);
const rBig = ratio(R.big, R.bigRead);
verdict(rBig <= 2, `${bigName} pair within 2x the read limit: ${f(R.big.wall)} s vs ${f(R.bigRead.wall)} s (${f(rBig)}x)`);
const rCopy = ratio(R.copy, R.copyRead);
verdict(rCopy <= 1.5, `identical copy within 1.5x the read limit: ${f(R.copy.wall)} s vs ${f(R.copyRead.wall)} s (${f(rCopy)}x)`);
if (R.manyIsoinfo) {
  verdict(R.many.status === 'ok' && R.many.wall < R.manyIsoinfo.wall,
    `${FILES}-file pair faster than isoinfo -R -l on one image: ${f(R.many.wall)} s vs ${f(R.manyIsoinfo.wall)} s`);
} else verdicts.push(`SKIP  ${FILES}-file pair vs isoinfo -R -l (isoinfo not installed: apt-get install genisoimage)`);
const rp = rows.filter((r) => r.kind === 'reprodiff');
const maxRss = Math.max(...rp.map((r) => r.rssMb));
verdict(maxRss < 256 && rp.every((r) => r.status === 'ok'),
  `peak RSS under 256 MB in every reprodiff run: max ${f(maxRss, 0)} MB (${rp.map((r) => `${r.pair}: ${f(r.rssMb, 0)}`).join(', ')})`);
// "Not growing": the big pair may use at most 10% + 16 MB more than the small pair (noise allowance).
verdict(R.big.rssMb <= R.small.rssMb * 1.1 + 16,
  `peak RSS does not grow with size: ${f(R.small.rssMb, 0)} MB at ${SMALL_GB} GB, ${f(R.big.rssMb, 0)} MB at ${SIZE_GB} GB (allowance +10% +16 MB)`);
verdict(R.big256.status === 'ok', `${bigName} pair under node --max-old-space-size=256: ${R.big256.status}`);
if (R.live) {
  const rLive = ratio(R.live, R.liveFloor);
  verdict(rLive <= 1, `${liveName} pair within the C tools' floor: ${f(R.live.wall)} s vs ${f(R.liveFloor.wall)} s (${f(rLive)}x), ${f(R.live.rssMb, 0)} MB`);
  verdict(R.liveSqfs.status === 'ok' && R.liveSqfsJson <= 2 * MB && R.liveSqfs.rssMb <= 256,
    `${liveSqfsName} pair: JSON ${f(R.liveSqfsJson / MB, 2)} MB (at most 2 MB), ${f(R.liveSqfs.rssMb, 0)} MB peak RSS (at most 256), ${f(R.liveSqfs.wall)} s`);
}
if (tarXz) {
  const rTxz = ratio(R.txz, R.txzXz);
  verdict(rTxz <= 1.5 && R.txz.rssMb <= 256, `${tarXzName} pair within 1.5x xz -dc of both, under 256 MB: ${f(R.txz.wall)} s vs ${f(R.txzXz.wall)} s (${f(rTxz)}x), ${f(R.txz.rssMb, 0)} MB`);
}
out.push(...verdicts);

if (profile) {
  out.push('', `Top functions by self time (node --cpu-prof, ${smallName} pair, all threads):`);
  for (const p of profile) out.push(`  ${f(p.pct, 1).padStart(5)}%  ${p.ms.toFixed(0).padStart(7)} ms  ${p.name}`);
}
out.push('', `(total bench time ${f((Date.now() - started) / 1000, 0)} s; images in ${CACHE})`);

const text = out.join('\n');
console.log(text);
writeFileSync(join(CACHE, 'results.json'), JSON.stringify({ date: new Date().toISOString(), rows, verdicts, profile }, null, 2));
process.exitCode = verdicts.some((v) => v.startsWith('FAIL')) ? 1 : 0;

/** Sum self time per function over every .cpuprofile in `dir` (main thread and workers). */
function topFunctions(dir, n) {
  if (!existsSync(dir)) return [];
  const self = new Map();
  let total = 0;
  for (const file of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    const prof = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const byId = new Map(prof.nodes.map((nd) => [nd.id, nd]));
    const dt = new Map();
    prof.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
    for (const [id, us] of dt) {
      const cf = byId.get(id)?.callFrame;
      if (!cf) continue;
      const url = cf.url.replace(/^file:\/\//, '').replace(ROOT, '');
      const name = `${cf.functionName || '(anonymous)'} ${url ? `${url}:${cf.lineNumber + 1}` : ''}`.trim();
      self.set(name, (self.get(name) ?? 0) + us);
      total += us;
    }
  }
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / total }));
}
