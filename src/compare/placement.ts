/** Bytes that are the same in both builds but sit at other offsets: moves, claimed by one layout finding per container. */
import type { ReportSpan } from '../report/types.js';
import type { Comparer } from './compare.js';
import type { Scope } from './types.js';

/** Records bytes that moved; adjacent spans of one side are merged as they come (records are read in order). */
export function noteShift(scope: Scope, a: ReportSpan[], b: ReportSpan[], what: 'fields' | 'contents'): void {
  const sh = (scope.shifted ??= { spans: [], fields: 0, contents: 0 });
  sh[what]++;
  for (const s of [...a, ...b]) {
    let merged = false;
    for (let i = sh.spans.length - 1; i >= Math.max(0, sh.spans.length - 2); i--) {
      const last = sh.spans[i]!;
      if (last.side === s.side && last.stream === s.stream && s.offset >= last.offset && s.offset <= last.offset + last.length + 64) {
        last.length = Math.max(last.length, s.offset + s.length - last.offset);
        merged = true;
        break;
      }
    }
    if (!merged) sh.spans.push({ ...s });
  }
}

/** The container's one placement finding over what moved (derived: the accounting finds what moved it). */
export function addPlacement(cx: Comparer, scope: Scope, format: string): void {
  const sh = scope.shifted;
  if (!sh) return;
  const parts = [sh.contents ? `${sh.contents} content${sh.contents === 1 ? '' : 's'}` : '', sh.fields ? `${sh.fields} field${sh.fields === 1 ? '' : 's'}` : ''].filter(Boolean);
  cx.add({
    path: scope.path,
    format,
    field: 'placement',
    kind: 'layout',
    root: false,
    derivedField: true,
    a: null,
    b: null,
    spans: mergeShifted(sh.spans),
    scope,
    detail: `${parts.join(' and ')} with the same bytes sit at other offsets`,
  });
}

/**
 * The moved spans of a container in a fixed order, neighbours (up to 64 bytes apart) merged: contents are
 * compared concurrently, so the order they were noted in varies from run to run.
 */
function mergeShifted(spans: ReportSpan[]): ReportSpan[] {
  const sorted = [...spans].sort((x, y) => (x.side < y.side ? -1 : x.side > y.side ? 1 : (x.stream ?? '') < (y.stream ?? '') ? -1 : (x.stream ?? '') > (y.stream ?? '') ? 1 : x.offset - y.offset || x.length - y.length));
  const out: ReportSpan[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && last.side === s.side && last.stream === s.stream && s.offset <= last.offset + last.length + 64) {
      last.length = Math.max(last.length, s.offset + s.length - last.offset);
    } else out.push({ ...s });
  }
  return out;
}
