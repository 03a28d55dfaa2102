/**
 * A bug says it is one: exit 2, `internal error while reading <structure> at <offset>: <message> — please
 * report`, the stack only with REPRODIFF_DEBUG. A format with a planted TypeError is put in the registry for
 * the length of the test.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { ReprodiffError } from '../../src/errors.js';
import { FORMATS } from '../../src/formats/index.js';
import type { Format } from '../../src/model.js';
import { ProgressLine, progressLine } from '../../src/progress.js';
import { scratch } from '../helpers/tools.js';

const w = scratch();
const registry = FORMATS as Format[];
const buggy: Format = {
  name: 'tar',
  exclusive: true,
  detect: (src) => (src.size >= 8 && String.fromCharCode(...src.read(0, 8)) === 'BUGGY!!!' ? 1000 : 0),
  open(src) {
    const missing = undefined as unknown as { entries: unknown[] };
    void missing.entries.length; // TypeError: a bug in the reader
    throw new ReprodiffError('E_FORMAT', 'unreachable', { file: src.name });
  },
};

beforeAll(() => {
  registry.unshift(buggy);
  writeFileSync(join(w.dir, 'a.img'), Buffer.concat([Buffer.from('BUGGY!!!'), Buffer.alloc(4096, 1)]));
  writeFileSync(join(w.dir, 'b.img'), Buffer.concat([Buffer.from('BUGGY!!!'), Buffer.alloc(4096, 2)]));
});
afterAll(() => {
  registry.splice(registry.indexOf(buggy), 1);
  w.cleanup();
});

async function runMain(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  try {
    const code = await main(args);
    return { code, stderr };
  } finally {
    spy.mockRestore();
  }
}

describe('an internal error', () => {
  afterEach(() => {
    delete process.env.REPRODIFF_DEBUG;
  });

  it('exits 2 with the structure, the offset and "please report", and no stack', async () => {
    for (const args of [
      [join(w.dir, 'a.img'), join(w.dir, 'b.img'), '-q', '-j', '1'],
      ['inspect', join(w.dir, 'a.img'), '--no-hash'],
    ]) {
      const r = await runMain(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^reprodiff: internal error while reading .*a\.img as tar at offset 0 \(0x0\): Cannot read properties of undefined .* — please report\n$/);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it('prints its stack with REPRODIFF_DEBUG=1', async () => {
    process.env.REPRODIFF_DEBUG = '1';
    const r = await runMain(['inspect', join(w.dir, 'a.img'), '--no-hash']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^\s+at .*internal\.test\.ts/m);
  });
});

describe('the progress line', () => {
  const p = { phase: 'pass' as const, bytesDone: 50 << 20, bytesTotal: 200 << 20, entries: 0, decodedBytes: 0 };

  it('moves with the pass and gives an ETA, then counts entries and decoded bytes', () => {
    expect(progressLine(p, 1)).toBe('comparing bytes: 25% (50 MiB of 200 MiB, 50 MiB/s, ETA 3 s)');
    expect(progressLine({ ...p, bytesDone: 100 << 20 }, 1)).toMatch(/^comparing bytes: 50% /);
    expect(progressLine({ ...p, phase: 'compare', bytesDone: p.bytesTotal, entries: 2048, decodedBytes: 3 << 20 }, 2)).toBe('comparing entries: 2048 entries, 3.0 MiB decoded (1024 entries/s)');
  });

  it('draws only on a terminal, not with -q, and clears itself', () => {
    const out: string[] = [];
    const tty = { isTTY: true, columns: 100, write: (s: string) => out.push(s) };
    let t = 0;
    const line = new ProgressLine(tty, false, () => t);
    line.update(p);
    t = 50;
    line.update({ ...p, bytesDone: 60 << 20 }); // within 100 ms: not drawn
    t = 200;
    line.update({ ...p, bytesDone: 70 << 20 });
    line.done();
    expect(out).toHaveLength(3);
    expect(out[1]).toMatch(/^\rcomparing bytes: 35%/);
    expect(out[2]).toMatch(/^\r +\r$/);
    const quiet: string[] = [];
    new ProgressLine({ isTTY: true, write: (s: string) => quiet.push(s) }, true).update(p);
    new ProgressLine({ isTTY: false, write: (s: string) => quiet.push(s) }, false).update(p);
    expect(quiet).toEqual([]);
  });
});
