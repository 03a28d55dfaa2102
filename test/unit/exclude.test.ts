/**
 * --exclude patterns: shell-style globs matched as diffoscope matches them (Python's fnmatch.fnmatchcase),
 * checked against Python itself; and which paths of an entry, a nested entry or a folder's file they are
 * matched against.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ExcludeRules, globRegExp } from '../../src/compare/exclude.js';
import { hasTool } from '../helpers/tools.js';

const PATTERNS = ['*.log', 'boot/*', '/boot/*', 'boot/grub/grub.cfg', '?.txt', '[ab]*', '[!ab]*', '[a-c].bin', '*[]]*', '[]]x', '[!]]x', '[', 'x[', 'a[b', '**/x', 'docs/**', '*', '', 'a.b', 'a+b(c)', '^x$', 'a\\b', '[\\]x', 'ü*', '[^a]x', 'a{b,c}', '.*', 'a|b'];
const NAMES = ['x.log', 'dir/x.log', 'boot/grub/grub.cfg', '/boot/grub/grub.cfg', 'boot', 'a.txt', 'ab.txt', 'b', 'c', 'abc', 'c.bin', 'd.bin', ']', 'a]b', ']x', 'ax', '[', 'x[', 'a[b', 'x', 'y/x', 'docs/a/b', 'docs', '', 'a.b', 'axb', 'a+b(c)', '^x$', 'a\\b', '\\x', 'üx', '^x', 'a{b,c}', 'ab', '.hidden', 'a|b', 'line\nbreak'];

describe('glob patterns', () => {
  it.skipIf(!hasTool('python3'))('match exactly what Python fnmatch.fnmatchcase matches (diffoscope uses it)', () => {
    const script = 'import fnmatch, json, sys\nd = json.load(sys.stdin)\nprint(json.dumps([[fnmatch.fnmatchcase(n, p) for n in d["names"]] for p in d["patterns"]]))';
    const r = spawnSync('python3', ['-c', script], { input: JSON.stringify({ patterns: PATTERNS, names: NAMES }), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const python = JSON.parse(r.stdout) as boolean[][];
    const ours = PATTERNS.map((p) => NAMES.map((n) => globRegExp(p).test(n)));
    for (const [i, p] of PATTERNS.entries()) expect(ours[i], `pattern ${JSON.stringify(p)}`).toEqual(python[i]);
  });

  it('an entry is matched by its path with and without the leading /, a folder above it, and its report path', () => {
    const r = new ExcludeRules(['boot/grub', '/efi.img//EFI/*', 'x.cfg'], 'yes');
    expect(r.entryPattern('/boot/grub/grub.cfg', '/boot/grub/grub.cfg')).toBe('boot/grub');
    expect(r.entryPattern('/boot/grubby', '/boot/grubby')).toBeUndefined();
    expect(r.entryPattern('/EFI/BOOT/BOOTX64.EFI', '/efi.img//EFI/BOOT/BOOTX64.EFI')).toBe('/efi.img//EFI/*');
    expect(r.entryPattern('/EFI/BOOT/BOOTX64.EFI', '/EFI/BOOT/BOOTX64.EFI')).toBeUndefined();
    // a name alone matches only where it is the whole path (as in diffoscope's archive members)
    expect(r.entryPattern('/x.cfg', '/x.cfg')).toBe('x.cfg');
    expect(r.entryPattern('/etc/x.cfg', '/etc/x.cfg')).toBeUndefined();
    // in a folder compare a name matches at any depth, as diffoscope matches a folder's members
    expect(r.folderPattern('etc/x.cfg')).toBe('x.cfg');
    expect(r.folderPattern('boot/grub/a')).toBe('boot/grub');
    // the files of a folder are matched under their own path
    expect(r.under('live.iso').entryPattern('/boot/x', '/boot/x')).toBeUndefined();
    expect(new ExcludeRules(['/live.iso//boot/*'], 'yes').under('live.iso').entryPattern('/boot/x', '/boot/x')).toBe('/live.iso//boot/*');
  });

  it('recursive leaves out the metadata fields of members only', () => {
    const r = new ExcludeRules([], 'recursive');
    expect(r.isMemberMetadata({ entry: '/a', field: 'tar.mtime', kind: 'timestamp' })).toBe(true);
    expect(r.isMemberMetadata({ entry: '/a', field: 'tar.uid', kind: 'ownership' })).toBe(true);
    expect(r.isMemberMetadata({ entry: '/a', field: null, kind: 'timestamp' })).toBe(false);
    expect(r.isMemberMetadata({ field: 'pvd.creation_date', kind: 'timestamp' })).toBe(false);
    expect(r.isMemberMetadata({ entry: '/a', field: 'tar.size', kind: 'size' })).toBe(false);
    expect(new ExcludeRules([], 'yes').isMemberMetadata({ entry: '/a', field: 'tar.mtime', kind: 'timestamp' })).toBe(false);
    // the folder's own metadata is compared by the folder, not again by each file
    expect(new ExcludeRules([], 'no').under('x').directoryMetadata).toBe('yes');
  });
});
