#!/usr/bin/env node
/**
 * Time-boxed, seeded mutation fuzzer for the built CLI (dist/). Not part of `npm test`.
 *
 *   FUZZ_SEED         PRNG seed (default 0x5eed1234); the same seed gives the same cases
 *   FUZZ_SECONDS      wall-time budget (default 120)
 *   FUZZ_CASES        case cap (default unlimited)
 *   FUZZ_JOBS         child processes, each running one case at a time (default: number of CPUs + 1)
 *   FUZZ_TIMEOUT      per-run timeout in ms (default 20000)
 *   FUZZ_MAX_RSS      RSS bound per child in MiB (default 512)
 *   FUZZ_RECYCLE      cases per child before it is replaced by a fresh one (default 200)
 *   FUZZ_SPAWN_EVERY  every Nth case is also run through bin/reprodiff in its own process (default 50)
 *
 * Each case takes one seed image, applies 1-4 mutations (generic or field-aware), and runs
 * `reprodiff inspect MUTANT` and `reprodiff ORIGINAL MUTANT --jobs 1` (both with `--json FILE`). The runs go to
 * long-lived children (fuzz/child.mjs, `node --max-old-space-size=512`) that import the CLI's `main(argv)` once,
 * so a case costs no node start-up. A case fails when the exit status is not 0/1/2, when stderr holds
 * "internal error" or a stack trace, when an exception or a rejection escapes main, when the child dies
 * (signal, out of memory), when a run does not end (main never returns, or the event loop never empties) within
 * the timeout, or when the child's RSS passes the bound. Every FUZZ_SPAWN_EVERY-th case also runs through the real
 * bin/reprodiff in a fresh process, which must agree with the in-process run. Failing inputs are kept in a
 * temp folder named after the seed and case number, with a command line to reproduce each failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed1234) >>> 0;
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 120);
const MAX_CASES = Number(process.env.FUZZ_CASES ?? Infinity);
const JOBS = Math.max(1, Number(process.env.FUZZ_JOBS ?? cpus().length + 1));
const TIMEOUT = Number(process.env.FUZZ_TIMEOUT ?? 20_000);
const MAX_RSS = Number(process.env.FUZZ_MAX_RSS ?? 512) * 1024 * 1024;
const RECYCLE = Math.max(1, Number(process.env.FUZZ_RECYCLE ?? 200));
const SPAWN_EVERY = Math.max(0, Number(process.env.FUZZ_SPAWN_EVERY ?? 50));

// ---------- seeded PRNG (mulberry32); each case gets its own stream derived from (seed, case) ----------
function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const caseRng = (n) => mulberry32((SEED ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0);

const work = mkdtempSync(join(tmpdir(), 'reprodiff-fuzz-'));

// ---------- a private copy of the built CLI, so a rebuild of dist/ during the run cannot disturb it ----------
if (!existsSync(join(ROOT, 'dist/src/cli.js'))) {
  console.error('dist/ is missing: run `npm run build` first (npm run fuzz does).');
  process.exit(2);
}
const app = join(work, 'app');
for (const d of ['bin', 'dist']) cpSync(join(ROOT, d), join(app, d), { recursive: true });
cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
const BIN = join(app, 'bin/reprodiff');
mkdirSync(join(app, 'fuzz'));
cpSync(join(ROOT, 'fuzz/child.mjs'), join(app, 'fuzz/child.mjs'));
const CHILD = join(app, 'fuzz/child.mjs');
const CLI = join(app, 'dist/src/cli.js');

// ---------- seed images ----------
const has = (t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status === 0;
const sh = (cmd, cwd) => spawnSync('sh', ['-c', cmd], { cwd, stdio: ['ignore', 'ignore', 'pipe'] }).status === 0;

/** @type {{name: string, format: string, path: string}[]} */
const seeds = [];
for (const f of readdirSync(join(ROOT, 'samples')).filter((f) => f.endsWith('.iso')).sort()) {
  seeds.push({ name: f, format: 'iso9660', path: join(ROOT, 'samples', f) });
}

function build() {
  const t = join(work, 'tree');
  mkdirSync(join(t, 'etc'), { recursive: true });
  mkdirSync(join(t, 'usr/share/doc'), { recursive: true });
  writeFileSync(join(t, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
  writeFileSync(join(t, 'etc/motd'), 'hello\n'.repeat(50));
  writeFileSync(join(t, 'usr/share/doc/big.txt'), Buffer.from(Array.from({ length: 20000 }, (_, i) => (i * 7) & 0xff)));
  const add = (name, format, cmd, need) => {
    if (!need.every(has)) return console.log(`skip seed ${name}: needs ${need.join(', ')}`);
    if (sh(cmd, work)) seeds.push({ name, format, path: join(work, name) });
    else console.log(`skip seed ${name}: build failed`);
  };
  add('fat.img', 'fat', 'mkfs.fat -C -n FUZZ fat.img 2048 >/dev/null && mcopy -s -i fat.img tree/etc tree/usr ::/', ['mkfs.fat', 'mcopy']);
  add('gpt.img', 'gpt', 'truncate -s 4M gpt.img && sgdisk -Z -n 1:2048:+1M -t 1:ef00 -c 1:ESP -n 2:0:0 gpt.img >/dev/null', ['sgdisk']);
  add('fatgpt.img', 'gpt', 'truncate -s 4M fatgpt.img && sgdisk -Z -n 1:2048:0 -t 1:ef00 fatgpt.img >/dev/null && dd if=fat.img of=fatgpt.img bs=512 seek=2048 conv=notrunc 2>/dev/null', ['sgdisk']);
  add('initrd.cpio', 'cpio', '(cd tree && find . | sort | cpio -o -H newc --quiet) > initrd.cpio', ['cpio']);
  add('initrd.cpio.gz', 'gzip', 'gzip -n -9 -c initrd.cpio > initrd.cpio.gz', ['gzip']);
  add('initrd.cpio.zst', 'zstd', 'zstd -q -19 -c initrd.cpio > initrd.cpio.zst', ['zstd']);
  add('initrd.cpio.xz', 'xz', 'xz -c --check=crc32 initrd.cpio > initrd.cpio.xz', ['xz']);
  add('root.sqfs', 'squashfs', 'mksquashfs tree root.sqfs -noappend -quiet -no-progress >/dev/null', ['mksquashfs']);
  add('root.sqfs.nocomp', 'squashfs', 'mksquashfs tree root.sqfs.nocomp -noappend -quiet -no-progress -noI -noD -noF -noX >/dev/null', ['mksquashfs']);
  add('root.erofs', 'erofs', 'mkfs.erofs --quiet -zlz4hc root.erofs tree >/dev/null', ['mkfs.erofs']);
  add('root.erofs.plain', 'erofs', 'mkfs.erofs --quiet -Eforce-inode-compact root.erofs.plain tree >/dev/null', ['mkfs.erofs']);
  add('root.ext4', 'ext4', 'mkfs.ext4 -q -F -b 1024 -d tree root.ext4 2M && { e2fsck -fyD root.ext4 >/dev/null 2>&1; test $? -le 1; }', ['mkfs.ext4', 'e2fsck']);
  add('tree.zip', 'zip', '(cd tree && zip -q -X -r ../tree.zip .)', ['zip']);
  // a member over --in-memory (8 MiB): read forward through the resumable inflater, never inflated whole
  add('big.zip', 'zip', `python3 -c "import zipfile; z = zipfile.ZipFile('big.zip', 'w', zipfile.ZIP_DEFLATED); z.writestr('big.bin', bytes((i * 7 ^ i >> 9) & 0xff for i in range(9 << 20))); z.writestr('small.txt', 'x' * 100); z.close()"`, ['python3']);
  add('tree.tar', 'tar', 'tar --sort=name -cf tree.tar -C tree .', ['tar']);
  add('hello.elf', 'elf', `printf '#include <stdio.h>\\nint main(void) { puts(__DATE__ " " __TIME__); return 0; }\\n' > hello.c && gcc -O2 -g -gz=zlib -o hello.elf hello.c`, ['gcc']);
  add('tree.tar.bz2', 'bzip2', 'bzip2 -9 -c tree.tar > tree.tar.bz2', ['bzip2']);
  add('tree.a', 'ar', 'cp tree/etc/motd a_member_name_longer_than_16.txt && ar rcU tree.a tree/etc/os-release a_member_name_longer_than_16.txt tree/usr/share/doc/big.txt', ['ar']);
  add('pkg.deb', 'ar', 'mkdir -p pkg/DEBIAN && printf "Package: fuzz\\nVersion: 1\\nArchitecture: all\\nMaintainer: F <f@example.org>\\nDescription: fuzz\\n" > pkg/DEBIAN/control && cp -r tree/etc tree/usr pkg/ && dpkg-deb --root-owner-group -Zgzip --build pkg pkg.deb >/dev/null', ['dpkg-deb']);
  add('initrd.bin.cpio', 'cpio', '(cd tree && find . | sort | cpio -o -H bin --quiet) > initrd.bin.cpio', ['cpio']);
  add('m.pyc', 'pyc', 'printf "import os\\nprint(os.sep)\\n" > m.py && python3 -c "import py_compile; py_compile.compile(\'m.py\', cfile=\'m.pyc\', doraise=True)"', ['python3']);
  add('hfsplus.img', 'hfsplus', "xorriso -as mkisofs -R -hfsplus -o hfs.iso tree 2>/dev/null && node -e \"const fs=require('fs');const d=fs.readFileSync('hfs.iso');const bs=d.readUInt16BE(2);for(let i=1;d.toString('latin1',i*bs,i*bs+2)==='PM';i++){const o=i*bs;if(d.toString('latin1',o+48,o+57)==='Apple_HFS'){fs.writeFileSync('hfsplus.img',d.subarray(d.readUInt32BE(o+8)*bs,(d.readUInt32BE(o+8)+d.readUInt32BE(o+12))*bs));process.exit(0)}}process.exit(1)\"", ['xorriso']);
  const stub = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
  if (existsSync(stub) && has('objcopy')) {
    writeFileSync(join(work, 'osrel'), 'NAME="Debian"\nID=debian\nVERSION_ID="12"\n');
    writeFileSync(join(work, 'cmdline'), 'quiet root=LABEL=root\n');
    writeFileSync(join(work, 'kernel'), Buffer.alloc(4096, 0x90));
    const pe = readFileSync(stub);
    const lfanew = pe.readUInt32LE(0x3c);
    const nsec = pe.readUInt16LE(lfanew + 6);
    const optSize = pe.readUInt16LE(lfanew + 20);
    const opt = lfanew + 24;
    const base = Number(pe.readBigUInt64LE(opt + 24));
    const align = pe.readUInt32LE(opt + 32);
    let next = 0;
    for (let i = 0; i < nsec; i++) {
      const s = opt + optSize + i * 40;
      next = Math.max(next, pe.readUInt32LE(s + 12) + Math.max(pe.readUInt32LE(s + 8), pe.readUInt32LE(s + 16)));
    }
    const args = [];
    for (const [sec, file] of [['.osrel', 'osrel'], ['.cmdline', 'cmdline'], ['.linux', 'kernel'], ['.initrd', 'initrd.cpio']]) {
      if (!existsSync(join(work, file))) continue;
      next = Math.ceil(next / align) * align;
      args.push(`--add-section ${sec}=${file} --change-section-vma ${sec}=0x${(base + next).toString(16)}`);
      next += readFileSync(join(work, file)).length;
    }
    add('uki.efi', 'uki', `objcopy ${args.join(' ')} ${stub} uki.efi`, ['objcopy']);
  }
}
build();

/**
 * A release folder as a seed (format `folder`): some of the seed images above, a text file, a subfolder and a
 * symbolic link. A case mutates one file in a copy of it with the mutators of that file's format, or removes,
 * adds or replaces one of its files; the compare runs on the two folders and inspect on the mutated file.
 */
function folderSeed() {
  const f = join(work, 'release');
  mkdirSync(join(f, 'sub'), { recursive: true });
  writeFileSync(join(f, 'README'), 'release notes\nbuilt 2026-11-22\n');
  writeFileSync(join(f, 'sub/SHA256SUMS'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  README\n');
  for (const s of seeds.filter((x) => ['initrd.cpio.gz', 'tree.tar', 'tree.zip', 'root.sqfs', 'pkg.deb'].includes(x.name))) cpSync(s.path, join(f, s.name));
  symlinkSync('tree.tar', join(f, 'latest.tar'));
  seeds.push({ name: 'release/', format: 'folder', path: f });
}
folderSeed();

/** The files of a folder: relative path -> bytes, or { link } for a symbolic link. */
function readFolder(root) {
  const out = new Map();
  const walk = (d, rel) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.set(r, { link: readlinkSync(p) });
      else if (st.isDirectory()) walk(p, r);
      else out.set(r, readFileSync(p));
    }
  };
  walk(root, '');
  return out;
}
function writeFolder(root, files) {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  for (const [rel, v] of files) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (Buffer.isBuffer(v)) writeFileSync(p, v);
    else symlinkSync(v.link, p);
  }
}

// ---------- mutations ----------
const INTERESTING32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const pick = (r, a) => a[Math.floor(r() * a.length)];
const int = (r, n) => Math.floor(r() * n);

function put32(b, off, v, be = false) {
  if (off < 0 || off + 4 > b.length) return;
  if (be) b.writeUInt32BE(v >>> 0, off);
  else b.writeUInt32LE(v >>> 0, off);
}
/** A value chosen to hurt: interesting constants, a value near the file size, or one pointing at itself. */
function hostile(r, b, self) {
  const k = int(r, 4);
  if (k === 0) return pick(r, INTERESTING32);
  if (k === 1) return (b.length + int(r, 4096) - 2048) >>> 0;
  if (k === 2) return self >>> 0;
  return int(r, 0x100000000);
}
function findAll(b, needle, max = 200) {
  const out = [];
  let i = b.indexOf(needle);
  while (i >= 0 && out.length < max) {
    out.push(i);
    i = b.indexOf(needle, i + 1);
  }
  return out;
}

const generic = {
  bitflip(r, b) {
    const n = 1 + int(r, 8);
    for (let i = 0; i < n; i++) b[int(r, b.length)] ^= 1 << int(r, 8);
    return b;
  },
  bytes(r, b) {
    const at = int(r, b.length);
    const n = 1 + int(r, 16);
    for (let i = 0; i < n && at + i < b.length; i++) b[at + i] = pick(r, [0, 0xff, 0x7f, 0x80, int(r, 256)]);
    return b;
  },
  int32(r, b) {
    const at = int(r, Math.max(1, b.length - 4));
    put32(b, at, hostile(r, b, at), r() < 0.3);
    return b;
  },
  truncate(r, b) {
    return b.subarray(0, int(r, b.length));
  },
  insert(r, b) {
    const at = int(r, b.length);
    const ins = Buffer.alloc(1 + int(r, 4096), int(r, 256));
    return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
  },
  delete(r, b) {
    const at = int(r, b.length);
    return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(r, 4096)))]);
  },
  splice(r, b) {
    // copy one block over another: makes structures point at copies of themselves
    const len = 1 + int(r, 2048);
    const from = int(r, b.length);
    b.copy(b, int(r, b.length), from, Math.min(b.length, from + len));
    return b;
  },
};

/** ISO 9660: directory records in the PVD root and in directory extents; Rock Ridge CE entries. */
function isoDirRecords(b) {
  const recs = [];
  if (b.length < 0x8000 + 2048) return recs;
  recs.push(0x8000 + 156);
  const rootLba = b.readUInt32LE(0x8000 + 156 + 2);
  const rootLen = b.readUInt32LE(0x8000 + 156 + 10);
  const dirs = [[rootLba, rootLen]];
  const seen = new Set();
  while (dirs.length && recs.length < 500) {
    const [lba, len] = dirs.shift();
    if (seen.has(lba) || lba * 2048 + len > b.length || len > 1 << 20) continue;
    seen.add(lba);
    let p = lba * 2048;
    const end = p + len;
    while (p < end && recs.length < 500) {
      const l = b[p];
      if (!l) {
        p = (Math.floor(p / 2048) + 1) * 2048;
        continue;
      }
      recs.push(p);
      if (b[p + 25] & 2 && b[p + 32] === 1 && b[p + 33] > 1) dirs.push([b.readUInt32LE(p + 2), b.readUInt32LE(p + 10)]);
      p += l;
    }
  }
  return recs;
}
const fieldAware = {
  iso9660(r, b) {
    const k = int(r, 6);
    if (k === 5) {
      const ce = findAll(b, Buffer.from([0x43, 0x45, 28, 1])); // "CE", len 28, version 1
      if (ce.length) {
        const at = pick(r, ce);
        const f = pick(r, [4, 12, 20]); // block, offset, length (both-endian)
        const v = f === 4 ? pick(r, [Math.floor(at / 2048), int(r, b.length / 2048 + 4), 0xffffffff]) : hostile(r, b, at % 2048);
        put32(b, at + f, v);
        put32(b, at + f + 4, v, true);
        return b;
      }
    }
    const recs = isoDirRecords(b);
    if (!recs.length) return generic.int32(r, b);
    const at = pick(r, recs);
    if (k === 0) b[at] = pick(r, [0, 1, 33, 34, 255, int(r, 256)]); // record length
    else if (k === 1 || k === 2) {
      // extent LBA: self, parent, past the end, random
      const v = pick(r, [Math.floor(at / 2048), 16, 0, Math.floor(b.length / 2048) + int(r, 8), 0xffffffff, int(r, b.length / 2048)]);
      put32(b, at + 2, v);
      if (r() < 0.8) put32(b, at + 6, v, true);
    } else if (k === 3) {
      const v = hostile(r, b, 2048);
      put32(b, at + 10, v);
      if (r() < 0.8) put32(b, at + 14, v, true);
    } else b[at + 32] = pick(r, [0, 255, int(r, 256)]); // name length
    return b;
  },
  fat(r, b, base = 0) {
    if (b.length < base + 512) return generic.int32(r, b);
    const bps = b.readUInt16LE(base + 11) || 512;
    const rsv = b.readUInt16LE(base + 14);
    const nfats = b[base + 16];
    const k = int(r, 5);
    if (k === 0) {
      // BPB fields: sectors per cluster, reserved, FAT count, root entries, sectors per FAT
      const off = pick(r, [13, 14, 16, 17, 19, 22, 32, 36]);
      if (off === 13 || off === 16) b[base + off] = pick(r, [0, 1, 3, 128, 255]);
      else if (off >= 32) put32(b, base + off, hostile(r, b, 0));
      else b.writeUInt16LE(pick(r, [0, 1, 0x7fff, 0xffff, int(r, 65536)]), base + off);
      return b;
    }
    const fat = base + rsv * bps;
    const fatBytes = Math.min(b.length - fat, 64 * 1024);
    if (fatBytes < 16 || !nfats) return generic.int32(r, b);
    // FAT12 (this size of image): pick an entry and point it at itself, an earlier one, or a bad value
    const n = Math.floor((fatBytes * 2) / 3);
    const e = 2 + int(r, Math.min(n - 2, 400));
    const v = pick(r, [e, e - 1, 2, 0xff7, 0xfff, 0x000, 1, int(r, 0x1000)]) & 0xfff;
    const o = fat + Math.floor((e * 3) / 2);
    if (o + 1 >= b.length) return b;
    const cur = b.readUInt16LE(o);
    b.writeUInt16LE(e & 1 ? (cur & 0x000f) | (v << 4) : (cur & 0xf000) | v, o);
    return b;
  },
  gpt(r, b) {
    if (b.length < 1024 || b.toString('latin1', 512, 520) !== 'EFI PART') return generic.int32(r, b);
    const k = int(r, 5);
    if (k === 0) put32(b, 512 + 80, pick(r, [0, 1, 0xffffffff, 0x80000000, 0x10000, 129, int(r, 1 << 20)])); // entry count
    else if (k === 1) put32(b, 512 + 84, pick(r, [0, 1, 8, 127, 129, 0x10000, 0xffffffff])); // entry size
    else if (k === 2) put32(b, 512 + 72, pick(r, [0, 1, 2, 0xffffffff, Math.floor(b.length / 512)])); // entries LBA
    else if (k === 3) put32(b, 1024 + 32 + 128 * int(r, 4), hostile(r, b, 0)); // a partition's first LBA
    else put32(b, 1024 + 40 + 128 * int(r, 4), hostile(r, b, 0)); // a partition's last LBA
    return b;
  },
  pe(r, b) {
    if (b.length < 0x40 || b.readUInt16LE(0) !== 0x5a4d) return generic.int32(r, b);
    const lfanew = b.readUInt32LE(0x3c);
    if (r() < 0.1) {
      put32(b, 0x3c, hostile(r, b, 0));
      return b;
    }
    if (lfanew + 24 > b.length) return generic.int32(r, b);
    const k = int(r, 6);
    if (k === 0) {
      b.writeUInt16LE(pick(r, [0, 0xffff, 96, int(r, 65536)]), lfanew + 6); // section count
      return b;
    }
    if (k === 1) {
      b.writeUInt16LE(pick(r, [0, 0xffff, 0xf0, int(r, 65536)]), lfanew + 20); // optional header size
      return b;
    }
    const nsec = b.readUInt16LE(lfanew + 6);
    const sec = lfanew + 24 + b.readUInt16LE(lfanew + 20) + 40 * int(r, Math.max(1, nsec));
    if (sec + 40 > b.length) return generic.int32(r, b);
    put32(b, sec + pick(r, [8, 12, 16, 20]), hostile(r, b, sec)); // vsize, va, raw size, raw pointer
    return b;
  },
  cpio(r, b) {
    // only headers whole in the buffer: an earlier mutation may have cut it, or left the magic in the last bytes
    const heads = findAll(b, Buffer.from('070701')).filter((at) => at + 110 <= b.length);
    if (!heads.length) return generic.int32(r, b);
    const at = pick(r, heads);
    const f = pick(r, [54, 54, 94, 6, 38]); // filesize, namesize, ino, nlink
    const v = pick(r, [0, 0xffffffff, 0x7fffffff, b.length, 0x100000000 - 1, int(r, 0x10000)]);
    b.write(v.toString(16).padStart(8, '0').slice(-8), at + f, 'latin1');
    if (r() < 0.2) b.write('zzzzzzzz', at + f, 'latin1');
    return b;
  },
  squashfs(r, b) {
    if (b.length < 96) return generic.int32(r, b);
    const k = int(r, 4);
    if (k === 0) put32(b, 4, pick(r, [0, 1, 0xffffffff, 0x10000000])); // inode count
    else if (k === 1) put32(b, 12, pick(r, [0, 1, 0x100000, 0xffffffff])); // block size
    else if (k === 2) {
      // one of id/xattr/inode/dir/fragment/export table offsets (u64)
      const off = pick(r, [48, 56, 64, 72, 80, 88]);
      b.writeBigUInt64LE(BigInt(pick(r, [0, 96, b.length, b.length - 8, 0xffffffff, hostile(r, b, off)])), off);
    } else b.writeBigUInt64LE(BigInt(pick(r, [0, 1, b.length * 2])), 40); // bytes used
    return b;
  },
  erofs(r, b) {
    if (b.length < 1024 + 128) return generic.int32(r, b);
    const sb = 1024;
    const k = int(r, 5);
    if (k === 0) b.writeUInt16LE(pick(r, [0, 1, 0xffff, int(r, 0x10000)]), sb + 14); // root_nid
    else if (k === 1) b[sb + 12] = pick(r, [0, 8, 9, 12, 16, 31, 255]); // blkszbits
    else if (k === 2) put32(b, sb + pick(r, [40, 44]), pick(r, [1, 0xffffffff, int(r, 64)])); // meta / xattr blkaddr
    else {
      // a field of the root inode or of a directory entry after it: format, xattr count, size, i_u, nid, nameoff
      const blksz = 2 ** Math.min(16, b[sb + 12]);
      const at = b.readUInt32LE(sb + 40) * blksz + b.readUInt16LE(sb + 14) * 32 + int(r, 512);
      const f = pick(r, [0, 2, 8, 16, 64 + 8, 64 + 12 * int(r, 4)]);
      if (at + f + 4 <= b.length) put32(b, at + f, pick(r, [0, 0xffffffff, 0x7fffffff, b.length, int(r, 0x10000)]));
    }
    return b;
  },
  zip(r, b) {
    const eocds = findAll(b, Buffer.from('PK\x05\x06', 'latin1'));
    const at = eocds[eocds.length - 1];
    if (at === undefined) return generic.int32(r, b);
    const k = int(r, 4);
    if (k === 0) put32(b, at + 16, pick(r, [0, at, at - 1, b.length, 0xffffffff, int(r, b.length)])); // CD offset
    else if (k === 1) put32(b, at + 12, hostile(r, b, 0)); // CD size
    else if (k === 2) {
      b.writeUInt16LE(pick(r, [0, 1, 0xffff]), at + 10);
      b.writeUInt16LE(pick(r, [0, 1, 0xffff]), at + 8);
    } else {
      const cds = findAll(b, Buffer.from('PK\x01\x02', 'latin1'));
      if (cds.length) put32(b, pick(r, cds) + pick(r, [20, 24, 42]), hostile(r, b, 0)); // csize, usize, local offset
    }
    return b;
  },
  tar(r, b) {
    // size field (octal, 12 bytes at 124) of a header block
    const hdrs = findAll(b, Buffer.from('ustar', 'latin1')).map((o) => o - 257).filter((o) => o >= 0);
    if (!hdrs.length) return generic.int32(r, b);
    const at = pick(r, hdrs);
    b.write(pick(r, ['77777777777\0', '00000000000\0', '\x80\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff', 'zzzz']), at + 124, 'latin1');
    return b;
  },
};
fieldAware.uki = fieldAware.pe;
fieldAware.gzip = generic.bitflip;
// HFS+: a big-endian word of the volume header, or of the catalog file's first nodes (descriptors, keys, offsets)
fieldAware.hfsplus = (r, b) => {
  if (b.length < 1536) return generic.int32(r, b);
  const cat = b.readUInt32BE(1024 + 288) * (b.readUInt32BE(1064) || 512);
  const at = r() < 0.4 || cat + 4096 > b.length ? 1024 + int(r, 128) * 4 : cat + int(r, 1024) * 4;
  b.writeUInt32BE(hostile(r, b, at), at);
  return b;
};
fieldAware.xz = generic.int32;
fieldAware.zstd = generic.int32;
fieldAware.elf = generic.int32;
fieldAware.bzip2 = generic.bitflip;
fieldAware.pyc = generic.int32;
fieldAware.ar = (r, b) => { const h = findAll(b, Buffer.from('`\n', 'latin1')).map((o) => o - 58).filter((o) => o >= 8); if (!h.length) return generic.int32(r, b); b.write(pick(r, ['9999999999', '0         ', 'zz        ', '-1        ', String(b.length)]).padEnd(10).slice(0, 10), pick(r, h) + 48, 'latin1'); return b; }; // member size
const gptFat = fieldAware.gpt;
fieldAware.gpt = (r, b) => (r() < 0.3 && b.length > 2048 * 512 + 512 ? fieldAware.fat(r, b, 2048 * 512) : gptFat(r, b));

/** The format of a file in the release folder, for its field-aware mutators. */
const formatOf = (rel) => seeds.find((x) => x.format !== 'folder' && x.name === basename(rel))?.format ?? 'text';

/** A folder case: one file mutated as its format's seed would be, or one file removed, added or made a link. */
function mutateFolder(r, original) {
  const files = new Map(original);
  const regular = [...files.keys()].filter((k) => Buffer.isBuffer(files.get(k)));
  const rel = pick(r, regular);
  const k = r();
  if (k < 0.7) {
    const m = mutate(r, { format: formatOf(rel) }, files.get(rel));
    files.set(rel, m.bytes);
    return { files, steps: [`${rel}:`, ...m.steps], inspect: rel };
  }
  if (k < 0.8) {
    files.delete(rel);
    return { files, steps: [`remove ${rel}`], inspect: regular.find((x) => x !== rel) };
  }
  if (k < 0.9) {
    files.set(`sub/new-${int(r, 100)}`, Buffer.from(files.get(rel)));
    return { files, steps: [`add a copy of ${rel}`], inspect: rel };
  }
  files.set(rel, { link: pick(r, ['README', '../outside', '/etc/passwd', rel]) });
  return { files, steps: [`${rel} becomes a link`], inspect: regular.find((x) => x !== rel) };
}

function mutate(r, seed, original) {
  let b = Buffer.from(original);
  const steps = [];
  const n = 1 + int(r, 4);
  for (let i = 0; i < n; i++) {
    let name;
    if (r() < 0.5) {
      name = `field:${seed.format}`;
      b = (fieldAware[seed.format] ?? generic.int32)(r, b); // a format with no field-aware mutator of its own gets hostile integers
    } else {
      name = pick(r, Object.keys(generic));
      b = generic[name](r, b);
    }
    steps.push(name);
    if (b.length === 0) break;
  }
  return { bytes: b, steps };
}

// ---------- running ----------
const STACK = /internal error|^\s+at .+[:(]\d+:\d+\)?$|(?:Type|Range|Reference|Syntax)Error:|FATAL ERROR|heap out of memory|Maximum call stack/m;
const CHILD_ENV = { ...process.env, NO_COLOR: '1', REPRODIFF_DEBUG: '', GITHUB_STEP_SUMMARY: '' };
const MiB = (n) => `${Math.round(n / 1024 / 1024)} MiB`;

/** Peak and current RSS of a process from /proc (Linux); null elsewhere. */
function procRss(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'latin1');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return null;
  }
}

let maxRss = 0;
let childrenStarted = 0;

/** One run through the real bin/reprodiff in a fresh process, as every run was made before the children. */
function runCli(args) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--max-old-space-size=512', BIN, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: CHILD_ENV,
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      if (stderr.length < 64 * 1024) stderr += d;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, TIMEOUT);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, timedOut, ms: Date.now() - t0 });
    });
  });
}

/**
 * A lane owns one long-lived child and runs one CLI invocation at a time in it. The child is started on
 * demand, replaced after RECYCLE cases and after any failure, and killed on a timeout or when its RSS passes
 * the bound; the run it was doing then fails.
 */
class Lane {
  constructor(i) {
    this.i = i;
    this.child = null;
    this.cases = 0;
    this.seq = 0;
    this.pending = null; // { id, resolve, res }
    this.lastRun = new Map(); // run id -> { n, mode }, for stray reports after a run ended
  }

  start() {
    childrenStarted++;
    const child = spawn(process.execPath, ['--max-old-space-size=512', CHILD, CLI], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: CHILD_ENV,
    });
    this.child = child;
    this.cases = 0;
    child.raw = ''; // what reaches the child's real stderr outside the captured writes (V8 fatal errors)
    child.stderr.on('data', (d) => {
      if (child.raw.length < 64 * 1024) child.raw += d;
    });
    child.ready = new Promise((resolve, reject) => {
      child.once('message', (m) => (m?.type === 'ready' ? resolve() : reject(new Error(`unexpected first message ${JSON.stringify(m)}`))));
      child.once('exit', (code, signal) => reject(new Error(`fuzz child exited during start-up (${signal ?? code}): ${child.raw.slice(0, 2000)}`)));
    });
    child.ready.catch(() => {});
    child.on('message', (m) => this.onMessage(child, m));
    child.on('exit', (code, signal) => {
      // let messages already sent before the exit arrive first
      setTimeout(() => this.onExit(child, code, signal), 100);
    });
  }

  onMessage(child, m) {
    const p = this.pending;
    if (m.type === 'stray') {
      const run = this.lastRun.get(m.id);
      if (run) stray(run, m.text);
      return;
    }
    if (!p || m.id !== p.id || child !== this.child) return;
    if (m.type === 'returned') p.res.returned = m;
    else if (m.type === 'died') p.res.uncaught = m.text;
    else if (m.type === 'result') {
      if (m.exitCalled) this.child = null; // it exits once this is sent: nothing more goes to it
      this.finish({ ...p.res, ...m, stderr: m.stderr + child.raw });
    }
  }

  onExit(child, code, signal) {
    if (child !== this.child) return;
    this.child = null;
    const p = this.pending;
    if (!p) return;
    const last = procRss(child.pid);
    this.finish({ ...p.res, died: { code, signal }, code: null, stderr: `${p.res.uncaught ?? ''}${child.raw}`, ms: Date.now() - p.t0, rss: last?.rss ?? 0 });
  }

  finish(res) {
    const p = this.pending;
    this.pending = null;
    clearTimeout(p.timer);
    clearInterval(p.sampler);
    p.resolve(res);
  }

  stop() {
    const c = this.child;
    this.child = null;
    if (!c) return;
    if (c.connected) c.send({ type: 'stop' });
    setTimeout(() => c.kill('SIGKILL'), 2000).unref();
  }

  /** Runs main(args) in the child; resolves with what a process run would have given, plus rss and peak. */
  async run(n, mode, args) {
    if (!this.child) this.start();
    const child = this.child;
    await child.ready;
    child.raw = '';
    const id = ++this.seq;
    this.lastRun.set(id, { n, mode });
    if (this.lastRun.size > 8) this.lastRun.delete(this.lastRun.keys().next().value);
    const res = await new Promise((resolve) => {
      const p = { id, resolve, res: {}, t0: Date.now() };
      this.pending = p;
      p.timer = setTimeout(() => {
        p.res.timedOut = true;
        child.kill('SIGKILL');
      }, TIMEOUT);
      p.sampler = setInterval(() => {
        const m = procRss(child.pid);
        if (m) p.res.sampledPeak = Math.max(p.res.sampledPeak ?? 0, m.peak);
        if (m && m.rss > MAX_RSS && !p.res.overRss) {
          p.res.overRss = m.rss;
          child.kill('SIGKILL');
        }
      }, 250);
      child.send({ type: 'run', id, args });
    });
    const m = this.child === child ? procRss(child.pid) : null;
    res.peak = Math.max(m?.peak ?? 0, res.rss ?? 0, res.sampledPeak ?? 0, res.overRss ?? 0);
    maxRss = Math.max(maxRss, res.peak);
    if (!res.overRss && res.peak > MAX_RSS) res.overRss = res.peak;
    return res;
  }
}

function verdict(r) {
  if (r.overRss) return `RSS ${MiB(r.overRss)} passed the ${MiB(MAX_RSS)} bound`;
  if (r.timedOut) {
    const busy = r.returned ? ` (main returned ${r.returned.code}, but the event loop stayed busy: ${r.returned.resources.join(', ')})` : '';
    return `timed out after ${TIMEOUT} ms${busy}`;
  }
  if (r.uncaught) return `uncaught exception: ${r.uncaught.split('\n')[0].replace(/^uncaught exception: /, '')}`;
  if (r.died) return r.died.signal ? `killed by ${r.died.signal}` : `child died with exit status ${r.died.code}`;
  if (r.signal) return `killed by ${r.signal}`;
  if (r.threw) return `exception escaped main: ${r.threw.split('\n')[0]}`;
  if (r.unhandled?.length) return r.unhandled[0].split('\n')[0];
  if (![0, 1, 2].includes(r.code)) return `exit status ${r.code}`;
  if (STACK.test(r.stderr)) return `stack trace / internal error: ${r.stderr.split('\n').find((l) => STACK.test(l))?.trim()}`;
  if (r.code === 2 && r.stderr.trim() === '') return 'exit 2 without a message';
  return null;
}
const exitKey = (r) => (r.overRss ? 'rss' : r.timedOut ? 'timeout' : r.died || r.signal || r.uncaught ? 'died' : r.threw ? 'threw' : String(r.code));

const failDir = join(tmpdir(), `reprodiff-fuzz-failures-${SEED.toString(16)}`);
const caseDir = join(work, 'cases');
const outDir = join(work, 'out');
mkdirSync(caseDir, { recursive: true });
mkdirSync(outDir, { recursive: true });
const originals = seeds.map((s) => (s.format === 'folder' ? readFolder(s.path) : readFileSync(s.path)));
const perFormat = {};
const exits = {};
const failures = [];
let started = 0;
let done = 0;
let inProcessRuns = 0;
let spawnedRuns = 0;
let stopping = false;
const t0 = Date.now();
const deadline = t0 + SECONDS * 1000;

/** Case n: the seed image and mutations come from the (seed, n) stream alone, so a case can be rebuilt. */
function makeCase(n) {
  const r = caseRng(n);
  const si = int(r, seeds.length);
  const seed = seeds[si];
  if (seed.format === 'folder') return { si, seed, ...mutateFolder(r, originals[si]) };
  const { bytes, steps } = mutate(r, seed, originals[si]);
  return { si, seed, bytes, steps };
}

/** Writes a case's mutant at `path`: a file, or a folder. */
function writeCase(c, path) {
  if (c.files) writeFolder(path, c.files);
  else writeFileSync(path, c.bytes);
}

function cliArgs(mode, c, file, out) {
  if (mode === 'inspect') return ['inspect', c.files ? join(file, c.inspect ?? 'README') : file, '--json', out];
  return [c.seed.path, file, '--json', out, '--jobs', '1'];
}

function fail(n, mode, why, stderr, c = makeCase(n)) {
  const { si, seed, steps } = c;
  mkdirSync(failDir, { recursive: true });
  const keep = join(failDir, `seed-${SEED.toString(16)}-case-${n}-${mode.split(' ')[0]}-${basename(seed.path)}`);
  writeCase(c, keep);
  const orig = join(failDir, `original-${basename(seed.path)}`);
  if (!existsSync(orig)) writeCase(c.files ? { files: originals[si] } : { bytes: originals[si] }, orig);
  // the same arguments as the run: with the report in a file, the CLI also renders its text output to stdout
  const inspected = c.files ? join(keep, c.inspect ?? 'README') : keep;
  const repro = `node bin/reprodiff ${mode.startsWith('inspect') ? `inspect ${inspected}` : `${orig} ${keep}`} --json /dev/null${mode.startsWith('compare') ? ' --jobs 1' : ''}`;
  const f = { n, mode, format: seed.format, seed: seed.name, steps, why, keep, repro, stderr: (stderr ?? '').slice(0, 4000) };
  failures.push(f);
  console.log(`FAIL case ${n} (${seed.name}, ${mode}, ${steps.join('+')}): ${why}\n  input: ${keep}\n  repro: ${repro}`);
  writeFileSync(join(failDir, 'failures.json'), `${JSON.stringify({ seed: SEED, failures }, null, 2)}\n`);
}

/** Output that reached stderr after a run had ended, or a rejection that came late. */
function stray(run, text) {
  if (STACK.test(text)) fail(run.n, `${run.mode} (after the run)`, `late stack trace / internal error: ${text.split('\n').find((l) => STACK.test(l))?.trim()}`, text);
}

async function oneCase(lane, n) {
  const c = makeCase(n);
  const { seed } = c;
  const file = join(caseDir, `case-${n}-${basename(seed.path)}`);
  writeCase(c, file);
  perFormat[seed.format] = (perFormat[seed.format] ?? 0) + 1;
  let failed = false;
  for (const mode of ['inspect', 'compare']) {
    const out = join(outDir, `lane-${lane.i}-${mode}.json`);
    rmSync(out, { force: true });
    const res = await lane.run(n, mode, cliArgs(mode, c, file, out));
    inProcessRuns++;
    exits[exitKey(res)] = (exits[exitKey(res)] ?? 0) + 1;
    const why = verdict(res);
    if (why) {
      failed = true;
      fail(n, mode, why, res.stderr, c);
      continue;
    }
    if (SPAWN_EVERY && n % SPAWN_EVERY === 0) {
      // the same run through bin/reprodiff in its own process: it must pass the same checks and agree
      const out2 = join(outDir, `lane-${lane.i}-${mode}-bin.json`);
      rmSync(out2, { force: true });
      const res2 = await runCli(cliArgs(mode, c, file, out2));
      spawnedRuns++;
      exits[exitKey(res2)] = (exits[exitKey(res2)] ?? 0) + 1;
      const read = (p) => (existsSync(p) ? readFileSync(p, 'utf8') : null);
      const why2 = verdict(res2)
        ?? (res2.code !== res.code ? `bin/reprodiff exits ${res2.code}, in-process ${res.code}` : null)
        ?? (res2.stderr !== res.stderr ? `bin/reprodiff and in-process stderr differ: ${JSON.stringify(res2.stderr.slice(0, 300))} vs ${JSON.stringify(res.stderr.slice(0, 300))}` : null)
        ?? (read(out2) !== read(out) ? 'bin/reprodiff and in-process JSON reports differ' : null);
      if (why2) {
        failed = true;
        fail(n, `${mode} (bin)`, why2, res2.stderr, c);
      }
    }
  }
  rmSync(file, { recursive: true, force: true });
  lane.cases++;
  // a fresh child after a failure, so one case's leftovers cannot decide the next; and every RECYCLE cases
  if (failed || lane.cases >= RECYCLE) lane.stop();
  done++;
  if (done % 100 === 0) {
    const s = (Date.now() - t0) / 1000;
    console.log(`.. ${done} cases, ${failures.length} failures, ${s.toFixed(0)} s, ${(done / s).toFixed(2)} cases/s, max RSS ${MiB(maxRss)}`);
  }
}

async function laneLoop(lane) {
  while (!stopping && Date.now() < deadline && started < MAX_CASES) {
    await oneCase(lane, started++);
  }
  lane.stop();
}

function summary(note = '') {
  const secs = (Date.now() - t0) / 1000;
  const hangs = failures.filter((f) => f.why.startsWith('timed out')).length;
  const sorted = (o) => Object.entries(o).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  console.log(`\nsummary${note}`);
  console.log(`  seed        0x${SEED.toString(16)} (FUZZ_SEED=${SEED})`);
  console.log(`  cases       ${done}`);
  console.log(`  CLI runs    ${inProcessRuns + spawnedRuns} (${inProcessRuns} in ${JOBS} long-lived children, ${childrenStarted} started; ${spawnedRuns} through bin/reprodiff)`);
  console.log(`  failures    ${failures.length}${failures.length ? ` (inputs in ${failDir})` : ''}`);
  for (const f of failures) console.log(`    case ${f.n} ${f.seed} ${f.mode} [${f.steps.join('+')}]: ${f.why}\n      repro: ${f.repro}`);
  console.log(`  hangs       ${hangs}`);
  console.log(`  wall time   ${secs.toFixed(1)} s`);
  console.log(`  cases/s     ${(done / secs).toFixed(2)}`);
  console.log(`  max RSS     ${MiB(maxRss)} (one child; bound ${MiB(MAX_RSS)})`);
  console.log(`  per format  ${sorted(perFormat).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  console.log(`  exit codes  ${sorted(exits).map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

const lanes = Array.from({ length: JOBS }, (_, i) => new Lane(i));
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (stopping) process.exit(130);
    stopping = true;
    for (const l of lanes) l.child?.kill('SIGKILL');
    summary(` (stopped by ${sig} after ${started} cases started)`);
    rmSync(work, { recursive: true, force: true });
    process.exit(failures.length ? 1 : 130);
  });
}

console.log(`reprodiff fuzz: seed 0x${SEED.toString(16)}, ${SECONDS} s, ${Number.isFinite(MAX_CASES) ? `${MAX_CASES} cases, ` : ''}${JOBS} children, ${seeds.length} seed images:`);
for (const s of seeds) console.log(`  ${s.format.padEnd(9)} ${s.name}`);
await Promise.all(lanes.map(laneLoop));
summary();
rmSync(work, { recursive: true, force: true });
process.exit(failures.length ? 1 : 0);
