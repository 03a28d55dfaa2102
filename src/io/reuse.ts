/**
 * Reads into buffers that are reused rather than allocated per read, for a parser that reads hundreds of
 * thousands of small structures (a release image's directory records) and keeps no view of what it read:
 * every view handed out is overwritten by a later read. Through a source's own block cache each block read
 * is a new buffer outside the JS heap, which V8 frees only at a full collection; comparing a 100,000-file
 * pair left some 50 MB of such blocks waiting at any time.
 */
import { checkRange, type ByteSource } from './source.js';

/** window size: a 64 KiB window holds a few hundred directory records */
const WINDOW = 64 * 1024;
/** windows kept: records of each tree (ISO 9660, Joliet) are read in order, interleaved */
const WINDOWS = 4;
/** a slot buffer larger than this is not kept for reuse */
const KEEP_MAX = 1024 * 1024;
const ALIGN = 4096;

export class ReusedReads {
  private readonly windows: { buf: Uint8Array; start: number; length: number }[] = [];
  private readonly slots: Uint8Array[] = [];

  constructor(private readonly src: ByteSource) {}

  /**
   * `length` bytes at `offset`, through a few reused windows: valid until the next call. Sources that do not
   * read from a file (bytes in memory) hand out their own views.
   */
  window(offset: number, length: number, structure?: string): Uint8Array {
    const { src } = this;
    checkRange(src, offset, length, structure);
    if (!src.readInto || length > WINDOW) return src.read(offset, length, structure);
    const ws = this.windows;
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i]!;
      if (offset >= w.start && offset + length <= w.start + w.length) {
        if (i > 0) {
          ws.splice(i, 1);
          ws.unshift(w);
        }
        return w.buf.subarray(offset - w.start, offset - w.start + length);
      }
    }
    let start = offset - (offset % ALIGN);
    if (offset + length > start + WINDOW) start = offset;
    const n = Math.min(WINDOW, src.size - start);
    const w = ws.length < WINDOWS ? { buf: new Uint8Array(WINDOW), start: 0, length: 0 } : ws.pop()!;
    w.length = 0; // a failed read leaves no window behind
    src.readInto(start, w.buf.subarray(0, n), structure);
    w.start = start;
    w.length = n;
    ws.unshift(w);
    return w.buf.subarray(offset - start, offset - start + length);
  }

  /**
   * `length` bytes at `offset` in buffer `slot`: valid until the next read into the same slot (a parser
   * walking a tree uses one slot per depth, so a directory's bytes outlive its subdirectories' reads).
   */
  slot(slot: number, offset: number, length: number, structure?: string): Uint8Array {
    const { src } = this;
    checkRange(src, offset, length, structure);
    if (!src.readInto) return src.read(offset, length, structure);
    let buf = this.slots[slot];
    if (!buf || buf.length < length) {
      buf = new Uint8Array(Math.max(length, ALIGN));
      if (length <= KEEP_MAX) this.slots[slot] = buf;
    }
    const view = buf.subarray(0, length);
    src.readInto(offset, view, structure);
    return view;
  }
}
