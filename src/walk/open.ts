/**
 * Opening a source into its views: every format that recognises it. A hybrid ISO is iso9660 and mbr and gpt
 * and eltorito at once; an exclusive format (FAT, squashfs, PE, archives, compressed streams) owns its source.
 *
 * A format rejects a malformed source with a ReprodiffError: that is a clean rejection, kept as a failure of
 * that view. Anything else a detector or a reader throws (a TypeError, a RangeError) is a bug and becomes an
 * InternalError, which stops the run.
 */
import { internalError, isReprodiffError, ReprodiffError } from '../errors.js';
import { ExtentSource, SliceSource, type ByteSource } from '../io/source.js';
import type { Container, Entry, Format, OpenContext } from '../model.js';
import { FORMATS } from '../formats/index.js';
import { EntryLimit, hasRunDeadline, withTimeLimit } from '../limits.js';

export interface OpenResult {
  views: Container[];
  /** formats that recognised the source but failed to open it, with why */
  failures: { format: string; error: ReprodiffError }[];
}

/** Where a source starts in its outer file (for messages), when it sits there. */
function outerOffset(src: ByteSource): number | undefined {
  if (src.size === 0) return undefined;
  const first = src.spans(0, 1)[0];
  return first && first.stream === undefined ? first.offset : undefined;
}

export function detectFormats(src: ByteSource, formats: readonly Format[] = FORMATS): Format[] {
  const scored: { f: Format; score: number }[] = [];
  for (const f of formats) {
    let score = 0;
    try {
      score = f.detect(src);
    } catch (e) {
      // a detector that cannot read its magic (a source too short) simply does not match
      if (!isReprodiffError(e)) throw internalError(e, `${src.name} (detecting ${f.name})`, outerOffset(src));
      score = 0;
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
      // the synchronous part of opening runs under the time limit of the entry whose content this is, and
      // under the run's --timeout (an input that does not open in time is not examined)
      const seconds = ctx.timeLimited ? ctx.limits.maxEntrySeconds : Infinity;
      const opened = ctx.timeLimited || hasRunDeadline() ? withTimeLimit(seconds, () => f.open(src, ctx)) : f.open(src, ctx);
      views.push(await opened);
    } catch (e) {
      if (isReprodiffError(e)) failures.push({ format: f.name, error: e });
      else if (e instanceof EntryLimit) {
        // a format that let its entry cap escape instead of keeping a partial listing
        failures.push({ format: f.name, error: new ReprodiffError('E_LIMIT', e.describe(), { file: src.name, offset: e.offset }) });
      } else throw internalError(e, `${src.name} as ${f.name}`, outerOffset(src));
    }
  }
  return { views, failures };
}

/** The error for an input that no format opens: the first format's own rejection, or that none recognised it. */
export function noViewsError(src: ByteSource, opened: OpenResult, formats: readonly Format[] = FORMATS): ReprodiffError {
  if (opened.failures.length) return opened.failures[0]!.error;
  return new ReprodiffError('E_FORMAT', `no known format recognises this file (${formats.map((f) => f.name).join(', ')})`, { file: src.name, offset: 0 });
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
