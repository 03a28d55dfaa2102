#!/usr/bin/env node
/**
 * Who owns which bytes of an image: one line per outer-file span, as reprodiff's own parsers see it.
 *
 *   node bench/live/layout.mjs IMAGE [--depth N] > IMAGE.layout.tsv      (needs `npm run build`)
 *
 * Columns: start, end (outer-file offsets, end exclusive), container path, format, what, name.
 * `what` is `content` (an entry's content, or for a decoded content such as a squashfs file or a
 * compressed member, the encoded bytes it is decoded from), `record` (the entry's own records),
 * `field` (a container field), `region` (a container region: metadata, padding, system area) or
 * `stream` (the encoded bytes of a container's decoded metadata stream). Nested containers are
 * opened down to --depth levels (default 2: an ISO, the squashfs or UKI in it, the initrd in those).
 * Spans inside decoded streams that cannot be mapped back to the outer file are left out.
 * Used by moved.py to say which structure owns unexplained or moved bytes.
 */
import { FileSource } from '../../dist/src/io/file.js';
import { DecodedSource } from '../../dist/src/io/source.js';
import { DEFAULT_LIMITS } from '../../dist/src/limits.js';
import { TempFiles } from '../../dist/src/io/spill.js';
import { entrySource, isTransparent, openViews } from '../../dist/src/walk/open.js';

const args = process.argv.slice(2);
let depthMax = 2;
const di = args.indexOf('--depth');
if (di >= 0) {
  depthMax = Number(args[di + 1]);
  args.splice(di, 2);
}
if (args.length !== 1) {
  console.error('usage: layout.mjs IMAGE [--depth N]');
  process.exit(2);
}
const root = new FileSource(args[0]);
const ctx = { limits: DEFAULT_LIMITS, temp: new TempFiles() };
const out = [];
const clean = (s) => String(s).replace(/[\t\n]/g, ' ');

/** outer spans of a span list (decoded streams are mapped through their origin when known) */
function outer(spans, streams) {
  const res = [];
  for (const s of spans) {
    if (s.stream === undefined) res.push([s.offset, s.offset + s.length]);
    else if (streams.has(s.stream)) for (const o of streams.get(s.stream)) res.push(o);
  }
  return res;
}

async function visit(src, prefix, depth, streams) {
  const { views } = await openViews(src, ctx);
  for (const c of views) {
    const cpath = prefix === '' ? '/' : prefix.slice(0, -1);
    const local = new Map(streams);
    for (const st of c.streams ?? []) {
      const o = outer(st.origin, local);
      local.set(st.id, o);
      for (const [s, e] of o) out.push([s, e, cpath, c.format, 'stream', st.id.replace(/^.*#/, '#')]);
    }
    for (const r of c.regions) for (const [s, e] of outer(r.spans, local)) out.push([s, e, cpath, c.format, 'region', r.name]);
    for (const f of c.fields) for (const [s, e] of outer(f.spans, local)) out.push([s, e, cpath, c.format, 'field', f.name]);
    for (const e of c.entries) {
      const epath = isTransparent(c.format, e.path) ? cpath : prefix + e.path;
      for (const [s, t] of outer(e.records ?? [], local)) out.push([s, t, cpath, c.format, 'record', epath]);
      const base = e.contentSource ?? c.source;
      let spans = [];
      for (const x of e.extents) spans.push(...base.spans(x.offset, x.length));
      if (base instanceof DecodedSource && spans.some((s) => s.stream !== undefined && !local.has(s.stream))) spans = base.origin;
      for (const [s, t] of outer(spans, local)) out.push([s, t, cpath, c.format, 'content', epath]);
      if (depth < depthMax && e.type === 'file' && e.size > 0) {
        const sub = entrySource(c, e);
        if (!sub || sub === src) continue;
        try {
          const m = new Map(local);
          if (base instanceof DecodedSource) m.set(base.stream, outer(base.origin, local));
          await visit(sub, isTransparent(c.format, e.path) ? prefix : `${epath}/`, depth + 1, m);
        } catch {
          /* not a container */
        }
      }
    }
  }
}

await visit(root, '', 0, new Map());
out.sort((x, y) => x[0] - y[0] || y[1] - x[1]);
for (const r of out) process.stdout.write(`${r[0]}\t${r[1]}\t${clean(r[2])}\t${r[3]}\t${r[4]}\t${clean(r[5])}\n`);
ctx.temp.close?.();
