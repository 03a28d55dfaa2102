import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ReprodiffError } from '../../src/errors.js';
import { BufferSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container } from '../../src/model.js';
import { openPyc, pycFormat } from '../../src/formats/pyc/index.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const { dir, cleanup } = scratch('reprodiff-pyc-');
afterAll(() => cleanup());

function open(file: string): Container {
  const src = new BufferSource(file, new Uint8Array(readFileSync(join(dir, file))));
  expect(pycFormat.detect(src)).toBeGreaterThan(0);
  return pycFormat.open(src, { limits: { ...DEFAULT_LIMITS } }) as Container;
}

const value = (c: Container, name: string): unknown => c.fields.find((f) => f.name === name)?.value;
/** py_compile.compile; without `mode`, its default (timestamps, or checked hashes when SOURCE_DATE_EPOCH is set). */
const compile = (src: string, out: string, mode?: string, env: NodeJS.ProcessEnv = {}): void => {
  const how = mode ? `, invalidation_mode=p.PycInvalidationMode.${mode}` : '';
  run('python3', ['-c', `import py_compile as p; p.compile(${JSON.stringify(src)}, cfile=${JSON.stringify(out)}, doraise=True${how})`], {
    cwd: dir,
    env: { ...process.env, ...env },
  });
};
/** What Python itself reads from the header: (magic number, flags, the rest of the header). */
const pyHeader = (file: string): { magic: number; flags: number; mtime: number; size: number; hash: string } =>
  JSON.parse(
    run('python3', ['-c', `import sys,json,importlib.util as u; d=open(sys.argv[1],'rb').read(); print(json.dumps({'magic': int.from_bytes(u.MAGIC_NUMBER[:2],'little'), 'same': d[:4]==u.MAGIC_NUMBER, 'flags': int.from_bytes(d[4:8],'little'), 'mtime': int.from_bytes(d[8:12],'little'), 'size': int.from_bytes(d[12:16],'little'), 'hash': d[8:16].hex()}))`, join(dir, file)]),
  );

describe('py_compile', () => {
  it.skipIf(!hasTool('python3'))('timestamp-based: the magic, the source mtime and size as Python reads them, the code object as one entry', () => {
    writeFileSync(join(dir, 'm.py'), 'import os\nprint("hello", os.sep)\n');
    run('touch', ['-d', '@1600000000', 'm.py'], { cwd: dir });
    compile('m.py', 'a.pyc', 'TIMESTAMP');
    const c = open('a.pyc');
    const py = pyHeader('a.pyc');
    expect(value(c, 'pyc.magic')).toMatch(new RegExp(`^${py.magic} \\(Python 3\\.\\d+\\)$`));
    expect(c.producer).toBe(`Python ${run('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']).trim()}`);
    expect(value(c, 'pyc.flags')).toBe('timestamp');
    const mtime = c.fields.find((f) => f.name === 'pyc.source_mtime')!;
    expect(mtime.value).toBe('2020-09-13T12:26:40Z');
    expect(mtime.kind).toBe('timestamp');
    expect(mtime.spans).toEqual([{ offset: 8, length: 4 }]);
    expect(py.mtime).toBe(1600000000);
    expect(value(c, 'pyc.source_size')).toBe(statSync(join(dir, 'm.py')).size);
    const code = c.entries[0]!;
    expect(code.path).toBe('/code');
    expect(code.extents).toEqual([{ offset: 16, length: readFileSync(join(dir, 'a.pyc')).length - 16 }]);
    // the marshalled code object: a code type byte (with or without the FLAG_REF bit)
    expect(readFileSync(join(dir, 'a.pyc'))[16]! & 0x7f).toBe(0x63);
  });

  it.skipIf(!hasTool('python3'))('two sources with other mtimes differ only in the mtime field', () => {
    writeFileSync(join(dir, 'n.py'), 'x = 1\n');
    run('touch', ['-d', '@1600000000', 'n.py'], { cwd: dir });
    compile('n.py', 'n1.pyc', 'TIMESTAMP');
    run('touch', ['-d', '@1600000007', 'n.py'], { cwd: dir });
    compile('n.py', 'n2.pyc', 'TIMESTAMP');
    const a = open('n1.pyc');
    const b = open('n2.pyc');
    const diff = a.fields.filter((f, i) => JSON.stringify(f.value) !== JSON.stringify(b.fields[i]?.value));
    expect(diff.map((f) => f.name)).toEqual(['pyc.source_mtime']);
    expect(Buffer.from(a.source.read(16, a.source.size - 16)).equals(Buffer.from(b.source.read(16, b.source.size - 16)))).toBe(true);
  });

  it.skipIf(!hasTool('python3'))('checked-hash (what SOURCE_DATE_EPOCH makes py_compile write): the source hash, the same whatever the mtime', () => {
    writeFileSync(join(dir, 'h.py'), 'y = 2\n');
    compile('h.py', 'h1.pyc', 'CHECKED_HASH');
    run('touch', ['-d', '@1700000000', 'h.py'], { cwd: dir });
    // py_compile turns to checked hashes when SOURCE_DATE_EPOCH is set
    compile('h.py', 'h2.pyc', undefined, { SOURCE_DATE_EPOCH: '1' });
    expect(readFileSync(join(dir, 'h1.pyc')).equals(readFileSync(join(dir, 'h2.pyc')))).toBe(true);
    const c = open('h1.pyc');
    expect(value(c, 'pyc.flags')).toBe('checked-hash');
    const hash = c.fields.find((f) => f.name === 'pyc.source_hash')!;
    expect(hash.kind).toBe('checksum');
    expect(hash.value).toBe(pyHeader('h1.pyc').hash);
    expect(pyHeader('h1.pyc').flags).toBe(3);
    expect(c.fields.some((f) => f.name === 'pyc.source_mtime')).toBe(false);
    writeFileSync(join(dir, 'h.py'), 'y = 3\n');
    compile('h.py', 'h3.pyc', 'UNCHECKED_HASH');
    const u = open('h3.pyc');
    expect(value(u, 'pyc.flags')).toBe('unchecked-hash');
    expect(value(u, 'pyc.source_hash')).not.toBe(hash.value);
  });
});

describe('hostile pyc', () => {
  const src = (b: number[]): BufferSource => new BufferSource('x.pyc', new Uint8Array(b));
  it('unknown magic numbers, undefined flags, and a header with nothing after it are not pycs', () => {
    expect(pycFormat.detect(src([0x01, 0x00, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe3]))).toBe(0);
    expect(pycFormat.detect(src([0xa7, 0x0d, 0x0d, 0x0a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe3]))).toBe(0);
    expect(pycFormat.detect(src([0xa7, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBe(0);
    expect(() => openPyc(src([0xa7, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0]))).toThrow(ReprodiffError);
    expect(() => openPyc(src([0x01, 0x00, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe3]))).toThrow(/known Python/);
  });
  it('Python 2.7 and 3.6 headers: 8 and 12 bytes', () => {
    const py27 = openPyc(src([0x03, 0xf3, 0x0d, 0x0a, 0x00, 0x10, 0x5e, 0x5f, 0x63, 0, 0]));
    expect(py27.fields.map((f) => f.name)).toEqual(['pyc.magic', 'pyc.source_mtime']);
    expect(py27.entries[0]!.extents).toEqual([{ offset: 8, length: 3 }]);
    const py36 = openPyc(src([0x33, 0x0d, 0x0d, 0x0a, 0x00, 0x10, 0x5e, 0x5f, 5, 0, 0, 0, 0xe3]));
    expect(py36.fields.find((f) => f.name === 'pyc.source_size')?.value).toBe(5);
  });
});
