/**
 * What the CLI touches on disk, traced with strace: it reads the two inputs (and its own code), writes only
 * the report paths it was given, and creates, renames or removes nothing else. Decoded data past --in-memory
 * goes to files in TMPDIR that never have a name.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, SAMPLES } from '../helpers/cli.js';
import { hasTool, scratch } from '../helpers/tools.js';

const { dir, cleanup } = scratch('reprodiff-files-');
afterAll(() => cleanup());

interface Call {
  call: string;
  path: string;
  flags: string;
}

/** Runs the CLI under strace in an empty working folder, with an empty HOME and TMPDIR. */
function traced(args: string[], name: string): { status: number | null; calls: Call[]; cwd: string; tmp: string; home: string } {
  const cwd = join(dir, name);
  const tmp = join(cwd, '..', `${name}-tmp`);
  const home = join(cwd, '..', `${name}-home`);
  for (const d of [cwd, tmp, home]) mkdirSync(d, { recursive: true });
  const log = join(dir, `${name}.strace`);
  const r = spawnSync(
    'strace',
    ['-f', '-qq', '-o', log, '-e', 'trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,truncate,symlink,symlinkat,link,linkat', process.execPath, BIN, ...args],
    { cwd, env: { ...process.env, TMPDIR: tmp, HOME: home, NO_COLOR: '1' }, encoding: 'utf8' },
  );
  const calls: Call[] = [];
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const m = /^\d+\s+(\w+)\((?:AT_FDCWD, |\d+, )?"([^"]*)"(?:, ([^)]*))?\)\s*=\s*(-?\d+)/.exec(line);
    if (!m || Number(m[4]) < 0) continue; // failed calls (a missing module path probed) touch nothing
    calls.push({ call: m[1]!, path: m[2]!, flags: m[3] ?? '' });
  }
  return { status: r.status, calls, cwd, tmp, home };
}

/** Files a node process reads to run at all: its own code, libraries, system configuration. */
function isRuntime(path: string): boolean {
  return (
    path.startsWith(`${ROOT}bin/`) ||
    path.startsWith(`${ROOT}dist/`) ||
    path.startsWith(`${ROOT}node_modules/`) ||
    path === `${ROOT}package.json` ||
    path === process.execPath ||
    /^\/(etc|usr|lib|lib64|proc|sys|dev)\//.test(path)
  );
}

describe.skipIf(!hasTool('strace'))('files touched', () => {
  it('compare reads the two inputs, writes only its report paths', () => {
    const a = join(SAMPLES, 'hybrid-a.iso');
    const b = join(SAMPLES, 'hybrid-b.iso');
    const t = traced([a, b, '--json', 'report.json', '--markdown', 'report.md', '--html', 'report.html'], 'compare');
    expect(t.status).toBe(1);
    const writes = t.calls.filter((c) => c.call !== 'open' && c.call !== 'openat' ? true : /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(c.flags));
    expect(writes.map((c) => `${c.call} ${c.path}`).sort()).toEqual(['openat report.html', 'openat report.json', 'openat report.md']);
    const reads = t.calls.filter((c) => !writes.includes(c)).map((c) => c.path);
    expect(reads).toContain(a);
    expect(reads).toContain(b);
    expect(reads.filter((p) => p !== a && p !== b && !isRuntime(p))).toEqual([]);
    expect(readdirSync(t.cwd).sort()).toEqual(['report.html', 'report.json', 'report.md']);
    expect(readdirSync(t.tmp)).toEqual([]);
    expect(readdirSync(t.home)).toEqual([]);
  });

  it('decoded data past --in-memory goes to unnamed files in TMPDIR, and nothing is left there', () => {
    const a = join(SAMPLES, 'uki-a.efi');
    const b = join(SAMPLES, 'uki-b.efi');
    const t = traced([a, b, '--in-memory', '0', '--json', 'report.json'], 'spill');
    expect(t.status).toBe(1);
    const writes = t.calls.filter((c) => c.call !== 'open' && c.call !== 'openat' ? true : /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(c.flags));
    const temps = writes.filter((c) => c.path === t.tmp);
    // the zstd initrd of each side, decoded into a file that never has a name
    expect(temps.length).toBe(2);
    for (const c of temps) expect(c.flags).toMatch(/O_TMPFILE/);
    expect(writes.filter((c) => !temps.includes(c)).map((c) => `${c.call} ${c.path}`)).toEqual(['openat report.json']);
    expect(readdirSync(t.tmp)).toEqual([]);
    expect(readdirSync(t.cwd)).toEqual(['report.json']);
    // the same report as with everything in memory
    const inMemory = traced([a, b, '--json', 'report.json'], 'in-memory');
    const strip = (dirName: string): unknown => {
      const r = JSON.parse(readFileSync(join(dirName, 'report.json'), 'utf8')) as Record<string, unknown>;
      delete r.inputs;
      return r;
    };
    expect(strip(t.cwd)).toEqual(strip(inMemory.cwd));
  });

  it('inspect reads its input and writes nothing but its JSON', () => {
    const a = join(SAMPLES, 'uki-a.efi');
    const t = traced(['inspect', a, '--json', 'listing.json'], 'inspect');
    expect(t.status).toBe(0);
    const writes = t.calls.filter((c) => c.call !== 'open' && c.call !== 'openat' ? true : /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(c.flags));
    expect(writes.map((c) => `${c.call} ${c.path}`)).toEqual(['openat listing.json']);
    expect(t.calls.map((c) => c.path).filter((p) => p !== a && p !== 'listing.json' && !isRuntime(p))).toEqual([]);
    expect(readdirSync(t.tmp)).toEqual([]);
  });
});
