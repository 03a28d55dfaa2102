/**
 * Names are bytes: names that are not valid UTF-8 are kept losslessly (src/util/names.ts), so two names that
 * differ in one invalid byte stay two entries, paired by their own bytes. Before, both decoded to `n\uFFFD`:
 * a pair whose members were stored in another order was reported as a content change "one → two". Every
 * presenter shows such a byte as `\xNN`; the JSON stays valid UTF-8 and carries the exact bytes in hex.
 * The archives are made by the real tools from files whose names are those bytes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTool, scratch } from '../helpers/tools.js';
import { expectClean, runCapped } from './harness.js';
import type { Report } from '../../src/report/types.js';
import type { InspectResult } from '../../src/inspect.js';

const { dir, cleanup } = scratch('reprodiff-names-');
afterAll(() => cleanup());

const FF = Buffer.from('n\xff', 'latin1');
const FE = Buffer.from('n\xfe', 'latin1');

/** A folder holding `n\xff` ("one") and `n\xfe` ("two"), or the contents swapped, at one fixed mtime. */
function tree(name: string, swap = false): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  for (const [n, text] of [[FF, swap ? 'two' : 'one'], [FE, swap ? 'one' : 'two']] as const) {
    const p = Buffer.concat([Buffer.from(`${d}/`), n]);
    writeFileSync(p, text);
    utimesSync(p, 1_000_000, 1_000_000);
  }
  return d;
}

/** Runs a shell command in `cwd` with the two names in $FF and $FE (as bytes), failing the test on error. */
function sh(cwd: string, cmd: string): void {
  const r = spawnSync('sh', ['-c', `FF=$(printf 'n\\377'); FE=$(printf 'n\\376'); ${cmd}`], { cwd, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

/** Reports of a compare in every presenter. */
function compare(a: string, b: string): { report: Report; json: Buffer; text: string; md: string; html: string; junit: string } {
  const out = (ext: string): string => join(dir, `r.${ext}`);
  const r = expectClean(runCapped([a, b, '--json', out('json'), '--markdown', out('md'), '--html', out('html'), '--junit', out('xml'), '--jobs', '1']));
  expect(r.status, r.stderr).toBe(1);
  const json = readFileSync(out('json'));
  return { report: JSON.parse(json.toString('utf8')) as Report, json, text: r.stdout, md: readFileSync(out('md'), 'utf8'), html: readFileSync(out('html'), 'utf8'), junit: readFileSync(out('xml'), 'utf8') };
}

/** The report is valid UTF-8 JSON with no lone surrogate, and the names in it are in their display form. */
function expectShown(r: ReturnType<typeof compare>): void {
  expect(Buffer.from(r.json.toString('utf8'), 'utf8').equals(r.json)).toBe(true);
  expect(r.json.toString('utf8')).not.toMatch(/\\ud[89a-f][0-9a-f]{2}|\ufffd/i);
  for (const shown of [r.text, r.md, r.html, r.junit]) {
    expect(shown).toContain('n\\xff');
    expect(shown).toContain('n\\xfe');
    expect(shown).not.toMatch(/\ufffd|[\udc80-\udcff]/);
  }
}

const archivers = [
  { name: 'tar', tool: 'tar', make: (from: string, to: string, order: string) => sh(from, `tar --format=gnu -cf '${to}' ${order}`) },
  { name: 'zip', tool: 'zip', make: (from: string, to: string, order: string) => sh(from, `zip -q -X '${to}' ${order}`) },
  { name: 'cpio', tool: 'cpio', make: (from: string, to: string, order: string) => sh(from, `printf '%s\\n' ${order} | cpio -o -H newc --quiet --reproducible > '${to}'`) },
];

describe('names that differ in one invalid byte', () => {
  for (const t of archivers) {
    it.skipIf(!hasTool(t.tool))(`${t.name}: paired by their bytes, so another order is an ordering, not a content change`, () => {
      const src = tree(`src-${t.name}`);
      const a = join(dir, `a.${t.name}`);
      const b = join(dir, `b.${t.name}`);
      t.make(src, a, '"$FF" "$FE"');
      t.make(src, b, '"$FE" "$FF"');
      const r = compare(a, b);
      const findings = r.report.findings;
      expect(findings.filter((f) => f.kind === 'content'), JSON.stringify(findings.map((f) => [f.path, f.kind, f.field, f.a, f.b]))).toEqual([]);
      expect(findings.some((f) => f.root && f.kind === 'ordering' && f.path === '/')).toBe(true);
      // a name with bytes that are not UTF-8: its display form, and its bytes in hex
      const withName = findings.filter((f) => f.path.startsWith('/n'));
      for (const f of withName) {
        expect(['/n\\xff', '/n\\xfe']).toContain(f.path);
        expect((f as unknown as { pathBytes: string }).pathBytes).toBe(f.path === '/n\\xff' ? '2f6eff' : '2f6efe');
      }
      expectShown(r);
    });
  }

  it.skipIf(!hasTool('tar'))('inspect lists both names with the bytes tar lists', () => {
    const a = join(dir, 'listed.tar');
    archivers[0]!.make(tree('src-listed'), a, '"$FF" "$FE"');
    const listing = spawnSync('tar', ['--quoting-style=literal', '-tf', a]).stdout;
    const names = listing.toString('latin1').split('\n').filter(Boolean);
    expect(names).toEqual(['n\xff', 'n\xfe']);
    const out = join(dir, 'inspect.json');
    const r = expectClean(runCapped(['inspect', a, '--json', out]));
    expect(r.status).toBe(0);
    const raw = readFileSync(out, 'utf8');
    const entries = (JSON.parse(raw) as InspectResult).entries as unknown as { path: string; pathBytes?: string }[];
    expect(entries.map((e) => Buffer.from(e.pathBytes ?? '', 'hex').toString('latin1'))).toEqual(names.map((n) => `/${n}`));
    expect(entries.map((e) => e.path)).toEqual(['/n\\xff', '/n\\xfe']);
    expect(r.stdout).toContain('/n\\xff');
  });

  it.skipIf(!hasTool('xorriso'))('ISO 9660 with Rock Ridge (xorriso keeps the bytes): each name keeps its own content', () => {
    const a = join(dir, 'a.iso');
    const b = join(dir, 'b.iso');
    for (const [iso, t] of [[a, tree('iso-a')], [b, tree('iso-b', true)]] as const) {
      const r = spawnSync('xorriso', ['-as', 'mkisofs', '-R', '-o', iso, t], { encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: '1000000' } });
      expect(r.status, r.stderr).toBe(0);
    }
    const r = compare(a, b);
    const content = r.report.findings.filter((f) => f.kind === 'content' && f.path.startsWith('/n'));
    expect(content.map((f) => [f.path, f.a, f.b]).sort()).toEqual([
      ['/n\\xfe', 'two', 'one'],
      ['/n\\xff', 'one', 'two'],
    ]);
    expectShown(r);
  });

  it('a folder compare refuses such a name clearly (exit 2), rather than failing to find the file', () => {
    const r = expectClean(runCapped([tree('fa'), tree('fb'), '--json', '-']));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/a name that is not valid UTF-8 \(n\\xf[ef]\): folder compares take UTF-8 names only/);
  });
});
