/**
 * Opening a source into its views: every format that recognises it. A hybrid ISO is iso9660 and mbr and gpt
 * and eltorito at once; an exclusive format (FAT, squashfs, PE, archives, compressed streams) owns its source.
 * Nested containers are opened from an entry's content, bounded by the depth limit.
 */
import { isReprodiffError, ReprodiffError } from '../errors.js';
import { ExtentSource, SliceSource, type ByteSource } from '../io/source.js';
import type { Container, Entry, Format, OpenContext } from '../model.js';
import { FORMATS } from '../formats/index.js';
import { EntryLimit, withTimeLimit } from '../limits.js';

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
      // the synchronous part of opening runs under the time limit of the entry whose content this is
      const opened = ctx.timeLimited ? withTimeLimit(ctx.limits.maxEntrySeconds, () => f.open(src, ctx)) : f.open(src, ctx);
      views.push(await opened);
    } catch (e) {
      if (isReprodiffError(e)) failures.push({ format: f.name, error: e });
      else if (e instanceof EntryLimit) {
        // a format that let its entry cap escape instead of keeping a partial listing
        failures.push({ format: f.name, error: new ReprodiffError('E_LIMIT', e.describe(), { file: src.name, offset: e.offset }) });
      }
      else if (e instanceof RangeError || e instanceof TypeError) {
        failures.push({ format: f.name, error: new ReprodiffError('E_FORMAT', `${f.name} reader failed: ${e.message}`, { file: src.name }) });
      } else throw e;
    }
  }
  return { views, failures };
}

/** Compression layers only wrap one stream: their `/content` entry adds no path step. */
const TRANSPARENT = new Set(['gzip', 'xz', 'zstd', 'lz4', 'bzip2']);

export function isTransparent(format: string, entryPath: string): boolean {
  return TRANSPARENT.has(format) && entryPath === '/content';
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

/** The bytes a source covers, as a key: two sources with one key are the same bytes. */
export function sourceKey(src: ByteSource): string {
  return src.spans(0, src.size).map((s) => `${s.stream ?? ''}@${s.offset}+${s.length}`).join(',');
}

/**
 * Guards nesting: a container that holds its own bytes again (a partition starting at sector 0, a section
 * covering the whole file, a zip that contains itself) is not reopened inside itself, and the number of
 * nested containers in one run is capped.
 */
export class NestGuard {
  private opened = 0;
  private capNoted = false;
  constructor(
    private readonly max: number,
    private readonly note: (text: string) => void,
  ) {}

  /**
   * 'ok' when `src` may be opened below `ancestors` (the keys of the sources above it); 'self' when it holds
   * the bytes of a container above it; 'limit' past maxContainers.
   */
  allow(src: ByteSource, ancestors: readonly string[], where: string): 'ok' | 'self' | 'limit' {
    const key = sourceKey(src);
    if (ancestors.includes(key)) {
      this.note(`${where} holds the same bytes as a container above it; it is not opened again inside itself`);
      return 'self';
    }
    if (this.opened >= this.max) {
      if (!this.capNoted) {
        this.note(`more than ${this.max} nested containers: the rest are not opened and their differing bytes count as unexplained (limit maxContainers)`);
        this.capNoted = true;
      }
      return 'limit';
    }
    this.opened++;
    return 'ok';
  }
}
