/**
 * The GitHub Action (action.yml): its structure, and its shell steps run here as the runner runs them (bash
 * --noprofile --norc -eo pipefail, `${{ … }}` expressions substituted, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and
 * RUNNER_TEMP set) on the sample pair: the summary gets the Markdown report, the step fails with 1 on a new
 * root cause and passes with a baseline that already has them, and trouble is 2.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/types.js';
import { cli, ROOT } from '../helpers/cli.js';
import { hasTool, scratch } from '../helpers/tools.js';
import { parseYaml } from '../helpers/yaml.js';

const w = scratch();
afterAll(w.cleanup);

interface Step {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  with?: Record<string, string | number>;
  shell?: string;
  run?: string;
  env?: Record<string, string>;
}
interface Action {
  name: string;
  inputs: Record<string, { required?: boolean; default?: string }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: Step[] };
}

/** action.yml as data, through PyYAML when it is installed. */
function pyyaml(file: string): unknown {
  const r = spawnSync('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', file], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

const hasPyyaml = hasTool('python3') && spawnSync('python3', ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0;

/** action.yml as data: read by the small reader of test/helpers/yaml.ts (checked against PyYAML below). */
function loadAction(): Action {
  return parseYaml(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as unknown as Action;
}

/** The outcome of running the action's steps in order, as the runner would. */
interface Run {
  /** the exit status of the step that failed (0 when none did) */
  status: number;
  summary: string;
  outputs: Record<string, Record<string, string>>;
  skipped: string[];
  log: string;
  reportDir: string;
}

function runAction(action: Action, inputs: Record<string, string>, name: string): Run {
  const temp = join(w.dir, name);
  mkdirSync(temp, { recursive: true });
  const summary = join(temp, 'step-summary.md');
  writeFileSync(summary, '');
  const outputs: Record<string, Record<string, string>> = {};
  const skipped: string[] = [];
  let log = '';
  const withDefaults: Record<string, string> = {};
  for (const [k, v] of Object.entries(action.inputs)) withDefaults[k] = inputs[k] ?? v.default ?? '';
  /** `${{ … }}` as the runner expands it, for the expressions the action uses */
  const expand = (s: string): string =>
    s.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
      let m = /^inputs\.([\w-]+)$/.exec(expr);
      if (m) return withDefaults[m[1]!] ?? '';
      m = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expr);
      if (m) return outputs[m[1]!]?.[m[2]!] ?? '';
      if (expr === 'github.action_path') return ROOT;
      throw new Error(`an expression the test does not know: ${expr}`);
    });
  /** the `if:` conditions the action uses */
  const holds = (cond: string | undefined, failed: boolean): boolean => {
    if (cond === undefined) return !failed;
    const c = cond.replace(/^always\(\)\s*&&\s*/, '');
    const always = c !== cond;
    const m = /^steps\.([\w-]+)\.outputs\.([\w-]+)\s*(!=|==)\s*'([^']*)'$/.exec(c);
    if (!m) throw new Error(`a condition the test does not know: ${cond}`);
    const v = outputs[m[1]!]?.[m[2]!] ?? '';
    return (always || !failed) && (m[3] === '==' ? v === m[4] : v !== m[4]);
  };
  let status = 0;
  for (const [i, step] of action.runs.steps.entries()) {
    if (!holds(step.if, status !== 0)) {
      skipped.push(step.name ?? `step ${i}`);
      continue;
    }
    if (step.uses) {
      // actions from the marketplace are not run here; their use is checked separately
      skipped.push(step.name ?? step.uses);
      continue;
    }
    const out = join(temp, `output-${i}`);
    writeFileSync(out, '');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: process.env.TMPDIR,
      GITHUB_OUTPUT: out,
      GITHUB_STEP_SUMMARY: summary,
      GITHUB_ACTION_PATH: ROOT,
      RUNNER_TEMP: temp,
      NO_COLOR: '1',
    };
    for (const [k, v] of Object.entries(step.env ?? {})) env[k] = expand(String(v));
    const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', expand(step.run!)], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
    log += r.stdout + r.stderr;
    if (step.id) {
      const kv: Record<string, string> = {};
      for (const line of readFileSync(out, 'utf8').split('\n')) {
        const at = line.indexOf('=');
        if (at > 0) kv[line.slice(0, at)] = line.slice(at + 1);
      }
      outputs[step.id] = kv;
    }
    if (r.status !== 0) {
      status = r.status ?? 99;
      log += `\n(step ${step.name} exited ${status})\n`;
    }
  }
  return { status, summary: readFileSync(summary, 'utf8'), outputs, skipped, log, reportDir: outputs.compare?.['report-dir'] ?? '' };
}

describe('the GitHub Action', () => {
  it.skipIf(!hasPyyaml)('action.yml and the example workflow read the same with PyYAML as with the small reader the tests use', () => {
    expect(loadAction()).toEqual(pyyaml(join(ROOT, 'action.yml')));
    // PyYAML reads YAML 1.1, where the workflow's `on` key is the boolean true; GitHub reads it as `on`
    const example = pyyaml(join(ROOT, 'docs/ci-example.yml')) as Record<string, unknown>;
    const { true: on, ...rest } = example;
    expect(parseYaml(readFileSync(join(ROOT, 'docs/ci-example.yml'), 'utf8'))).toEqual({ ...rest, on });
  });

  it('the example workflow uses the action with its inputs, and keeps the report as the next baseline', () => {
    const wf = parseYaml(readFileSync(join(ROOT, 'docs/ci-example.yml'), 'utf8')) as { jobs: Record<string, { steps: Step[] }> };
    const steps = Object.values(wf.jobs)[0]!.steps;
    const compare = steps.find((s) => s.uses?.endsWith('/reprodiff@v0'))!;
    expect(compare.uses).toBe('<owner>/reprodiff@v0');
    expect(compare.id).toBe('compare');
    const inputs = Object.keys(loadAction().inputs);
    for (const k of Object.keys(compare.with ?? {})) expect(inputs, k).toContain(k);
    expect(compare.with?.baseline).toBe('previous.json');
    expect(steps.find((s) => s.name === 'Save this report as the next baseline')?.run).toContain('${{ steps.compare.outputs.report-dir }}/reprodiff.json');
    expect(readFileSync(join(ROOT, 'docs/ci-example.yml'), 'utf8')).toMatch(/# Replace <owner> with the account that hosts reprodiff/);
  });

  it('is a composite action with the inputs, outputs and steps it documents', () => {
    const action = loadAction();
    expect(action.runs.using).toBe('composite');
    expect(Object.keys(action.inputs)).toEqual(['a', 'b', 'baseline', 'args', 'report-name']);
    expect(action.inputs.a!.required).toBe(true);
    expect(action.inputs.b!.required).toBe(true);
    expect(Object.keys(action.outputs)).toEqual(['status', 'report-dir']);
    const uses = action.runs.steps.filter((s) => s.uses).map((s) => s.uses);
    expect(uses).toEqual(['actions/setup-node@v4', 'actions/upload-artifact@v4']);
    const setup = action.runs.steps.find((s) => s.uses?.startsWith('actions/setup-node'))!;
    expect(setup.with?.['node-version']).toBe(20);
    const upload = action.runs.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))!;
    expect(upload.if).toContain('always()');
    expect(upload.with?.path).toBe('${{ steps.compare.outputs.report-dir }}');
    expect(upload.with?.name).toBe('${{ inputs.report-name }}');
    // every run step says its shell (a composite action must), and takes inputs through env, never inline
    for (const s of action.runs.steps.filter((x) => x.run)) {
      expect(s.shell, s.name).toBe('bash');
      expect(s.run, s.name).not.toMatch(/\$\{\{/);
    }
  });

  it('without a baseline: the summary gets the Markdown report, the reports are kept, the step fails with 1', () => {
    const action = loadAction();
    const r = runAction(action, { a: 'samples/hybrid-a.iso', b: 'samples/hybrid-b.iso' }, 'no-baseline');
    expect(r.status, r.log).toBe(1);
    expect(r.outputs.node?.ok).toBe('true');
    expect(r.skipped).toEqual(['Set up Node.js 20', 'Upload the reports']);
    expect(r.outputs.compare?.status).toBe('1');
    expect(r.summary).toContain('## reprodiff: reproducibility check');
    expect(r.summary).toContain('### What to fix');
    for (const f of ['reprodiff.json', 'reprodiff.html', 'reprodiff.md']) expect(existsSync(join(r.reportDir, f)), f).toBe(true);
    const report = JSON.parse(readFileSync(join(r.reportDir, 'reprodiff.json'), 'utf8')) as Report;
    expect(report.findings.some((f) => f.root)).toBe(true);
    expect(r.log).toContain('::error::reprodiff: the builds differ');
  });

  it('with a baseline that already has every root cause: the step passes; a baseline not made yet is skipped', () => {
    const action = loadAction();
    const baseline = join(w.dir, 'baseline.json');
    const made = cli(['samples/hybrid-a.iso', 'samples/hybrid-b.iso', '--json', baseline, '-q']);
    expect(made.status, made.stderr).toBe(1);
    const r = runAction(action, { a: 'samples/hybrid-a.iso', b: 'samples/hybrid-b.iso', baseline }, 'baseline');
    expect(r.status, r.log).toBe(0);
    expect(r.outputs.compare?.status).toBe('0');
    expect(r.summary).toContain('## reprodiff: reproducibility check');
    expect(r.log).toContain('Compared with the baseline: 0 new root causes');
    // the first night: no baseline yet, every root cause is new
    const first = runAction(action, { a: 'samples/hybrid-a.iso', b: 'samples/hybrid-b.iso', baseline: join(w.dir, 'none.json') }, 'first');
    expect(first.status, first.log).toBe(1);
    expect(first.log).toContain('::notice::reprodiff: no baseline report at');
  });

  it('args reach reprodiff; trouble is 2, said in the summary', () => {
    const action = loadAction();
    const args = ['--exclude', '*', '--sha256'];
    const direct = cli(['samples/hybrid-a.iso', 'samples/hybrid-b.iso', ...args, '--json', '-', '-q']);
    const excluded = runAction(action, { a: 'samples/hybrid-a.iso', b: 'samples/hybrid-b.iso', args: args.join(' '), 'report-name': 'all-excluded' }, 'args');
    expect(excluded.status, excluded.log).toBe(direct.status);
    const report = JSON.parse(readFileSync(join(excluded.reportDir, 'reprodiff.json'), 'utf8')) as Report;
    // the glob reached reprodiff as it was written, not expanded by the shell
    expect(report.excluded?.patterns).toEqual(['*']);
    expect(report.inputs.every((i) => /^[0-9a-f]{64}$/.test(i.sha256 ?? ''))).toBe(true);
    expect(report.findings).toEqual((JSON.parse(direct.stdout) as Report).findings);
    expect(excluded.reportDir.endsWith('all-excluded')).toBe(true);
    const trouble = runAction(action, { a: 'samples/no-such.iso', b: 'samples/hybrid-b.iso' }, 'trouble');
    expect(trouble.status, trouble.log).toBe(2);
    expect(trouble.summary).toContain('## reprodiff: trouble (exit 2)');
    expect(trouble.summary).toContain('no-such.iso');
  });
});
