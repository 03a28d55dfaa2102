/**
 * LZ4 as a container: the legacy frame (`lz4 -l`, the Linux kernel's initramfs and bzImage format) and the
 * frame format. One `/content` entry with the decoded data; frame headers and block sizes as fields.
 */
import { zeroRun, type ByteSource } from '../../io/source.js';
import { DecodedSink } from '../../io/spill.js';
import type { Container, Field, Format, OpenContext, Region } from '../../model.js';
import { field } from '../../model.js';
import { LZ4_FRAME_MAGIC, LZ4_LEGACY_MAGIC, parseLz4 } from '../../codec/lz4.js';
import { checkCompressed, contentEntry, layerError, SourceFields, streamId } from '../../util/layer.js';

export const lz4Format: Format = {
  name: 'lz4',
  exclusive: true,
  transparentEntry: '/content',
  detect(src: ByteSource): number {
    if (src.size < 8) return 0;
    const m = new DataView(src.read(0, 4, 'lz4 magic').slice().buffer).getUint32(0, true);
    return m === LZ4_LEGACY_MAGIC || m === LZ4_FRAME_MAGIC ? 90 : 0;
  },
  open(src: ByteSource, ctx: OpenContext): Container {
    return openLz4(src, ctx);
  },
};

export function openLz4(src: ByteSource, ctx: OpenContext): Container {
  checkCompressed(src, ctx.limits.maxDecodedBytes, 'lz4');
  // read a block at a time; the decoded bytes go to memory or, past limits.memoryDecodedBytes, to a temporary file
  const sink = new DecodedSink(`${src.name}//content`, ctx.limits.memoryDecodedBytes, ctx.temp);
  let parsed;
  try {
    parsed = parseLz4(src, ctx.limits.maxDecodedBytes, sink);
  } catch (e) {
    sink.discard();
    throw layerError(e, src, 'lz4');
  }
  const b = new SourceFields(src, 'lz4 frame');
  const stream = streamId(src, 'lz4');
  const fields: Field[] = [];
  const regions: Region[] = [];
  const notes: string[] = [];
  parsed.frames.forEach((f, i) => {
    const pre = i === 0 ? 'lz4.frame.' : `lz4.frame[${i}].`;
    fields.push(field(`${pre}kind`, f.kind, 'content', b.spans(f.offset, 4)));
    regions.push({ name: `lz4 frame ${i} magic`, role: 'metadata', spans: b.spans(f.offset, 4) });
    if (f.kind === 'frame') {
      fields.push(field(`${pre}flags`, f.flg ?? 0, 'content', b.spans(f.offset + 4, 1)));
      fields.push(field(`${pre}block_max`, f.bd ?? 0, 'content', b.spans(f.offset + 5, 1)));
      if (f.contentSize !== null && f.contentSize !== undefined) fields.push(field(`${pre}content_size`, f.contentSize, 'size', b.spans(f.offset + 6, 8), { derived: true }));
      const first = f.blocks[0];
      const hdrEnd = first ? first.offset : f.end - 4 - (f.contentChecksumOffset ? 4 : 0);
      fields.push(field(`${pre}header_checksum`, b.u8(hdrEnd - 1), 'checksum', b.spans(hdrEnd - 1, 1), { covers: b.spans(f.offset + 4, hdrEnd - 1 - f.offset - 4), derived: true }));
      if (f.contentChecksumOffset) {
        const outStart = first ? first.outOffset : 0;
        const outLen = f.blocks.reduce((a, x) => a + x.outSize, 0);
        fields.push(field(`${pre}content_checksum`, b.hex(f.contentChecksumOffset, 4), 'checksum', b.spans(f.contentChecksumOffset, 4), { covers: [{ stream, offset: outStart, length: outLen }], derived: true }));
      }
    }
    fields.push(field(`${pre}blocks`, f.blocks.length, 'layout', b.spans(f.offset, 4), { derived: true }));
    for (const blk of f.blocks) regions.push({ name: `lz4 block size`, role: 'metadata', spans: b.spans(blk.offset, 4) });
  });
  if (parsed.end < src.size) {
    const allZero = zeroRun(src, parsed.end, 'lz4 padding') === src.size - parsed.end;
    regions.push({ name: allZero ? 'lz4 trailing zero padding' : 'data after the lz4 stream', role: allZero ? 'padding' : 'unused', spans: b.spans(parsed.end, src.size - parsed.end) });
    if (!allZero) notes.push(`${src.size - parsed.end} bytes after the lz4 stream`);
  }
  return {
    format: 'lz4',
    source: src,
    fields,
    entries: [contentEntry(src, 'lz4', sink.finish(), src.spans(0, src.size), ctx)],
    regions,
    notes,
  };
}
