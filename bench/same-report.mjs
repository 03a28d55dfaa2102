#!/usr/bin/env node
/**
 * Whether two JSON reports of one pair say the same things, however their findings are listed:
 *
 *   node bench/same-report.mjs OLD.json NEW.json
 *
 * Compared: the byte totals, the causes (findings and bytes per kind), the root findings (path, format, field,
 * kind and both values; unknown roots by the bytes they name), and the findings each report stands for per kind
 * and role (a summary finding counts as the findings it folds). Prints what differs and the sizes of both
 * reports; exits 1 when they differ, 2 on bad usage.
 */
import { readFileSync, statSync } from 'node:fs';

const [oldPath, newPath] = process.argv.slice(2);
if (!oldPath || !newPath) {
  console.error('usage: node bench/same-report.mjs OLD.json NEW.json');
  process.exit(2);
}
const load = (p) => JSON.parse(readFileSync(p, 'utf8'));
const [a, b] = [load(oldPath), load(newPath)];

/** how many findings one finding stands for: a summary's count, or a copy group folded by an older reprodiff */
function represented(f) {
  if (f.folded) return f.folded.findings;
  const m = /in (\d+) more fields/.exec(f.field?.includes('more copies') ? (f.detail ?? '') : '');
  return m ? Number(m[1]) : 1;
}

const rootKey = (f) => (f.kind === 'unknown' ? `unknown ${f.path} ${f.format}` : JSON.stringify([f.path, f.format, f.field, f.kind, f.a, f.b]));
const problems = [];
const same = (what, x, y) => {
  const sx = JSON.stringify(x);
  const sy = JSON.stringify(y);
  if (sx !== sy) problems.push(`${what}: ${sx} → ${sy}`);
};

same('bytes', a.bytes, b.bytes);
same('causes', a.causes, b.causes);
const roots = (r) => r.findings.filter((f) => f.root).map(rootKey).sort();
const ra = roots(a);
const rb = roots(b);
const onlyA = ra.filter((k) => !rb.includes(k));
const onlyB = rb.filter((k) => !ra.includes(k));
for (const k of onlyA) problems.push(`root only in ${oldPath}: ${k}`);
for (const k of onlyB) problems.push(`root only in ${newPath}: ${k}`);
const counts = (r) => {
  const m = {};
  for (const f of r.findings) {
    const k = `${f.root ? 'root' : 'derived'} ${f.kind}`;
    m[k] = (m[k] ?? 0) + represented(f);
  }
  return Object.fromEntries(Object.entries(m).sort());
};
const ca = counts(a);
const cb = counts(b);
for (const k of new Set([...Object.keys(ca), ...Object.keys(cb)])) if (ca[k] !== cb[k]) problems.push(`findings ${k}: ${ca[k] ?? 0} → ${cb[k] ?? 0}`);

const size = (p) => statSync(p).size.toLocaleString('en-US');
console.log(`${oldPath}: ${size(oldPath)} bytes, ${a.findings.length} findings; ${newPath}: ${size(newPath)} bytes, ${b.findings.length} findings`);
console.log(`bytes ${JSON.stringify(b.bytes)}; ${rb.length} roots; stands for ${JSON.stringify(cb)}`);
if (problems.length) {
  for (const p of problems) console.log(`differs: ${p}`);
  process.exit(1);
}
console.log('same roots, totals, causes and finding counts');
