/**
 * The committed sample pairs, compared and inspected by the built CLI, against reports committed under
 * test/fixtures/golden/. Any change to what the comparer finds, how findings are linked or how the report is
 * written shows here as a byte difference. Inputs are named by relative paths, so the reports are the same on
 * every checkout. After an intended change, rewrite them with `REPRODIFF_GOLDEN=write npx vitest run test/e2e/golden.test.ts`
 * and review the diff.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT } from '../helpers/cli.js';

const GOLDEN = join(ROOT, 'test/fixtures/golden');
const WRITE = process.env.REPRODIFF_GOLDEN === 'write';

const PAIRS = [
  ['basic', 'samples/basic-a.iso', 'samples/basic-b.iso'],
  ['order', 'samples/order-a.iso', 'samples/order-b.iso'],
  ['hybrid', 'samples/hybrid-a.iso', 'samples/hybrid-b.iso'],
  ['uki', 'samples/uki-a.efi', 'samples/uki-b.efi'],
] as const;

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', SOURCE_DATE_EPOCH: '', GITHUB_STEP_SUMMARY: '' },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function check(name: string, text: string): void {
  const file = join(GOLDEN, name);
  if (WRITE || !existsSync(file)) {
    if (!WRITE) throw new Error(`${name} is missing: write it with REPRODIFF_GOLDEN=write`);
    writeFileSync(file, text);
    return;
  }
  // compared as text, so a failure shows the lines that changed
  expect(text, name).toBe(readFileSync(file, 'utf8'));
}

describe.each(PAIRS)('%s pair', (name, a, b) => {
  it('writes the committed JSON report', () => {
    const json = run([a, b, '--json', '-', '-q']);
    expect(json.status, json.stderr).toBe(1);
    check(`${name}.json`, json.stdout);
  });

  it('lists the second build as committed', () => {
    const r = run(['inspect', b, '--json', '-']);
    expect(r.status, r.stderr).toBe(0);
    check(`${name}.inspect.json`, r.stdout);
  });
});
