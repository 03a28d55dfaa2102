/**
 * `reprodiff inspect IMAGE`: every container and entry of one image, nested containers included,
 * with types, sizes, modes, times, extents in the outer file and content hashes.
 */
import { FileSource } from './io/file.js';
import type { Span } from './model.js';
import { TempFiles } from './io/spill.js';
import { containerFields, type Container, type Entry, type EntryMeta, type Field, type OpenContext } from './model.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { noViewsError, openViews } from './walk/open.js';
import { Inflight, Walker } from './walk/walker.js';
import { hashContent, WorkerPool } from './compare/pool.js';
import { pushAll } from './util/array.js';
import { isReprodiffError } from './errors.js';
import { showEscapedBytes } from './util/names.js';

/** One entry of the listing: its metadata as the reader decoded it, the mode in octal. */
export interface InspectEntry extends Omit<EntryMeta, 'mode'> {
  path: string;
  format: string;
  type: string;
  size: number;
  mode?: string;
  /** where the content sits: outer-file offsets, or decoded-stream offsets with `stream` */
  extents: Span[];
  sha256?: string;
  opaque?: string;
  /** why the content could not be read to hash it (a corrupt member, a size its headers lie about, a limit) */
  unreadable?: string;
}

/** The metadata listed after the mode, in this order. */
const META_KEYS = ['uid', 'gid', 'nlink', 'ino', 'mtime', 'atime', 'ctime', 'birthtime', 'target'] as const;

export interface InspectContainer {
  path: string;
  format: string;
  producer?: string;
  fields: { name: string; value: Field['value']; kind: Field['kind']; spans: Span[] }[];
  notes: string[];
}

export interface InspectResult {
  schemaVersion: 1;
  input: { path: string; size: number };
  containers: InspectContainer[];
  entries: InspectEntry[];
  notes: string[];
}


export async function inspectImage(path: string, opts: { jobs?: number; limits?: Limits; hash?: boolean } = {}): Promise<InspectResult> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const temp = new TempFiles();
  const ctx: OpenContext = { limits, temp };
  const root = new FileSource(path);
  const pool = new WorkerPool(opts.jobs);
  const result: InspectResult = { schemaVersion: 1, input: { path, size: root.size }, containers: [], entries: [], notes: [] };
  // hashes run in the pool, a bounded number at a time
  const hashes = new Inflight();
  try {
    const top = await openViews(root, { ...ctx, timeLimited: true });
    if (!top.views.length) throw noViewsError(root, top);
    for (const f of top.failures) result.notes.push(`not opened as ${f.format}: ${f.error.describe()}`);

    const walker = new Walker(ctx, (n) => result.notes.push(n));
    await walker.walk(top.views, {
      container(c, cpath) {
        result.containers.push({
          path: cpath,
          format: c.format,
          ...(c.producer ? { producer: c.producer } : {}),
          fields: [...containerFields(c)].map((f) => ({ name: f.name, value: f.value, kind: f.kind, spans: f.spans })),
          notes: c.notes,
        });
      },
      entry(c, e, epath) {
        const item = describe(c, e, epath);
        result.entries.push(item);
        if (opts.hash !== false && e.type === 'file' && !e.opaque) {
          // the spans describe() found are the ones to hash
          // a content that cannot be read (a corrupt member, a limit) stops only its own hash, as in a compare
          const hashing = hashContent(pool, root.path, e.contentSource ?? c.source, e.extents, item.extents).then(
            (h) => void (item.sha256 = h),
            (err: unknown) => {
              if (!isReprodiffError(err)) throw err;
              item.unreadable = err.describe();
            },
          );
          return hashes.add(hashing);
        }
        return undefined;
      },
      opened(epath, nested) {
        for (const f of nested.failures) result.notes.push(`${epath}: not opened as ${f.format}: ${f.error.describe()}`);
      },
    });
    await hashes.settled();
    // a temporary folder that failed is no verdict on a content: the run stops on it
    temp.check();
    // in listing order, whichever hash ended first
    for (const e of result.entries) if (e.unreadable !== undefined) result.notes.push(`${e.path}: not hashed: ${e.unreadable}`);
    return result;
  } finally {
    await pool.close();
    root.close();
    temp.close();
  }
}

function describe(c: Container, e: Entry, path: string): InspectEntry {
  const src = e.contentSource ?? c.source;
  const extents: Span[] = [];
  for (const x of e.extents) pushAll(extents, src.spans(x.offset, x.length));
  const m = e.meta;
  const out: InspectEntry = { path, format: c.format, type: e.type, size: e.size, extents };
  if (m.mode !== undefined) out.mode = m.mode.toString(8).padStart(6, '0');
  for (const k of META_KEYS) if (m[k] !== undefined) Object.assign(out, { [k]: m[k] });
  if (e.opaque !== undefined) out.opaque = e.opaque;
  return out;
}

/** A name as a JSON string's inside (controls as `\u001b`), and a byte that is not UTF-8 as `\xNN`. */
function quoted(s: string): string {
  return s
    .split(/((?<![\ud800-\udbff])[\udc80-\udcff])/)
    .map((part, i) => (i % 2 ? showEscapedBytes(part) : JSON.stringify(part).slice(1, -1)))
    .join('');
}

/** One line per entry, like `ls -l`: mode, uid/gid, size, mtime, path (-> target). */
export function renderInspectText(r: InspectResult): string {
  const lines: string[] = [];
  for (const c of r.containers) {
    lines.push(`# ${c.path} ${c.format}${c.producer ? ` (${c.producer})` : ''}`);
    for (const n of c.notes) lines.push(`#   note: ${n}`);
  }
  for (const e of r.entries) {
    const mode = e.mode ?? '-';
    const owner = e.uid !== undefined ? `${e.uid}/${e.gid ?? '-'}` : '-';
    const name = quoted(e.path);
    lines.push(`${e.type.padEnd(8)} ${mode.padStart(6)} ${owner.padStart(9)} ${String(e.size).padStart(12)} ${e.mtime ?? '-'.padEnd(20)} ${name}${e.target !== undefined ? ` -> ${quoted(e.target)}` : ''}`);
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n') + '\n';
}
