/**
 * The ISO 9660 reader against xorriso's own view of the same images: the committed samples and the ISOs
 * Debian ships (ipxe, memtest86+, grub-rescue-pc). Names, types, sizes, modes, owners and symlink targets
 * come from `xorriso -find / -exec lsdl`; modification times from files extracted by xorriso (which restores
 * them), compared with the Rock Ridge times the reader decoded.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../src/io/file.js';
import { iso9660Format } from '../../src/formats/iso9660/index.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container } from '../../src/model.js';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { SAMPLES } from '../helpers/cli.js';

const IMAGES = [
  `${SAMPLES}basic-a.iso`,
  `${SAMPLES}order-b.iso`,
  '/usr/lib/ipxe/ipxe.iso',
  '/usr/lib/memtest86+/memtest86+x64.iso',
  '/usr/lib/grub-rescue/grub-rescue-cdrom.iso',
];

function open(path: string): Container {
  const c = iso9660Format.open(new FileSource(path), { limits: DEFAULT_LIMITS });
  if (c instanceof Promise) throw new Error('iso9660 opens synchronously');
  return c;
}

interface Listed {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  size: number;
  target?: string;
}

/** Parses `lsdl` lines: `-rw-r--r--    1 0        0            5000 Nov 22 07:18 '/bin/blob'` */
function xorrisoListing(iso: string): Map<string, Listed> {
  const out = run('xorriso', ['-indev', iso, '-find', '/', '-exec', 'lsdl']);
  const m = new Map<string, Listed>();
  for (const line of out.split('\n')) {
    const r = /^(\S)(\S{9})\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)\s+\w{3}\s+\d+\s+[\d:]+\s+'(.*?)'(?: -> '(.*)')?$/.exec(line);
    if (!r) continue;
    const [, t, perms, uid, gid, size, path, target] = r as unknown as string[];
    m.set(path!, { type: t!, mode: perms!, uid: +uid!, gid: +gid!, size: +size!, ...(target !== undefined ? { target } : {}) });
  }
  return m;
}

function permString(mode: number): string {
  const bits = 'rwxrwxrwx';
  let s = '';
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? bits[i] : '-';
  return s;
}

const TYPE_CHAR: Record<string, string> = { file: '-', dir: 'd', symlink: 'l', chardev: 'c', blockdev: 'b', fifo: 'p', socket: 's' };

describe.each(IMAGES)('%s', (iso) => {
  const present = existsSync(iso);
  it.skipIf(!present || !hasTool('xorriso'))('lists what xorriso lists, with the same types, sizes, modes and owners', () => {
    const mine = open(iso);
    const theirs = xorrisoListing(iso);
    expect(theirs.size).toBeGreaterThan(1);
    const byPath = new Map(mine.entries.map((e) => [e.path, e]));
    for (const [path, t] of theirs) {
      const e = byPath.get(path);
      expect(e, `${path} listed by xorriso`).toBeDefined();
      if (!e) continue;
      // 'e' is xorriso's El Torito boot catalog: a regular file to the reader
      expect(t.type === 'e' ? '-' : t.type, path).toBe(TYPE_CHAR[e.type]);
      if (e.type === 'file') expect(e.size, path).toBe(t.size);
      if (e.meta.mode !== undefined) expect(permString(e.meta.mode), path).toBe(t.mode);
      if (e.meta.uid !== undefined) expect(e.meta.uid, path).toBe(t.uid);
      if (e.meta.gid !== undefined) expect(e.meta.gid, path).toBe(t.gid);
      if (t.target !== undefined) expect(e.meta.target, path).toBe(t.target);
    }
    const files = mine.entries.filter((e) => e.type === 'file').map((e) => e.path);
    const theirFiles = [...theirs].filter(([, t]) => t.type === '-' || t.type === 'e').map(([p]) => p);
    expect(files.sort()).toEqual(theirFiles.sort());
  });

  const work = scratch();
  afterAll(work.cleanup);
  it.skipIf(!present || !hasTool('xorriso'))('decodes the modification times xorriso restores on extraction', () => {
    const mine = open(iso);
    const dir = join(work.dir, 'x');
    run('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', dir]);
    let checked = 0;
    const walk = (rel: string): void => {
      for (const name of readdirSync(join(dir, rel))) {
        const p = `${rel}/${name}`;
        const st = lstatSync(join(dir, p));
        const e = mine.entries.find((x) => x.path === p);
        expect(e, p).toBeDefined();
        if (!st.isSymbolicLink() && e?.meta.mtime) {
          expect(Date.parse(e.meta.mtime) / 1000, p).toBe(Math.floor(st.mtimeMs / 1000));
          checked++;
        }
        if (st.isDirectory()) walk(p);
      }
    };
    walk('');
    expect(checked).toBeGreaterThan(0);
  });
});

describe('fields', () => {
  it.skipIf(!existsSync(`${SAMPLES}basic-a.iso`) || !hasTool('isoinfo'))('volume descriptor fields agree with isoinfo -d', () => {
    const iso = `${SAMPLES}basic-a.iso`;
    const c = open(iso);
    const info = run('isoinfo', ['-d', '-i', iso]);
    const get = (name: string): unknown => c.fields.find((f) => f.name === name)?.value;
    expect(info).toContain(`Volume id: ${String(get('pvd.volume_id'))}`);
    expect(info).toContain(`Data preparer id: ${String(get('pvd.preparer_id'))}`);
    expect(info).toContain(`Volume size is: ${String(get('pvd.volume_space_size'))}`);
    expect(c.producer).toMatch(/^xorriso \d/);
    // every field records where its bytes are
    for (const f of c.fields) expect(f.spans.length, f.name).toBeGreaterThan(0);
  });
});

/** The byte offsets of every occurrence of `needle` in `hay`. */
function occurrences(hay: Uint8Array, needle: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = Buffer.from(hay).indexOf(needle); i >= 0; i = Buffer.from(hay).indexOf(needle, i + 1)) out.push(i);
  return out;
}

describe('trees whose two listings disagree', () => {
  const s = scratch('reprodiff-iso-trees-');
  afterAll(s.cleanup);
  const xorriso = hasTool('xorriso');

  function build(name: string, opts: string[], files: Record<string, string>): string {
    const tree = join(s.dir, `${name}-tree`);
    run('mkdir', ['-p', tree]);
    for (const [f, body] of Object.entries(files)) writeFileSync(join(tree, f), body);
    const iso = join(s.dir, `${name}.iso`);
    run('xorriso', ['-as', 'mkisofs', '-quiet', ...opts, '-o', iso, tree]);
    return iso;
  }

  it.skipIf(!xorriso)('a name Joliet truncates joins its Rock Ridge entry by extent: nothing is listed twice', () => {
    const long = `${'n'.repeat(90)}.txt`;
    const iso = build('long', ['-R', '-J'], { [long]: 'long name\n', 'short.txt': 'short\n' });
    const c = open(iso);
    expect(c.entries.map((e) => e.path).sort()).toEqual(['/', `/${long}`, '/short.txt']);
    expect(run('isoinfo', ['-J', '-l', '-i', iso])).not.toContain(long); // Joliet holds a shorter name
    const e = c.entries.find((x) => x.path === `/${long}`)!;
    expect(e.fields.some((f) => f.name.startsWith('joliet.'))).toBe(true);
    expect(e.fields.some((f) => f.name.startsWith('dirent.'))).toBe(true);
  });

  it.skipIf(!xorriso)('Joliet records match ISO 9660 names by extent; one matching none is listed under /.joliet', () => {
    const iso = build('joliet', ['--norock', '-J'], { 'a.txt': 'aaaa\n', 'b.txt': 'bbbb\n' });
    const img = new Uint8Array(readFileSync(iso));
    // without Rock Ridge the primary names are A.TXT and B.TXT: every Joliet record matches by extent
    expect(open(iso).entries.map((e) => e.path).sort()).toEqual(['/', '/A.TXT', '/B.TXT']);
    // rename Joliet's b.txt to c.txt and make its size disagree: it matches nothing
    const name = Buffer.from('\u0000b\u0000.\u0000t\u0000x\u0000t', 'latin1');
    const at = occurrences(img, name);
    expect(at.length).toBe(1);
    img[at[0]! + 1] = 'c'.charCodeAt(0);
    const rec = at[0]! - 33;
    const dv = new DataView(img.buffer);
    dv.setUint32(rec + 10, 6, true);
    dv.setUint32(rec + 14, 6, false);
    const patched = join(s.dir, 'joliet-patched.iso');
    writeFileSync(patched, img);
    const c = open(patched);
    expect(c.entries.map((e) => e.path).sort()).toEqual(['/', '/.joliet/c.txt', '/A.TXT', '/B.TXT']);
    expect(c.entries.find((e) => e.path === '/.joliet/c.txt')!.size).toBe(6);
  });

  it.skipIf(!xorriso)('two records of one name in a directory are both listed, the later one as name~2', () => {
    const iso = build('dup', ['--norock'], { 'a.txt': 'aaaa\n', 'b.txt': 'bbbb\n' });
    const img = new Uint8Array(readFileSync(iso));
    const at = occurrences(img, Buffer.from('B.TXT;1', 'latin1'));
    expect(at.length).toBe(1);
    img[at[0]!] = 'A'.charCodeAt(0);
    const patched = join(s.dir, 'dup-patched.iso');
    writeFileSync(patched, img);
    const c = open(patched);
    expect(c.entries.map((e) => e.path).sort()).toEqual(['/', '/A.TXT', '/A.TXT~2']);
    expect(c.notes.join('\n')).toContain('/A.TXT appears more than once in its directory');
    expect(c.entries.find((e) => e.path === '/A.TXT~2')!.size).toBe(5);
  });
});
