/**
 * A small YAML reader for the block style that action.yml and workflow files use: mappings and sequences by
 * indentation, plain and quoted scalars, `|` and `>-` block scalars, full-line comments. Enough to read the
 * action when PyYAML is not installed; the tests check it against PyYAML where it is.
 */
type Value = string | number | boolean | null | Value[] | { [k: string]: Value };

interface Line {
  indent: number;
  text: string;
  no: number;
}

function scalar(raw: string): Value {
  const s = raw.trim();
  if (s === '' || s === '~' || s === 'null') return null;
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (s.startsWith("'") && s.endsWith("'") && s.length >= 2) return s.slice(1, -1).replace(/''/g, "'");
  if (s.startsWith('"') && s.endsWith('"') && s.length >= 2) return JSON.parse(s) as string;
  return s;
}

/** `key: rest` split at the first `: ` (or a trailing `:`) outside quotes; undefined when the line is no mapping entry. */
function splitKey(text: string): [string, string] | undefined {
  const m = /^([^'"\s][^:]*?|'[^']*'|"[^"]*"):(?:\s+(.*))?$/.exec(text);
  if (!m) return undefined;
  return [String(scalar(m[1]!)), m[2] ?? ''];
}

export function parseYaml(source: string): Value {
  const lines: Line[] = [];
  for (const [i, raw] of source.split('\n').entries()) {
    if (/^\s*(#.*)?$/.test(raw)) {
      lines.push({ indent: -1, text: '', no: i + 1 });
      continue;
    }
    const indent = raw.length - raw.trimStart().length;
    lines.push({ indent, text: raw.trim(), no: i + 1 });
  }
  let at = 0;
  const skipBlank = (): void => {
    while (at < lines.length && lines[at]!.indent < 0) at++;
  };

  /** A `|` or `>-` block scalar whose lines are indented more than `parent` (a `#` there is text, not a comment). */
  const block = (style: string, parent: number, raw: string[]): string => {
    const body: string[] = [];
    let indent = -1;
    while (at < lines.length) {
      const text = raw[lines[at]!.no - 1]!;
      const blank = text.trim() === '';
      const own = text.length - text.trimStart().length;
      if (!blank && own <= parent) break;
      if (!blank && indent < 0) indent = own;
      body.push(blank ? '' : text.slice(indent));
      at++;
    }
    while (body.length && body[body.length - 1] === '') body.pop();
    if (style.startsWith('|')) return body.join('\n') + (style === '|-' ? '' : '\n');
    // folded: lines joined by spaces, blank lines kept as newlines
    const out = body.join('\n').replace(/([^\n])\n(?=[^\n])/g, '$1 ');
    return style === '>-' ? out : `${out}\n`;
  };

  const raw = source.split('\n');
  const node = (indent: number): Value => {
    skipBlank();
    const first = lines[at];
    if (!first || first.indent < indent) return null;
    if (first.text.startsWith('- ') || first.text === '-') {
      const list: Value[] = [];
      const own = first.indent;
      while (at < lines.length) {
        skipBlank();
        const l = lines[at];
        if (!l || l.indent !== own || !(l.text.startsWith('- ') || l.text === '-')) break;
        const rest = l.text.slice(1).trimStart();
        if (rest === '') {
          at++;
          list.push(node(own + 1));
        } else if (splitKey(rest)) {
          // `- key: value` opens a mapping whose keys line up after the dash
          lines[at] = { indent: own + (l.text.length - rest.length), text: rest, no: l.no };
          list.push(node(own + 1));
        } else {
          at++;
          list.push(scalar(rest));
        }
      }
      return list;
    }
    const map: Record<string, Value> = {};
    const own = first.indent;
    while (at < lines.length) {
      skipBlank();
      const l = lines[at];
      if (!l || l.indent !== own) break;
      const kv = splitKey(l.text);
      if (!kv) throw new Error(`line ${l.no}: not a mapping entry: ${l.text}`);
      at++;
      const [key, rest] = kv;
      if (/^[|>][-+]?$/.test(rest)) map[key] = block(rest, own, raw);
      else if (rest === '') map[key] = node(own + 1);
      else map[key] = scalar(rest);
    }
    return map;
  };
  return node(0);
}
