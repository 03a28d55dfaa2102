/**
 * Zstandard (RFC 8878) as a container: one `/content` entry with the decoded data of every frame;
 * frame headers (window, dictionary id, content size, checksum flag), content checksums and skippable
 * frames as fields; zero padding after the last frame as a region.
 */
import { zeroRun, type ByteSource } from '../../io/source.js';
import type { Container, Field, Format, OpenContext, Region } from '../../model.js';
import { field } from '../../model.js';
import { declaredZstdSize, parseZstd, type ZstdLayout } from '../../codec/zstd.js';
import type { DecodedStream } from '../../walk/once.js';
import { checkCompressed, contentEntry, decodedLayer, SourceFields, streamId } from '../../util/layer.js';

export const zstdFormat: Format = {
  name: 'zstd',
  exclusive: true,
  transparentEntry: '/content',
  detect(src: ByteSource): number {
    if (src.size < 9) return 0;
    const b = src.read(0, 4, 'zstd magic');
    return b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd ? 90 : 0;
  },
  open(src: ByteSource, ctx: OpenContext): Container | Promise<Container> {
    // the same zstd stream stored again (an initrd in a UKI and beside it) is decoded once, and a large one in
    // the pool, so that the two builds' copies decode on two CPUs at once
    if (!ctx.once) return openZstd(src, ctx);
    return ctx.once.open(src, 'zstd', ctx, {
      here: (keep) => openZstd(src, ctx, undefined, keep),
      list: (known) => openZstd(src, ctx, known),
      // what the first frame declares, else its compressed bytes alone: zstd output is never much smaller
      large: () => (declaredZstdSize(src) ?? src.size) > ctx.limits.memoryDecodedBytes,
    });
  },
};

/**
 * The zstd stream `src` as a container. `known`: what decoding these very bytes gave before (where its frames
 * sit, and the decoded bytes), so that nothing is decoded again; `keep` is told what decoding them gave. Zero
 * bytes after the last frame are not part of what is known: each copy's own are read here.
 */
export function openZstd(src: ByteSource, ctx: OpenContext, known?: DecodedStream<ZstdLayout>, keep?: (d: DecodedStream<ZstdLayout>) => void): Container {
  checkCompressed(src, ctx.limits.maxDecodedBytes, 'zstd');
  // the decoded frames go to memory or, past limits.memoryDecodedBytes, to a temporary file as they come
  const { members: parsed, store } = decodedLayer<ZstdLayout>(src, ctx, 'zstd', declaredZstdSize(src) ?? 0, known, keep, (sink) => {
    const r = parseZstd(src, ctx.limits.maxDecodedBytes, true, sink);
    return { frames: r.frames, end: r.end };
  });
  const b = new SourceFields(src, 'zstd frame');
  const stream = streamId(src, 'zstd');
  const fields: Field[] = [];
  const regions: Region[] = [];
  const notes: string[] = [];
  let n = 0;
  let skip = 0;
  for (const f of parsed.frames) {
    if (f.kind === 'skippable') {
      const sp = `zstd.skippable[${skip++}].`;
      fields.push(field(`${sp}magic`, `184d2a5${(f.skippableNibble ?? 0).toString(16)}`, 'content', b.spans(f.offset, 4)));
      fields.push(field(`${sp}size`, f.end - f.offset - 8, 'size', b.spans(f.offset + 4, 4), { derived: true }));
      fields.push(field(`${sp}data`, b.hex(f.offset + 8, Math.min(64, f.end - f.offset - 8)), 'content', b.spans(f.offset + 8, f.end - f.offset - 8)));
      regions.push({ name: `zstd skippable frame ${skip - 1}`, role: 'metadata', spans: b.spans(f.offset, f.end - f.offset) });
      continue;
    }
    const pre = n === 0 ? 'zstd.frame.' : `zstd.frame[${n}].`;
    const o = f.offset;
    fields.push(field(`${pre}descriptor`, f.descriptor ?? 0, 'content', b.spans(o + 4, 1)));
    if (f.descriptor !== undefined && (f.descriptor & 0x20) === 0) {
      fields.push(field(`${pre}window_size`, f.windowSize ?? null, 'content', b.spans(o + 5, 1)));
    }
    if (f.dictionaryIdSize) {
      fields.push(field(`${pre}dictionary_id`, f.dictionaryId ?? 0, 'content', b.spans(f.dictionaryIdOffset ?? 0, f.dictionaryIdSize)));
    }
    if (f.contentSizeSize) {
      fields.push(field(`${pre}content_size`, f.contentSize ?? null, 'size', b.spans(f.contentSizeOffset ?? 0, f.contentSizeSize), { derived: true }));
    }
    fields.push(field(`${pre}checksum_flag`, f.checksumFlag ?? false, 'content', b.spans(o + 4, 1)));
    regions.push({ name: `zstd frame ${n} header`, role: 'metadata', spans: b.spans(o, f.headerSize ?? 5) });
    if (f.checksumOffset !== null && f.checksumOffset !== undefined) {
      fields.push(
        field(`${pre}content_checksum`, b.hex(f.checksumOffset, 4), 'checksum', b.spans(f.checksumOffset, 4), {
          covers: [{ stream, offset: f.outOffset ?? 0, length: f.outSize ?? 0 }],
          derived: true,
        }),
      );
      regions.push({ name: `zstd frame ${n} checksum`, role: 'metadata', spans: b.spans(f.checksumOffset, 4) });
    }
    fields.push(field(`${pre}blocks`, f.blocks ?? 0, 'layout', b.spans(o, f.headerSize ?? 5), { derived: true }));
    n++;
  }
  if (parsed.end < src.size) {
    const allZero = zeroRun(src, parsed.end, 'zstd padding') === src.size - parsed.end;
    if (allZero) regions.push({ name: 'zstd trailing zero padding', role: 'padding', spans: b.spans(parsed.end, src.size - parsed.end) });
    else {
      notes.push(`${src.size - parsed.end} bytes after the last zstd frame`);
      regions.push({ name: 'data after the zstd stream', role: 'unused', spans: b.spans(parsed.end, src.size - parsed.end) });
    }
  }
  if (n > 1) notes.push(`${n} zstd frames`);
  return {
    format: 'zstd',
    source: src,
    fields,
    entries: [contentEntry(src, 'zstd', store, src.spans(0, src.size))],
    regions,
    notes,
  };
}
