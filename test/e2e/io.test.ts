/**
 * The command line's input and output as a careless user or a hostile setup meets them: report paths checked
 * before any work, reports replaced whole (even when the run is killed while writing), stdout closed early,
 * commander's errors, inputs that are not regular files or change during the run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Ajv from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/types.js';
import { BIN, cli, ROOT, SAMPLES } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const A = `${SAMPLES}basic-a.iso`;
const B = `${SAMPLES}basic-b.iso`;

const w = scratch();
afterAll(w.cleanup);

let n = 0;
function dir(): string {
  const d = join(w.dir, `t${++n}`);
  mkdirSync(d);
  return d;
}

/** Runs the CLI with REPRODIFF_TRACE on, so the test can tell whether the comparison started. */
function traced(args: string[]): { status: number | null; stderr: string; compared: boolean } {
  const r = cli(args, { REPRODIFF_TRACE: '1' });
  return { status: r.status, stderr: r.stderr, compared: /lockstep pass done|first difference found/.test(r.stderr) };
}

interface Spawned {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

describe('report paths are checked before the comparison starts', () => {
  it('a report in a folder that does not exist fails at once, exit 2, naming it', () => {
    const r = traced([A, B, '--json', '/nonexistent-dir/r.json']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^reprodiff: --json \/nonexistent-dir\/r\.json: the folder \/nonexistent-dir: no such file$/m);
    expect(r.compared).toBe(false);
    for (const opt of ['--markdown', '--html', '--junit', '--text', '--github-summary']) {
      const s = traced([A, B, opt, '/nonexistent-dir/r']);
      expect(s.status, opt).toBe(2);
      expect(s.stderr).toContain(`${opt} /nonexistent-dir/r`);
      expect(s.compared).toBe(false);
    }
  });

  it('refuses a report path that is an input, also through a symbolic link or a hard link', () => {
    const d = dir();
    const a = join(d, 'a.iso');
    const b = join(d, 'b.iso');
    copyFileSync(A, a);
    copyFileSync(B, b);
    const before = readFileSync(b);
    symlinkSync(b, join(d, 'link.json'));
    run('ln', [b, join(d, 'hard.json')]);
    for (const target of [b, join(d, 'link.json'), join(d, 'hard.json'), join(d, '.', 'b.iso')]) {
      const r = traced([a, b, '--json', target]);
      expect(r.status, target).toBe(2);
      expect(r.stderr).toMatch(/is the input .*b\.iso; the report would overwrite it/);
      expect(r.compared).toBe(false);
    }
    const html = traced([a, b, '--html', a]);
    expect(html.status).toBe(2);
    expect(readFileSync(b).equals(before)).toBe(true);
  });

  it('refuses the same path for two reports, and stdout for two reports', () => {
    const d = dir();
    const same = traced([A, B, '--json', join(d, 'r'), '--html', join(d, 'r')]);
    expect(same.status).toBe(2);
    expect(same.stderr).toMatch(/--html .*r: also the path of --json/);
    expect(same.compared).toBe(false);
    // the same file by another spelling
    const other = traced([A, B, '--json', join(d, 'r'), '--markdown', join(d, '..', `t${n}`, 'r')]);
    expect(other.status).toBe(2);
    const stdout = traced([A, B, '--json', '-', '--markdown', '-']);
    expect(stdout.status).toBe(2);
    expect(stdout.stderr).toMatch(/--json and --markdown would all write to stdout/);
    expect(stdout.compared).toBe(false);
    const text = traced([A, B, '--json', '-', '--text', '-']);
    expect(text.status).toBe(2);
    expect(existsSync(join(d, 'r'))).toBe(false);
  });

  it('refuses a folder as a report path', () => {
    const d = dir();
    const r = traced([A, B, '--json', d]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--json .*: is a folder/);
  });

  it.skipIf(process.getuid?.() === 0)('refuses a folder it cannot write to', () => {
    const d = dir();
    run('chmod', ['555', d]);
    const r = traced([A, B, '--json', join(d, 'r.json')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot be written: permission denied/);
  });
});

describe('reports are replaced whole', () => {
  it('a symbolic link at the report path is replaced, not followed', () => {
    const d = dir();
    const victim = join(d, 'victim.txt');
    writeFileSync(victim, 'keep me\n');
    symlinkSync(victim, join(d, 'r.json'));
    const r = cli([A, B, '--json', join(d, 'r.json')]);
    expect(r.status, r.stderr).toBe(1);
    expect(readFileSync(victim, 'utf8')).toBe('keep me\n');
    expect(lstatSync(join(d, 'r.json')).isFile()).toBe(true);
    expect(JSON.parse(readFileSync(join(d, 'r.json'), 'utf8')).schemaVersion).toBe(1);
    expect(readdirSync(d).sort()).toEqual(['r.json', 'victim.txt']); // no temporary file left
  });

  it('a replaced report keeps its permissions; a device is written in place', () => {
    const d = dir();
    const p = join(d, 'r.md');
    writeFileSync(p, 'old\n', { mode: 0o640 });
    expect(cli([A, B, '--markdown', p]).status).toBe(1);
    expect(statSync(p).mode & 0o777).toBe(0o640);
    expect(readFileSync(p, 'utf8')).toMatch(/^## reprodiff report/);
    const r = cli([A, B, '--json', '/dev/null', '--html', '/dev/null']);
    expect(r.status).toBe(2); // the same path twice
    const ok = cli([A, B, '--json', '/dev/null']);
    expect(ok.status, ok.stderr).toBe(1);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    // a link to a device (as /dev/stdout is) is written through, not replaced
    symlinkSync('/dev/null', join(d, 'null-link'));
    const link = cli([A, B, '--json', join(d, 'null-link')]);
    expect(link.status, link.stderr).toBe(1);
    expect(lstatSync(join(d, 'null-link')).isSymbolicLink()).toBe(true);
    // through a shell's pipe (node's own child pipes are sockets, which /dev/stdout cannot reopen)
    const cmd = `"${process.execPath}" "${BIN}" --json /dev/stdout --text "${join(d, 'r.txt')}" "${A}" "${B}" | cat`;
    const stdout = spawnSync('bash', ['-c', cmd], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(stdout.stderr).toBe('');
    expect(JSON.parse(stdout.stdout).schemaVersion).toBe(1);
    expect(lstatSync('/dev/stdout').isSymbolicLink()).toBe(true);
  });

  /** A pair of tar archives whose every member differs, so the JSON report is several megabytes. */
  function bigPair(d: string): [string, string] {
    const script = [
      'import io, sys, tarfile',
      'for side in "ab":',
      '    with tarfile.open(sys.argv[1] + "/" + side + ".tar", "w", format=tarfile.USTAR_FORMAT) as t:',
      '        for i in range(1000):',
      '            data = ("member %d of build %s " % (i, side) * 8).encode()',
      '            ti = tarfile.TarInfo("d%d/f%d.txt" % (i // 100, i))',
      '            ti.size, ti.mtime, ti.mode = len(data), 1700000000, 0o644',
      '            t.addfile(ti, io.BytesIO(data))',
    ].join('\n');
    run('python3', ['-c', script, d]);
    return [join(d, 'a.tar'), join(d, 'b.tar')];
  }

  /**
   * Runs a compare that writes `report`, and kills it with SIGKILL as soon as anything in the report's
   * folder changes (`atOnce`), or after `delayMs`. `sizes` are the sizes of the report seen meanwhile.
   */
  function killed(args: string[], folder: string, report: string, when: { atOnce: true } | { delayMs: number }): Promise<Spawned & { sizes: number[] }> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      const sizes = new Set<number>();
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (status, signal) => done({ status, signal, stdout: '', stderr, sizes: [...sizes] }));
      if ('delayMs' in when) {
        setTimeout(() => child.kill('SIGKILL'), when.delayMs);
        return;
      }
      const state = (): string => {
        const st = statSync(report, { throwIfNoEntry: false });
        if (st) sizes.add(st.size);
        return `${readdirSync(folder).join('/')}|${st?.size}|${st?.mtimeMs}`;
      };
      const initial = state();
      const poll = (): void => {
        // a tight loop once the child runs, so the kill lands while the report is being written
        const until = Date.now() + 100;
        while (Date.now() < until) {
          if (child.exitCode !== null) return;
          if (state() !== initial) {
            child.kill('SIGKILL');
            return;
          }
        }
        setImmediate(poll);
      };
      poll();
    });
  }

  it.skipIf(!hasTool('python3'))('a run killed while it writes a big report leaves the old report or the new one, whole', async () => {
    const d = dir();
    const [a, b] = bigPair(d);
    const out = join(d, 'out');
    mkdirSync(out);
    const report = join(out, 'r.json');
    const full = cli([a, b, '--json', report]);
    expect(full.status, full.stderr).toBe(1);
    const fresh = readFileSync(report, 'latin1');
    expect(fresh.length).toBeGreaterThan(1_000_000);
    const old = '{"schemaVersion":1,"old":true}\n';
    const outcomes: string[] = [];
    for (const when of [{ atOnce: true } as const, { atOnce: true } as const, { delayMs: 700 }]) {
      writeFileSync(report, old);
      const r = await killed([a, b, '--json', report], out, report, when);
      // a reader looking while the report was written saw one of the two, never a part
      for (const size of r.sizes) expect([old.length, fresh.length], `a report of ${size} bytes was seen`).toContain(size);
      const now = readFileSync(report, 'latin1');
      expect(now === old || now === fresh, `report after ${JSON.stringify(when)}: ${now.length} bytes`).toBe(true);
      outcomes.push(r.signal === 'SIGKILL' ? (now === old ? 'old' : 'new') : `exit ${r.status}`);
    }
    expect(outcomes[0]).toBe('old'); // killed at the first change in the folder: the temporary file
    // the next run removes what the killed ones left
    expect(cli([a, b, '--json', report]).status).toBe(1);
    expect(readdirSync(out)).toEqual(['r.json']);
    expect(readFileSync(report, 'latin1')).toBe(fresh);
  }, 120_000);
});

describe('stdout closed by its reader', () => {
  function closedStdout(args: string[]): Promise<Spawned> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      // the reader goes away at once, as `head -c 10` does after its ten bytes
      child.stdout.destroy();
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (status, signal) => done({ status, signal, stdout: '', stderr }));
    });
  }

  it('ends quietly with the status of the comparison', async () => {
    const differs = await closedStdout(['--json', '-', A, B]);
    expect(differs.stderr).toBe('');
    expect(differs.status).toBe(1);
    const same = await closedStdout(['--json', '-', A, A]);
    expect(same.stderr).toBe('');
    expect(same.status).toBe(0);
    const text = await closedStdout([A, B]);
    expect(text.stderr).toBe('');
    expect(text.status).toBe(1);
  });

  it('through a real pipe into head', () => {
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" --json - "${A}" "${B}" | head -c 10; exit \${PIPESTATUS[0]}`], { encoding: 'utf8' });
    expect(r.stdout).toBe('{\n  "schem');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
  });
});

describe("commander's errors in the tool's voice", () => {
  it('an unknown option, a missing argument, a bad value: reprodiff: …, exit 2', () => {
    const unknown = cli(['--bogus', A, B]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toBe("reprodiff: unknown option '--bogus'; see reprodiff --help\n");
    const typo = cli(['--jsn', 'x', A, B]);
    expect(typo.stderr).toBe("reprodiff: unknown option '--jsn' (did you mean --json?); see reprodiff --help\n");
    const missing = cli([A]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe("reprodiff: missing required argument 'b'; see reprodiff --help\n");
    const value = cli(['--jobs', 'x', A, B]);
    expect(value.status).toBe(2);
    expect(value.stderr).toMatch(/^reprodiff: option '-j, --jobs <n>' argument 'x' is invalid/);
    const sub = cli(['inspect', '--bogus', A]);
    expect(sub.status).toBe(2);
    expect(sub.stderr).toMatch(/^reprodiff: unknown option '--bogus'/);
    const extra = cli([A, B, A]);
    expect(extra.status).toBe(2);
    expect(extra.stderr).toMatch(/^reprodiff: too many arguments/);
  });

  it('--help lists the exit statuses', () => {
    const r = cli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Exit status:\n  0  identical.*\n  1  different.*\n(?: {5}.*\n)*  2  trouble/);
  });
});

describe('inputs that are not regular files', () => {
  /** Runs the CLI with a time limit; `ms` is how long it took. */
  function timed(args: string[]): { status: number | null; stderr: string; ms: number } {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, NO_COLOR: '1' } });
    return { status: r.status, stderr: r.stderr, ms: Date.now() - t0 };
  }

  it('two FIFOs exit 2 at once', () => {
    const d = dir();
    run('mkfifo', [join(d, 'a'), join(d, 'b')]);
    const r = timed([join(d, 'a'), join(d, 'b')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`reprodiff: ${join(d, 'a')}: not a regular file (a FIFO)\n`);
    expect(r.ms).toBeLessThan(10_000);
    const inspect = timed(['inspect', join(d, 'b')]);
    expect(inspect.status).toBe(2);
    expect(inspect.stderr).toMatch(/not a regular file \(a FIFO\)/);
  });

  it('a socket, a character device and a folder', async () => {
    const d = dir();
    const sock = join(d, 's');
    const server = createServer();
    await new Promise<void>((ok) => server.listen(sock, ok));
    try {
      const r = timed([A, sock]);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`reprodiff: ${sock}: not a regular file (a socket)\n`);
    } finally {
      server.close();
    }
    const zero = timed(['/dev/zero', A]);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toBe('reprodiff: /dev/zero: not a regular file (a character device)\n');
    const folder = timed([d, A]);
    expect(folder.status).toBe(2);
    expect(folder.stderr).toBe(`reprodiff: ${d}: is a folder and ${A} is a file; reprodiff compares two files or two folders\n`);
    const missing = timed([join(d, 'nothing'), A]);
    expect(missing.stderr).toBe(`reprodiff: ${join(d, 'nothing')}: no such file\n`);
  });
});

describe('inputs that change during the run', () => {
  /** Runs a compare while `change` is applied to its input every 5 ms, until the run ends. */
  function whileChanging(args: string[], change: () => void): Promise<Spawned> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setInterval(change, 5);
      child.on('exit', (status, signal) => {
        clearInterval(timer);
        done({ status, signal, stdout, stderr });
      });
    });
  }

  it('an input that grows: exit 2 naming it, and no report written', async () => {
    const d = dir();
    const b = join(d, 'b.iso');
    copyFileSync(B, b);
    const report = join(d, 'r.json');
    const r = await whileChanging([A, b, '--json', report], () => appendFileSync(b, Buffer.alloc(512, 1)));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^reprodiff: ${b.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: changed while it was compared \\(its size went from \\d+ to \\d+ bytes`));
    expect(existsSync(report)).toBe(false);
  });

  it('an input whose modification time changes', async () => {
    const d = dir();
    const a = join(d, 'a.iso');
    copyFileSync(A, a);
    let t = 1_600_000_000;
    const r = await whileChanging([a, B], () => utimesSync(a, t, ++t));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/a\.iso: changed while it was compared \(its modification time changed\)/);
  });

  it('an unchanged input is not flagged (the check costs no false alarm)', () => {
    const r = cli([A, B, '--sha256', '--json', '-']);
    expect(r.status, r.stderr).toBe(1);
  });
});

describe('--text and --color', () => {
  const ESC = '\x1b[';

  it('--text FILE writes the terminal report there, without colour, and nothing on stdout', () => {
    const d = dir();
    const p = join(d, 'r.txt');
    const r = cli([A, B, '--text', p], { FORCE_COLOR: '1', NO_COLOR: '' });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    const text = readFileSync(p, 'utf8');
    expect(text).toMatch(/^reprodiff: differs: \d+ root causes?/);
    expect(text).not.toContain(ESC);
    // the same report as on stdout
    expect(cli([A, B]).stdout).toBe(text);
    const always = cli([A, B, '--text', p, '--color', 'always']);
    expect(always.status).toBe(1);
    expect(readFileSync(p, 'utf8')).toContain(ESC);
    const dash = cli([A, B, '--text', '-', '--json', p]);
    expect(dash.stdout).toBe(text);
  });

  it('--color always, never and auto with NO_COLOR and FORCE_COLOR', () => {
    expect(cli([A, B, '--color', 'always']).stdout).toContain(ESC); // NO_COLOR=1 is set by cli()
    expect(cli([A, B, '--color', 'never'], { FORCE_COLOR: '1', NO_COLOR: '' }).stdout).not.toContain(ESC);
    expect(cli([A, B, '--no-color'], { FORCE_COLOR: '1', NO_COLOR: '' }).stdout).not.toContain(ESC);
    expect(cli([A, B, '--color', 'auto'], { FORCE_COLOR: '1', NO_COLOR: '' }).stdout).toContain(ESC);
    expect(cli([A, B, '--color', 'auto'], { FORCE_COLOR: '', NO_COLOR: '1' }).stdout).not.toContain(ESC);
    expect(cli([A, B], { FORCE_COLOR: '', NO_COLOR: '' }).stdout).not.toContain(ESC); // not a terminal
    const bad = cli([A, B, '--color', 'sometimes']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^reprodiff: option '--color <when>' argument 'sometimes' is invalid/);
  });

  it.skipIf(!hasTool('script'))('--color auto colours a terminal (through script)', () => {
    const cmd = `"${process.execPath}" "${BIN}" --color auto "${A}" "${B}"`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', TERM: 'xterm' } });
    expect(r.stdout).toContain(ESC);
  });
});

describe('--max-report-size', () => {
  const schema = JSON.parse(readFileSync(join(ROOT, 'schema/report.schema.json'), 'utf8')) as object;
  const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
  const full = (): Report => JSON.parse(cli([A, B, '--json', '-']).stdout) as Report;

  it('a report within the size is written byte for byte as without the option', () => {
    const plain = cli([A, B, '--json', '-']).stdout;
    const within = cli([A, B, '--json', '-', '--max-report-size', String(Buffer.byteLength(plain))]);
    expect(within.status).toBe(1);
    expect(within.stdout).toBe(plain);
  });

  it('a larger one leaves out details, then derived findings, then roots; says so; keeps the totals exact', () => {
    const all = full();
    const fullIds = new Map(all.findings.map((f) => [f.id, f]));
    let last = Infinity;
    for (const max of [100_000, 40_000, 10_000]) {
      const r = cli([A, B, '--json', '-', '--max-report-size', String(max)]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toBe('');
      expect(Buffer.byteLength(r.stdout)).toBeLessThanOrEqual(max);
      const cut = JSON.parse(r.stdout) as Report;
      expect(validate(cut), JSON.stringify(validate.errors)).toBe(true);
      expect(cut.bytes).toEqual(all.bytes);
      expect(cut.causes).toEqual(all.causes);
      expect(cut.omitted?.maxReportSize).toBe(max);
      const o = cut.omitted!;
      expect(cut.findings.length).toBe(all.findings.length - o.derivedFindings - o.rootFindings);
      expect(cut.notes.at(-1)).toMatch(new RegExp(`^this JSON report was cut to fit --max-report-size ${max}: it leaves out .*bytes and causes still count every finding$`));
      // what is kept is the full report's findings, in order, less their details at most
      for (const f of cut.findings) {
        const { detail: _d, ...rest } = fullIds.get(f.id)!;
        const { detail: _e, ...kept } = f;
        expect(kept).toEqual(rest);
      }
      // roots go last
      if (o.rootFindings > 0) expect(o.derivedFindings).toBe(all.findings.filter((f) => !f.root).length);
      expect(cut.findings.length).toBeLessThan(last);
      last = cut.findings.length;
    }
  });

  it('a size smaller than the report without findings: the smallest report, and a warning', () => {
    const r = cli([A, B, '--json', '-', '--max-report-size', '100']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^reprodiff: --max-report-size 100: the JSON report is \d+ bytes even without findings\n$/);
    const cut = JSON.parse(r.stdout) as Report;
    expect(cut.findings).toEqual([]);
    expect(cut.bytes).toEqual(full().bytes);
  });
});
