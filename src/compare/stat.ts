/**
 * File system metadata of the inputs (`--exclude-directory-metadata no`): the mode, owner and modification time
 * of the two input files, or of every file and folder of two input folders, as `lstat` gives them. They are not
 * in the bytes of the files, so their findings have no spans and count no bytes.
 */
import { lstatSync, type BigIntStats } from 'node:fs';
import { ReprodiffError } from '../errors.js';
import { ioMessage } from '../io/inputs.js';
import type { Kind } from '../model.js';

export interface StatDifference {
  field: string;
  kind: Kind;
  a: string | number;
  b: string | number;
}

export const STAT_HINT =
  'file system metadata, not stored in the files: normalise it before comparing (`touch -d @$SOURCE_DATE_EPOCH`, `chmod`, `chown`), or leave it out with --exclude-directory-metadata yes';

/** An nanosecond time as ISO 8601 UTC, with as many fraction digits as it needs. */
function isoNs(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const base = new Date(Number(ms)).toISOString().slice(0, 19);
  let rest = ns % 1_000_000_000n;
  if (rest < 0n) rest += 1_000_000_000n;
  const frac = rest.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

export function lstatOf(path: string): BigIntStats {
  try {
    return lstatSync(path, { bigint: true });
  } catch (e) {
    throw new ReprodiffError('E_IO', ioMessage(e), { file: path });
  }
}

/** What differs between two lstat results, as diffoscope's `stat` comparison sees it (size aside: the content says it). */
export function statDifferences(a: BigIntStats, b: BigIntStats): StatDifference[] {
  const out: StatDifference[] = [];
  if (a.mode !== b.mode) out.push({ field: 'stat.mode', kind: 'permissions', a: Number(a.mode), b: Number(b.mode) });
  if (a.uid !== b.uid) out.push({ field: 'stat.uid', kind: 'ownership', a: Number(a.uid), b: Number(b.uid) });
  if (a.gid !== b.gid) out.push({ field: 'stat.gid', kind: 'ownership', a: Number(a.gid), b: Number(b.gid) });
  if (a.mtimeNs !== b.mtimeNs) out.push({ field: 'stat.mtime', kind: 'timestamp', a: isoNs(a.mtimeNs), b: isoNs(b.mtimeNs) });
  return out;
}
