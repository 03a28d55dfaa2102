/**
 * What a comparison leaves out on purpose: `--exclude GLOB` (entries by path) and
 * `--exclude-directory-metadata` (file system metadata: of the inputs themselves, or with `recursive` also of
 * the members of archives and images). An excluded entry is not compared; its differing bytes are counted
 * apart in the report (`bytes.excluded`, the `excluded` member), never as explained, and no finding is made
 * about it (account.ts: excluded findings and those that follow only from them are taken out of the report).
 *
 * Patterns are shell-style globs matched as diffoscope matches them (Python's fnmatchcase): `*` matches any run
 * of characters, `/` included; `?` one character; `[abc]`, `[a-z]`, `[!abc]` one character of a set; matching is
 * case-sensitive and the whole path must match.
 */
import type { Container, Entry } from '../model.js';
import { entrySource, sourceKey } from '../walk/open.js';

export type DirectoryMetadata = 'auto' | 'yes' | 'no' | 'recursive';
export const DIRECTORY_METADATA: readonly DirectoryMetadata[] = ['auto', 'yes', 'no', 'recursive'];

/** The reason a metadata finding was excluded, as the report names it. */
export const METADATA_REASON = 'directory metadata';

/** Kinds of an entry's field that are metadata (not content): what `recursive` leaves out. */
const METADATA_KINDS = new Set(['timestamp', 'ownership', 'permissions', 'inode']);

/** A glob as a regular expression, translated as Python's fnmatch.translate does. */
export function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; ) {
    const c = glob[i++]!;
    if (c === '*') {
      while (glob[i] === '*') i++;
      re += '.*';
    } else if (c === '?') re += '.';
    else if (c === '[') {
      let j = i;
      if (glob[j] === '!') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) re += '\\[';
      else {
        const set = glob.slice(i, j);
        i = j + 1;
        // fnmatch has no escapes: inside the class a backslash, `]` and a leading `^` are literal
        const body = (set.startsWith('!') ? set.slice(1) : set).replace(/[\\\]]/g, '\\$&');
        re += set.startsWith('!') ? `[^${body}]` : `[${body.startsWith('^') ? `\\${body}` : body}]`;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** The rules of one run: the patterns and the metadata mode in effect. */
export class ExcludeRules {
  private readonly res: RegExp[];

  constructor(
    /** the --exclude patterns, as given */
    readonly patterns: readonly string[],
    /** the --exclude-directory-metadata mode in effect (auto already resolved) */
    readonly directoryMetadata: Exclude<DirectoryMetadata, 'auto'>,
    /** for a file of a folder compare, its relative path: report paths are matched as the folder report has them */
    readonly folderFile = '',
  ) {
    this.res = patterns.map(globRegExp);
  }

  /**
   * The same rules for a file of a folder compare, whose report paths are under `/<relpath>`; the folder's own
   * metadata (`no`) is compared by the folder, not again for each of its files.
   */
  under(rel: string): ExcludeRules {
    return new ExcludeRules(this.patterns, this.directoryMetadata === 'no' ? 'yes' : this.directoryMetadata, rel);
  }

  get hasPatterns(): boolean {
    return this.res.length > 0;
  }

  /** Whether findings about members' metadata are left out (`recursive`). */
  get membersMetadata(): boolean {
    return this.directoryMetadata === 'recursive';
  }

  /** Whether a finding is member metadata that `recursive` leaves out: an entry's field of a metadata kind. */
  isMemberMetadata(f: { entry?: string; field: string | null; kind: string }): boolean {
    return this.membersMetadata && f.entry !== undefined && f.field !== null && METADATA_KINDS.has(f.kind);
  }

  /** The first pattern matching any of these names, or undefined. */
  private first(names: readonly string[]): string | undefined {
    for (const [i, re] of this.res.entries()) if (names.some((n) => re.test(n))) return this.patterns[i];
    return undefined;
  }

  /**
   * The pattern that excludes an entry (`entryPath` rooted at `/` in its container, `reportPath` its path in the
   * report): matched against its path with and without the leading `/`, the paths of the folders above it in
   * its container (an excluded folder excludes what it holds), and its report path.
   */
  entryPattern(entryPath: string, reportPath: string): string | undefined {
    if (!this.res.length) return undefined;
    const rel = entryPath.replace(/^\/+/, '').replace(/^\.\//, '');
    const f = this.folderFile;
    const names = [rel, `/${rel}`, f ? (reportPath === '/' ? `/${f}` : `/${f}/${reportPath}`) : reportPath];
    for (let i = rel.indexOf('/'); i > 0; i = rel.indexOf('/', i + 1)) names.push(rel.slice(0, i), `/${rel.slice(0, i)}`);
    return this.first(names);
  }

  /**
   * The pattern that excludes a file of a folder compare at `rel` (`/`-separated): as entryPattern, and also by
   * the name of the file or of any folder above it, as diffoscope matches the members of a folder.
   */
  folderPattern(rel: string): string | undefined {
    if (!this.res.length) return undefined;
    return this.entryPattern(`/${rel}`, `/${rel}`) ?? this.first(rel.split('/'));
  }
}

/** One pair of views' entries excluded by pattern, by side: the pattern for each path and each content's key. */
export interface ViewExclusions {
  /** container-independent: the keys of the excluded contents of each side (the same bytes in another view) */
  keys: [Map<string, string>, Map<string, string>];
}

/** The content key of an entry (the bytes it covers in the outer file or decoded streams), or undefined. */
function contentKey(c: Container, e: Entry): string | undefined {
  if (e.type !== 'file' || e.size === 0 || e.extents.length === 0) return undefined;
  const src = entrySource(c, e);
  return src ? sourceKey(src) : undefined;
}

/**
 * The entries of every view of one source pair that a pattern excludes, and the contents they hold: a file seen
 * through ISO 9660 and HFS+, or a boot image that is also an ISO file, is excluded in every view that sees it.
 */
export function viewExclusions(rules: ExcludeRules, views: [Container[], Container[]], pathOf: (c: Container, e: Entry) => string): ViewExclusions {
  const keys: ViewExclusions['keys'] = [new Map(), new Map()];
  for (const side of [0, 1] as const) {
    for (const c of views[side]) {
      for (const e of c.entries) {
        const pattern = rules.entryPattern(e.path, pathOf(c, e));
        if (pattern === undefined) continue;
        const key = contentKey(c, e);
        if (key !== undefined) keys[side].set(key, pattern);
      }
    }
  }
  return { keys };
}

/** The pattern that excludes this pair of entries: by path, or as the same bytes as an entry excluded in another view. */
export function pairPattern(rules: ExcludeRules, ex: ViewExclusions | undefined, ca: Container, ea: Entry | undefined, cb: Container, eb: Entry | undefined, reportPath: string): string | undefined {
  const e = ea ?? eb;
  if (!e) return undefined;
  const byPath = rules.entryPattern(e.path, reportPath);
  if (byPath !== undefined || !ex) return byPath;
  if (!ex.keys[0].size && !ex.keys[1].size) return undefined;
  const ka = ea && contentKey(ca, ea);
  const kb = eb && contentKey(cb, eb);
  return (ka !== undefined ? ex.keys[0].get(ka) : undefined) ?? (kb !== undefined ? ex.keys[1].get(kb) : undefined);
}
