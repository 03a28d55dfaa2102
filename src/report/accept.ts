/**
 * Differences a project lives with: `--accept KIND[,KIND...]` and an accept file of rules, one per line,
 * `#` starting a comment, each rule a list of `key=pattern` that must all match:
 *
 *     # xorriso dates until the next release
 *     kind=timestamp path=/boot/** field=dirent.*
 *     kind=random-id,checksum format=gpt
 *     path="/live/My Files/**"
 *
 * Keys: `kind` (comma-separated kind names), `format`, `path`, `field` (globs). In `path`, `*` and `?` stay
 * within one path component, `**` crosses `/` and `//` (`/boot/**` also matches `/boot`, `**` + `/name`
 * matches `name` at any depth). In `field`, `*` matches any characters, dots included, and a pattern
 * matches either the whole field name or the name after its format prefix (`dirent.*` matches the fat
 * finding `fat.dirent.mtime`); a finding about content (field null) has the field name `` (empty).
 * Accepted findings stay in the report with `accepted: true`; they do not count toward the exit status.
 * A derived finding is accepted with its causes when every one of them is accepted.
 */
import { ReprodiffError } from '../errors.js';
import { KINDS, type Kind } from '../model.js';
import type { Finding, Report } from './types.js';
import { isAccepted, type ShownFinding } from './common.js';

export interface AcceptRule {
  kinds?: Kind[];
  format?: RegExp;
  path?: RegExp;
  field?: RegExp;
  /** the rule as written, and where */
  text: string;
  line?: number;
}

export interface Accept {
  /** from `--accept`: every finding of these kinds */
  kinds: Kind[];
  rules: AcceptRule[];
}

const KEYS = ['kind', 'format', 'path', 'field'] as const;
/** Caps on an accept file, which may come from anywhere. */
const MAX_RULES = 10_000;
const MAX_PATTERN = 4_096;

function parseKinds(csv: string, where: string): Kind[] {
  const out: Kind[] = [];
  for (const raw of csv.split(',')) {
    const k = raw.trim();
    if (k === '') continue;
    if (!(KINDS as readonly string[]).includes(k)) {
      throw new ReprodiffError('E_USAGE', `${where}: unknown kind '${k}' (kinds: ${KINDS.join(', ')})`);
    }
    if (!out.includes(k as Kind)) out.push(k as Kind);
  }
  return out;
}

/** Splits a rule line into `key=value` tokens; a value may be "double quoted" with \" and \\ inside. */
function tokens(line: string, where: string): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i] as string)) i++;
    if (i >= line.length) break;
    const eq = line.indexOf('=', i);
    const key = eq < 0 ? line.slice(i).split(/\s/)[0] ?? '' : line.slice(i, eq);
    if (eq < 0 || /\s/.test(key)) throw new ReprodiffError('E_USAGE', `${where}: expected key=pattern, found '${key}'`);
    i = eq + 1;
    let value = '';
    if (line[i] === '"') {
      i++;
      let closed = false;
      while (i < line.length) {
        const c = line[i] as string;
        if (c === '\\' && i + 1 < line.length) {
          value += line[i + 1];
          i += 2;
        } else if (c === '"') {
          closed = true;
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) throw new ReprodiffError('E_USAGE', `${where}: unterminated quote after ${key}=`);
    } else {
      const start = i;
      while (i < line.length && !/\s/.test(line[i] as string)) i++;
      value = line.slice(start, i);
    }
    out.push([key, value]);
  }
  return out;
}

/** Many wildcards make matching slow on long paths (backtracking); no sensible pattern needs more. */
const MAX_WILDCARDS = 32;
function checkWildcards(glob: string): void {
  const n = glob.match(/\*+|\?/g)?.length ?? 0;
  if (n > MAX_WILDCARDS) throw new ReprodiffError('E_LIMIT', `pattern '${glob.slice(0, 80)}' has ${n} wildcards, over the limit of ${MAX_WILDCARDS}`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A path glob as an anchored regular expression (see the module comment for the syntax). */
export function pathGlob(glob: string): RegExp {
  checkWildcards(glob);
  glob = glob.replace(/\*{3,}/g, '**');
  let re = '';
  let i = 0;
  if (glob.startsWith('**/')) {
    re += '(?:.*/)?';
    i = 3;
  }
  while (i < glob.length) {
    if (glob.startsWith('/**', i) && i + 3 === glob.length) {
      re += '(?:/.*)?';
      i += 3;
    } else if (glob.startsWith('/**/', i)) {
      re += '/(?:.*/)?';
      i += 4;
    } else if (glob.startsWith('**', i)) {
      re += '.*';
      i += 2;
    } else {
      const c = glob[i] as string;
      re += c === '*' ? '[^/]*' : c === '?' ? '[^/]' : escapeRe(c);
      i++;
    }
  }
  return new RegExp(`^${re}$`, 's');
}

/** A field or format glob: `*` any characters, `?` one. */
export function nameGlob(glob: string): RegExp {
  checkWildcards(glob);
  let re = '';
  for (const c of glob.replace(/\*+/g, '*')) re += c === '*' ? '.*' : c === '?' ? '.' : escapeRe(c);
  return new RegExp(`^${re}$`, 's');
}

function atLine<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ReprodiffError) throw new ReprodiffError(e.code, `${where}: ${e.message}`);
    throw e;
  }
}

/**
 * Reads `--accept` (comma-separated kinds) and the text of an accept file. Throws E_USAGE naming the line
 * for an unknown key or kind, a bad quote, or an empty rule. `fileName` names the file in messages.
 */
export function parseAccept(kindsCsv?: string, fileText?: string, fileName = 'accept file'): Accept {
  const kinds = kindsCsv === undefined ? [] : parseKinds(kindsCsv, '--accept');
  const rules: AcceptRule[] = [];
  if (fileText !== undefined) {
    const lines = fileText.replace(/^\uFEFF/, '').split(/\r?\n/);
    for (const [n, raw] of lines.entries()) {
      const line = raw.replace(/(^|\s)#.*$/, '').trim();
      if (line === '') continue;
      const where = `${fileName} line ${n + 1}`;
      if (rules.length >= MAX_RULES) throw new ReprodiffError('E_LIMIT', `${where}: more than ${MAX_RULES} rules`);
      const rule: AcceptRule = { text: line, line: n + 1 };
      for (const [key, value] of tokens(line, where)) {
        if (value.length > MAX_PATTERN) throw new ReprodiffError('E_LIMIT', `${where}: pattern longer than ${MAX_PATTERN} characters`);
        switch (key) {
          case 'kind':
            rule.kinds = parseKinds(value, where);
            break;
          case 'format':
            rule.format = atLine(where, () => nameGlob(value));
            break;
          case 'path':
            rule.path = atLine(where, () => pathGlob(value));
            break;
          case 'field':
            rule.field = atLine(where, () => nameGlob(value));
            break;
          default:
            throw new ReprodiffError('E_USAGE', `${where}: unknown key '${key}' (keys: ${KEYS.join(', ')})`);
        }
      }
      if (!rule.kinds && !rule.format && !rule.path && !rule.field) throw new ReprodiffError('E_USAGE', `${where}: a rule needs at least one key=pattern`);
      rules.push(rule);
    }
  }
  return { kinds, rules };
}

/** Whether one rule matches a finding. */
export function ruleMatches(rule: AcceptRule, f: Finding): boolean {
  if (rule.kinds && !rule.kinds.includes(f.kind)) return false;
  if (rule.format && !rule.format.test(f.format)) return false;
  if (rule.path && !rule.path.test(f.path)) return false;
  if (rule.field) {
    const name = f.field ?? '';
    const prefix = `${f.format}.`;
    const short = name.startsWith(prefix) ? name.slice(prefix.length) : null;
    if (!rule.field.test(name) && (short === null || !rule.field.test(short))) return false;
  }
  return true;
}

/** Whether `--accept` or a rule accepts this finding on its own (not through its causes). */
export function acceptsDirectly(accept: Accept, f: Finding): boolean {
  return accept.kinds.includes(f.kind) || accept.rules.some((r) => ruleMatches(r, f));
}

/**
 * A copy of the report with accepted findings marked `accepted: true` (findings already marked stay so).
 * Nothing is removed, and the rest of the report is unchanged.
 */
export function applyAccept(report: Report, accept: Accept): Report {
  const byId = new Map<string, Finding>();
  for (const f of report.findings) byId.set(f.id, f);
  const memo = new Map<string, boolean>();
  const visiting = new Set<string>();
  // Iterative depth-first search over causedBy (chains may be long; cycles count as not accepted).
  const decide = (start: Finding): boolean => {
    const stack: { f: Finding; next: number }[] = [];
    const enter = (f: Finding): boolean | null => {
      const known = memo.get(f.id);
      if (known !== undefined) return known;
      if (isAccepted(f) || acceptsDirectly(accept, f)) {
        memo.set(f.id, true);
        return true;
      }
      const causes = f.root ? [] : f.causedBy.filter((id) => id !== f.id && byId.has(id));
      if (causes.length === 0) {
        memo.set(f.id, false);
        return false;
      }
      if (visiting.has(f.id)) return false;
      visiting.add(f.id);
      stack.push({ f, next: 0 });
      return null;
    };
    const first = enter(start);
    if (first !== null) return first;
    let result = false;
    while (stack.length) {
      const top = stack[stack.length - 1] as { f: Finding; next: number };
      const causes = top.f.causedBy.filter((id) => id !== top.f.id && byId.has(id));
      if (top.next >= causes.length) {
        memo.set(top.f.id, true);
        visiting.delete(top.f.id);
        stack.pop();
        result = true;
        continue;
      }
      const cause = byId.get(causes[top.next] as string) as Finding;
      top.next++;
      const r = enter(cause);
      if (r === false) {
        // one cause not accepted: nothing on the stack is accepted through it
        for (const s of stack) {
          memo.set(s.f.id, false);
          visiting.delete(s.f.id);
        }
        stack.length = 0;
        result = false;
      }
    }
    return memo.get(start.id) ?? result;
  };
  const findings = report.findings.map((f): ShownFinding => (decide(f) ? { ...f, accepted: true } : f));
  return { ...report, findings };
}
