/**
 * bzip2 as a container: one `/content` entry with the decoded data of every (concatenated) stream; the block
 * size, each block's CRC and each stream's combined CRC as fields. bzip2 blocks are bit-aligned: a field's
 * span is the bytes that hold its bits.
 */
import type { ByteSource } from '../../io/source.js';
import type { Container, Field, Format, OpenContext, Region, Span } from '../../model.js';
import { field } from '../../model.js';
import { BZIP2_MAGIC, decodeBzip2 } from '../../codec/bzip2.js';
import { DecodedSink } from '../../io/spill.js';
import { checkCompressed, contentEntry, layerError, streamId } from '../../util/layer.js';
import { readAll } from '../../io/source.js';

export const bzip2Format: Format = {
  name: 'bzip2',
  exclusive: true,
  transparentEntry: '/content',
  detect(src: ByteSource): number {
    if (src.size < 14) return 0;
    const b = src.read(0, 10, 'bzip2 magic');
    if (!BZIP2_MAGIC.every((v, i) => b[i] === v)) return 0;
    const level = b[3] as number;
    // the first block's magic (pi) or the end-of-stream magic of an empty stream follows the header
    const block = b[4] === 0x31 && b[5] === 0x41 && b[6] === 0x59 && b[7] === 0x26 && b[8] === 0x53 && b[9] === 0x59;
    const empty = b[4] === 0x17 && b[5] === 0x72 && b[6] === 0x45 && b[7] === 0x38 && b[8] === 0x50 && b[9] === 0x90;
    return level >= 0x31 && level <= 0x39 && (block || empty) ? 90 : 0;
  },
  open(src: ByteSource, ctx: OpenContext): Container {
    return openBzip2(src, ctx);
  },
};

/** The bytes of `src` that hold bits [bit, bit + n). */
function bitSpans(src: ByteSource, bit: number, n: number): Span[] {
  const first = Math.floor(bit / 8);
  const end = Math.ceil((bit + n) / 8);
  return src.spans(first, Math.min(end, src.size) - first);
}

const hex = (v: number): string => v.toString(16).padStart(8, '0');

export function openBzip2(src: ByteSource, ctx: OpenContext): Container {
  // the compressed input is read whole (bounded by --max-decoded); its output streams block by block
  checkCompressed(src, ctx.limits.maxDecodedBytes, 'bzip2');
  const input = readAll(src, ctx.limits.maxDecodedBytes, 'bzip2 stream');
  // decoded blocks go to memory or, past limits.memoryDecodedBytes, to a temporary file as they come
  const sink = new DecodedSink(`${src.name}//content`, ctx.limits.memoryDecodedBytes, ctx.temp);
  let parsed;
  try {
    parsed = decodeBzip2(input, ctx.limits.maxDecodedBytes, sink);
  } catch (e) {
    throw layerError(e, src, 'bzip2');
  }
  const stream = streamId(src, 'bzip2');
  const fields: Field[] = [];
  const regions: Region[] = [];
  const notes: string[] = [];
  let blockNo = 0;
  parsed.streams.forEach((s, si) => {
    const pre = si === 0 ? 'bzip2.stream.' : `bzip2.stream[${si}].`;
    fields.push(field(`${pre}block_size`, s.level * 100000, 'content', src.spans(s.offset + 3, 1)));
    regions.push({ name: `bzip2 stream ${si} header`, role: 'metadata', spans: src.spans(s.offset, 4) });
    const crcSpans: Span[] = [];
    for (const blk of s.blocks) {
      const sp = bitSpans(src, blk.bit + 48, 32);
      crcSpans.push(...sp);
      fields.push(
        field(`bzip2.block[${blockNo}].crc`, hex(blk.crc), 'checksum', sp, {
          covers: [{ stream, offset: blk.outOffset, length: blk.outSize }],
          derived: true,
        }),
      );
      blockNo++;
    }
    // the combined CRC is computed from the blocks' CRCs
    fields.push(field(`${pre}crc`, hex(s.combinedCrc), 'checksum', bitSpans(src, s.endBit + 48, 32), { covers: crcSpans, derived: true }));
    const eos = Math.floor(s.endBit / 8);
    regions.push({ name: `bzip2 stream ${si} end`, role: 'metadata', spans: src.spans(eos, s.end - eos) });
  });
  const last = parsed.streams[parsed.streams.length - 1];
  if (last && parsed.trailing > 0) {
    notes.push(`${parsed.trailing} bytes after the bzip2 stream`);
    regions.push({ name: 'data after the bzip2 stream', role: 'unused', spans: src.spans(last.end, parsed.trailing) });
  }
  if (parsed.streams.length > 1) notes.push(`${parsed.streams.length} bzip2 streams`);
  return {
    format: 'bzip2',
    source: src,
    fields,
    entries: [contentEntry(src, 'bzip2', sink.finish(), src.spans(0, src.size))],
    regions,
    notes,
  };
}
