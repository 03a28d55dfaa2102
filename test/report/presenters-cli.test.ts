/**
 * What the presenters show for real archives through the built CLI: file modes in octal in the terminal,
 * Markdown, HTML and JUnit reports (the JSON keeps the number), and hostile names (ESC, CR, BEL, C1 controls,
 * bidi overrides) escaped the same way in every presenter, HTML included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/types.js';
import { cli } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const w = scratch();
afterAll(w.cleanup);

/** Two tar archives made by Python's tarfile: `members` is [name, mode in a, mode in b, content a, content b]. */
function tarPair(name: string, members: [string, number, number, string, string][]): [string, string] {
  const script = [
    'import io, json, sys, tarfile',
    'members = json.loads(sys.argv[2])',
    'for side in (0, 1):',
    '    with tarfile.open(sys.argv[1] + ("-a.tar", "-b.tar")[side], "w", format=tarfile.PAX_FORMAT) as t:',
    '        for m in members:',
    '            data = m[3 + side].encode()',
    '            ti = tarfile.TarInfo(m[0])',
    '            ti.size, ti.mtime, ti.mode, ti.uname, ti.gname = len(data), 1700000000, m[1 + side], "root", "root"',
    '            t.addfile(ti, io.BytesIO(data))',
  ].join('\n');
  const base = join(w.dir, name);
  run('python3', ['-c', script, base, JSON.stringify(members)]);
  return [`${base}-a.tar`, `${base}-b.tar`];
}

/** Every report of one compare, by presenter. */
function reports(a: string, b: string): { text: string; json: Report; md: string; html: string; junit: string } {
  const out = (ext: string): string => join(w.dir, `${ext}-${Math.random().toString(16).slice(2)}`);
  const p = { json: out('json'), md: out('md'), html: out('html'), junit: out('xml') };
  const r = cli([a, b, '--json', p.json, '--markdown', p.md, '--html', p.html, '--junit', p.junit]);
  expect(r.status, r.stderr).toBe(1);
  return {
    text: r.stdout,
    json: JSON.parse(readFileSync(p.json, 'utf8')) as Report,
    md: readFileSync(p.md, 'utf8'),
    html: readFileSync(p.html, 'utf8'),
    junit: readFileSync(p.junit, 'utf8'),
  };
}

describe('file modes', () => {
  it.skipIf(!hasTool('python3'))('are octal in text, Markdown, HTML and JUnit; numbers in the JSON', () => {
    const [a, b] = tarPair('modes', [
      ['bin/tool', 0o700, 0o755, 'same', 'same'],
      ['etc/conf', 0o644, 0o644, 'same', 'same'],
    ]);
    const r = reports(a, b);
    const f = r.json.findings.find((x) => x.field === 'tar.mode');
    expect(f, JSON.stringify(r.json.findings.map((x) => x.field))).toBeDefined();
    expect([f!.a, f!.b]).toEqual([0o700, 0o755]); // 448, 493: the JSON is unchanged
    expect(r.text).toMatch(/\/bin\/tool\s+tar tar\.mode\n\s+0700 → 0755\n/);
    expect(r.md).toMatch(/\| `tar\.mode` \| `0700` \| `0755` \|/);
    expect(r.html).toContain('<td class="val a" data-l="a">0700</td><td class="val b" data-l="b">0755</td>');
    expect(r.junit).toContain('message="permissions: 0700 -&gt; 0755"');
    for (const s of [r.text, r.md, r.html, r.junit]) expect(s).not.toMatch(/\b448\b|\b493\b/);
  });
});

describe('hostile names', () => {
  const NAMES = ['esc\x1b[31mred', 'cr\rline', 'bel\x07', 'c1\u0085next', 'evil\u202etxt.exe', 'iso\u2066late\u2069'];
  const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

  it.skipIf(!hasTool('python3'))('are escaped alike in every presenter, HTML included', () => {
    const [a, b] = tarPair(
      'names',
      NAMES.map((n) => [`d/${n}`, 0o644, 0o644, `one ${n}`, `two ${n}`]),
    );
    const r = reports(a, b);
    // the JSON keeps the names as they are
    for (const n of NAMES) expect(r.json.findings.some((f) => f.path === `/d/${n}`), n).toBe(true);
    for (const [what, s] of Object.entries({ text: r.text, md: r.md, html: r.html, junit: r.junit })) {
      expect(RAW.test(s), `${what} has a raw control or bidi character`).toBe(false);
    }
    // the same visible escapes everywhere
    for (const s of [r.text, r.html]) {
      expect(s).toContain('evil\\u202etxt.exe');
      expect(s).toContain('esc\\x1b[31mred');
      expect(s).toContain('cr\\rline');
      expect(s).toContain('bel\\x07');
      expect(s).toContain('c1\\x85next');
      expect(s).toContain('iso\\u2066late\\u2069');
    }
    expect(r.md).toContain('evil\\u202etxt.exe');
  });
});
