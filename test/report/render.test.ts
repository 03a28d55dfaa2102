/**
 * `reprodiff render`: every presenter from a saved JSON report, byte for byte as the live run wrote it, for
 * the real-tool sample pairs (with and without accepted findings); a file that is not a report is exit 2.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, ROOT } from '../helpers/cli.js';
import { scratch } from '../helpers/tools.js';

const w = scratch();
afterAll(w.cleanup);

const FORMATS = [
  ['--html', 'html'],
  ['--markdown', 'md'],
  ['--text', 'txt'],
  ['--junit', 'xml'],
] as const;

describe('reprodiff render', () => {
  for (const [name, a, b, extra] of [
    ['hybrid', 'samples/hybrid-a.iso', 'samples/hybrid-b.iso', []],
    ['uki', 'samples/uki-a.efi', 'samples/uki-b.efi', ['--accept', 'timestamp']],
  ] as const) {
    it(`writes the ${name} pair's reports byte for byte as the live run did`, () => {
      const live = (ext: string) => join(w.dir, `${name}-live.${ext}`);
      const again = (ext: string) => join(w.dir, `${name}-render.${ext}`);
      const r = cli([join(ROOT, a), join(ROOT, b), '-q', '--json', live('json'), ...FORMATS.flatMap(([o, e]) => [o, live(e)]), ...extra]);
      expect(r.status, r.stderr).toBe(1);
      const rr = cli(['render', live('json'), ...FORMATS.flatMap(([o, e]) => [o, again(e)])]);
      expect(rr.stderr).toBe('');
      expect(rr.status).toBe(1);
      for (const [, e] of FORMATS) {
        const x = readFileSync(live(e));
        expect(x.length).toBeGreaterThan(100);
        expect(readFileSync(again(e)).equals(x), e).toBe(true);
      }
      // the terminal report on stdout too
      const t1 = cli([join(ROOT, a), join(ROOT, b), '-q', ...extra]);
      const t2 = cli(['render', live('json')]);
      expect(t2.stdout).toBe(t1.stdout);
    });
  }

  it('refuses, with exit 2 and one plain line, a file that is not a schemaVersion 1 report', () => {
    const cases: [string, RegExp][] = [
      ['{"schemaVersion":2}', /schemaVersion 2 is not one this reprodiff reads/],
      ['{"tool":{}}', /has no schemaVersion/],
      ['not json', /invalid JSON/],
      ['[1,2]', /top level is not an object/],
      ['{"schemaVersion":1,"tool":{"name":"reprodiff","version":"1"},"inputs":[],"identical":false,"bytes":{"differing":1,"explained":1,"unexplained":0},"causes":{},"findings":[{"id":"f1"}],"notes":[]}', /finding 1 lacks/],
    ];
    for (const [i, [text, want]] of cases.entries()) {
      const f = join(w.dir, `bad-${i}.json`);
      writeFileSync(f, text);
      const r = cli(['render', f, '--html', join(w.dir, 'never.html')]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(want);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    }
    const missing = cli(['render', join(w.dir, 'nope.json')]);
    expect(missing.status).toBe(2);
  });
});
