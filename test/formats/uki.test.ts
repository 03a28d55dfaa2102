import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../src/io/file.js';
import { ExtentSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container } from '../../src/model.js';
import { parsePe, peFormat } from '../../src/formats/pe/index.js';
import { openUki, parseOsRelease, ukiFormat } from '../../src/formats/uki/index.js';
import { linuxFormat, openLinux } from '../../src/formats/linux/index.js';
import { hasTool, scratch } from '../helpers/tools.js';

const STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
const KERNEL = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux';
const ctx = { limits: { ...DEFAULT_LIMITS } };
const { dir, cleanup } = scratch('reprodiff-uki-');
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const ready = existsSync(STUB) && existsSync(KERNEL) && hasTool('objcopy') && hasTool('objdump') && hasTool('cpio');

const OSREL = 'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n';
const CMDLINE = 'console=ttyS0 quiet root=LABEL=root\n';

/** The usual objcopy recipe: place each new section after the stub's last one, aligned. */
function buildUki(out: string, sections: [string, string][]): void {
  const stub = parsePe(new FileSource(STUB), ctx, 'pe');
  const base = stub.container.fields.find((f) => f.name === 'pe.opt.image_base')!.value as number;
  const align = stub.container.fields.find((f) => f.name === 'pe.opt.section_alignment')!.value as number;
  let next = Math.max(...stub.sections.map((s) => s.virtualAddress + Math.max(s.virtualSize, s.rawSize)));
  const args: string[] = [];
  for (const [name, file] of sections) {
    next = Math.ceil(next / align) * align;
    args.push('--add-section', `${name}=${file}`, '--change-section-vma', `${name}=0x${(base + next).toString(16)}`);
    next += readFileSync(join(dir, file)).length;
  }
  execFileSync('objcopy', [...args, STUB, out], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
}

let uki: Container;
beforeAll(() => {
  if (!ready) return;
  writeFileSync(join(dir, 'os-release'), OSREL);
  writeFileSync(join(dir, 'cmdline'), CMDLINE);
  writeFileSync(join(dir, 'uname'), '6.1.0-50-amd64');
  writeFileSync(join(dir, 'profile'), 'ID=rescue\nTITLE="Rescue mode"\n');
  writeFileSync(join(dir, 'cmdline2'), 'rescue\n');
  sh(`mkdir -p t/etc && echo hi > t/etc/motd && (cd t && find . | sort | cpio -o -H newc --quiet | gzip -n -9) > initrd && cp '${KERNEL}' linux`);
  buildUki(join(dir, 'uki.efi'), [['.osrel', 'os-release'], ['.cmdline', 'cmdline'], ['.uname', 'uname'], ['.linux', 'linux'], ['.initrd', 'initrd']]);
  uki = openUki(new FileSource(join(dir, 'uki.efi')), ctx);
});
afterAll(() => cleanup());

const v = (c: Container, n: string): unknown => c.fields.find((f) => f.name === n)?.value;

describe('UKI built with objcopy', () => {
  it.skipIf(!ready)('is detected as a UKI ahead of plain PE', () => {
    const src = new FileSource(join(dir, 'uki.efi'));
    expect(ukiFormat.detect(src)).toBeGreaterThan(peFormat.detect(src));
    expect(ukiFormat.detect(new FileSource(STUB))).toBe(0);
    expect(uki.format).toBe('uki');
  });

  it.skipIf(!ready)('lists the sections objdump -h lists', () => {
    const ref = sh('objdump -h uki.efi')
      .split('\n')
      .map((l) => /^\s+\d+\s+(\S+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    expect(uki.entries.map((e) => e.path)).toEqual(ref.map((m) => '/' + m[1]));
    uki.entries.forEach((e, i) => expect(e.extents[0]?.offset ?? 0).toBe(parseInt(ref[i]![3]!, 16)));
  });

  it.skipIf(!ready)('decodes .osrel, .cmdline, .uname and .sbat', () => {
    expect(v(uki, 'uki.cmdline')).toBe(CMDLINE.trim());
    expect(v(uki, 'uki.uname')).toBe('6.1.0-50-amd64');
    expect(v(uki, 'uki.osrel.ID')).toBe('debian');
    expect(v(uki, 'uki.osrel.PRETTY_NAME')).toBe('Debian GNU/Linux 12 (bookworm)');
    expect(v(uki, 'uki.sbat')).toMatch(/^sbat,1,/);
    const f = uki.fields.find((x) => x.name === 'uki.osrel.VERSION_ID')!;
    const span = f.spans[0]!;
    const bytes = readFileSync(join(dir, 'uki.efi')).subarray(span.offset, span.offset + span.length).toString();
    expect(bytes).toBe('VERSION_ID="12"');
  });

  it.skipIf(!ready)('the .linux and .initrd entries hold the inputs, and .linux opens as a kernel', () => {
    const src = new FileSource(join(dir, 'uki.efi'));
    const linux = uki.entries.find((e) => e.path === '/.linux')!;
    const initrd = uki.entries.find((e) => e.path === '/.initrd')!;
    const lsrc = new ExtentSource('uki.efi//.linux', src, linux.extents);
    const kernel = readFileSync(KERNEL);
    // the raw size is padded to the file alignment
    expect(Buffer.from(lsrc.read(0, kernel.length)).equals(kernel)).toBe(true);
    expect(Buffer.from(src.read(initrd.extents[0]!.offset, readFileSync(join(dir, 'initrd')).length)).equals(readFileSync(join(dir, 'initrd')))).toBe(true);
    expect(linuxFormat.detect(lsrc)).toBeGreaterThan(0);
    expect(v(openLinux(lsrc, ctx), 'linux.release')).toBe('6.1.0-50-amd64');
  });

  it.skipIf(!ready)('notes the profiles of a multi-profile UKI', () => {
    buildUki(join(dir, 'multi.efi'), [['.osrel', 'os-release'], ['.linux', 'linux'], ['.profile', 'profile'], ['.cmdline', 'cmdline2']]);
    const c = openUki(new FileSource(join(dir, 'multi.efi')), ctx);
    expect(v(c, 'uki.profile[0].profile.ID')).toBe('rescue');
    expect(v(c, 'uki.profile[0].profile.TITLE')).toBe('Rescue mode');
    expect(v(c, 'uki.profile[0].cmdline')).toBe('rescue');
    expect(c.notes.join()).toMatch(/multi-profile/);
  });
});

describe('os-release parsing', () => {
  it('unquotes values and skips comments', () => {
    expect(parseOsRelease('# c\nA=1\nB="x y"\nC=\'z\'\n').map(([k, val]) => [k, val])).toEqual([
      ['A', '1'],
      ['B', 'x y'],
      ['C', 'z'],
    ]);
  });
});
