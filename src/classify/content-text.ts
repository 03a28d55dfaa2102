/**
 * Text side of the content heuristics: is a content text, and a unified diff of two texts, capped in size.
 * The diff is made of windows around the differing regions (a few lines of context each), each diffed by
 * lines with the `diff` package, so its cost follows the differences and not the file size.
 */
import { structuredPatch } from 'diff';
import type { DiffRange } from './content-types.js';

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextDecoder('utf-8');
const CONTEXT = 3;
const NL = 0x0a;

/** Valid UTF-8 without NUL bytes, or (for other 8-bit encodings) at least 95% printable and no NUL. */
export function isText(buf: Uint8Array): boolean {
  if (buf.length === 0) return true;
  if (buf.indexOf(0) !== -1) return false;
  try {
    utf8Fatal.decode(buf);
    return true;
  } catch {
    let printable = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i] as number;
      if ((c >= 0x20 && c < 0x7f) || c >= 0xa0 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c) printable++;
    }
    return printable >= buf.length * 0.95;
  }
}

/** Start of the line `lines` lines before the one holding `off`. */
function backLines(buf: Uint8Array, off: number, lines: number): number {
  let p = Math.min(off, buf.length);
  // to the start of the line holding off
  while (p > 0 && buf[p - 1] !== NL) p--;
  for (let n = 0; n < lines && p > 0; n++) {
    p--;
    while (p > 0 && buf[p - 1] !== NL) p--;
  }
  return p;
}

/** End (past the newline) of the line `lines` lines after the one holding the last byte of [start, end). */
function forwardLines(buf: Uint8Array, start: number, end: number, lines: number): number {
  const last = end > start ? end - 1 : start;
  if (last >= buf.length) return buf.length;
  let nl = buf.indexOf(NL, last);
  let p = nl === -1 ? buf.length : nl + 1;
  for (let n = 0; n < lines && p < buf.length; n++) {
    nl = buf.indexOf(NL, p);
    p = nl === -1 ? buf.length : nl + 1;
  }
  return p;
}

class LineCounter {
  private pos = 0;
  private line = 1;
  constructor(private readonly buf: Uint8Array) {}
  /** 1-based line number of the line starting at or holding `off`; calls must not go backwards. */
  at(off: number): number {
    if (off < this.pos) {
      this.pos = 0;
      this.line = 1;
    }
    let p = this.pos;
    for (;;) {
      const nl = this.buf.indexOf(NL, p);
      if (nl === -1 || nl >= off) break;
      this.line++;
      p = nl + 1;
    }
    this.pos = p;
    return this.line;
  }
}

interface Window {
  a0: number;
  a1: number;
  b0: number;
  /** the last range in the window: B positions after it follow from A positions */
  last: DiffRange;
}

/** Largest window diffed by lines; bigger ones are shown as all removed, all added. */
const WINDOW_MAX = 256 * 1024;
const EDITS_MAX = 1000;

function lines(buf: Uint8Array, s: number, e: number): string[] {
  const text = utf8.decode(buf.subarray(s, e));
  const out = text.split('\n');
  if (out[out.length - 1] === '') out.pop();
  return out;
}

/**
 * A unified diff of two texts, `--- a` / `+++ b` headers and `@@` hunks with three lines of context, cut at
 * `maxChars` with a final `… N more lines` marker. Deterministic: no time-outs, only edit-count bounds.
 */
export function unifiedTextDiff(a: Uint8Array, b: Uint8Array, ranges: DiffRange[], maxChars: number, labels: [string, string] = ['a', 'b']): string {
  // windows are made on A; the bytes between ranges are the same on both sides, so B's window edges follow
  const windows: Window[] = [];
  for (const r of ranges) {
    const a0 = backLines(a, r.aOffset, CONTEXT), a1 = forwardLines(a, r.aOffset, r.aOffset + r.aLength, CONTEXT);
    const last = windows[windows.length - 1];
    const prev = last?.last;
    if (last && prev && a0 <= last.a1) {
      last.a1 = Math.max(last.a1, a1);
      last.last = r;
    } else windows.push({ a0, a1, b0: r.bOffset - (r.aOffset - a0), last: r });
  }
  const la = new LineCounter(a), lb = new LineCounter(b);
  let out = `--- ${labels[0]}\n+++ ${labels[1]}\n`;
  let hidden = 0;
  let full = false;
  const emit = (text: string, count: number): void => {
    if (full || out.length + text.length > maxChars) {
      full = true;
      hidden += count;
    } else out += text;
  };
  for (const w of windows) {
    const r = w.last;
    const b1 = Math.min(b.length, w.a1 - (r.aOffset + r.aLength) + (r.bOffset + r.bLength));
    const startA = la.at(w.a0), startB = lb.at(w.b0);
    if (full) {
      // only count what is left out; a window's line counts bound its diff lines
      hidden += countLines(a, w.a0, w.a1) + countLines(b, w.b0, b1);
      continue;
    }
    const tooBig = w.a1 - w.a0 > WINDOW_MAX || b1 - w.b0 > WINDOW_MAX;
    const patch = tooBig
      ? undefined
      : structuredPatch('a', 'b', utf8.decode(a.subarray(w.a0, w.a1)), utf8.decode(b.subarray(w.b0, b1)), '', '', { context: CONTEXT, maxEditLength: EDITS_MAX });
    if (!patch) {
      // too different to diff by lines within bounds: all of A's lines out, all of B's in
      const la2 = tooBig ? [] : lines(a, w.a0, w.a1), lb2 = tooBig ? [] : lines(b, w.b0, b1);
      const na = tooBig ? countLines(a, w.a0, w.a1) : la2.length, nb = tooBig ? countLines(b, w.b0, b1) : lb2.length;
      emit(`@@ -${startA},${na} +${startB},${nb} @@\n`, 0);
      if (tooBig) hidden += na + nb;
      for (const l of la2) emit(`-${l}\n`, 1);
      for (const l of lb2) emit(`+${l}\n`, 1);
      continue;
    }
    for (const h of patch.hunks) {
      emit(`@@ -${h.oldStart + startA - 1},${h.oldLines} +${h.newStart + startB - 1},${h.newLines} @@\n`, 0);
      for (const l of h.lines) emit(`${l}\n`, 1);
    }
  }
  if (hidden > 0) out += `… ${hidden} more lines\n`;
  return out;
}

function countLines(buf: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let p = start; p < end; ) {
    const nl = buf.indexOf(NL, p);
    if (nl === -1 || nl >= end) {
      if (p < end) n++;
      break;
    }
    n++;
    p = nl + 1;
  }
  return n;
}
