/**
 * Release folders: `reprodiff DIR_A DIR_B`. Files are paired by their path relative to each folder; every pair
 * of regular files is compared as two inputs are (run.ts), one pair after another in one worker pool, and the
 * reports are joined into one.
 *
 * Paths in a folder report: `/<relpath>` is the file itself (its findings at `/`), and `//` steps into it as
 * into any container: `/live.iso//boot/grub/grub.cfg`. Spans name their file: a span's `stream` is `<relpath>`
 * for bytes of that file and `<relpath>//<stream>` for a decoded stream inside it (a folder has no one outer
 * file whose offsets a span without a stream could mean).
 *
 * Symbolic links are compared as links (their target text) and never followed, so nothing outside the folders
 * is read; FIFOs, sockets and devices are named in a note and skipped. Files only one folder holds are `added`
 * or `removed` findings, and their bytes count as differing bytes, explained by that finding.
 */
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { ReprodiffError } from '../errors.js';
import { checkUnchanged, ioMessage, stampOf } from '../io/inputs.js';
import type { Limits } from '../limits.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { KINDS, type EntryType, type Kind } from '../model.js';
import type { Finding, Report } from '../report/types.js';
import { buildReport } from './account.js';
import { diffFiles, WorkerPool } from './pool.js';
import type { ExcludeRules } from './exclude.js';
import { excludedMember } from './excluded.js';
import { lstatOf, STAT_HINT, statDifferences } from './stat.js';
import type { Deadline } from '../limits.js';
import type { ExcludedEntry } from '../report/types.js';
import { compareFiles } from './run.js';
import type { CompareProgress } from './types.js';
import { presentValue } from './values.js';
import { decodeName, hasEscapedBytes, showEscapedBytes } from '../util/names.js';

/** folders nested inside each other below an input folder */
const MAX_FOLDER_DEPTH = 64;

interface Item {
  type: EntryType;
  /** bytes of a regular file */
  size: number;
  /** a symbolic link's target, as stored */
  target?: string;
}

/** What one folder holds, by relative path (`/`-separated), from lstat: links are not followed. */
function listFolder(root: string, maxEntries: number): Map<string, Item> {
  const out = new Map<string, Item>();
  const walk = (dir: string, rel: string, depth: number): void => {
    if (depth > MAX_FOLDER_DEPTH) throw new ReprodiffError('E_LIMIT', `folders nested deeper than ${MAX_FOLDER_DEPTH} levels`, { file: dir });
    let raw: Buffer[];
    try {
      raw = readdirSync(dir, { encoding: 'buffer' });
    } catch (e) {
      throw new ReprodiffError('E_IO', ioMessage(e), { file: dir });
    }
    const names = raw.map((b) => decodeName(b));
    // a name that is not UTF-8 has no string path to open it by here (files are opened by string paths)
    const bad = names.find(hasEscapedBytes);
    if (bad !== undefined) throw new ReprodiffError('E_UNSUPPORTED', `a name that is not valid UTF-8 (${showEscapedBytes(bad)}): folder compares take UTF-8 names only`, { file: dir });
    names.sort();
    for (const name of names) {
      const path = join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      let st: Stats;
      try {
        st = lstatSync(path);
      } catch (e) {
        throw new ReprodiffError('E_IO', ioMessage(e), { file: path });
      }
      if (out.size >= maxEntries) throw new ReprodiffError('E_LIMIT', `more than ${maxEntries} files and folders (--max-entries)`, { file: root });
      const item: Item = { type: typeOf(st), size: st.isFile() ? st.size : 0 };
      if (item.type === 'symlink') {
        try {
          item.target = readlinkSync(path);
        } catch (e) {
          throw new ReprodiffError('E_IO', ioMessage(e), { file: path });
        }
      }
      out.set(r, item);
      if (item.type === 'dir') walk(path, r, depth + 1);
    }
  };
  walk(root, '', 0);
  return out;
}

function typeOf(st: Stats): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  return 'other';
}

const SPECIAL: Partial<Record<EntryType, string>> = { fifo: 'a FIFO', socket: 'a socket', chardev: 'a character device', blockdev: 'a block device', other: 'a file of an unknown type' };

export interface FolderOptions {
  jobs?: number;
  limits?: Limits;
  sourceDateEpoch?: number;
  onProgress?: (p: CompareProgress) => void;
  version: string;
  /** what to leave out: --exclude patterns (matched against relative paths too), --exclude-directory-metadata */
  exclude?: ExcludeRules;
  /** the run's --timeout */
  deadline?: Deadline;
}

/** A finding before report ids: where it came from, so the causes it names can be renumbered. */
interface Placed {
  f: Finding;
  /** which pair's report it came from (-1: the folder's own) */
  part: number;
}

const KIND_RANK = new Map<string, number>(KINDS.map((k, i) => [k, i]));

/** `/<relpath>` and `//` into it, for a path inside the file at `rel`. */
function pathIn(rel: string, inner: string): string {
  return inner === '/' ? `/${rel}` : `/${rel}/${inner}`;
}

/** Compares two folders into one report. */
export async function compareFolders(dirA: string, dirB: string, opts: FolderOptions): Promise<Report> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const listA = listFolder(dirA, limits.maxEntries);
  const listB = listFolder(dirB, limits.maxEntries);
  const paths = [...new Set([...listA.keys(), ...listB.keys()])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const placed: Placed[] = [];
  const notes: string[] = [];
  const bytes: Report['bytes'] = { differing: 0, explained: 0, unexplained: 0 };
  const causes: Partial<Record<Kind, { findings: number; bytes: number }>> = {};
  const cause = (kind: Kind, n: number): void => {
    const c = (causes[kind] ??= { findings: 0, bytes: 0 });
    c.findings++;
    c.bytes += n;
  };
  const own = (f: Omit<Finding, 'id' | 'causedBy' | 'root'>, n: number): void => {
    placed.push({ f: { id: '', root: true, causedBy: [], ...f }, part: -1 });
    cause(f.kind, n);
    bytes.differing += n;
    bytes.explained += n;
  };
  let sizeA = 0;
  let sizeB = 0;
  for (const it of listA.values()) sizeA += it.size;
  for (const it of listB.values()) sizeB += it.size;

  const excluded: ExcludedEntry[] = [];
  /** a file or folder left out by --exclude: not compared; what differs in it is counted apart */
  const leaveOut = async (rel: string, pattern: string, ia: Item | undefined, ib: Item | undefined): Promise<void> => {
    let n = 0;
    if (ia?.type === 'file' && ib?.type === 'file') {
      const [pa, pb] = [join(dirA, ...rel.split('/')), join(dirB, ...rel.split('/'))];
      const common = Math.min(ia.size, ib.size);
      n = (common > 0 ? (await diffFiles(pool, pa, pb, common)).differing : 0) + Math.abs(ia.size - ib.size);
    } else if (!ia || !ib || ia.type !== ib.type) n = Math.max(ia?.size ?? 0, ib?.size ?? 0);
    else if (ia.target === ib.target) return;
    if (!n && ia && ib && ia.type === ib.type && ia.type !== 'symlink') return;
    excluded.push({ path: `/${rel}`, format: 'folder', by: pattern, bytes: n });
    bytes.differing += n;
    bytes.excluded = (bytes.excluded ?? 0) + n;
  };
  /** a file the run's --timeout left: named, its bytes counted as differing and unexplained */
  const leftOut = (rel: string, ia: Item | undefined, ib: Item | undefined): void => {
    const n = Math.max(ia?.size ?? 0, ib?.size ?? 0);
    const spans = [...(ia?.size ? [{ side: 'a' as const, stream: rel, offset: 0, length: ia.size }] : []), ...(ib?.size ? [{ side: 'b' as const, stream: rel, offset: 0, length: ib.size }] : [])];
    placed.push({ f: { id: '', root: true, causedBy: [], path: `/${rel}`, format: 'folder', field: null, kind: 'unknown', a: ia ? presentValue({ type: 'entry', entryType: ia.type, size: ia.size }) : null, b: ib ? presentValue({ type: 'entry', entryType: ib.type, size: ib.size }) : null, spans, detail: `not examined: ${opts.deadline!.limitText()}`, hint: 'raise --timeout to compare it' }, part: -1 });
    cause('unknown', n);
    bytes.differing += n;
    bytes.unexplained += n;
  };
  if (opts.exclude) bytes.excluded = 0;
  const rules = opts.exclude;

  const pool = new WorkerPool(opts.jobs);
  let part = 0;
  let left = 0;
  try {
    for (const rel of paths) {
      const ia = listA.get(rel);
      const ib = listB.get(rel);
      if (opts.deadline?.reached()) {
        // the run's time is up: every file left is named, none compared
        if (!left++) notes.push(`${opts.deadline.limitText()}: the files from /${rel} on were not compared`);
        if ((ia?.type ?? ib?.type) !== 'dir') leftOut(rel, ia, ib);
        continue;
      }
      const pattern = rules?.folderPattern(rel);
      if (pattern !== undefined) {
        await leaveOut(rel, pattern, ia, ib);
        continue;
      }
      const special = (ia && SPECIAL[ia.type]) || (ib && SPECIAL[ib.type]);
      if (special) {
        const said = ia && ib && ia.type === ib.type ? `${special} in both folders` : `${(ia && SPECIAL[ia.type]) ?? (ib && SPECIAL[ib.type])} in the ${ia && SPECIAL[ia.type] ? 'first' : 'second'} folder`;
        notes.push(`/${rel}: ${said}; not compared`);
        continue;
      }
      if (!ia || !ib) {
        const it = (ia ?? ib)!;
        const value = presentValue({ type: 'entry', entryType: it.type, size: it.size });
        const side = ia ? 'a' : 'b';
        own(
          {
            path: `/${rel}`,
            format: 'folder',
            field: null,
            kind: ia ? 'removed' : 'added',
            a: ia ? value : null,
            b: ia ? null : value,
            spans: it.size > 0 ? [{ side, stream: rel, offset: 0, length: it.size }] : [],
            ...(it.type === 'symlink' ? { detail: `a symbolic link to ${it.target ?? ''}` } : {}),
          },
          it.size,
        );
        continue;
      }
      // with --exclude-directory-metadata no: the mode, owner and time of every file and folder
      if (rules?.directoryMetadata === 'no') {
        const [pa, pb] = [join(dirA, ...rel.split('/')), join(dirB, ...rel.split('/'))];
        for (const m of statDifferences(lstatOf(pa), lstatOf(pb))) own({ path: `/${rel}`, format: 'folder', field: m.field, kind: m.kind, a: m.a, b: m.b, spans: [], hint: STAT_HINT }, 0);
      }
      if (ia.type !== ib.type) {
        own({ path: `/${rel}`, format: 'folder', field: 'type', kind: 'content', a: ia.type, b: ib.type, spans: [], detail: 'a different type of file at this path' }, Math.max(ia.size, ib.size));
        continue;
      }
      if (ia.type === 'dir') continue;
      if (ia.type === 'symlink') {
        if (ia.target !== ib.target) {
          own({ path: `/${rel}`, format: 'folder', field: 'symlink.target', kind: 'content', a: ia.target ?? null, b: ib.target ?? null, spans: [], detail: 'the symbolic link points elsewhere (links are compared as links, never followed)' }, 0);
        }
        continue;
      }
      // two regular files: compared as two inputs are, in the one pool
      const pa = join(dirA, ...rel.split('/'));
      const pb = join(dirB, ...rel.split('/'));
      const stamps = [stampOf(pa, lstatSync(pa, { bigint: true })), stampOf(pb, lstatSync(pb, { bigint: true }))];
      const res = await compareFiles(pa, pb, { pool, limits, sourceDateEpoch: opts.sourceDateEpoch, onProgress: opts.onProgress, exclude: rules?.under(rel), deadline: opts.deadline });
      let r: Report;
      try {
        r = buildReport(res, [{ path: pa, size: res.sizeA, sha256: null }, { path: pb, size: res.sizeB, sha256: null }], opts.version, { sourceDateEpoch: opts.sourceDateEpoch });
      } finally {
        res.close();
      }
      for (const s of stamps) checkUnchanged(s);
      const n = part++;
      bytes.differing += r.bytes.differing;
      bytes.explained += r.bytes.explained;
      bytes.unexplained += r.bytes.unexplained;
      if (r.bytes.excluded !== undefined) bytes.excluded = (bytes.excluded ?? 0) + r.bytes.excluded;
      for (const e of r.excluded?.entries ?? []) excluded.push({ ...e, path: pathIn(rel, e.path) });
      for (const [k, c] of Object.entries(r.causes) as [Kind, { findings: number; bytes: number }][]) {
        const t = (causes[k] ??= { findings: 0, bytes: 0 });
        t.findings += c.findings;
        t.bytes += c.bytes;
      }
      for (const note of r.notes) notes.push(`/${rel}: ${note}`);
      for (const f of r.findings) {
        placed.push({
          f: { ...f, path: pathIn(rel, f.path), spans: f.spans.map((s) => ({ ...s, stream: s.stream === undefined ? rel : `${rel}//${s.stream}` })) },
          part: n,
        });
      }
    }
  } finally {
    await pool.close();
  }

  // one order for the whole folder: roots first, by kind, then path; a file's own order within that
  const order = new Map(placed.map((p, i) => [p, i]));
  placed.sort((x, y) => {
    if (x.f.root !== y.f.root) return x.f.root ? -1 : 1;
    const k = (KIND_RANK.get(x.f.kind) ?? 99) - (KIND_RANK.get(y.f.kind) ?? 99);
    if (k) return k;
    if (x.f.path !== y.f.path) return x.f.path < y.f.path ? -1 : 1;
    return order.get(x)! - order.get(y)!;
  });
  const ids = new Map<string, string>();
  placed.forEach((p, i) => ids.set(`${p.part}:${p.f.id}`, `f${i + 1}`));
  const findings = placed.map((p, i) => ({
    ...p.f,
    id: `f${i + 1}`,
    causedBy: p.f.causedBy
      .map((c) => ids.get(`${p.part}:${c}`))
      .filter((c): c is string => c !== undefined)
      .sort((x, y) => +x.slice(1) - +y.slice(1)),
  }));
  return {
    schemaVersion: 1,
    tool: { name: 'reprodiff', version: opts.version },
    inputs: [
      { path: dirA, size: sizeA, sha256: null },
      { path: dirB, size: sizeB, sha256: null },
    ],
    identical: findings.length === 0 && bytes.differing === 0,
    bytes,
    causes: Object.fromEntries(Object.entries(causes).sort(([x], [y]) => (KIND_RANK.get(x) ?? 0) - (KIND_RANK.get(y) ?? 0))),
    findings,
    notes: [...new Set(notes)].sort(),
    ...(opts.sourceDateEpoch !== undefined ? { sourceDateEpoch: opts.sourceDateEpoch } : {}),
    ...(rules ? { excluded: excludedMember(rules, excluded.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))) } : {}),
  };
}

/**
 * Whether two inputs are folders to compare: true for two folders, false for two files, and a usage error for
 * a folder and a file. Symbolic links to folders count as folders (the inputs themselves are followed).
 */
export function folderPair(a: { path: string; folder: boolean }, b: { path: string; folder: boolean }): boolean {
  if (a.folder !== b.folder) {
    const [dir, file] = a.folder ? [a, b] : [b, a];
    throw new ReprodiffError('E_USAGE', `is a folder and ${file.path} is a file; reprodiff compares two files or two folders`, { file: dir.path });
  }
  return a.folder;
}

/** Refuses a report path inside an input folder: writing it would change the folder being compared. */
export function refuseInside(reports: readonly { option: string; path: string }[], folders: readonly string[]): void {
  for (const t of reports) {
    if (t.path === '-' || t.path === '') continue;
    const abs = resolve(t.path);
    for (const d of folders) {
      const rel = relative(resolve(d), abs);
      if (rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel)) {
        throw new ReprodiffError('E_USAGE', `${t.option} ${t.path} is inside the input folder ${d}; the report would change the folder it describes`);
      }
    }
  }
}
