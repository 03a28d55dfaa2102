/** Shared checks for crafted hostile inputs: run the built CLI and demand a clean outcome. */
import { spawnSync } from 'node:child_process';
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
