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
  b1: number;
}

/**
 * A unified diff of two texts, `--- a` / `+++ b` headers and `@@` hunks with three lines of context, cut at
 * `maxChars` with a final `… N more lines` marker.
 */
export function unifiedTextDiff(a: Uint8Array, b: Uint8Array, ranges: DiffRange[], maxChars: number, labels: [string, string] = ['a', 'b']): string {
  const windows: Window[] = [];
  for (const r of ranges) {
    const w: Window = {
      a0: backLines(a, r.aOffset, CONTEXT),
      a1: forwardLines(a, r.aOffset, r.aOffset + r.aLength, CONTEXT),
      b0: backLines(b, r.bOffset, CONTEXT),
      b1: forwardLines(b, r.bOffset, r.bOffset + r.bLength, CONTEXT),
    };
    const last = windows[windows.length - 1];
    if (last && (w.a0 <= last.a1 || w.b0 <= last.b1)) {
      last.a1 = Math.max(last.a1, w.a1);
      last.b1 = Math.max(last.b1, w.b1);
    } else windows.push(w);
  }
  const la = new LineCounter(a), lb = new LineCounter(b);
  let out = `--- ${labels[0]}\n+++ ${labels[1]}\n`;
  let hidden = 0;
  let full = false;
  for (const w of windows) {
    const startA = la.at(w.a0), startB = lb.at(w.b0);
    if (full) {
      // only count what is left out; a window's line counts bound its diff lines
      hidden += countLines(a, w.a0, w.a1) + countLines(b, w.b0, w.b1);
      continue;
    }
    const patch = structuredPatch('a', 'b', utf8.decode(a.subarray(w.a0, w.a1)), utf8.decode(b.subarray(w.b0, w.b1)), '', '', {
      context: CONTEXT,
      timeout: 200,
    });
    if (!patch) {
      const text = `@@ -${startA} +${startB} @@ (window too different to diff by lines)\n`;
      if (out.length + text.length > maxChars) {
        full = true;
        hidden += countLines(a, w.a0, w.a1) + countLines(b, w.b0, w.b1);
      } else out += text;
      continue;
    }
    for (const h of patch.hunks) {
      const head = `@@ -${h.oldStart + startA - 1},${h.oldLines} +${h.newStart + startB - 1},${h.newLines} @@\n`;
      if (full || out.length + head.length > maxChars) {
        full = true;
        hidden += h.lines.length;
        continue;
      }
      out += head;
      for (let i = 0; i < h.lines.length; i++) {
        const line = `${h.lines[i] as string}\n`;
        if (out.length + line.length > maxChars) {
          full = true;
          hidden += h.lines.length - i;
          break;
        }
        out += line;
      }
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
