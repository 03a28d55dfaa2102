/**
 * The command line: `reprodiff A B` compares two builds; `reprodiff inspect IMAGE` lists one.
 * Exit status as diff tools have it: 0 identical, 1 different, 2 trouble.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { InternalError, isReprodiffError, ReprodiffError } from './errors.js';
import { compareFiles } from './compare/run.js';
import { parseReport, renderJson, renderJsonWithin } from './report/json.js';
import { trace } from './util/trace.js';
import { renderMarkdown } from './report/markdown.js';
import { renderText } from './report/text.js';
import { ProgressLine } from './progress.js';
import { renderHtml } from './report/html.js';
import { renderJunit } from './report/junit.js';
import { renderGithubSummary } from './report/github.js';
import { compareBaseline, parseBaseline, renderBaseline } from './report/baseline.js';
import { applyAccept, parseAccept } from './report/accept.js';
import { exitStatus } from './report/common.js';
import { withFixes } from './report/fixes.js';
import { jsonNames } from './report/escape.js';
import type { Report } from './report/types.js';
import { toolVersion } from './version.js';
import { DEFAULT_LIMITS, Deadline, type Limits } from './limits.js';
import { DIRECTORY_METADATA, ExcludeRules, type DirectoryMetadata } from './compare/exclude.js';
import { checkUnchanged, stampInput } from './io/inputs.js';
import { checkOutputs, colorFor, guardStdio, parseColor, writeReport, writeStdout, type ColorWhen, type ReportTarget } from './output.js';

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
  text?: string;
  color?: ColorWhen | false;
  baseline?: string;
  accept?: string;
  acceptFile?: string;
  maxFindings?: number;
  maxReportSize?: number;
  quiet?: boolean;
  jobs?: number;
  sha256?: boolean;
  sourceDateEpoch?: number;
  exclude?: string[];
  excludeDirectoryMetadata?: DirectoryMetadata;
  timeout?: number;
}

/** --exclude, repeatable: every pattern given, in order. */
function collect(v: string, list: string[] = []): string[] {
  if (v === '') throw new InvalidArgumentError('expected a glob pattern, not an empty string');
  return [...list, v];
}

function directoryMetadata(v: string): DirectoryMetadata {
  if (!(DIRECTORY_METADATA as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${DIRECTORY_METADATA.join(', ')}`);
  return v as DirectoryMetadata;
}

/**
 * The exclusion rules of a compare, or undefined when neither option was given (the report then has no
 * `excluded` member). `auto` is `yes`: the inputs' own file system metadata is not compared.
 */
function excludeRules(o: CompareCliOptions): ExcludeRules | undefined {
  if (o.exclude === undefined && o.excludeDirectoryMetadata === undefined) return undefined;
  const mode = o.excludeDirectoryMetadata === undefined || o.excludeDirectoryMetadata === 'auto' ? 'yes' : o.excludeDirectoryMetadata;
  return new ExcludeRules(o.exclude ?? [], mode);
}

/** The terminal's width when stdout is one, else undefined (the terminal report's default, 100). */
function terminalWidth(): number | undefined {
  const c = process.stdout.isTTY ? process.stdout.columns : undefined;
  return typeof c === 'number' && c >= 20 ? c : undefined;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ReprodiffError('E_USAGE', `cannot read the ${what}: ${(e as Error).message}`, { file: path });
  }
}

/** The JSON report cut to --max-report-size; a warning when even the report without findings is larger. */
function jsonWithin(report: Report, max: number): string {
  const r = renderJsonWithin(report, max);
  if (!r.fits) process.stderr.write(`reprodiff: --max-report-size ${max}: the JSON report is ${Buffer.byteLength(r.text)} bytes even without findings\n`);
  return r.text;
}

/** The reports a compare writes, by option. */
function compareTargets(o: CompareCliOptions): ReportTarget[] {
  const t: ReportTarget[] = [];
  const add = (option: string, path: string | undefined, append = false): void => {
    if (path !== undefined && path !== '') t.push({ option, path, append });
  };
  add('--json', o.json);
  add('--markdown', o.markdown);
  add('--html', o.html);
  add('--junit', o.junit);
  add('--text', o.text);
  if (o.githubSummary !== undefined) add('--github-summary', o.githubSummary, true);
  else add('$GITHUB_STEP_SUMMARY', process.env.GITHUB_STEP_SUMMARY, true);
  return t;
}

async function runCompare(a: string, b: string, o: CompareCliOptions): Promise<number> {
  // --timeout counts from the start of the run
  const deadline = o.timeout !== undefined ? new Deadline(o.timeout) : undefined;
  const exclude = excludeRules(o);
  // the inputs and every report path are checked before any work, so a mistake fails at once
  const stamps = [stampInput(a, { folders: true }), stampInput(b, { folders: true })];
  const targets = compareTargets(o);
  checkOutputs(targets, stamps);
  // two folders are compared file by file (src/compare/folders.ts), loaded only then
  const [dirA, dirB] = [statSync(a).isDirectory(), statSync(b).isDirectory()];
  const folders = dirA || dirB ? await import('./compare/folders.js') : undefined;
  const inFolders = folders?.folderPair({ path: a, folder: dirA }, { path: b, folder: dirB }) ?? false;
  if (inFolders) folders?.refuseInside(targets, [a, b]);
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
  let report: Report;
  if (folders && inFolders) {
    try {
      report = await folders.compareFolders(a, b, { jobs: o.jobs, limits: limitsFrom(o), sourceDateEpoch: sde, onProgress: (p) => progress.update(p), version: toolVersion(), exclude, deadline });
    } finally {
      progress.done();
    }
  } else {
    let res;
    try {
      res = await compareFiles(a, b, {
        jobs: o.jobs,
        limits: limitsFrom(o),
        sourceDateEpoch: sde,
        onProgress: (p) => progress.update(p),
        exclude,
        deadline,
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
    try {
      const { buildReport } = await import('./compare/account.js');
      report = buildReport(res, inputs, toolVersion(), { sourceDateEpoch: sde });
    } finally {
      res.close();
    }
  }
  trace('report built');
  // a report of an input that changed meanwhile would mix two versions of it
  for (const s of stamps) checkUnchanged(s);
  if (deadline?.fired) report = { ...report, timedOut: { seconds: deadline.seconds } };
  if (accept) report = applyAccept(report, accept);
  report = withFixes(report);

  const render = (t: ReportTarget): string => {
    switch (t.option) {
      case '--json':
        return o.maxReportSize !== undefined ? jsonWithin(report, o.maxReportSize) : renderJson(report);
      case '--markdown':
        return renderMarkdown(report);
      case '--html':
        return renderHtml(report);
      case '--junit':
        return renderJunit(report);
      case '--github-summary':
      case '$GITHUB_STEP_SUMMARY':
        return renderGithubSummary(report);
      default:
        return renderText(report, { color: colorFor(o.color, t.path === '-'), maxFindings: o.maxFindings, width: t.path === '-' ? terminalWidth() : undefined });
    }
  };
  for (const t of targets) writeReport(t, render(t));
  // the terminal report goes to stdout unless --text sends it elsewhere or a report is written there
  const stdoutTaken = targets.some((t) => t.path === '-');
  if (!stdoutTaken && o.text === undefined) writeStdout(renderText(report, { color: colorFor(o.color, true), maxFindings: o.maxFindings, width: terminalWidth() }));
  trace('reports written');
  if (report.timedOut) {
    const left = report.findings.filter((f) => f.kind === 'unknown' && f.detail?.includes('--timeout')).length;
    process.stderr.write(`reprodiff: timeout: the --timeout of ${report.timedOut.seconds} s was reached; the report names what was not examined (${left} finding${left === 1 ? '' : 's'}), and its bytes count as unexplained\n`);
  }
  if (baseline) {
    const cmp = compareBaseline(report, baseline);
    if (stdoutTaken) process.stderr.write(renderBaseline(cmp));
    else writeStdout(renderBaseline(cmp));
    return report.timedOut ? 1 : cmp.exitCode;
  }
  return exitStatus(report);
}

async function runInspect(image: string, o: { json?: string; jobs?: number; hash?: boolean } & LimitOptions): Promise<number> {
  const stamp = stampInput(image);
  const json: ReportTarget | undefined = o.json ? { option: '--json', path: o.json } : undefined;
  checkOutputs(json ? [json] : [], [stamp]);
  const { inspectImage, renderInspectText } = await import('./inspect.js');
  const r = await inspectImage(image, { jobs: o.jobs, hash: o.hash, limits: limitsFrom(o) });
  checkUnchanged(stamp);
  if (json) writeReport(json, `${JSON.stringify(r, jsonNames, 2)}\n`);
  if (o.json !== '-') writeStdout(renderInspectText(r));
  return 0;
}

interface LintCliOptions extends LimitOptions {
  json?: string;
  markdown?: string;
  text?: string;
  color?: ColorWhen | false;
  maxFindings?: number;
  sourceDateEpoch?: number;
  accept?: string;
  acceptFile?: string;
}

/** `lint IMAGE`: 0 when nothing will differ in another build, 1 when something will, 2 on trouble. */
async function runLint(image: string, o: LintCliOptions): Promise<number> {
  const stamp = stampInput(image);
  const targets: ReportTarget[] = [];
  if (o.json) targets.push({ option: '--json', path: o.json });
  if (o.markdown) targets.push({ option: '--markdown', path: o.markdown });
  if (o.text) targets.push({ option: '--text', path: o.text });
  checkOutputs(targets, [stamp]);
  const sde = sourceDateEpochFrom(o.sourceDateEpoch);
  const accept = o.accept !== undefined || o.acceptFile !== undefined
    ? parseAccept(o.accept, o.acceptFile !== undefined ? readText(o.acceptFile, 'accept file') : undefined, o.acceptFile)
    : undefined;
  const { lintImage } = await import('./lint/index.js');
  let report = await lintImage(image, { sourceDateEpoch: sde, limits: limitsFrom(o) });
  if (accept) report = applyAccept(report, accept);
  report.tool.version = toolVersion();
  checkUnchanged(stamp);
  for (const t of targets) {
    writeReport(t, t.option === '--json' ? renderJson(report) : t.option === '--markdown' ? renderMarkdown(report) : renderText(report, { color: colorFor(o.color, t.path === '-'), maxFindings: o.maxFindings }));
  }
  if (!targets.some((t) => t.path === '-') && o.text === undefined) writeStdout(renderText(report, { color: colorFor(o.color, true), maxFindings: o.maxFindings }));
  return exitStatus(report);
}

/** --source-date-epoch, else $SOURCE_DATE_EPOCH, else none. */
function sourceDateEpochFrom(given: number | undefined): number | undefined {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (given !== undefined || env === undefined || env === '') return given;
  if (!/^\d+$/.test(env)) throw new ReprodiffError('E_USAGE', `SOURCE_DATE_EPOCH must be whole seconds, not '${env}'`);
  return Number(env);
}

interface RenderCliOptions {
  markdown?: string;
  html?: string;
  junit?: string;
  text?: string;
  color?: ColorWhen | false;
  maxFindings?: number;
}

/** `reprodiff render REPORT.json`: the presenters from a saved JSON report, as the live run wrote them. */
async function runRender(file: string, o: RenderCliOptions): Promise<number> {
  const stamp = stampInput(file);
  const targets: ReportTarget[] = [];
  if (o.markdown) targets.push({ option: '--markdown', path: o.markdown });
  if (o.html) targets.push({ option: '--html', path: o.html });
  if (o.junit) targets.push({ option: '--junit', path: o.junit });
  if (o.text) targets.push({ option: '--text', path: o.text });
  checkOutputs(targets, [stamp]);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ReprodiffError('E_IO', `cannot read the report: ${(e as Error).message}`, { file });
  }
  const report = parseReport(text, file);
  for (const t of targets) {
    const out =
      t.option === '--markdown' ? renderMarkdown(report)
      : t.option === '--html' ? renderHtml(report)
      : t.option === '--junit' ? renderJunit(report)
      : renderText(report, { color: colorFor(o.color, t.path === '-'), maxFindings: o.maxFindings, width: t.path === '-' ? terminalWidth() : undefined });
    writeReport(t, out);
  }
  if (!targets.some((t) => t.path === '-') && o.text === undefined) {
    writeStdout(renderText(report, { color: colorFor(o.color, true), maxFindings: o.maxFindings, width: terminalWidth() }));
  }
  return exitStatus(report);
}

const EXIT_HELP = `
Exit status:
  0  identical, or every root cause accepted, or (with --baseline) nothing new
  1  different (also when a limit stopped the look inside some content, and always when --timeout
     cut the run short)
  2  trouble: unreadable input, a malformed structure, bad usage

A difference only inside what --exclude and --exclude-directory-metadata leave out is exit 0; those bytes
are counted apart in the report (bytes.excluded), never as explained.

Reports are written to a temporary file beside their path and renamed into place, so a report is
never half-written; report paths are checked before the comparison starts.
`;

/** Commander's own messages (`error: unknown option '--x'`) in the tool's voice. */
function commanderMessage(s: string): string {
  const text = s
    .replace(/^error: /, '')
    .replace(/\n\(Did you mean (.*)\?\)/, ' (did you mean $1?)')
    .replace(/\n+$/, '');
  return `reprodiff: ${text}; see reprodiff --help\n`;
}

export async function main(argv: string[]): Promise<number> {
  trace('started');
  guardStdio();
  let code = 0;
  const program = new Command();
  program
    .name('reprodiff')
    .description('Explain why two builds of an OS image (ISO 9660, UKI, disk image, archive) are not byte-identical.')
    .version(toolVersion())
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(commanderMessage(s)) })
    .addHelpText('after', EXIT_HELP)
    .argument('<a>', 'first build')
    .argument('<b>', 'second build')
    .option('--json <file>', 'write the JSON report to FILE (- for stdout)')
    .option('--markdown <file>', 'write a Markdown report for a bug tracker to FILE (- for stdout)')
    .option('--html <file>', 'write a self-contained HTML report to FILE')
    .option('--junit <file>', 'write JUnit XML (one test case per root cause) to FILE')
    .option('--text <file>', 'write the terminal report to FILE instead of stdout (- for stdout), without colour unless --color always')
    .option('--color <when>', 'colour the terminal report: auto (a terminal, unless NO_COLOR is set; FORCE_COLOR forces), always, never', parseColor)
    .option('--no-color', 'the same as --color never')
    .option('--github-summary <file>', 'append a Markdown job summary to FILE (default: $GITHUB_STEP_SUMMARY when set)')
    .option('--baseline <report.json>', 'exit 1 only for root causes that this earlier JSON report did not have')
    .option('--accept <kinds>', 'accept these kinds of difference (comma-separated, e.g. timestamp,inode)')
    .option('--accept-file <file>', 'accept differences matching the rules in FILE (kind=, format=, path=, field= per line)')
    .option('--max-findings <n>', 'root findings listed in the terminal report', nonNegativeInt)
    .option('--max-report-size <bytes>', 'cut the JSON report to this many bytes: details, then derived findings, then root findings are left out and counted in its "omitted" member; byte totals stay exact', positiveInt)
    .option('-q, --quiet', 'no progress display')
    .option('-j, --jobs <n>', 'worker threads (default: the number of CPUs)', positiveInt)
    .option('--sha256', 'record the SHA-256 of both inputs in the report')
    .option('--source-date-epoch <seconds>', 'the SOURCE_DATE_EPOCH the builds should use (default: $SOURCE_DATE_EPOCH): times equal to it are expected, others are called out', nonNegativeInt)
    .option('--exclude <glob>', "leave out entries whose path matches GLOB (repeatable; diffoscope's fnmatch rules: * also matches /); their differing bytes are counted apart, never as explained", collect)
    .option('--exclude-directory-metadata <when>', "auto (the default, = yes), yes: the inputs' own file system metadata is not compared; no: compare the mode, owner and time of the two files, or of every file in two folders; recursive: yes, and leave out the times, owners, modes and inode numbers of the members of archives and images (counted apart)", directoryMetadata)
    .option('--timeout <seconds>', 'stop after this many seconds: what was compared is reported, what was left is named and counted as unexplained, exit 1', positiveInt);
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
  const lint = program
    .command('lint')
    .description('find what will differ when one image is built again: times not from SOURCE_DATE_EPOCH, random ids, file-system order, build paths (exit 0 nothing found, 1 found, 2 trouble)')
    .argument('<image>', 'the image to check')
    .option('--source-date-epoch <seconds>', 'the SOURCE_DATE_EPOCH the build used (default: $SOURCE_DATE_EPOCH); without it, build-time-looking stamps are flagged', nonNegativeInt)
    .option('--json <file>', 'write the JSON report to FILE (- for stdout)')
    .option('--markdown <file>', 'write a Markdown report to FILE (- for stdout)')
    .option('--text <file>', 'write the terminal report to FILE instead of stdout')
    .option('--color <when>', 'colour the terminal report: auto, always, never', parseColor)
    .option('--max-findings <n>', 'findings listed in the terminal report', nonNegativeInt)
    .option('--accept <kinds>', 'accept these kinds of finding (comma-separated): they do not count toward the exit status')
    .option('--accept-file <file>', 'accept findings matching the rules in FILE (kind=, format=, path=, field= per line), e.g. a UUID given to mkfs -U');
  limitOptions(lint).action(async (image: string, o: LintCliOptions) => {
    code = await runLint(image, o);
  });
  program
    .command('render')
    .description('write the terminal, Markdown, HTML or JUnit report from a saved JSON report, byte for byte as the comparison wrote it; exit status as for the comparison')
    .argument('<report.json>', 'a JSON report written by --json')
    .option('--markdown <file>', 'write the Markdown report to FILE (- for stdout)')
    .option('--html <file>', 'write the HTML report to FILE')
    .option('--junit <file>', 'write JUnit XML to FILE')
    .option('--text <file>', 'write the terminal report to FILE instead of stdout (- for stdout)')
    .option('--color <when>', 'colour the terminal report: auto, always, never', parseColor)
    .option('--no-color', 'the same as --color never')
    .option('--max-findings <n>', 'root findings listed in the terminal report', nonNegativeInt)
    .action(async (file: string, o: RenderCliOptions) => {
      code = await runRender(file, o);
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
