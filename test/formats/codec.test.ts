import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decompress, type Codec } from '../../src/codec/index.js';
import { ReprodiffError } from '../../src/errors.js';
import { hasTool, scratch } from '../helpers/tools.js';

const { dir, cleanup } = scratch('reprodiff-codec-');
let sample: Uint8Array;

/** Runs `sh -c` in the scratch folder. */
function sh(cmd: string): void {
  execFileSync('sh', ['-c', cmd], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

beforeAll(() => {
  // varied input: text, an EFI binary and a kernel, about 3 MB
  const parts: Buffer[] = [];
  const stub = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
  const kernel = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux';
  for (const f of [stub, kernel, '/usr/share/common-licenses/GPL-3']) {
    try {
      parts.push(readFileSync(f).subarray(0, 1_200_000));
    } catch {
      /* optional */
    }
  }
  parts.push(Buffer.from('reprodiff '.repeat(50_000)));
  sample = Buffer.concat(parts);
  writeFileSync(join(dir, 'sample'), sample);
});
afterAll(() => cleanup());

function check(codec: Codec, file: string): void {
  const out = decompress(codec, readFileSync(join(dir, file)), { maxOutput: 64 << 20, name: file });
  expect(out.length).toBe(sample.length);
  expect(Buffer.compare(Buffer.from(out), Buffer.from(sample))).toBe(0);
}

describe('xz and lzma', () => {
  const cases: [string, string][] = [
    ['default', 'xz -c sample > s.xz'],
    ['-9e crc32', 'xz -9e --check=crc32 -c sample > s.xz'],
    ['sha256', 'xz --check=sha256 -c sample > s.xz'],
    ['no check', 'xz --check=none -c sample > s.xz'],
    ['x86 BCJ + lzma2 (as the kernel)', 'xz --x86 --lzma2=dict=1MiB --check=crc32 -c sample > s.xz'],
    ['lc=4 lp=0 pb=0', 'xz --lzma2=lc=4,lp=0,pb=0 -c sample > s.xz'],
    ['several blocks', 'xz --block-size=300KiB -c sample > s.xz'],
    ['two streams and padding', 'xz -c sample > a.xz && head -c 1000 sample | xz -c > b.xz && cat a.xz b.xz > s.xz && head -c 8 /dev/zero >> s.xz && head -c 1000 sample >> sample2'],
  ];
  for (const [name, cmd] of cases) {
    it.skipIf(!hasTool('xz'))(`decodes xz ${name}`, () => {
      sh(`rm -f sample2; ${cmd}`);
      if (name.startsWith('two streams')) {
        const out = decompress('xz', readFileSync(join(dir, 's.xz')), { maxOutput: 64 << 20 });
        expect(out.length).toBe(sample.length + 1000);
        expect(Buffer.compare(Buffer.from(out.subarray(sample.length)), Buffer.from(sample.subarray(0, 1000)))).toBe(0);
      } else check('xz', 's.xz');
    });
  }
  it.skipIf(!hasTool('xz'))('decodes the LZMA-alone format (xz --format=lzma)', () => {
    sh('xz --format=lzma -c sample > s.lzma');
    check('lzma', 's.lzma');
  });
  it.skipIf(!hasTool('xz'))('rejects a corrupted block (check mismatch) with E_FORMAT', () => {
    sh('xz -c sample > s.xz');
    const data = new Uint8Array(readFileSync(join(dir, 's.xz')));
    data[data.length >> 1] ^= 0x55;
    expect(() => decompress('xz', data, { maxOutput: 64 << 20 })).toThrow(ReprodiffError);
    try {
      decompress('xz', data, { maxOutput: 64 << 20 });
    } catch (e) {
      expect((e as ReprodiffError).code).toBe('E_FORMAT');
    }
  });
  it.skipIf(!hasTool('xz'))('stops an xz bomb at maxOutput', () => {
    sh('head -c 64M /dev/zero | xz -c > bomb.xz');
    expect(() => decompress('xz', readFileSync(join(dir, 'bomb.xz')), { maxOutput: 1 << 20 })).toThrow(/limit/);
  });
  it('fails cleanly on truncated xz input', () => {
    for (const len of [0, 5, 12, 13, 30]) {
      const bytes = new Uint8Array(len);
      bytes.set([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0].slice(0, len));
      expect(() => decompress('xz', bytes, { maxOutput: 1 << 20 })).toThrow(ReprodiffError);
    }
  });
});

describe('zstd', () => {
  const cases: [string, string][] = [
    ['-1', 'zstd -q -1 -c sample > s.zst'],
    ['-19 with checksum', 'zstd -q -19 --check -c sample > s.zst'],
    ['--no-check', 'zstd -q --no-check -c sample > s.zst'],
    ['from a pipe (no content size)', 'cat sample | zstd -q -c > s.zst'],
    ['--long', 'zstd -q --long=24 -c sample > s.zst'],
  ];
  for (const [name, cmd] of cases) {
    it.skipIf(!hasTool('zstd'))(`decodes zstd ${name}`, () => {
      sh(cmd);
      check('zstd', 's.zst');
    });
  }
  it.skipIf(!hasTool('zstd'))('decodes two frames', () => {
    sh('head -c 1000000 sample | zstd -q -c > s.zst && tail -c +1000001 sample | zstd -q -c >> s.zst');
    check('zstd', 's.zst');
  });
  it.skipIf(!hasTool('zstd'))('stops a zstd bomb at maxOutput', () => {
    sh('head -c 256M /dev/zero | zstd -q -c > bomb.zst');
    expect(() => decompress('zstd', readFileSync(join(dir, 'bomb.zst')), { maxOutput: 1 << 20 })).toThrow(/limit/);
  });
  it('fails cleanly on a bad zstd frame', () => {
    const bad = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50, 0xff, 0xff, 0xff]);
    expect(() => decompress('zstd', bad, { maxOutput: 1 << 20 })).toThrow(ReprodiffError);
  });
});

describe('lz4', () => {
  it.skipIf(!hasTool('lz4'))('decodes the legacy frame (lz4 -l)', () => {
    sh('lz4 -q -l -9 -f sample s.lz4');
    check('lz4', 's.lz4');
  });
  it.skipIf(!hasTool('lz4'))('decodes the frame format with linked blocks, block and content checksums', () => {
    sh('lz4 -q -BD -B4 -BX --content-size -f sample s.lz4');
    check('lz4', 's.lz4');
  });
  it.skipIf(!hasTool('lz4'))('decodes the default frame format', () => {
    sh('lz4 -q -f sample s.lz4');
    check('lz4', 's.lz4');
  });
  it.skipIf(!hasTool('lz4'))('stops an lz4 bomb at maxOutput', () => {
    sh('head -c 64M /dev/zero | lz4 -q -l -c > bomb.lz4');
    expect(() => decompress('lz4', readFileSync(join(dir, 'bomb.lz4')), { maxOutput: 1 << 20 })).toThrow(/limit/);
  });
  it('rejects a raw block whose match reaches before the start', () => {
    // token: 1 literal, match len 4; literal 'a'; offset 5 (only 1 byte decoded)
    const bad = new Uint8Array([0x10, 0x61, 0x05, 0x00]);
    expect(() => decompress('lz4-block', bad, { maxOutput: 1 << 20 })).toThrow(/outside the window/);
  });
  it('decodes a hand-made raw block with an overlapping match', () => {
    // 'ab' then a match at offset 2 of length 6 -> 'abababab', then 1 final literal 'c'
    const blk = new Uint8Array([0x22, 0x61, 0x62, 0x02, 0x00, 0x10, 0x63]);
    expect(Buffer.from(decompress('lz4-block', blk, { maxOutput: 100 })).toString()).toBe('ababababc');
  });
});

describe('gzip', () => {
  it.skipIf(!hasTool('gzip'))('decodes gzip and caps the output', () => {
    sh('gzip -c sample > s.gz && head -c 64M /dev/zero | gzip -c > bomb.gz');
    check('gzip', 's.gz');
    expect(() => decompress('gzip', readFileSync(join(dir, 'bomb.gz')), { maxOutput: 1 << 20 })).toThrow(/limit/);
  });
});

describe('zlib blocks (as squashfs stores them)', () => {
  it.skipIf(!hasTool('python3'))('decodes blocks made by zlib with one kept engine, exactly as the one-shot call does, and stays usable after a bad block', () => {
    // blocks of 128 KiB and 1 MiB of the sample, and one of 3 MiB (past the kept buffer: the one-shot call)
    sh(`python3 -c "import zlib,sys; d=open('sample','rb').read(); [open(n,'wb').write(zlib.compress(d[:k], l)) for n,k,l in (('b128.z',131072,9),('b1m.z',1048576,1),('b3m.z',3<<20,6))]"`);
    const cases: [string, number][] = [['b128.z', 131072], ['b1m.z', 1 << 20], ['b3m.z', Math.min(sample.length, 3 << 20)]];
    for (const [file, n] of cases) {
      const z = readFileSync(join(dir, file));
      const want = inflateSync(z);
      expect(want.length).toBe(n);
      for (let round = 0; round < 2; round++) {
        const got = decompress('zlib', z, { maxOutput: n, name: file });
        expect(Buffer.from(got).equals(want), `${file} round ${round}`).toBe(true);
        // a copy of its own: the next block does not overwrite it
        expect(got.buffer.byteLength).toBe(got.length);
        // one byte short of the output is over the limit
        expect(() => decompress('zlib', z, { maxOutput: n - 1, name: file })).toThrow(expect.objectContaining({ code: 'E_LIMIT' }));
        // cut short, and with a byte of its data changed
        expect(() => decompress('zlib', z.subarray(0, z.length >> 1), { maxOutput: n, name: file })).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringMatching(/corrupt zlib data/) }));
        const bad = Buffer.from(z);
        bad[0] = 0x79;
        expect(() => decompress('zlib', bad, { maxOutput: n, name: file })).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
      }
    }
    const first = decompress('zlib', readFileSync(join(dir, 'b128.z')), { maxOutput: 131072 });
    const second = decompress('zlib', readFileSync(join(dir, 'b1m.z')), { maxOutput: 1 << 20 });
    expect(Buffer.from(first).equals(Buffer.from(sample.subarray(0, 131072)))).toBe(true);
    expect(Buffer.from(second.subarray(0, 131072)).equals(Buffer.from(first))).toBe(true);
  });
});

