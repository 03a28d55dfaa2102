/**
 * What an input must be before anything opens it, and whether it stayed the same while it was compared.
 *
 * An input is looked at with stat before any open: opening a FIFO blocks until a writer comes, and a socket,
 * a character device (`/dev/zero`) or a block device (whose stat size is 0) cannot be compared by offset.
 * Directories are refused here too, in this one function, except where a folder compare asks for them.
 */
import { statSync, type BigIntStats } from 'node:fs';
import { ReprodiffError } from '../errors.js';

/** What identifies an input and its contents as seen at one moment. */
export interface InputStamp {
  /** the path as given */
  path: string;
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
}

/** A person's name for a file that is not a regular file. */
function fileKind(st: BigIntStats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a file of a known type';
}

/** The message of an error from the file system, short: `no such file`, `permission denied`. */
export function ioMessage(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && err.code === 'ENOENT') return 'no such file';
  if (err && typeof err === 'object' && err.code === 'EACCES') return 'permission denied';
  if (err && typeof err === 'object' && err.code === 'EISDIR') return 'is a directory';
  if (err && typeof err === 'object' && err.code === 'ENOTDIR') return 'a part of the path is not a directory';
  if (err && typeof err === 'object' && err.code === 'ELOOP') return 'too many symbolic links';
  return err && typeof err.message === 'string' ? err.message : String(e);
}

/**
 * Refuses what is not a regular file, from its stat (symbolic links followed), without opening it.
 * `name` is how messages name it (the path as given, or a nested name).
 */
export function checkRegularFile(st: BigIntStats, name: string, opts: { folders?: boolean } = {}): void {
  if (st.isFile()) return;
  if (st.isDirectory()) {
    // a compare takes two folders (src/compare/folders.ts); everything else reads one file
    if (opts.folders) return;
    throw new ReprodiffError('E_USAGE', 'is a directory; give an image or archive file (a compare also takes two folders)', { file: name });
  }
  throw new ReprodiffError('E_USAGE', `not a regular file (${fileKind(st)})`, { file: name });
}

/** Stats an input (following symbolic links), as an E_IO error naming it when that fails. */
export function statInput(path: string, name: string = path): BigIntStats {
  try {
    return statSync(path, { bigint: true });
  } catch (e) {
    throw new ReprodiffError('E_IO', ioMessage(e), { file: name });
  }
}

/** Checks that `path` is a regular file, without opening it, and records what it is now. */
export function stampInput(path: string, opts: { folders?: boolean } = {}): InputStamp {
  const st = statInput(path);
  checkRegularFile(st, path, opts);
  return stampOf(path, st);
}

export function stampOf(path: string, st: BigIntStats): InputStamp {
  return { path, dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs };
}

/**
 * Throws when an input is no longer what it was at `before`: another file at the path, another size or
 * another modification time. The report of such a run would mix two versions of the file.
 */
export function checkUnchanged(before: InputStamp): void {
  let st: BigIntStats;
  try {
    st = statSync(before.path, { bigint: true });
  } catch (e) {
    throw new ReprodiffError('E_IO', `changed while it was compared: ${ioMessage(e)} now`, { file: before.path });
  }
  const what: string[] = [];
  if (st.dev !== before.dev || st.ino !== before.ino) what.push('the path now names another file');
  else {
    if (st.size !== before.size) what.push(`its size went from ${before.size} to ${st.size} bytes`);
    if (st.mtimeNs !== before.mtimeNs) what.push('its modification time changed');
  }
  if (what.length) {
    throw new ReprodiffError('E_IO', `changed while it was compared (${what.join(', ')}); the report would mix two versions, so none was written`, {
      file: before.path,
    });
  }
}
