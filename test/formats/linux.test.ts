import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FileSource } from '../../src/io/file.js';
import { BufferSource, ExtentSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { linuxFormat, openLinux, splitVersion } from '../../src/formats/linux/index.js';
import { peFormat } from '../../src/formats/pe/index.js';
import { openXz } from '../../src/formats/xz/index.js';
import { openGzip } from '../../src/formats/gzip/index.js';
import { openZstd } from '../../src/formats/zstd/index.js';
import { openLz4 } from '../../src/formats/lz4/index.js';
import { hasTool } from '../helpers/tools.js';

const KERNEL = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux';
const ctx = { limits: { ...DEFAULT_LIMITS } };

describe('Linux bzImage', () => {
  it.skipIf(!existsSync(KERNEL) || !hasTool('file'))('reads the setup header and the version string file(1) reports', () => {
    const src = new FileSource(KERNEL);
    expect(linuxFormat.detect(src)).toBeGreaterThan(peFormat.detect(src));
    const c = openLinux(src, ctx);
    const v = (n: string): unknown => c.fields.find((f) => f.name === n)?.value;
    const fileOut = execFileSync('file', ['-b', KERNEL], { encoding: 'utf8' });
    const m = /version (.*?), (?:RO-rootFS|RW-rootFS)/.exec(fileOut);
    expect(m).not.toBeNull();
    expect(v('linux.version')).toBe(m![1]);
    expect(v('linux.build_host')).toBe(/\(([^()\s]+@[^()\s]+)\)/.exec(m![1]!)![1]);
    expect(v('linux.build_date')).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(c.fields.find((f) => f.name === 'linux.build_date')?.kind).toBe('timestamp');
    // the signed Debian kernel is also a PE image
    expect(v('pe.authenticode.digest_algorithm')).toBe('sha256');
    src.close();
  });

  it.skipIf(!existsSync(KERNEL))('exposes the compressed payload, which decodes to an ELF vmlinux', () => {
    const src = new FileSource(KERNEL);
    const c = openLinux(src, ctx);
    const payload = c.entries.find((e) => e.path === '/payload')!;
    const kind = payload.fields[0]!.value as string;
    const ps = new ExtentSource(`${KERNEL}//payload`, src, payload.extents);
    const open = { xz: openXz, gzip: openGzip, zstd: openZstd, lz4: openLz4 }[kind as 'xz'];
    expect(open).toBeDefined();
    const inner = open(ps, ctx);
    const data = inner.entries[0]!.contentSource!;
    expect([...data.read(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
    // init_size bounds the decoded kernel
    expect(data.size).toBeLessThan(c.fields.find((f) => f.name === 'linux.init_size')!.value as number);
    src.close();
  });

  it('splits version strings of the two common shapes', () => {
    const deb = splitVersion('6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)');
    expect(deb.release).toBe('6.1.0-18-amd64');
    expect(deb.buildHost?.[0]).toBe('debian-kernel@lists.debian.org');
    expect(deb.compiler?.[0]).toBe('gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40');
    expect(deb.buildDate?.[0]).toBe('2024-02-01');
    const arch = splitVersion('6.7.4-arch1-1 (linux@archlinux) (gcc (GCC) 13.2.1 20230801, GNU ld (GNU Binutils) 2.42.0) #1 SMP PREEMPT_DYNAMIC Mon, 05 Feb 2024 22:07:49 +0000');
    expect(arch.buildHost?.[0]).toBe('linux@archlinux');
    const plain = splitVersion('5.10.0 (user@buildhost) (gcc 10) #3 SMP Thu Feb  1 12:34:56 UTC 2024');
    expect(plain.buildDate?.[0]).toBe('Thu Feb  1 12:34:56 UTC 2024');
  });

  it('refuses a bzImage whose payload runs past the end, with a note', () => {
    const b = new Uint8Array(0x1000);
    b[0x1fe] = 0x55;
    b[0x1ff] = 0xaa;
    b.set([0x48, 0x64, 0x72, 0x53], 0x202);
    new DataView(b.buffer).setUint16(0x206, 0x20f, true);
    new DataView(b.buffer).setUint32(0x24c, 0xfffffff0, true);
    const c = openLinux(new BufferSource('k', b), ctx);
    expect(c.entries).toEqual([]);
    expect(c.notes.join()).toMatch(/payload/);
  });
});
