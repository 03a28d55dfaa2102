/**
 * The command line: `reprodiff A B` compares two builds; `reprodiff inspect IMAGE` lists one.
 * Exit status as diff tools have it: 0 identical, 1 different, 2 trouble.
 */
import { createHash } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { isReprodiffError, ReprodiffError } from './errors.js';
import { buildReport } from './compare/account.js';
import { compareFiles } from './compare/compare.js';
import { inspectImage, renderInspectText } from './inspect.js';
import { renderJson } from './report/json.js';
import { renderMarkdown } from './report/markdown.js';
import { renderText } from './report/text.js';
import { exitStatus } from './report/common.js';
import type { Report } from './report/types.js';
import { toolVersion } from './version.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

/** Writes `text` to FILE, or to stdout for `-`. */
function emit(target: string, text: string): void {
  if (target === '-') process.stdout.write(text);
  else {
    try {
      writeFileSync(target, text);
    } catch (e) {
      throw new ReprodiffError('E_IO', `cannot write the report: ${(e as Error).message}`, { file: target });
    }
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function colorWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

interface CompareCliOptions {
  json?: string;
  markdown?: string;
  maxFindings?: number;
  quiet?: boolean;
  jobs?: number;
  sha256?: boolean;
}

async function runCompare(a: string, b: string, o: CompareCliOptions): Promise<number> {
  const res = await compareFiles(a, b, { jobs: o.jobs });
  const inputs = await Promise.all(
    [
      [a, res.sizeA],
      [b, res.sizeB],
    ].map(async ([p, size]) => ({ path: p as string, size: size as number, sha256: o.sha256 ? await sha256File(p as string) : null })),
  );
  const report: Report = buildReport(res, inputs, toolVersion());
  const toStdout = o.json === '-' || o.markdown === '-';
  if (o.json) emit(o.json, renderJson(report));
  if (o.markdown) emit(o.markdown, renderMarkdown(report));
  if (!toStdout) {
    process.stdout.write(renderText(report, { color: colorWanted(process.stdout, process.env), maxFindings: o.maxFindings }));
  }
  return exitStatus(report);
}

async function runInspect(image: string, o: { json?: string; jobs?: number; hash?: boolean }): Promise<number> {
  const r = await inspectImage(image, { jobs: o.jobs, hash: o.hash });
  if (o.json) emit(o.json, `${JSON.stringify(r, null, 2)}\n`);
  if (o.json !== '-') process.stdout.write(renderInspectText(r));
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command();
  program
    .name('reprodiff')
    .description('Explain why two builds of an OS image (ISO 9660, UKI, disk image, archive) are not byte-identical.')
    .version(toolVersion())
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .argument('<a>', 'first build')
    .argument('<b>', 'second build')
    .option('--json <file>', 'write the JSON report to FILE (- for stdout)')
    .option('--markdown <file>', 'write a Markdown report for a bug tracker to FILE (- for stdout)')
    .option('--max-findings <n>', 'root findings listed in the terminal report', nonNegativeInt)
    .option('-q, --quiet', 'no progress display')
    .option('-j, --jobs <n>', 'worker threads (default: the number of CPUs)', positiveInt)
    .option('--sha256', 'record the SHA-256 of both inputs in the report')
    .action(async (a: string, b: string, o: CompareCliOptions) => {
      code = await runCompare(a, b, o);
    });
  program
    .command('inspect')
    .description('list the containers and entries of one image')
    .argument('<image>', 'the image to list')
    .option('--json <file>', 'write the listing as JSON to FILE (- for stdout)')
    .option('--no-hash', 'skip content hashes')
    .option('-j, --jobs <n>', 'worker threads', positiveInt)
    .action(async (image: string, o: { json?: string; jobs?: number; hash?: boolean }) => {
      code = await runInspect(image, o);
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed by commander
      return e.exitCode === 0 ? 0 : 2;
    }
    if (isReprodiffError(e)) {
      process.stderr.write(`reprodiff: ${e.describe()}\n`);
      return 2;
    }
    const err = e as Error;
    process.stderr.write(`reprodiff: internal error: ${err?.message ?? String(e)}\n`);
    if (process.env.REPRODIFF_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    return 2;
  }
}
