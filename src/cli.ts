/**
 * The command line: `reprodiff A B` compares two builds; `reprodiff inspect IMAGE` lists one.
 * Exit status as diff tools have it: 0 identical, 1 different, 2 trouble.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { InternalError, isReprodiffError, ReprodiffError } from './errors.js';
import { compareFiles } from './compare/run.js';
import { renderJson } from './report/json.js';
import { trace } from './util/trace.js';
import { renderMarkdown } from './report/markdown.js';
import { colorWanted, renderText } from './report/text.js';
import { ProgressLine } from './progress.js';
import { renderHtml } from './report/html.js';
import { renderJunit } from './report/junit.js';
import { renderGithubSummary } from './report/github.js';
import { compareBaseline, parseBaseline, renderBaseline } from './report/baseline.js';
import { applyAccept, parseAccept } from './report/accept.js';
import { exitStatus } from './report/common.js';
import type { Report } from './report/types.js';
import { toolVersion } from './version.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';

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

interface LimitOptions {
  maxDepth?: number;
  maxEntries?: number;
  maxDecoded?: number;
  maxContainers?: number;
  maxEntrySeconds?: number;
  inMemory?: number;
}

/** The limits for untrusted input, from the defaults and the command line. */
function limitsFrom(o: LimitOptions): Limits {
  return {
    ...DEFAULT_LIMITS,
    ...(o.maxDepth !== undefined ? { maxDepth: o.maxDepth } : {}),
    ...(o.maxEntries !== undefined ? { maxEntries: o.maxEntries } : {}),
    ...(o.maxDecoded !== undefined ? { maxDecodedBytes: o.maxDecoded * 1024 * 1024 } : {}),
    ...(o.maxContainers !== undefined ? { maxContainers: o.maxContainers } : {}),
    ...(o.maxEntrySeconds !== undefined ? { maxEntrySeconds: o.maxEntrySeconds } : {}),
    ...(o.inMemory !== undefined ? { memoryDecodedBytes: o.inMemory * 1024 * 1024 } : {}),
  };
}

/** The limit options, shared by both commands. */
function limitOptions(cmd: Command): Command {
  return cmd
    .option('--max-depth <n>', `containers nested inside each other (default ${DEFAULT_LIMITS.maxDepth})`, positiveInt)
    .option('--max-entries <n>', `entries in one container (default ${DEFAULT_LIMITS.maxEntries})`, positiveInt)
    .option('--max-decoded <MiB>', `bytes one decompressed stream may produce, in MiB (default ${DEFAULT_LIMITS.maxDecodedBytes / 1024 / 1024})`, positiveInt)
    .option('--max-containers <n>', `nested containers opened in one run (default ${DEFAULT_LIMITS.maxContainers})`, positiveInt)
    .option('--max-entry-seconds <s>', `seconds spent opening one entry's content: decoding, listing (default ${DEFAULT_LIMITS.maxEntrySeconds})`, positiveInt)
    .option('--in-memory <MiB>', `decoded bytes of one stream kept in memory, in MiB; a larger stream goes to an unnamed temporary file in $TMPDIR (default ${DEFAULT_LIMITS.memoryDecodedBytes / 1024 / 1024})`, nonNegativeInt);
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

interface CompareCliOptions extends LimitOptions {
  json?: string;
  markdown?: string;
  html?: string;
  junit?: string;
  githubSummary?: string;
  baseline?: string;
  accept?: string;
  acceptFile?: string;
  maxFindings?: number;
  quiet?: boolean;
  jobs?: number;
  sha256?: boolean;
  sourceDateEpoch?: number;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ReprodiffError('E_USAGE', `cannot read the ${what}: ${(e as Error).message}`, { file: path });
  }
}

async function runCompare(a: string, b: string, o: CompareCliOptions): Promise<number> {
  // read the options' files before the long work, so a typo fails at once
  const accept = o.accept !== undefined || o.acceptFile !== undefined
    ? parseAccept(o.accept, o.acceptFile !== undefined ? readText(o.acceptFile, 'accept file') : undefined, o.acceptFile)
    : undefined;
  const baseline = o.baseline !== undefined ? parseBaseline(readText(o.baseline, 'baseline report'), o.baseline) : undefined;

  let sde = o.sourceDateEpoch;
  const envSde = process.env.SOURCE_DATE_EPOCH;
  if (sde === undefined && envSde !== undefined && envSde !== '') {
    if (!/^\d+$/.test(envSde)) throw new ReprodiffError('E_USAGE', `SOURCE_DATE_EPOCH must be whole seconds, not '${envSde}'`);
    sde = Number(envSde);
  }
  const progress = new ProgressLine(process.stderr, o.quiet === true);
  let res;
  try {
    res = await compareFiles(a, b, {
      jobs: o.jobs,
      limits: limitsFrom(o),
      sourceDateEpoch: sde,
      onProgress: (p) => progress.update(p),
    });
  } finally {
    progress.done();
  }
  const inputs = await Promise.all(
    [
      [a, res.sizeA],
      [b, res.sizeB],
    ].map(async ([p, size]) => ({ path: p as string, size: size as number, sha256: o.sha256 ? await sha256File(p as string) : null })),
  );
  let report: Report;
  try {
    const { buildReport } = await import('./compare/account.js');
    report = buildReport(res, inputs, toolVersion(), { sourceDateEpoch: sde });
  } finally {
    res.close();
  }
  trace('report built');
  if (accept) report = applyAccept(report, accept);

  const toStdout = [o.json, o.markdown].includes('-');
  if (o.json) emit(o.json, renderJson(report));
  if (o.markdown) emit(o.markdown, renderMarkdown(report));
  if (o.html) emit(o.html, renderHtml(report));
  if (o.junit) emit(o.junit, renderJunit(report));
  const summary = o.githubSummary ?? process.env.GITHUB_STEP_SUMMARY;
  if (summary) appendSummary(summary, renderGithubSummary(report));

  const out = toStdout ? process.stderr : process.stdout;
  if (!toStdout) out.write(renderText(report, { color: colorWanted(process.stdout, process.env), maxFindings: o.maxFindings }));
  trace('reports written');
  if (baseline) {
    const cmp = compareBaseline(report, baseline);
    out.write(renderBaseline(cmp));
    return cmp.exitCode;
  }
  return exitStatus(report);
}

/** GitHub's job summary file is appended to, as the runner expects. */
function appendSummary(path: string, text: string): void {
  try {
    appendFileSync(path, text);
  } catch (e) {
    throw new ReprodiffError('E_IO', `cannot write the job summary: ${(e as Error).message}`, { file: path });
  }
}

async function runInspect(image: string, o: { json?: string; jobs?: number; hash?: boolean } & LimitOptions): Promise<number> {
  const { inspectImage, renderInspectText } = await import('./inspect.js');
  const r = await inspectImage(image, { jobs: o.jobs, hash: o.hash, limits: limitsFrom(o) });
  if (o.json) emit(o.json, `${JSON.stringify(r, null, 2)}\n`);
  if (o.json !== '-') process.stdout.write(renderInspectText(r));
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  trace('started');
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
    .option('--html <file>', 'write a self-contained HTML report to FILE')
    .option('--junit <file>', 'write JUnit XML (one test case per root cause) to FILE')
    .option('--github-summary <file>', 'append a Markdown job summary to FILE (default: $GITHUB_STEP_SUMMARY when set)')
    .option('--baseline <report.json>', 'exit 1 only for root causes that this earlier JSON report did not have')
    .option('--accept <kinds>', 'accept these kinds of difference (comma-separated, e.g. timestamp,inode)')
    .option('--accept-file <file>', 'accept differences matching the rules in FILE (kind=, format=, path=, field= per line)')
    .option('--max-findings <n>', 'root findings listed in the terminal report', nonNegativeInt)
    .option('-q, --quiet', 'no progress display')
    .option('-j, --jobs <n>', 'worker threads (default: the number of CPUs)', positiveInt)
    .option('--sha256', 'record the SHA-256 of both inputs in the report')
    .option('--source-date-epoch <seconds>', 'the SOURCE_DATE_EPOCH the builds should use (default: $SOURCE_DATE_EPOCH): times equal to it are expected, others are called out', nonNegativeInt);
  limitOptions(program);
  program.action(async (a: string, b: string, o: CompareCliOptions) => {
    code = await runCompare(a, b, o);
  });
  const inspect = program
    .command('inspect')
    .description('list the containers and entries of one image')
    .argument('<image>', 'the image to list')
    .option('--json <file>', 'write the listing as JSON to FILE (- for stdout)')
    .option('--no-hash', 'skip content hashes')
    .option('-j, --jobs <n>', 'worker threads', positiveInt);
  limitOptions(inspect).action(async (image: string, o: { json?: string; jobs?: number; hash?: boolean } & LimitOptions) => {
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
    // a bug: said as one, with the stack only for whoever debugs it
    const err = e as Error;
    if (e instanceof InternalError) process.stderr.write(`reprodiff: ${e.describe()}\n`);
    else process.stderr.write(`reprodiff: internal error: ${err?.message ?? String(e)} — please report\n`);
    if (process.env.REPRODIFF_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    return 2;
  }
}
