/**
 * Opening a source into its views: every format that recognises it. A hybrid ISO is iso9660 and mbr and gpt
 * and eltorito at once; an exclusive format (FAT, squashfs, PE, archives, compressed streams) owns its source.
 * Nested containers are opened from an entry's content, bounded by the depth limit.
 */
import { isReprodiffError, ReprodiffError } from '../errors.js';
import { ExtentSource, SliceSource, type ByteSource } from '../io/source.js';
import type { Container, Entry, Format, OpenContext } from '../model.js';
import { FORMATS } from '../formats/index.js';

export interface OpenResult {
  views: Container[];
  /** formats that recognised the source but failed to open it, with why */
  failures: { format: string; error: ReprodiffError }[];
}

export function detectFormats(src: ByteSource, formats: readonly Format[] = FORMATS): Format[] {
  const scored: { f: Format; score: number }[] = [];
  for (const f of formats) {
    let score = 0;
    try {
      score = f.detect(src);
    } catch {
      score = 0; // a detector that cannot read its magic simply does not match
    }
    if (score > 0) scored.push({ f, score });
  }
  if (!scored.length) return [];
  scored.sort((x, y) => y.score - x.score);
  const best = scored[0]!;
  if (best.f.exclusive) return [best.f];
  return scored.filter((s) => !s.f.exclusive).map((s) => s.f);
}

export async function openViews(src: ByteSource, ctx: OpenContext, formats: readonly Format[] = FORMATS): Promise<OpenResult> {
  const views: Container[] = [];
  const failures: OpenResult['failures'] = [];
  for (const f of detectFormats(src, formats)) {
    try {
      views.push(await f.open(src, ctx));
    } catch (e) {
      if (isReprodiffError(e)) failures.push({ format: f.name, error: e });
      else if (e instanceof RangeError || e instanceof TypeError) {
        failures.push({ format: f.name, error: new ReprodiffError('E_FORMAT', `${f.name} reader failed: ${e.message}`, { file: src.name }) });
      } else throw e;
    }
  }
  return { views, failures };
}

/** The bytes of an entry's content as a source of its own (for opening nested containers). */
export function entrySource(container: Container, entry: Entry): ByteSource | undefined {
  const base = entry.contentSource ?? container.source;
  if (entry.opaque !== undefined) return undefined;
  const name = `${container.source.name}/${entry.path}`;
  const ex = entry.extents;
  if (ex.length === 0) return undefined;
  const only = ex[0]!;
  if (ex.length === 1) {
    if (only.offset === 0 && only.length === base.size) return base;
    return new SliceSource(name, base, only.offset, only.length);
  }
  return new ExtentSource(name, base, ex);
}
