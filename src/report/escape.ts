/**
 * Escaping for every output the reports write. Strings that come from images (paths, decoded values,
 * details) are data: they must never become markup, terminal control sequences or broken XML.
 *
 * Names are bytes (src/util/names.ts): a byte that is not valid UTF-8 is held as U+DC00 + byte, and every
 * presenter shows it as `\xNN`; the JSON report writes that form and the exact bytes beside it (jsonNames).
 */
import { encodeName, escapedByte, hasEscapedBytes, showEscapedBytes } from '../util/names.js';
import { toHex } from '../io/bytes.js';

/** Replaces one control character by a visible escape: `\n`, `\t`, `\x1b`, `\u0085`; an escaped byte as `\xff`. */
function visibleControl(ch: string): string {
  const c0 = ch.charCodeAt(0);
  if (c0 >= 0xdc80 && c0 <= 0xdcff) return `\\x${escapedByte(ch).toString(16).padStart(2, '0')}`;
  switch (ch) {
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default: {
      const c = ch.codePointAt(0) ?? 0;
      return c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
    }
  }
}

/**
 * C0 controls, DEL, C1 controls, the Unicode line/paragraph separators and bidi overrides that reorder text,
 * and bytes of a name that are not valid UTF-8 (lone U+DC80-U+DCFF).
 */
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|(?<![\ud800-\udbff])[\udc80-\udcff]/g;
/** The same, but keeping newline and tab (for multi-line blocks such as text diffs). */
const CONTROL_KEEP_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|(?<![\ud800-\udbff])[\udc80-\udcff]/g;

/** One-line text safe for a terminal: every control character (ESC, CR, newline, ...) made visible. */
export function visible(s: string): string {
  return s.replace(CONTROL_ALL, visibleControl);
}

/** Multi-line text safe for a terminal or a fenced block: newlines and tabs kept, other controls made visible. */
export function visibleBlock(s: string): string {
  return s.replace(CONTROL_KEEP_LINES, visibleControl);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function htmlEntities(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/**
 * Text for HTML element content and quoted attribute values, on one line: control characters (ESC, CR, BEL,
 * newline, the other C0 and C1 controls) and bidi overrides made visible as `visible` makes them for the
 * terminal, Markdown and JUnit, so `evil\u202etxt.exe` cannot show as "evilexe.txt"; then `&<>"'` as
 * entities.
 */
export function escapeHtml(s: string): string {
  return htmlEntities(visible(s));
}

/** The same for multi-line text (a `<pre>` block, a diff line): newlines and tabs kept. */
export function escapeHtmlBlock(s: string): string {
  return htmlEntities(visibleBlock(s));
}

/**
 * Characters XML 1.0 does not allow at all (section 2.2 Char): C0 controls other than tab, newline and
 * carriage return, U+FFFE, U+FFFF, and unpaired surrogates. They are replaced by a visible escape.
 */
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** What XML 1.0 cannot hold, left after `visible`: U+FFFE, U+FFFF and unpaired surrogates, as `\uXXXX`. */
function xmlValid(s: string): string {
  return s.replace(XML_INVALID, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

/**
 * Text for XML element content and quoted attribute values (XML 1.0), on one line: control characters and
 * bidi overrides made visible as `visible` makes them (so a name reads the same in JUnit as in the
 * terminal), characters XML forbids escaped, then `&<>"'` as entities.
 */
export function escapeXml(s: string): string {
  return xmlValid(visible(s)).replace(/[&<>"']/g, (c) => (c === "'" ? '&apos;' : (HTML_ESCAPES[c] ?? c)));
}

/** Like escapeXml, but keeps newlines and tabs as they are (for element text such as a failure body). */
export function escapeXmlText(s: string): string {
  return xmlValid(visibleBlock(s)).replace(/[&<>]/g, (c) => HTML_ESCAPES[c] ?? c);
}

/**
 * Markdown that can start anywhere inside a line: backslash escapes, code, emphasis, links and images,
 * strikethrough, table pipes, GitHub math (`$`), email autolinks (`@`). Values never start a line in these
 * reports, so line-start syntax (`#`, `-`, `1.`) cannot form and is left alone.
 */
const MD_PUNCT = /[\\`*_[\]!|~$@]/g;

/**
 * Text from an image as inline Markdown (also safe in a GFM table cell): renders literally on GitHub and
 * GitLab. Control characters (newlines included) become visible escapes, so one value stays on one line.
 * `&`, `<`, `>` and `"` become entities so no HTML can form and no entity is decoded; `:` before a word or
 * `/` (URL autolinks, `:emoji:` codes) and the `.` of `www.` are escaped so nothing turns into a link.
 */
export function mdText(s: string): string {
  return visible(s)
    .replace(/[&<>"]/g, (c) => HTML_ESCAPES[c] ?? c)
    .replace(MD_PUNCT, (c) => `\\${c}`)
    .replace(/:(?=[\w/+\-])/g, '\\:')
    .replace(/(?<=www)\./gi, '\\.');
}

/** Longest run of `ch` in `s`. */
function longestRun(s: string, ch: string): number {
  let best = 0;
  let cur = 0;
  for (const c of s) {
    if (c === ch) {
      cur++;
      if (cur > best) best = cur;
    } else cur = 0;
  }
  return best;
}

/**
 * An inline code span holding `s` literally. Inside a GFM table a `|` would still end the cell, so it is
 * written `\|` there (the table parser removes the backslash before the code span is read).
 */
export function mdCode(s: string, opts: { table?: boolean } = {}): string {
  let body = visible(s);
  if (body === '') return '` `';
  if (opts.table) body = body.replace(/\|/g, '\\|');
  const ticks = '`'.repeat(longestRun(body, '`') + 1);
  const pad = /^[` ]|[` ]$/.test(body) && !/^ +$/.test(body) ? ' ' : '';
  return `${ticks}${pad}${body}${pad}${ticks}`;
}

/** A backtick fence longer than any run of backticks in `text` (at least three), so the text cannot close it. */
export function fenceFor(text: string): string {
  return '`'.repeat(Math.max(3, longestRun(text, '`') + 1));
}

/** A fenced code block holding `text` literally. */
export function mdFenced(text: string, info = ''): string {
  const body = visibleBlock(text).replace(/\n+$/, '');
  const fence = fenceFor(body);
  return `${fence}${info}\n${body}\n${fence}`;
}

/**
 * JSON for a `<script type="application/json">` element: `<`, `>` and `&` as unicode escapes so neither
 * `</script>` nor `<!--` can end or change the element, and U+2028/U+2029 escaped for old parsers.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value, jsonNames).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Members whose value may be a name from an image: `path`, the decoded values `a` and `b`, a link `target`. */
const NAME_MEMBERS = new Set(['path', 'a', 'b', 'target']);

/**
 * A JSON.stringify replacer that keeps the output valid UTF-8 when names hold bytes that are not (lone
 * surrogates, see src/util/names.ts): such a string is written in its display form, each of those bytes as
 * `\xNN` (control characters stay as JSON writes them), and a member `path`, `a`, `b` or `target` holding one
 * gets a sibling `pathBytes` (`aBytes`, ...) right after it with the exact bytes in hex. A name that is valid
 * UTF-8 is written as before, with no sibling.
 */
export function jsonNames(this: unknown, key: string, value: unknown): unknown {
  if (typeof value === 'string') return hasEscapedBytes(value) ? showEscapedBytes(value) : value;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) return value;
  const o = value as Record<string, unknown>;
  let escaped = false;
  for (const k of NAME_MEMBERS) {
    const v = o[k];
    if (typeof v === 'string' && hasEscapedBytes(v)) escaped = true;
  }
  if (!escaped) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    out[k] = v;
    if (NAME_MEMBERS.has(k) && typeof v === 'string' && hasEscapedBytes(v)) out[`${k}Bytes`] = toHex(encodeName(v));
  }
  return out;
}
