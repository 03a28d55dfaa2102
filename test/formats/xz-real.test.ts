/**
 * The LZMA/LZMA2 decoder against xz itself on a 2.5 MB of varied real data (machine code, text, translations,
 * incompressible bytes, zeros): every preset from -0 to -9, extreme presets, each check type, several blocks
 * written by two threads, the x86 BCJ filter, odd literal/position settings, and the .lzma format. Each output
 * must be byte for byte what `xz -dc` gives, whole and handed over a block at a time.
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decompress, type Codec } from '../../src/codec/index.js';
import { parseXz } from '../../src/codec/xz.js';
import { BufferSource } from '../../src/io/source.js';
import { hasTool, scratch } from '../helpers/tools.js';

const { dir, cleanup } = scratch('reprodiff-xz-real-');
afterAll(() => cleanup());

/** The first `max` bytes of the regular files below `root`, in sorted order. */
function filesUnder(root: string, max: number): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const n of names) {
      if (total >= max) return;
      const p = join(d, n);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(p);
      else if (st?.isFile() && st.size < 1 << 20) {
        const b = readFileSync(p);
        parts.push(b);
        total += b.length;
      }
    }
  };
  walk(root);
  return Buffer.concat(parts).subarray(0, max);
}

/** [name, xz arguments (reading `sample`), codec] */
const CASES: [string, string, Codec][] = [
  ...Array.from({ length: 10 }, (_, n): [string, string, Codec] => [`-${n}`, `-${n}`, 'xz']),
  ['-6e', '-6e', 'xz'],
  ['-9e', '-9e', 'xz'],
  ['-1 --check=crc32', '-1 --check=crc32', 'xz'],
  ['-1 --check=crc64', '-1 --check=crc64', 'xz'],
  ['-1 --check=sha256', '-1 --check=sha256', 'xz'],
  ['-1 --check=none', '-1 --check=none', 'xz'],
  ['-T2 with 1 MiB blocks', '-T2 --block-size=1MiB', 'xz'],
  ['--x86 (BCJ) then LZMA2', '--x86 --lzma2=preset=6', 'xz'],
  ['lc=0 lp=2 pb=0 with a 64 KiB dictionary', '--lzma2=preset=1,lc=0,lp=2,pb=0,dict=64KiB', 'xz'],
  ['lc=4 lp=0 pb=4', '--lzma2=preset=3,lc=4,lp=0,pb=4', 'xz'],
  ['--format=lzma', '--format=lzma -6', 'lzma'],
];
const file = (i: number): string => join(dir, `s${i}.xz`);
let sample: Buffer;

beforeAll(() => {
  if (!hasTool('xz')) return;
  const key = Buffer.alloc(32, 7);
  const noise = createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(200_000));
  const kernelish = ['/boot/ipxe.lkrn', '/usr/lib/systemd/boot/efi/linuxx64.efi.stub'].filter((f) => existsSync(f)).map((f) => readFileSync(f).subarray(0, 300_000));
  sample = Buffer.concat([
    readFileSync(process.execPath).subarray(0, 800_000), // x86-64 machine code
    ...kernelish,
    filesUnder('/usr/share/common-licenses', 400_000), // text
    filesUnder('/usr/share/locale', 400_000), // translations (.mo)
    noise,
    Buffer.alloc(100_000),
    filesUnder('/usr/share/doc', 200_000),
  ]);
  writeFileSync(join(dir, 'sample'), sample);
  // every compression at once, two at a time
  const jobs = CASES.map(([, args], i) => `xz -c -T1 ${args} sample > ${file(i)}`.replace('-T1 -T2', '-T2'));
  execFileSync('sh', ['-c', `printf '%s\\n' ${jobs.map((j) => `'${j}'`).join(' ')} | xargs -P 2 -I{} sh -c {}`], { cwd: dir });
}, 300_000);

describe.skipIf(!hasTool('xz'))('xz and lzma on real data, as xz -dc decodes them', () => {
  CASES.forEach(([name, , codec], i) => {
    it(`${name}`, () => {
      const input = new Uint8Array(readFileSync(file(i)));
      const expected = execFileSync('xz', ['-dc', codec === 'lzma' ? '--format=lzma' : '--format=xz', file(i)], { maxBuffer: 64 << 20 });
      expect(expected.equals(sample)).toBe(true);
      const whole = decompress(codec, input, { maxOutput: 64 << 20, name: `s${i}` });
      expect(whole.length).toBe(sample.length);
      expect(Buffer.from(whole.buffer, whole.byteOffset, whole.length).equals(expected)).toBe(true);
      if (codec !== 'xz') return;
      // handed over as decoded: the pieces, put together, are the same bytes
      const pieces: Buffer[] = [];
      const parsed = parseXz(new BufferSource(`s${i}`, input), 64 << 20, true, { write: (b) => void pieces.push(Buffer.from(b)) });
      expect(Buffer.concat(pieces).equals(expected)).toBe(true);
      const blocks = parsed.streams.flatMap((s) => s.blocks);
      if (name.startsWith('-T2')) expect(blocks.length).toBe(Math.ceil(sample.length / (1 << 20)));
      expect(blocks.reduce((n, b) => n + b.outSize, 0)).toBe(sample.length);
    });
  });
});

describe.skipIf(!hasTool('xz'))('a match cut where the dictionary stops', () => {
  it('is finished when the rest reaches the end of the data', () => {
    // noise up to 100 bytes before 64 KiB (where the dictionary's buffer first grows), then 200 zero bytes: the
    // last match runs across the growth and ends where the stream does
    const noise = createCipheriv('aes-256-ctr', Buffer.alloc(32, 1), Buffer.alloc(16)).update(Buffer.alloc(65_436));
    const data = Buffer.concat([noise, Buffer.alloc(200)]);
    for (const preset of ['-0', '-6']) {
      const xz = execFileSync('xz', ['-c', '-T1', preset], { input: data });
      const out = decompress('xz', new Uint8Array(xz), { maxOutput: 1 << 20 });
      expect(Buffer.from(out).equals(data)).toBe(true);
    }
  });
});
