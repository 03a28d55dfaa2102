/**
 * The package as npm users get it: `npm pack` on a fresh checkout (no dist/) builds through `prepack`, and the
 * tarball installed into a temporary prefix gives a working `reprodiff`. Also the LICENSE and the JSON
 * Schema in ajv's strict mode.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, SAMPLES } from '../helpers/cli.js';
import { run, scratch } from '../helpers/tools.js';

const w = scratch();
afterAll(w.cleanup);

function npm(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('npm pack', () => {
  const isGit = existsSync(join(ROOT, '.git'));

  it.skipIf(!isGit)('packs a built tool from a checkout without dist/, which installs and runs', (ctx) => {
    // a fresh checkout: the tracked (and new, not ignored) files, without dist/; node_modules as npm ci left it
    const src = join(w.dir, 'checkout');
    run('mkdir', [src]);
    const files = run('git', ['ls-files', '-co', '--exclude-standard'], { cwd: ROOT })
      .split('\n')
      .filter((f) => f !== '' && !f.startsWith('samples/') && existsSync(join(ROOT, f)));
    run('tar', ['-cf', join(w.dir, 'src.tar'), '-C', ROOT, ...files]);
    run('tar', ['-xf', join(w.dir, 'src.tar'), '-C', src]);
    expect(existsSync(join(src, 'dist'))).toBe(false);
    symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));

    const packed = npm(['pack', '--pack-destination', w.dir], src);
    expect(packed.status, packed.out).toBe(0);
    const tgz = readdirSync(w.dir).find((f) => f.endsWith('.tgz'));
    expect(tgz).toBeDefined();
    const listing = run('tar', ['-tzf', join(w.dir, tgz!)]).split('\n');
    expect(listing).toContain('package/dist/src/cli.js');
    expect(listing).toContain('package/dist/workers/tasks.js');
    expect(listing).toContain('package/LICENSE');
    expect(listing).toContain('package/schema/report.schema.json');

    // the dependencies come from npm's cache when they are there (npm ci put the tarballs in it)
    const prefix = join(w.dir, 'prefix');
    let installed = npm(['install', '-g', '--prefix', prefix, join(w.dir, tgz!), '--offline'], w.dir);
    if (installed.status !== 0) installed = npm(['install', '-g', '--prefix', prefix, join(w.dir, tgz!), '--prefer-offline'], w.dir);
    if (installed.status !== 0) {
      ctx.skip(`npm could not install the dependencies (offline, and no registry): ${installed.out.slice(0, 300)}`);
      return;
    }
    const bin = join(prefix, 'bin', 'reprodiff');
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    const cmp = spawnSync(bin, [`${SAMPLES}basic-a.iso`, `${SAMPLES}basic-b.iso`, '--json', '-'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(cmp.status, cmp.stderr).toBe(1);
    const report = JSON.parse(cmp.stdout) as { findings: { root: boolean }[]; bytes: { unexplained: number } };
    expect(report.findings.some((f) => f.root)).toBe(true);
    expect(report.bytes.unexplained).toBe(0);
  }, 300_000);
});

describe('package metadata', () => {
  it('has the MIT LICENSE that package.json names', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string };
    expect(pkg.license).toBe('MIT');
    const text = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
    expect(text).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the reprodiff authors\n/);
    expect(text).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
  });

  it("the report schema compiles in ajv's strict mode, without allowUnionTypes", () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schema/report.schema.json'), 'utf8')) as object;
    expect(() => new Ajv({ strict: true, allErrors: true }).compile(schema)).not.toThrow();
  });
});
