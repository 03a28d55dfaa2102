/**
 * Where the reports go, checked before the comparison starts, and written so that none is ever lost or
 * half-written.
 *
 * - Every report path is checked first: its folder exists and can be written, it is not a folder itself, it
 *   is not one of the inputs, and no two reports share a path (or stdout). A mistake fails at once, exit 2,
 *   not after a long compare.
 * - A report goes to a temporary file beside its target, is flushed to disk, and is renamed into place: a
 *   reader, or a run killed at any moment, sees the old report or the new one, whole. A symbolic link at the
 *   report path is replaced, not followed. A path that is not a regular file (`/dev/null`, a FIFO) is
 *   written in place, as it cannot hold half a report.
 * - stdout closed early by the reader (`| head`) ends the output quietly: the exit status stays the
 *   comparison's.
 */
import { accessSync, appendFileSync, closeSync, constants, fchmodSync, fsyncSync, lstatSync, openSync, readdirSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { ReprodiffError } from './errors.js';
import { colorWanted } from './report/text.js';
import { ioMessage, type InputStamp } from './io/inputs.js';

/** One report the run will write. */
export interface ReportTarget {
  /** the option that asked for it, for messages: `--json` */
  option: string;
  /** a file path, or `-` for stdout */
  path: string;
  /** appended to rather than replaced (GitHub's job summary file) */
  append?: boolean;
}

/** How a checked file target will be written. */
interface Planned {
  target: ReportTarget;
  /** write in place: the path is, or links to, something other than a regular file (a device, a FIFO) */
  inPlace: boolean;
}

const planned = new Map<string, Planned>();

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null; // a dangling symbolic link, or a loop: it will be replaced
  }
}

function refuse(t: ReportTarget, message: string): never {
  throw new ReprodiffError('E_USAGE', `${t.option} ${t.path}: ${message}`);
}

/**
 * Checks every report target before any work; throws an E_USAGE error for the first one that cannot be
 * written or that would overwrite an input or another report. `inputs` are the stamps of the inputs.
 */
export function checkOutputs(targets: readonly ReportTarget[], inputs: readonly InputStamp[]): void {
  planned.clear();
  const stdout = targets.filter((t) => t.path === '-');
  if (stdout.length > 1) {
    throw new ReprodiffError('E_USAGE', `${stdout.map((t) => t.option).join(' and ')} would all write to stdout (-); only one report can go there, give the others a file`);
  }
  const seen = new Map<string, ReportTarget>();
  for (const t of targets) {
    if (t.path === '-') continue;
    if (t.path === '') refuse(t, 'an empty path');
    const abs = resolve(t.path);
    const dir = dirname(abs);
    let dirReal: string;
    try {
      dirReal = realpathSync(dir);
      if (!statSync(dirReal).isDirectory()) refuse(t, `${dir} is not a folder`);
    } catch (e) {
      if (e instanceof ReprodiffError) throw e;
      refuse(t, `the folder ${dir}: ${ioMessage(e)}`);
    }
    // the same file named twice: the same real folder and name, or (for files that exist) the same inode
    const key = join(dirReal, basename(abs));
    const lst = lstatOrNull(key);
    const st = lst?.isSymbolicLink() ? statOrNull(key) : lst;
    const other = seen.get(key) ?? (st ? seen.get(`${st.dev}:${st.ino}`) : undefined);
    if (other) refuse(t, `also the path of ${other.option}; each report needs a file of its own`);
    seen.set(key, t);
    if (st) {
      if (st.isDirectory()) refuse(t, 'is a folder');
      const input = inputs.find((i) => BigInt(st.dev) === i.dev && BigInt(st.ino) === i.ino);
      if (input) refuse(t, `is the input ${input.path}; the report would overwrite it`);
      seen.set(`${st.dev}:${st.ino}`, t);
    }
    // a device or FIFO, also through a link (/dev/stdout), is written in place: renaming over it would
    // replace the device node or the link to it
    const inPlace = st !== null && !st.isFile();
    try {
      if (inPlace || (t.append && lst)) accessSync(key, constants.W_OK);
      else accessSync(dirReal, constants.W_OK | constants.X_OK);
    } catch (e) {
      refuse(t, inPlace || t.append ? `cannot be written: ${ioMessage(e)}` : `the folder ${dir} cannot be written: ${ioMessage(e)}`);
    }
    planned.set(t.path, { target: t, inPlace });
  }
}

/** Temporary files not yet renamed into place: removed when the process exits early. */
const pending = new Set<string>();
let exitHook = false;

function removePending(): void {
  for (const p of pending) {
    try {
      unlinkSync(p);
    } catch {
      // already gone
    }
  }
  pending.clear();
}

/**
 * Removes the temporary files that earlier runs killed while writing this report left beside it
 * (`.NAME.PID.RANDOM.tmp` whose process is gone).
 */
function removeStale(dir: string, base: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const prefix = `.${base}.`;
  for (const n of names) {
    if (!n.startsWith(prefix) || !n.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(n.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // that run is still going
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    try {
      unlinkSync(join(dir, n));
    } catch {
      // removed by someone else
    }
  }
}

/** Replaces the file at `path` with `text`, through a temporary file beside it and a rename. */
export function writeAtomic(path: string, text: string): void {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', removePending);
  }
  const abs = resolve(path);
  const tmp = join(dirname(abs), `.${basename(abs)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  removeStale(dirname(abs), basename(abs));
  let fd = -1;
  try {
    const old = lstatOrNull(abs);
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666);
    pending.add(tmp);
    // a replaced report keeps its permissions, as it kept them when it was rewritten in place
    if (old?.isFile()) fchmodSync(fd, old.mode & 0o7777);
    writeFileSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, abs);
    pending.delete(tmp);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    removePending();
    throw new ReprodiffError('E_IO', `cannot write the report: ${ioMessage(e)}`, { file: path });
  }
}

/** Writes one report to its target: stdout, in place for a device or FIFO, appended, or replaced whole. */
export function writeReport(t: ReportTarget, text: string): void {
  if (t.path === '-') {
    writeStdout(text);
    return;
  }
  const plan = planned.get(t.path);
  try {
    if (t.append) {
      appendFileSync(t.path, text);
      return;
    }
    if (plan?.inPlace) {
      writeFileSync(t.path, text);
      return;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') return; // /dev/stdout into `| head`, as for stdout
    throw new ReprodiffError('E_IO', `cannot write the report: ${ioMessage(e)}`, { file: t.path });
  }
  writeAtomic(t.path, text);
}

let stdoutGone = false;
let stdoutFailed = false;
let stdioGuarded = false;

/**
 * Makes a reader that stops early (`reprodiff --json - A B | head -c 10`) end the output quietly: EPIPE on
 * stdout or stderr is not an error of the comparison, whose exit status stands. Other write errors on
 * stdout (a full disk) are trouble: they are said on stderr and make the exit status 2.
 */
export function guardStdio(): void {
  if (stdioGuarded) return;
  stdioGuarded = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    stdoutGone = true;
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return;
    try {
      process.stderr.write(`reprodiff: cannot write to stdout: ${ioMessage(e)}\n`);
    } catch {
      // stderr is gone too
    }
    stdoutFailed = true;
  });
  // set as the process ends, so that the comparison's own status, set when main returns, cannot hide it
  process.once('exit', () => {
    if (stdoutFailed) process.exitCode = 2;
  });
  process.stderr.on('error', () => undefined);
}

/** Writes to stdout unless the reader has gone. */
export function writeStdout(text: string): void {
  if (stdoutGone || process.stdout.destroyed) return;
  process.stdout.write(text);
}

/** `--color`: `auto` colours only a terminal (NO_COLOR and FORCE_COLOR apply); `always` and `never` win over both. */
export type ColorWhen = 'auto' | 'always' | 'never';

export function parseColor(v: string): ColorWhen {
  if (v === 'auto' || v === 'always' || v === 'never') return v;
  throw new InvalidArgumentError("expected 'auto', 'always' or 'never'");
}

/**
 * Whether the terminal report is coloured. `toStdout` is false for `--text FILE`, which `auto` never
 * colours (a file is no terminal, whatever FORCE_COLOR says); `--color always` colours it too.
 * `when` is false for `--no-color`.
 */
export function colorFor(when: ColorWhen | false | undefined, toStdout: boolean): boolean {
  if (when === 'always') return true;
  if (when === 'never' || when === false) return false;
  return toStdout && colorWanted(process.stdout, process.env);
}
