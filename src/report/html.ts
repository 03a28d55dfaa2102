/**
 * One self-contained HTML file: summary, root causes, a collapsible tree of containers (paths split on `//`
 * and `/`) with counts, filters by kind and by root/derived/accepted, and side-by-side views of the a and b
 * values and of details. No network: inline CSS and JS, and a Content-Security-Policy that allows only the
 * page's own script (by hash), so even a missed escape could not run or load anything. Every string from
 * the images is escaped; the rows are rendered in the file, so it also reads without JavaScript.
 */
import { createHash } from 'node:crypto';
import { KINDS, type Kind } from '../model.js';
import type { Finding, Report } from './types.js';
import { clip, derivedCount, digest, excludedSummary, fieldText, findingCount, isAccepted, num, plural, shownValue, timeoutSummary, verdict, type Digest } from './common.js';
import { fixGroups } from './fixes.js';
import { escapeHtml as h, escapeHtmlBlock as hb, jsonForScript } from './escape.js';

export interface HtmlOptions {
  /** page title (plain text); default `reprodiff report` */
  title?: string;
  /** findings rendered as rows; the rest are counted; default 20,000 */
  maxFindings?: number;
  /** characters of one detail shown; default 20,000 */
  maxDetailChars?: number;
  /** nodes in the container tree; default 5,000 */
  maxTreeNodes?: number;
}

const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--mute:#656d76;--line:#d0d7de;--del:#ffebe9;--add:#dafbe1;--head:#f6f8fa;--bad:#cf222e;--good:#1a7f37;--code:#eff1f3}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--mute:#8d96a0;--line:#30363d;--del:#3d1f20;--add:#1b3a26;--head:#161b22;--bad:#ff7b72;--good:#3fb950;--code:#262c36}}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,sans-serif;margin:0 1.5rem 2rem;background:var(--bg);color:var(--fg);overflow-wrap:anywhere}
h1{font-size:1.5rem;margin:1rem 0 .25rem}h2{font-size:1.15rem;margin:1.25rem 0 .5rem}h3{font-size:1rem;margin:.9rem 0 .3rem}
.verdict{font-size:1.1rem;font-weight:600}.verdict.differs{color:var(--bad)}.verdict.identical{color:var(--good)}
table{border-collapse:collapse;max-width:100%}th,td{border:1px solid var(--line);padding:.2rem .45rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:var(--head)}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,.mono,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
code{background:var(--code);padding:0 .2em;border-radius:3px}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:.3rem 0}
.val{font-family:ui-monospace,monospace;font-size:12.5px;overflow-wrap:anywhere}
.val.a{background:var(--del)}.val.b{background:var(--add)}
.path{overflow-wrap:anywhere}
.layout{display:flex;gap:1.5rem;align-items:flex-start}
#tree{flex:0 0 20rem;max-width:20rem;max-height:80vh;overflow:auto;border:1px solid var(--line);padding:.5rem}
#tree ul{list-style:none;margin:0;padding-left:1rem}#tree>ul{padding-left:0}
#tree button{background:none;border:0;padding:0;color:inherit;font:inherit;cursor:pointer;text-align:left}
#tree button:hover{text-decoration:underline}.count{color:var(--mute);font-size:.85em}
.container>summary>button::after{content:" //";color:var(--mute)}
main{flex:1;min-width:0}
#findings{width:100%;table-layout:fixed}
#findings col.id{width:3.6rem}#findings col.kind{width:6.2rem}#findings col.role{width:4.6rem}#findings col.path{width:24%}#findings col.format{width:4.8rem}#findings col.field{width:16%}
#filters fieldset{display:inline-block;border:1px solid var(--line);margin:0 .5rem .5rem 0;min-inline-size:0;max-width:100%}
#filters label{margin-right:.6rem;white-space:nowrap}
tbody.finding.derived td{color:var(--mute)}tbody.finding.accepted td{opacity:.6}
tr.more td{border-top:0;font-size:.92em}
table.sbs{width:100%;table-layout:fixed}
table.sbs td{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;word-break:break-all;width:50%}
table.sbs td.del{background:var(--del)}table.sbs td.add{background:var(--add)}
table.sbs td.hunk{color:var(--mute)}
.note{color:var(--mute)}
#fixes ol{padding-left:1.4rem}#fixes li.group{margin-bottom:1rem}
#fixes .fix{margin:.2rem 0 .4rem}
#fixes ul.roots{list-style:none;padding-left:0;margin:0}#fixes ul.roots li{padding:.15rem 0;border-top:1px solid var(--line)}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;vertical-align:-.05em;margin-right:.25em}
#bytemap .strip{margin:.3rem 0 .8rem}#bytemap svg{display:block;width:100%;height:28px;border:1px solid var(--line);background:var(--head)}
#bytemap .axis{display:flex;justify-content:space-between;color:var(--mute);font-size:.8em}
#bytemap .legend{display:flex;flex-wrap:wrap;gap:.2rem 1rem;font-size:.9em}
@media (max-width:1000px){.layout{flex-direction:column}#tree{flex:none;max-width:none;width:100%;max-height:40vh}}
@media (max-width:700px){body{margin:0 .6rem 1.5rem}
#findings,#findings tbody,#findings tr,#findings td{display:block;width:auto}#findings thead,#findings colgroup{display:none}
#findings tbody.finding{border:1px solid var(--line);margin:0 0 .5rem}#findings tbody.finding[hidden]{display:none}#findings td{border:0;padding:.1rem .4rem}
#findings td[data-l]::before{content:attr(data-l) ": ";color:var(--mute);font-family:system-ui,sans-serif}
table.inputs td,table.inputs th,#causes td,#causes th{padding:.15rem .25rem;font-size:.9em}}
`;

/** The page's only script: filters and the path tree. Reads data-* attributes; writes only textContent and hidden. */
const SCRIPT = `
(function () {
  'use strict';
  var rows = Array.prototype.slice.call(document.querySelectorAll('tbody.finding'));
  var boxes = Array.prototype.slice.call(document.querySelectorAll('input[data-filter]'));
  var shown = document.getElementById('shown');
  var clear = document.getElementById('clear-path');
  var prefix = null;
  function under(p) {
    if (prefix === null || p === prefix) return true;
    return p.indexOf(prefix.charAt(prefix.length - 1) === '/' ? prefix : prefix + '/') === 0;
  }
  function apply() {
    var on = { kind: {}, role: {}, accepted: {} };
    boxes.forEach(function (b) { if (b.checked) on[b.getAttribute('data-filter')][b.value] = true; });
    var n = 0;
    rows.forEach(function (r) {
      var ok = on.kind[r.getAttribute('data-kind')] === true && on.role[r.getAttribute('data-role')] === true &&
        (r.getAttribute('data-accepted') !== '1' || on.accepted.yes === true) && under(r.getAttribute('data-path'));
      r.hidden = !ok;
      if (ok) n++;
    });
    shown.textContent = n + ' of ' + rows.length + ' findings shown' + (prefix === null ? '' : ' under ' + prefix);
    clear.hidden = prefix === null;
  }
  boxes.forEach(function (b) { b.addEventListener('change', apply); });
  Array.prototype.slice.call(document.querySelectorAll('button[data-set]')).forEach(function (btn) {
    btn.addEventListener('click', function () {
      var group = btn.getAttribute('data-group'), value = btn.getAttribute('data-set') === 'all';
      boxes.forEach(function (b) { if (b.getAttribute('data-filter') === group) b.checked = value; });
      apply();
    });
  });
  Array.prototype.slice.call(document.querySelectorAll('#tree button[data-prefix]')).forEach(function (btn) {
    btn.addEventListener('click', function (e) {
      e.preventDefault();
      prefix = btn.getAttribute('data-prefix');
      apply();
    });
  });
  clear.addEventListener('click', function () { prefix = null; apply(); });
  apply();
  document.body.setAttribute('data-ready', '1');
})();
`;

/** The Content-Security-Policy of every page: nothing from outside, only the page's own script. */
export function htmlCsp(): string {
  const hash = createHash('sha256').update(SCRIPT, 'utf8').digest('base64');
  return `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'`;
}

export function renderHtml(report: Report, opts: HtmlOptions = {}): string {
  const d = digest(report);
  const title = opts.title ?? 'reprodiff report';
  const maxRows = opts.maxFindings ?? 20_000;
  const maxDetail = opts.maxDetailChars ?? 20_000;
  const out: string[] = [];
  out.push(
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${h(htmlCsp())}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${h(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${h(title)}</h1>`,
    `<p class="verdict ${report.identical ? 'identical' : 'differs'}">${h(verdict(report, d))}</p>`,
  );
  if (!report.identical) {
    const b = report.bytes;
    const excluded = b.excluded !== undefined ? `; excluded: ${num(b.excluded)} (not drawn)` : '';
    out.push(`<p>Differing bytes: ${num(b.differing)}; explained: ${num(b.explained)}; unexplained: ${num(b.unexplained)}${excluded}.</p>`);
    out.push(byteMap(report, d));
  }
  const cut = timeoutSummary(report);
  if (cut) out.push(`<p class="verdict differs">${h(cut)}.</p>`);
  out.push(excludedSection(report));
  out.push(fixesSection(report, d));
  out.push(inputsTable(report));
  out.push(causesTable(d));
  if (report.notes.length) {
    out.push('<h2>Notes</h2><ul>');
    for (const n of report.notes.slice(0, 200)) out.push(`<li>${h(clip(n, 2_000))}</li>`);
    if (report.notes.length > 200) out.push(`<li>and ${plural(report.notes.length - 200, 'more note')}</li>`);
    out.push('</ul>');
  }
  if (report.findings.length) {
    const rows = report.findings.slice(0, maxRows);
    out.push(filters(report, rows));
    out.push('<div class="layout">');
    out.push(tree(rows, opts.maxTreeNodes ?? 5_000));
    out.push('<main>', '<h2>Findings</h2>');
    out.push(
      '<table id="findings">',
      '<colgroup><col class="id"><col class="kind"><col class="role"><col class="path"><col class="format"><col class="field"><col class="a"><col class="b"></colgroup>',
      '<thead><tr><th>id</th><th>kind</th><th>role</th><th>path</th><th>format</th><th>field</th><th>a</th><th>b</th></tr></thead>',
    );
    for (const f of rows) out.push(findingRows(f, d, maxDetail));
    out.push('</table>');
    if (report.findings.length > rows.length) {
      out.push(`<p class="note">${plural(report.findings.length - rows.length, 'more finding')} not shown here; the JSON report has every finding.</p>`);
    }
    out.push('</main>', '</div>');
  }
  const summary = { schemaVersion: report.schemaVersion, tool: report.tool, inputs: report.inputs, identical: report.identical, bytes: report.bytes, causes: report.causes };
  out.push(`<script type="application/json" id="reprodiff-summary">${jsonForScript(summary)}</script>`);
  if (report.findings.length) out.push(`<script>${SCRIPT}</script>`);
  out.push('</body>', '</html>');
  return out.join('\n') + '\n';
}

function inputsTable(report: Report): string {
  if (!report.inputs.length) return '';
  const rows = report.inputs.map((input, i) => {
    const side = i === 0 ? 'a' : i === 1 ? 'b' : String(i + 1);
    return `<tr><td>${side}</td><td class="path mono">${pathHtml(input.path)}</td><td class="n">${num(input.size)}</td><td class="mono">${h(input.sha256 ?? '—')}</td></tr>`;
  });
  return `<table class="inputs"><thead><tr><th>side</th><th>file</th><th>bytes</th><th>sha256</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function causesTable(d: Digest): string {
  if (!d.groups.length) return '';
  const rows = d.groups.map((g) => {
    const derived = derivedCount(d, g.findings);
    const hints = g.hints.map((x) => prose(x)).join('<br>') || '—';
    return `<tr><td>${h(g.kind)}</td><td class="n">${num(g.findings.length)}</td><td class="n">${num(derived)}</td><td class="n">${num(g.bytes)}</td><td>${hints}</td></tr>`;
  });
  const acc = d.accepted.length ? `<p class="note">Accepted, not counted: ${plural(d.accepted.length, 'root cause')}.</p>` : '';
  return `<h2>Root causes</h2><table id="causes"><thead><tr><th>kind</th><th>root findings</th><th>derived</th><th>bytes</th><th>how to fix</th></tr></thead><tbody>${rows.join('')}</tbody></table>${acc}`;
}

function filters(report: Report, rows: Finding[]): string {
  const kindCount = new Map<Kind, number>();
  let roots = 0;
  let accepted = 0;
  for (const f of rows) {
    kindCount.set(f.kind, (kindCount.get(f.kind) ?? 0) + 1);
    if (f.root) roots++;
    if (isAccepted(f)) accepted++;
  }
  // kinds the report has, in KINDS order, then any unexpected ones in first-seen order
  const kinds: string[] = KINDS.filter((k) => kindCount.has(k));
  for (const f of report.findings) if (!kinds.includes(f.kind)) kinds.push(f.kind);
  const box = (group: string, value: string, label: string, n: number): string =>
    `<label><input type="checkbox" data-filter="${group}" value="${h(value)}" checked> ${h(label)} <span class="count">(${num(n)})</span></label>`;
  const kindBoxes = kinds.map((k) => box('kind', k, k, kindCount.get(k as Kind) ?? 0)).join('');
  const out = [
    '<section id="filters">',
    '<h2>Filters</h2>',
    `<fieldset><legend>kind <button type="button" data-group="kind" data-set="all">all</button> <button type="button" data-group="kind" data-set="none">none</button></legend>${kindBoxes}</fieldset>`,
    `<fieldset><legend>role</legend>${box('role', 'root', 'root causes', roots)}${box('role', 'derived', 'derived', rows.length - roots)}</fieldset>`,
  ];
  if (accepted) out.push(`<fieldset><legend>accepted</legend>${box('accepted', 'yes', 'show accepted', accepted)}</fieldset>`);
  out.push(`<p><span id="shown">${num(rows.length)} findings</span> <button type="button" id="clear-path" hidden>show all paths</button></p>`, '</section>');
  return out.join('\n');
}

interface Node {
  name: string;
  prefix: string;
  /** the node is a nested container (paths step into it with `//`) */
  container: boolean;
  count: number;
  children: Map<string, Node>;
}

/** Splits `/a.img//EFI/BOOT/x` into prefixes: `/a.img`, `/a.img//EFI`, `/a.img//EFI/BOOT`, `/a.img//EFI/BOOT/x`. */
function pathSteps(path: string): { name: string; prefix: string; container: boolean }[] {
  const steps: { name: string; prefix: string; container: boolean }[] = [];
  let prefix = '';
  const levels = path.split('//');
  for (const [li, level] of levels.entries()) {
    const parts = level.split('/').filter((p) => p !== '');
    for (const [pi, part] of parts.entries()) {
      prefix += (li > 0 && pi === 0 ? '//' : '/') + part;
      steps.push({ name: part, prefix, container: li < levels.length - 1 && pi === parts.length - 1 });
    }
  }
  return steps;
}

function tree(rows: Finding[], maxNodes: number): string {
  const root: Node = { name: '/', prefix: '/', container: false, count: 0, children: new Map() };
  let nodes = 0;
  let cut = false;
  for (const f of rows) {
    root.count++;
    let node = root;
    for (const step of pathSteps(f.path)) {
      let next = node.children.get(step.name);
      if (!next) {
        if (nodes >= maxNodes) {
          cut = true;
          break;
        }
        nodes++;
        next = { name: step.name, prefix: step.prefix, container: step.container, count: 0, children: new Map() };
        node.children.set(step.name, next);
      }
      if (step.container) next.container = true;
      next.count++;
      node = next;
    }
  }
  const out: string[] = ['<nav id="tree">', '<h2>Containers</h2>', '<ul>'];
  renderNode(root, 0, out, '(whole image)');
  out.push('</ul>');
  if (cut) out.push(`<p class="note">Tree cut at ${num(maxNodes)} nodes.</p>`);
  out.push('</nav>');
  return out.join('\n');
}

function renderNode(node: Node, depth: number, out: string[], label?: string): void {
  const button = `<button type="button" data-prefix="${h(node.prefix)}" title="show findings under ${h(node.prefix)}">${h(label ?? node.name)}</button> <span class="count">${num(node.count)}</span>`;
  if (node.children.size === 0) {
    out.push(`<li${node.container ? ' class="container"' : ''}>${button}</li>`);
    return;
  }
  // Sorted by code units, not by locale, so the same report gives the same bytes everywhere.
  const children = [...node.children.values()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  out.push(`<li><details class="${node.container ? 'container' : 'dir'}"${depth < 3 ? ' open' : ''}><summary>${button}</summary><ul>`);
  for (const c of children) renderNode(c, depth + 1, out);
  out.push('</ul></details></li>');
}

function findingRows(f: Finding, d: Digest, maxDetail: number): string {
  const acc = isAccepted(f);
  const cls = ['finding', f.root ? 'root' : 'derived', acc ? 'accepted' : ''].filter(Boolean).join(' ');
  const attrs = `class="${cls}" id="finding-${h(f.id)}" data-kind="${h(f.kind)}" data-role="${f.root ? 'root' : 'derived'}" data-accepted="${acc ? '1' : '0'}" data-path="${h(f.path)}"`;
  const role = (f.root ? 'root' : 'derived') + (acc ? ', accepted' : '');
  const main =
    `<tr><td class="mono" data-l="id">${h(f.id)}</td><td data-l="kind">${kindTag(f.kind)}</td><td data-l="role">${role}</td><td class="path mono" data-l="path">${pathHtml(f.path)}</td>` +
    `<td data-l="format">${h(f.format)}</td><td class="mono" data-l="field">${h(fieldText(f))}</td>` +
    `<td class="val a" data-l="a">${h(clip(shownValue(f, 'a'), 2_000))}</td><td class="val b" data-l="b">${h(clip(shownValue(f, 'b'), 2_000))}</td></tr>`;
  const more: string[] = [];
  if (f.hint) more.push(`<div><b>fix:</b> ${prose(f.hint)}</div>`);
  const causes = f.causedBy.filter((id) => d.byId.has(id));
  if (!f.root && causes.length) {
    const links = causes.slice(0, 20).map((id) => `<a href="#finding-${h(id)}">${h(id)}</a>`);
    if (causes.length > 20) links.push(`and ${num(causes.length - 20)} more`);
    more.push(`<div>caused by ${links.join(', ')}</div>`);
  }
  const derived = d.derivedByCause.get(f.id);
  if (derived?.length) more.push(`<div>followed by ${plural(findingCount(derived), 'derived finding')}</div>`);
  if (f.confidence !== undefined) more.push(`<div>confidence ${Math.round(f.confidence * 100)}%</div>`);
  if (f.detail) more.push(`<details><summary>detail</summary>${detailView(f.detail, maxDetail)}</details>`);
  const extra = more.length ? `<tr class="more"><td></td><td colspan="7">${more.join('')}</td></tr>` : '';
  return `<tbody ${attrs}>${main}${extra}</tbody>`;
}

/**
 * A detail side by side: unified-diff lines (`-` left, `+` right, context on both, `@@` across) or lines
 * marked `a`/`b` (hex excerpts). Anything else is shown as it is.
 */
export function detailView(detail: string, maxChars: number): string {
  const cps = Array.from(detail);
  const text = cps.length > maxChars ? cps.slice(0, maxChars).join('') : detail;
  const cutNote = cps.length > maxChars ? `<p class="note">${plural(cps.length - maxChars, 'more character')} in the JSON report.</p>` : '';
  const lines = text.replace(/\n$/, '').split('\n');
  const side = (l: string): 'a' | 'b' | null => {
    if (/^-(?!--( |$))/.test(l)) return 'a';
    if (/^\+(?!\+\+( |$))/.test(l)) return 'b';
    if (/^a[:\s]/.test(l)) return 'a';
    if (/^b[:\s]/.test(l)) return 'b';
    return null;
  };
  const strip = (l: string): string => (/^[-+]/.test(l) ? l.slice(1) : l.replace(/^[ab]:?\s?/, ''));
  if (!lines.some((l) => side(l) === 'a') || !lines.some((l) => side(l) === 'b')) {
    return `<pre>${hb(text)}</pre>${cutNote}`;
  }
  const rows: string[] = [];
  let left: string[] = [];
  let right: string[] = [];
  const flush = (): void => {
    const n = Math.max(left.length, right.length);
    for (let i = 0; i < n; i++) {
      const l = left[i];
      const r = right[i];
      rows.push(`<tr><td class="${l === undefined ? '' : 'del'}">${hb(l ?? '')}</td><td class="${r === undefined ? '' : 'add'}">${hb(r ?? '')}</td></tr>`);
    }
    left = [];
    right = [];
  };
  for (const l of lines) {
    const s = side(l);
    if (s === 'a') {
      if (right.length) flush();
      left.push(strip(l));
    } else if (s === 'b') right.push(strip(l));
    else {
      flush();
      if (l.startsWith('@@') || /^(---|\+\+\+) /.test(l)) rows.push(`<tr><td class="hunk" colspan="2">${hb(l)}</td></tr>`);
      else {
        const c = l.startsWith(' ') ? l.slice(1) : l;
        rows.push(`<tr><td>${hb(c)}</td><td>${hb(c)}</td></tr>`);
      }
    }
  }
  flush();
  return `<table class="sbs"><thead><tr><th>a</th><th>b</th></tr></thead><tbody>${rows.join('')}</tbody></table>${cutNote}`;
}

/** Prose that may hold code spans: the text between backticks as `<code>`, all of it escaped. */
export function prose(s: string): string {
  const out: string[] = [];
  let rest = s;
  for (;;) {
    const m = /`([^`]+)`/.exec(rest);
    if (!m) break;
    out.push(h(rest.slice(0, m.index)), `<code>${h(m[1] ?? '')}</code>`);
    rest = rest.slice(m.index + m[0].length);
  }
  out.push(h(rest));
  return out.join('');
}

/** A path that may break after each `/` (and anywhere when a name is long), never mid-word first. */
function pathHtml(p: string): string {
  return h(p).replace(/\//g, '/<wbr>');
}

/** Colours of the kinds in the byte map and the tags; red is kept for bytes nothing explains. */
export const KIND_COLORS: Record<Kind, string> = {
  timestamp: '#0969da',
  'random-id': '#8250df',
  ordering: '#bf8700',
  inode: '#1a7f37',
  ownership: '#6e7781',
  permissions: '#953800',
  'build-path': '#e16f24',
  content: '#57606a',
  added: '#2da44e',
  removed: '#7d4e00',
  size: '#9a6700',
  layout: '#4d8fcc',
  checksum: '#afb8c1',
  unknown: '#cf222e',
};

function colorOf(kind: string): string {
  return (KIND_COLORS as Record<string, string>)[kind.replace(/ \(unexplained\)$/, '')] ?? KIND_COLORS.unknown;
}

/** Bytes covered by a set of [start, end) ranges, each byte once. */
function unionLength(ranges: [number, number][]): number {
  ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let total = 0;
  let curS = -1;
  let curE = -1;
  for (const [s0, e0] of ranges) {
    if (s0 > curE) {
      total += curE - curS;
      curS = s0;
      curE = e0;
    } else if (e0 > curE) curE = e0;
  }
  return total + (curE - curS);
}

function kindTag(kind: string): string {
  return `<span class="swatch" style="background:${colorOf(kind)}"></span>${h(kind)}`;
}

/** Buckets across one input in the byte map. */
const MAP_BUCKETS = 500;

/**
 * The byte map: one strip per input, its length the file's size, with where the differing bytes of the file
 * itself lie, each piece coloured by the kind of the root cause that owns it (a derived finding's bytes go
 * to its first root cause) and linked to that finding; bytes nothing explains in red. Bytes inside decoded
 * streams (a decompressed initrd) have no place in the file and are counted under the strip.
 */
function byteMap(report: Report, d: Digest): string {
  const order = new Map(report.findings.map((f, i) => [f.id, i] as const));
  const ownerOf = (f: Finding): Finding => {
    let cur = f;
    for (let depth = 0; depth < 16 && !cur.root; depth++) {
      const next = cur.causedBy.map((id) => d.byId.get(id)).find((c): c is Finding => c !== undefined && c !== cur);
      if (!next) break;
      cur = next;
    }
    return cur;
  };
  const strips: string[] = [];
  const kindsSeen = new Set<string>();
  for (const [i, input] of report.inputs.slice(0, 2).entries()) {
    const side = i === 0 ? 'a' : 'b';
    const size = input.size;
    if (!(size > 0)) continue;
    const buckets: (Map<Finding, number> | undefined)[] = new Array(MAP_BUCKETS);
    const fileRanges: [number, number][] = [];
    const streamRanges = new Map<string, [number, number][]>();
    for (const f of report.findings) {
      const owner = ownerOf(f);
      for (const sp of f.spans) {
        if (sp.side !== side || !(sp.length > 0)) continue;
        if (sp.stream !== undefined) {
          let list = streamRanges.get(sp.stream);
          if (!list) streamRanges.set(sp.stream, (list = []));
          list.push([sp.offset, sp.offset + sp.length]);
          continue;
        }
        const start = Math.max(0, Math.min(size, sp.offset));
        const end = Math.max(start, Math.min(size, sp.offset + sp.length));
        fileRanges.push([start, end]);
        kindsSeen.add(owner.kind);
        const b0 = Math.floor((start / size) * MAP_BUCKETS);
        const b1 = Math.min(MAP_BUCKETS - 1, Math.floor((Math.max(start, end - 1) / size) * MAP_BUCKETS));
        for (let b = b0; b <= b1; b++) {
          const lo = Math.max(start, (b * size) / MAP_BUCKETS);
          const hi = Math.min(end, ((b + 1) * size) / MAP_BUCKETS);
          const m = (buckets[b] ??= new Map());
          m.set(owner, (m.get(owner) ?? 0) + Math.max(1, hi - lo));
        }
      }
    }
    // each bucket drawn in its main owner's colour: an unexplained byte wins, so red is never hidden; a
    // named cause wins over a content difference that spans it (a partition compared by hash only)
    const owners: (Finding | undefined)[] = buckets.map((m) => {
      if (!m) return undefined;
      let best: Finding | undefined;
      let bestN = -1;
      for (const [f, n] of m) {
        const score = f.kind === 'unknown' ? Infinity : f.kind === 'content' || f.kind === 'size' ? n / 1e15 : n;
        if (score > bestN || (score === bestN && best !== undefined && (order.get(f.id) ?? 0) < (order.get(best.id) ?? 0))) {
          best = f;
          bestN = score;
        }
      }
      return best;
    });
    const rects: string[] = [];
    for (let b = 0; b < MAP_BUCKETS; ) {
      const o = owners[b];
      let e = b + 1;
      while (e < MAP_BUCKETS && owners[e] === o) e++;
      if (o) {
        const from = Math.floor((b * size) / MAP_BUCKETS);
        const to = Math.floor((e * size) / MAP_BUCKETS);
        const title = `${o.id} ${o.kind} ${o.path} ${fieldText(o)}: differing bytes in ${num(from)}–${num(to)}`;
        rects.push(`<a href="#finding-${h(o.id)}"><rect x="${b * 2}" y="0" width="${(e - b) * 2}" height="20" fill="${colorOf(o.kind)}"><title>${h(title)}</title></rect></a>`);
      }
      b = e;
    }
    // findings share bytes (a value stored twice, a checksum over a changed field): count each byte once
    const inFile = unionLength(fileRanges);
    let inStreams = 0;
    for (const list of streamRanges.values()) inStreams += unionLength(list);
    const streams = inStreams ? `; ${num(inStreams)} more inside decoded streams (compressed content), not drawn` : '';
    strips.push(
      `<div class="strip"><div><b>${side}</b> <span class="mono">${h(clip(input.path, 200))}</span> <span class="count">${num(inFile)} bytes in the fields and contents that differ${streams}</span></div>` +
        `<svg viewBox="0 0 ${MAP_BUCKETS * 2} 20" preserveAspectRatio="none" role="img" aria-label="where the differing bytes of ${side} lie">${rects.join('')}</svg>` +
        `<div class="axis"><span>0</span><span>${humanSize(size / 2)}</span><span>${humanSize(size)}</span></div></div>`,
    );
  }
  if (!strips.length) return '';
  const legend = KINDS.filter((k) => kindsSeen.has(k))
    .map((k) => `<span>${kindTag(k === 'unknown' ? 'unknown (unexplained)' : k)}</span>`)
    .join('');
  return `<section id="bytemap"><h2>Where the bytes differ</h2>${strips.join('')}<div class="legend">${legend}</div><p class="note">Each piece is coloured by the kind of the root cause that owns it and links to it; red: bytes nothing explains.</p></section>`;
}

/** What --exclude and --exclude-directory-metadata left out: the rules, the bytes, the entries (the first 200). */
function excludedSection(report: Report): string {
  const line = excludedSummary(report);
  const x = report.excluded;
  if (!line || !x) return '';
  const rows = x.entries
    .slice(0, 200)
    .map((e) => `<tr><td class="mono">${pathHtml(clip(e.path, 500))}</td><td>${h(e.format)}</td><td><code>${h(e.by)}</code>${e.findings !== undefined ? ` (${plural(e.findings, 'finding')})` : ''}</td><td class="n">${num(e.bytes)}</td></tr>`);
  const more = x.entries.length - Math.min(200, x.entries.length) + (x.more ?? 0);
  const table = rows.length ? `<table><thead><tr><th>path</th><th>format</th><th>by</th><th>bytes</th></tr></thead><tbody>${rows.join('')}</tbody></table>` : '';
  return `<section id="excluded"><h2>Excluded</h2><p>${h(line)}.</p>${table}${more > 0 ? `<p class="note">and ${plural(more, 'more excluded entry', 'more excluded entries')}</p>` : ''}</section>`;
}

function humanSize(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${num(Math.round(v))} bytes` : `${v.toFixed(1)} ${units[i]}`;
}

/** What to fix: per tool, its one change and the root findings it removes, each linked to its row. */
function fixesSection(report: Report, d: Digest): string {
  const groups = fixGroups(report);
  if (!groups.length) return '';
  const maxRoots = 50;
  const items = groups.map((g) => {
    const derived = derivedCount(d, g.findings);
    const roots = g.findings.slice(0, maxRoots).map(
      (f) =>
        `<li><a href="#finding-${h(f.id)}">${h(f.id)}</a> ${kindTag(f.kind)} <span class="mono">${pathHtml(clip(f.path, 500))}</span> <code>${h(fieldText(f))}</code> ` +
        `<span class="val a">${h(clip(shownValue(f, 'a'), 200))}</span> → <span class="val b">${h(clip(shownValue(f, 'b'), 200))}</span></li>`,
    );
    if (g.findings.length > maxRoots) roots.push(`<li class="note">and ${plural(g.findings.length - maxRoots, 'more root cause')}</li>`);
    const extra = derived ? `, ${plural(derived, 'derived finding')}` : '';
    return `<li class="group"><h3>${h(g.tool)} <span class="count">${plural(g.findings.length, 'root cause')}${extra}</span></h3><p class="fix"><b>Fix:</b> ${prose(g.fix)}</p><ul class="roots">${roots.join('')}</ul></li>`;
  });
  return `<section id="fixes"><h2>What to fix</h2><ol>${items.join('')}</ol></section>`;
}
