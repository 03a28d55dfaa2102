/**
 * Renamed directories: a build folder with a random name (`equivs.TyCgZ2` in one build, `equivs.b0DMbr` in the
 * other) would make every entry below it removed in one build and added in the other. A directory only one
 * build lists, beside one only the other lists under the same parent, whose entries below are (nearly) the
 * same names, is one rename: its entries are paired under it, and the rename is the one root.
 */
import type { Entry } from '../model.js';

/** entries below a directory that must match for a rename: at least this share of the larger side */
const MIN_SHARED = 0.8;
/** directories only one build lists, past which renames are not looked for (a listing of other trees) */
const MAX_CANDIDATES = 256;

export interface Rename {
  /** the directory's path in build A and in build B (`/build/equivs.TyCgZ2`, `/build/equivs.b0DMbr`) */
  from: string;
  to: string;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The names below `dir`, relative to it, of entries whose paths are sorted (binary search, then a scan). */
function below(sorted: readonly string[], dir: string): string[] {
  const prefix = `${dir}/`;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < prefix) lo = mid + 1;
    else hi = mid;
  }
  const out: string[] = [];
  for (let i = lo; i < sorted.length && sorted[i]!.startsWith(prefix); i++) out.push(sorted[i]!.slice(prefix.length));
  return out;
}

/**
 * The renames between two listings: `onlyA` and `onlyB` are the paths each build alone lists. Only top-most
 * renamed directories are returned (what is below them is paired through them), in A's path order.
 */
export function findRenames(entriesA: readonly Entry[], entriesB: readonly Entry[], onlyA: ReadonlySet<string>, onlyB: ReadonlySet<string>): Rename[] {
  const dirsA = entriesA.filter((e) => e.type === 'dir' && onlyA.has(e.path) && !onlyA.has(parentOf(e.path)));
  const dirsB = entriesB.filter((e) => e.type === 'dir' && onlyB.has(e.path) && !onlyB.has(parentOf(e.path)));
  if (!dirsA.length || !dirsB.length || dirsA.length > MAX_CANDIDATES || dirsB.length > MAX_CANDIDATES) return [];
  const sortedA = [...onlyA].sort();
  const sortedB = [...onlyB].sort();
  const out: Rename[] = [];
  const taken = new Set<string>();
  for (const da of [...dirsA].sort((x, y) => (x.path < y.path ? -1 : 1))) {
    const parent = parentOf(da.path);
    const namesA = below(sortedA, da.path);
    let best: { path: string; shared: number } | undefined;
    for (const db of dirsB) {
      if (taken.has(db.path) || parentOf(db.path) !== parent) continue;
      const namesB = new Set(below(sortedB, db.path));
      let shared = 0;
      for (const n of namesA) if (namesB.has(n)) shared++;
      const larger = Math.max(namesA.length, namesB.size);
      // two empty folders renamed: the names alone say nothing, but the same parent and nothing else there does
      const fits = larger === 0 ? dirsA.length === 1 && dirsB.length === 1 : shared / larger >= MIN_SHARED;
      if (fits && (!best || shared > best.shared)) best = { path: db.path, shared };
    }
    if (best) {
      taken.add(best.path);
      out.push({ from: da.path, to: best.path });
    }
  }
  return out;
}

/** The path in build B of a path of build A below a renamed directory, or undefined. */
export function renamedPath(path: string, renames: readonly Rename[]): string | undefined {
  for (const r of renames) {
    if (path === r.from) return r.to;
    if (path.startsWith(r.from) && path.charCodeAt(r.from.length) === 47) return r.to + path.slice(r.from.length);
  }
  return undefined;
}

/** The last step of a path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
