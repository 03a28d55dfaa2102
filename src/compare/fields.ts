/** Fields of two containers or two entries: paired by name, compared by decoded value and, where values agree, by bytes. */
import type { Field } from '../model.js';
import type { Comparer } from './compare.js';
import { noteShift } from './placement.js';
import { bytesEqual, readSpans, reportSpans } from './spans.js';
import type { Scope } from './types.js';
import type { FindingValue } from './values.js';

export function compareFields(cx: Comparer, fa: Field[], fb: Field[], path: string, format: string, scope: Scope, entry?: string): void {
  // the common case: both sides hold the same fields in the same order (one record layout)
  if (fa.length === fb.length) {
    let aligned = true;
    for (let i = 0; i < fa.length; i++) {
      if (fa[i]!.name !== fb[i]!.name) {
        aligned = false;
        break;
      }
    }
    if (aligned) {
      for (let i = 0; i < fa.length; i++) compareField(cx, fa[i]!, fb[i]!, path, format, scope, entry);
      return;
    }
  }
  // a name met again is the next of its kind: `name#1`, `name#2`
  const key = (list: Field[]): Map<string, Field> => {
    const m = new Map<string, Field>();
    const count = new Map<string, number>();
    for (const f of list) {
      const n = count.get(f.name) ?? 0;
      count.set(f.name, n + 1);
      m.set(n === 0 ? f.name : `${f.name}#${n}`, f);
    }
    return m;
  };
  const ma = key(fa);
  const mb = key(fb);
  for (const [k, a] of ma) {
    const b = mb.get(k);
    if (!b) {
      cx.add({ path, format, field: a.name, kind: a.kind === 'checksum' || a.derived ? a.kind : 'removed', root: !(a.covers || a.derived), a: a.value, b: null, spans: reportSpans('a', a.spans), scope, entry, hint: a.hint, derivedField: a.derived, covers: a.covers && reportSpans('a', a.covers) });
      continue;
    }
    compareField(cx, a, b, path, format, scope, entry);
  }
  for (const [k, b] of mb) {
    if (ma.has(k)) continue;
    cx.add({ path, format, field: b.name, kind: b.kind === 'checksum' || b.derived ? b.kind : 'added', root: !(b.covers || b.derived), a: null, b: b.value, spans: reportSpans('b', b.spans), scope, entry, hint: b.hint, derivedField: b.derived, covers: b.covers && reportSpans('b', b.covers) });
  }
}

/** One field both sides hold: by value, and where values agree but bytes may not, by bytes. */
function compareField(cx: Comparer, a: Field, b: Field, path: string, format: string, scope: Scope, entry?: string): void {
  let va: FindingValue = a.value;
  let vb: FindingValue = b.value;
  let differs = va !== vb;
  const same = cx.sameSpans(a.spans, b.spans);
  if (!differs && !(same && cx.untouched(a.spans))) {
    // same decoded value: compare the bytes themselves (a value may not show every bit)
    const ra = readSpans(a.spans, cx.rootA);
    const rb = readSpans(b.spans, cx.rootB);
    if (ra && rb && !bytesEqual(ra, rb)) {
      differs = true;
      va = { type: 'field-bytes', value: a.value, bytes: ra };
      vb = { type: 'field-bytes', value: b.value, bytes: rb };
    }
  }
  if (!differs) {
    if (!same) noteShift(scope, reportSpans('a', a.spans), reportSpans('b', b.spans), 'fields');
    return;
  }
  const covers = a.covers || b.covers ? [...reportSpans('a', a.covers ?? []), ...reportSpans('b', b.covers ?? [])] : undefined;
  // sizes, offsets and extents follow from something else; the accounting looks for the cause
  const derived = a.derived || b.derived || a.kind === 'size' || a.kind === 'layout' || a.kind === 'ordering';
  cx.add({
    path,
    format,
    field: a.name,
    kind: a.kind,
    root: !(covers || derived),
    a: va,
    b: vb,
    spans: [...reportSpans('a', a.spans), ...reportSpans('b', b.spans)],
    hint: a.hint ?? b.hint,
    covers,
    derivedField: derived,
    scope,
    entry,
  });
}
