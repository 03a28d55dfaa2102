#!/usr/bin/env node
/**
 * Memory and time on hostile or huge inputs: decompression bombs and containers of very many members.
 * Each row builds its pair (outside the repository, in $BENCH_SCALING_DIR or a temporary folder), runs
 * `reprodiff A B --json /dev/null` under /usr/bin/time -v, and prints the exit status, wall time and peak RSS
 * against the target (peak RSS at most 256 MB for single-stream bombs, 512 MB for many members; within 60 s).
 *
 *   npm run build && node bench/scaling.mjs            # every row
 *   node bench/scaling.mjs zip-1000 gzip-50k           # some rows
 *   BENCH_PRLIMIT_AS=4000000000 node bench/scaling.mjs # also under an address-space limit
 *
 * Rows: zip-1000 (one 1,000 MB member of zeros, deflate), zip-4x1000 (four), zip-2000-cap (a 2,000 MB
 * member with --max-decoded 5000), xz-4g and lz4-4g (4 GB of zeros, stopped by the 1 GiB limit; xz's index
 * declares the size, so it stops before decoding), xz-4g-raised (the same with --max-decoded 5000: decoded
 * through a temporary file until --max-entry-seconds), zstd-4g, sparse-50g (two `truncate -s 50G` files,
 * identical: exit 0) and sparse-50g-data (4 MiB of different data in the middle of each),
 * gzip-50k and gzip-500k (concatenated members), tar-100k, tar-1m, zip-100k, zip-1m, cpio-300k, cpio-1m (members).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/reprodiff');
const dir = process.env.BENCH_SCALING_DIR || mkdtempSync(join(tmpdir(), 'reprodiff-scaling-'));
mkdirSync(dir, { recursive: true });
const keep = !!process.env.BENCH_SCALING_DIR;
const prlimit = process.env.BENCH_PRLIMIT_AS;

function sh(script) {
  const r = spawnSync('sh', ['-c', script], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`);
}
function py(code, ...args) {
  const r = spawnSync('python3', ['-c', code, ...args], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}
const built = (f) => existsSync(join(dir, f)) && statSync(join(dir, f)).size > 0;

/** zip with `n` members of `mb` MiB of zeros and one byte `tail` each, streamed (no file of that size on disk) */
const ZIP = `
import sys, zipfile
out, n, mb, tail = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode()
z = bytes(1 << 20)
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
    for i in range(n):
        with zf.open(f'm{i}', 'w', force_zip64=True) as f:
            for _ in range(mb): f.write(z)
            f.write(tail)
`;
const GZIP = `
import sys, gzip
out, n, changed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(out, 'wb') as f:
    for i in range(n): f.write(gzip.compress(b'line %d\\n' % i, mtime=1 if i == changed else 0))
`;
/** tar of n tiny members, written by Python's tarfile (GNU format), member `changed` with another mtime */
const TAR = `
import sys, tarfile, io
out, n, changed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with tarfile.open(out, 'w', format=tarfile.GNU_FORMAT) as t:
    for i in range(n):
        data = b'%d\\n' % i
        ti = tarfile.TarInfo('d%d/f%d' % (i // 1000, i)); ti.size = len(data); ti.mtime = 1 if i == changed else 0
        t.addfile(ti, io.BytesIO(data))
`;
/** cpio newc of n tiny members, member `changed` with another mtime */
const CPIO = `
import sys
out, n, changed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def rec(name, data, ino, mtime):
    name = name.encode() + b'\\0'
    h = b'070701' + b''.join(b'%08X' % v for v in (ino, 0o100644, 0, 0, 1, mtime, len(data), 0, 0, 0, 0, len(name), 0))
    pad1 = (4 - (len(h) + len(name)) % 4) % 4
    pad2 = (4 - len(data) % 4) % 4
    return h + name + b'\\0' * pad1 + data + b'\\0' * pad2
with open(out, 'wb') as f:
    for i in range(n): f.write(rec('f%d' % i, b'%d\\n' % i, i + 1, 1 if i == changed else 0))
    f.write(rec('TRAILER!!!', b'', 0, 0))
`;

/** zip of n tiny stored members, member `changed` with another DOS time (zip64 past 65,535 members) */
const ZIPMANY = `
import sys, zipfile
out, n, changed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as zf:
    for i in range(n):
        zi = zipfile.ZipInfo('d%d/f%d' % (i // 1000, i), date_time=(1980, 1, 1, 0, 0, 2 if i == changed else 0))
        zf.writestr(zi, b'%d\\n' % i)
`;

/** a 50 GB sparse file with 4 MiB of data at 25 GiB, different for each tag */
const SPARSE = `
import sys, random
out, tag = sys.argv[1], sys.argv[2]
with open(out, 'wb') as f:
    f.truncate(50 << 30)
    f.seek(25 << 30)
    f.write(random.Random(tag).randbytes(4 << 20))
`;

const ROWS = {
  'zip-1000': { target: 256, build: () => ['a', 'b'].forEach((t) => built(`z1${t}.zip`) || py(ZIP, `z1${t}.zip`, '1', '1000', t)), args: ['z1a.zip', 'z1b.zip'] },
  'zip-4x1000': { target: 256, build: () => ['a', 'b'].forEach((t) => built(`z4${t}.zip`) || py(ZIP, `z4${t}.zip`, '4', '1000', t)), args: ['z4a.zip', 'z4b.zip'] },
  'zip-2000-cap': { target: 256, build: () => ['a', 'b'].forEach((t) => built(`z2${t}.zip`) || py(ZIP, `z2${t}.zip`, '1', '2000', t)), args: ['z2a.zip', 'z2b.zip', '--max-decoded', '5000'] },
  'xz-4g': { target: 256, build: () => ['a', 'b'].forEach((t) => built(`${t}.xz`) || sh(`{ head -c 4G /dev/zero; printf ${t}; } | xz -1 -T1 > ${t}.xz`)), args: ['a.xz', 'b.xz'] },
  'lz4-4g': { target: 256, build: () => ['a', 'b'].forEach((t) => built(`${t}.lz4`) || sh(`{ head -c 4G /dev/zero; printf ${t}; } | lz4 -q -1 > ${t}.lz4`)), args: ['a.lz4', 'b.lz4'] },
  'zstd-4g': { target: 256, build: () => ['a', 'b'].forEach((t) => built(`${t}.zst`) || sh(`{ head -c 4G /dev/zero; printf ${t}; } | zstd -q -1 > ${t}.zst`)), args: ['a.zst', 'b.zst'] },
  'xz-4g-raised': { target: 256, build: () => ['a', 'b'].forEach((t) => built(`${t}.xz`) || sh(`{ head -c 4G /dev/zero; printf ${t}; } | xz -1 -T1 > ${t}.xz`)), args: ['a.xz', 'b.xz', '--max-decoded', '5000'] },
  'sparse-50g': { target: 256, exits: [0], build: () => ['a', 'b'].forEach((t) => built(`sp-${t}.img`) || sh(`truncate -s 50G sp-${t}.img`)), args: ['sp-a.img', 'sp-b.img'] },
  'sparse-50g-data': { target: 256, build: () => ['a', 'b'].forEach((t) => built(`spd-${t}.img`) || py(SPARSE, `spd-${t}.img`, t)), args: ['spd-a.img', 'spd-b.img'] },
  'gzip-50k': { target: 512, build: () => ['a', 'b'].forEach((t, i) => built(`g50${t}.gz`) || py(GZIP, `g50${t}.gz`, '50000', String(i ? 7 : -1))), args: ['g50a.gz', 'g50b.gz'] },
  'gzip-500k': { target: 512, build: () => ['a', 'b'].forEach((t, i) => built(`g500${t}.gz`) || py(GZIP, `g500${t}.gz`, '500000', String(i ? 7 : -1))), args: ['g500a.gz', 'g500b.gz'] },
  'tar-100k': { target: 512, build: () => ['a', 'b'].forEach((t, i) => built(`t100${t}.tar`) || py(TAR, `t100${t}.tar`, '100000', String(i ? 7 : -1))), args: ['t100a.tar', 't100b.tar'] },
  'tar-1m': { target: 512, build: () => ['a', 'b'].forEach((t, i) => built(`t1m${t}.tar`) || py(TAR, `t1m${t}.tar`, '1000000', String(i ? 7 : -1))), args: ['t1ma.tar', 't1mb.tar'] },
  'cpio-300k': { target: 512, build: () => ['a', 'b'].forEach((t, i) => built(`c300${t}.cpio`) || py(CPIO, `c300${t}.cpio`, '300000', String(i ? 7 : -1))), args: ['c300a.cpio', 'c300b.cpio'] },
  'zip-100k': { target: 512, build: () => ['a', 'b'].forEach((t, i) => built(`zm100${t}.zip`) || py(ZIPMANY, `zm100${t}.zip`, '100000', String(i ? 7 : -1))), args: ['zm100a.zip', 'zm100b.zip'] },
  'zip-1m': { target: 512, build: () => ['a', 'b'].forEach((t, i) => built(`zm1m${t}.zip`) || py(ZIPMANY, `zm1m${t}.zip`, '1000000', String(i ? 7 : -1))), args: ['zm1ma.zip', 'zm1mb.zip'] },
  'cpio-1m': { target: 512, build: () => ['a', 'b'].forEach((t, i) => built(`c1m${t}.cpio`) || py(CPIO, `c1m${t}.cpio`, '1000000', String(i ? 7 : -1))), args: ['c1ma.cpio', 'c1mb.cpio'] },
};

const wanted = process.argv.slice(2);
const names = wanted.length ? wanted : Object.keys(ROWS);
let failed = 0;
console.log(`inputs in ${dir}`);
console.log('row            exit  wall s   peak MB  target  verdict');
for (const name of names) {
  const row = ROWS[name];
  if (!row) {
    console.error(`unknown row ${name}; rows: ${Object.keys(ROWS).join(', ')}`);
    process.exit(2);
  }
  try {
    row.build();
  } catch (e) {
    console.log(`${name.padEnd(14)} could not build its inputs: ${e.message.split('\n')[0]}`);
    continue;
  }
  const cmd = [...(prlimit ? ['prlimit', `--as=${prlimit}`] : []), '/usr/bin/time', '-v', process.execPath, BIN, ...row.args, '--json', '/dev/null', '-q'];
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd: dir, encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL', maxBuffer: 64 << 20 });
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  const secs = wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN;
  const status = r.signal ? r.signal : r.status;
  const ok = (row.exits ?? [1, 2]).includes(status) && rss <= row.target && secs <= 60 && !/RangeError|FATAL ERROR|^\s+at /m.test(r.stderr);
  if (!ok) failed++;
  console.log(`${name.padEnd(14)} ${String(status).padEnd(5)} ${secs.toFixed(1).padStart(6)} ${rss.toFixed(0).padStart(9)} ${String(row.target).padStart(7)}  ${ok ? 'PASS' : 'FAIL'}`);
  const msg = r.stderr.split('\n').find((l) => l.startsWith('reprodiff:'));
  if (msg) console.log(`               ${msg.slice(0, 150)}`);
}
if (!keep) rmSync(dir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
