/** Shared checks for crafted hostile inputs: run the built CLI and demand a clean outcome. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import { BIN } from '../helpers/cli.js';

export interface Outcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI with a memory cap and a hard timeout, as the fuzzer does; `env` is added to the environment. */
export function runCapped(args: string[], timeoutMs = 30_000, env: NodeJS.ProcessEnv = {}): Outcome {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--max-old-space-size=512', BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', REPRODIFF_DEBUG: '', ...env },
    maxBuffer: 256 * 1024 * 1024,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: Date.now() - t0 };
}

const TRACE = /internal error|^\s+at .+[:(]\d+:\d+\)?$|(?:Type|Range|Reference)Error|FATAL ERROR|out of memory|Maximum call stack/m;

/**
 * Exit 0/1/2, no stack trace, within the time bound; on exit 2 a single-line `reprodiff: ...` message.
 * Returns the outcome for further checks.
 */
export function expectClean(r: Outcome, boundMs = 30_000): Outcome {
  expect(r.signal, `killed: ${r.stderr}`).toBeNull();
  expect([0, 1, 2], `exit ${r.status}: ${r.stderr}`).toContain(r.status);
  expect(r.stderr).not.toMatch(TRACE);
  expect(r.ms).toBeLessThan(boundMs);
  if (r.status === 2) {
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('reprodiff:'));
    expect(lines.length, r.stderr).toBe(1);
    expect(lines[0]!.length).toBeGreaterThan('reprodiff: '.length + 5);
  }
  return r;
}

const TIME = '/usr/bin/time';
/** Whether /usr/bin/time (GNU time, with -v) is there to measure a child's peak RSS. */
export const hasTime = existsSync(TIME);

export interface Measured {
  status: number | null;
  stdout: string;
  stderr: string;
  /** the child's peak RSS, as /usr/bin/time -v reports it */
  rssMb: number;
  /** wall time of the child in ms */
  ms: number;
}

/** Runs the built CLI under /usr/bin/time -v (and optionally a prefix such as prlimit) and reads its peak RSS. */
export function measured(args: string[], prefix: string[] = [], timeoutMs = 120_000): Measured {
  const cmd = [...prefix, TIME, '-v', process.execPath, BIN, ...args];
  const t0 = Date.now();
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', REPRODIFF_DEBUG: '' },
    maxBuffer: 64 * 1024 * 1024,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr ?? '');
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', rssMb: m ? Number(m[1]) / 1024 : Infinity, ms: Date.now() - t0 };
}
