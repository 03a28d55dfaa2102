/**
 * xz (.xz file format) as a container: one `/content` entry with the decoded data of every stream;
 * stream flags, block headers, block checks, index and footers as fields; stream padding as a region.
 */
import type { ByteSource } from '../../io/source.js';
import type { Container, Field, Format, OpenContext, Region } from '../../model.js';
import { field } from '../../model.js';
import { CHECK_NAMES, parseXz, relaidXz, XZ_MAGIC, type XzLayout } from '../../codec/xz.js';
import type { DecodedStream } from '../../walk/once.js';
import { ReprodiffError } from '../../errors.js';
import { declaredXzSize } from './declared.js';
import { checkCompressed, contentEntry, decodedLayer, SourceFields, streamId } from '../../util/layer.js';

const FILTER_NAMES: Record<number, string> = { 0x21: 'lzma2', 0x04: 'x86', 0x03: 'delta', 0x05: 'powerpc', 0x06: 'ia64', 0x07: 'arm', 0x08: 'armthumb', 0x09: 'sparc', 0x0a: 'arm64' };

export const xzFormat: Format = {
  name: 'xz',
  exclusive: true,
  transparentEntry: '/content',
  detect(src: ByteSource): number {
    if (src.size < 32) return 0;
    const b = src.read(0, 6, 'xz magic');
    return XZ_MAGIC.every((v, i) => b[i] === v) ? 90 : 0;
  },
  open(src: ByteSource, ctx: OpenContext): Container | Promise<Container> {
    // the same xz stream stored again is decoded once, and a large one in the pool, so that the two builds'
    // copies decode on two CPUs at once
    if (!ctx.once) return openXz(src, ctx);
    return ctx.once.open(src, 'xz', ctx, {
      here: (keep) => openXz(src, ctx, undefined, keep),
      list: (known) => openXz(src, ctx, known),
      large: () => declaredXzSize(src) > ctx.limits.memoryDecodedBytes,
    });
  },
};

/**
 * The xz file `src` as a container. `known`: what decoding these very bytes gave before (where its streams and
 * blocks sit, and the decoded bytes), so that nothing is decoded again; `keep` is told what decoding them gave.
 */
export function openXz(src: ByteSource, ctx: OpenContext, known?: DecodedStream<XzLayout>, keep?: (d: DecodedStream<XzLayout>) => void): Container {
  checkCompressed(src, ctx.limits.maxDecodedBytes, 'xz');
  // a file whose indexes declare more than the limit is stopped before decoding up to it
  const declared = declaredXzSize(src);
  if (declared > ctx.limits.maxDecodedBytes) {
    throw new ReprodiffError('E_LIMIT', `its indexes declare ${declared} decoded bytes, over the limit of ${ctx.limits.maxDecodedBytes} (limit maxDecoded; raise --max-decoded)`, { file: src.name, structure: 'xz index' });
  }
  // the compressed stream is read a window at a time, and the decoded bytes go to memory or, past
  // limits.memoryDecodedBytes, to a temporary file as they are decoded
  // what the indexes declare (0 when they cannot be read) decides whether it goes to the file from the start
  const { members: parsed, store } = decodedLayer<XzLayout>(
    src,
    ctx,
    'xz',
    declared,
    known,
    keep,
    (sink) => {
      const r = parseXz(src, ctx.limits.maxDecodedBytes, true, sink);
      return { streams: r.streams, end: r.end };
    },
    (m) => relaidXz(m, src),
  );
  const b = new SourceFields(src, 'xz stream');
  const stream = streamId(src, 'xz');
  const fields: Field[] = [];
  const regions: Region[] = [];
  const notes: string[] = [];
  let blockNo = 0;
  parsed.streams.forEach((s, si) => {
    const pre = si === 0 ? 'xz.stream.' : `xz.stream[${si}].`;
    fields.push(field(`${pre}check_type`, CHECK_NAMES[s.checkType] ?? s.checkType, 'content', b.spans(s.offset + 7, 1)));
    fields.push(field(`${pre}header_crc32`, b.hex(s.offset + 8, 4), 'checksum', b.spans(s.offset + 8, 4), { covers: b.spans(s.offset + 6, 2), derived: true }));
    regions.push({ name: `xz stream ${si} header`, role: 'metadata', spans: b.spans(s.offset, 12) });
    for (const blk of s.blocks) {
      const bp = `xz.block[${blockNo}].`;
      const h = blk.headerOffset;
      fields.push(field(`${bp}header_size`, blk.headerSize, 'layout', b.spans(h, 1), { derived: true }));
      fields.push(field(`${bp}flags`, blk.flags, 'content', b.spans(h + 1, 1)));
      const at = blk.fieldsAt;
      if (blk.compressedSizeField !== null) fields.push(field(`${bp}compressed_size`, blk.compressedSizeField, 'size', b.spans(h + at.compressed[0], at.compressed[1]), { derived: true }));
      if (blk.uncompressedSizeField !== null) fields.push(field(`${bp}uncompressed_size`, blk.uncompressedSizeField, 'size', b.spans(h + at.uncompressed[0], at.uncompressed[1]), { derived: true }));
      const filters = blk.filters.map((f) => (FILTER_NAMES[f.id] ?? `0x${f.id.toString(16)}`) + (f.props.length ? `(${Buffer.from(f.props).toString('hex')})` : '')).join(',');
      fields.push(field(`${bp}filters`, filters, 'content', b.spans(h + at.filters[0], at.filters[1])));
      // the zero padding after the filter flags: a header's size follows from the sizes written before it
      const padFrom = at.filters[0] + at.filters[1];
      if (padFrom < blk.headerSize - 4) fields.push(field(`${bp}header_padding`, blk.headerSize - 4 - padFrom, 'layout', b.spans(h + padFrom, blk.headerSize - 4 - padFrom), { derived: true }));
      fields.push(field(`${bp}header_crc32`, b.hex(h + blk.headerSize - 4, 4), 'checksum', b.spans(h + blk.headerSize - 4, 4), { covers: b.spans(h, blk.headerSize - 4), derived: true }));
      regions.push({ name: `xz block ${blockNo} header`, role: 'metadata', spans: b.spans(h, blk.headerSize) });
      if (blk.paddingSize) regions.push({ name: `xz block ${blockNo} padding`, role: 'padding', spans: b.spans(blk.dataOffset + blk.dataSize, blk.paddingSize) });
      if (blk.checkSize) {
        fields.push(
          field(`${bp}check`, b.hex(blk.checkOffset, blk.checkSize), 'checksum', b.spans(blk.checkOffset, blk.checkSize), {
            covers: [{ stream, offset: blk.outOffset, length: blk.outSize }],
            derived: true,
          }),
        );
        regions.push({ name: `xz block ${blockNo} check`, role: 'metadata', spans: b.spans(blk.checkOffset, blk.checkSize) });
      }
      blockNo++;
    }
    const ix = s.indexOffset;
    fields.push(field(`${pre}index.records`, s.indexRecords, 'layout', b.spans(ix + 1, Math.max(1, s.indexSize - 5)), { derived: true }));
    fields.push(field(`${pre}index.crc32`, b.hex(ix + s.indexSize - 4, 4), 'checksum', b.spans(ix + s.indexSize - 4, 4), { covers: b.spans(ix, s.indexSize - 4), derived: true }));
    regions.push({ name: `xz stream ${si} index`, role: 'metadata', spans: b.spans(ix, s.indexSize) });
    const f = s.footerOffset;
    fields.push(field(`${pre}footer.crc32`, b.hex(f, 4), 'checksum', b.spans(f, 4), { covers: b.spans(f + 4, 6), derived: true }));
    fields.push(field(`${pre}footer.backward_size`, s.backwardSize, 'size', b.spans(f + 4, 4), { derived: true }));
    regions.push({ name: `xz stream ${si} footer`, role: 'metadata', spans: b.spans(f, 12) });
    if (s.paddingSize) regions.push({ name: `xz stream ${si} padding`, role: 'padding', spans: b.spans(f + 12, s.paddingSize) });
  });
  const last = parsed.streams[parsed.streams.length - 1];
  if (last && last.end < src.size) {
    notes.push(`${src.size - last.end} bytes after the xz stream`);
    regions.push({ name: 'data after the xz stream', role: 'unused', spans: b.spans(last.end, src.size - last.end) });
  }
  if (parsed.streams.length > 1) notes.push(`${parsed.streams.length} xz streams`);
  return {
    format: 'xz',
    source: src,
    fields,
    entries: [contentEntry(src, 'xz', store, src.spans(0, src.size))],
    regions,
    notes,
  };
}
