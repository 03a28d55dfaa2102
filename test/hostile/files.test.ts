/**
 * What the CLI touches on disk, traced with strace: it reads the two inputs (and its own code), writes only
 * the report paths it was given (each through a temporary file beside it, renamed into place), and creates,
 * renames or removes nothing else. Decoded data past --in-memory goes to files in TMPDIR that never have a
 * name.
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

/**
 * A write as the test expects it: `create NAME` for the temporary file a report is written to
 * (`.NAME.PID.RANDOM.tmp` in the report's folder, created exclusively, never following a link), `rename NAME`
 * for its rename into place; anything else as `call path`.
 */
function writeOf(c: Call, cwd: string): string {
  const tmp = (p: string): string | null => {
    const m = new RegExp(`^${cwd.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\.(.+)\\.\\d+\\.[0-9a-f]{8}\\.tmp$`).exec(p);
    return m ? m[1]! : null;
  };
  const name = tmp(c.path);
  if (name !== null && (c.call === 'open' || c.call === 'openat') && /O_CREAT/.test(c.flags) && /O_EXCL/.test(c.flags) && /O_NOFOLLOW/.test(c.flags)) return `create ${name}`;
  if (name !== null && /^rename/.test(c.call) && c.flags === `"${cwd}/${name}"`) return `rename ${name}`;
  return `${c.call} ${c.path}`;
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
    expect(writes.map((c) => writeOf(c, t.cwd)).sort()).toEqual(['create report.html', 'create report.json', 'create report.md', 'rename report.html', 'rename report.json', 'rename report.md']);
    const reads = t.calls.filter((c) => !writes.includes(c)).map((c) => c.path);
    expect(reads).toContain(a);
    expect(reads).toContain(b);
    // the reports' folder is listed, for temporary files that killed runs left
    expect(reads.filter((p) => p !== a && p !== b && p !== t.cwd && !isRuntime(p))).toEqual([]);
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
    expect(writes.filter((c) => !temps.includes(c)).map((c) => writeOf(c, t.cwd))).toEqual(['create report.json', 'rename report.json']);
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
    expect(writes.map((c) => writeOf(c, t.cwd))).toEqual(['create listing.json', 'rename listing.json']);
    expect(t.calls.filter((c) => !writes.includes(c)).map((c) => c.path).filter((p) => p !== a && p !== t.cwd && !isRuntime(p))).toEqual([]);
    expect(readdirSync(t.tmp)).toEqual([]);
  });
});
