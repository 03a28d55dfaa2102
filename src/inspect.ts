/**
 * `reprodiff inspect IMAGE`: every container and entry of one image, nested containers included,
 * with types, sizes, modes, times, extents in the outer file and content hashes.
 */
import { ReprodiffError } from './errors.js';
import { FORMATS } from './formats/index.js';
import { FileSource } from './io/file.js';
import type { Span } from './model.js';
import { TempFiles } from './io/spill.js';
import { type Container, type Entry, type EntryMeta, type Field, type OpenContext } from './model.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { entrySource, isTransparent, NestGuard, openViews, sourceKey } from './walk/open.js';
import { hashContent, WorkerPool } from './compare/pool.js';
import { pushAll } from './util/array.js';

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
  const hashes: Promise<void>[] = [];
  try {
    const top = await openViews(root, ctx);
    if (!top.views.length) {
      if (top.failures.length) throw top.failures[0]!.error;
      throw new ReprodiffError('E_FORMAT', `no known format recognises this file (${FORMATS.map((f) => f.name).join(', ')})`, { file: path, offset: 0 });
    }
    for (const f of top.failures) result.notes.push(`not opened as ${f.format}: ${f.error.describe()}`);

    const guard = new NestGuard(limits.maxContainers, (n) => result.notes.push(n));
    const visit = async (views: Container[], prefix: string, depth: number, ancestors: string[]): Promise<void> => {
      for (const c of views) {
        const cpath = prefix === '' ? '/' : prefix.slice(0, -1);
        result.containers.push({
          path: cpath,
          format: c.format,
          ...(c.producer ? { producer: c.producer } : {}),
          fields: c.fields.map((f) => ({ name: f.name, value: f.value, kind: f.kind, spans: f.spans })),
          notes: c.notes,
        });
        for (const e of c.entries) {
          const epath = isTransparent(c.format, e.path) ? cpath : prefix + e.path;
          const item = describe(c, e, epath);
          result.entries.push(item);
          if (opts.hash !== false && e.type === 'file' && !e.opaque) {
            // the spans describe() found are the ones to hash
            const p = hashContent(pool, root.path, e.contentSource ?? c.source, e.extents, item.extents).then((h) => void (item.sha256 = h));
            p.catch(() => undefined); // awaited below; a failure is raised there, not as an unhandled rejection
            hashes.push(p);
          }
          if (e.type === 'file' && e.size > 0 && depth + 1 <= limits.maxDepth) {
            const src = entrySource(c, e);
            if (!src) continue;
            const above = [...ancestors, sourceKey(c.source)];
            if (guard.allow(src, above, epath) !== 'ok') continue;
            const nested = await openViews(src, { ...ctx, timeLimited: true });
            for (const f of nested.failures) result.notes.push(`${epath}: not opened as ${f.format}: ${f.error.describe()}`);
            const nextPrefix = isTransparent(c.format, e.path) ? prefix : `${epath}/`;
            if (nested.views.length) await visit(nested.views, nextPrefix, depth + 1, above);
          }
        }
      }
    };
    await visit(top.views, '', 0, []);
    await Promise.all(hashes);
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
    const name = JSON.stringify(e.path).slice(1, -1);
    lines.push(`${e.type.padEnd(8)} ${mode.padStart(6)} ${owner.padStart(9)} ${String(e.size).padStart(12)} ${e.mtime ?? '-'.padEnd(20)} ${name}${e.target !== undefined ? ` -> ${JSON.stringify(e.target).slice(1, -1)}` : ''}`);
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n') + '\n';
}
