/**
 * A file's content as its blocks map it: mapped pieces read from the volume, holes and unwritten extents read
 * as zeros. Spans of mapped pieces are the volume's; zeros have no bytes on disk, so their spans name a
 * stream of the file's own (`<name>#zero`), which no byte of the inputs belongs to.
 */
import type { Span } from '../../model.js';
import { checkRange, type ByteSource } from '../../io/source.js';

export interface Piece {
  /** byte offset in the file */
  at: number;
  length: number;
  /** byte offset in the parent, or -1 for zeros */
  disk: number;
}

export class SparseSource implements ByteSource {
  readonly stream: string | undefined;
  private readonly zeroStream: string;
  constructor(
    readonly name: string,
    private readonly parent: ByteSource,
    private readonly pieces: readonly Piece[],
    readonly size: number,
  ) {
    this.stream = parent.stream;
    this.zeroStream = `${name}#zero`;
  }

  private locate(pos: number): number {
    let lo = 0;
    let hi = this.pieces.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.pieces[mid]!.at <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  read(offset: number, length: number, structure?: string): Uint8Array {
    checkRange(this, offset, length, structure);
    const out = new Uint8Array(length);
    let i = this.locate(offset);
    let done = 0;
    while (done < length && i < this.pieces.length) {
      const p = this.pieces[i]!;
      const from = offset + done - p.at;
      const n = Math.min(p.length - from, length - done);
      if (n > 0 && p.disk >= 0) out.set(this.parent.read(p.disk + from, n, structure), done);
      if (n > 0) done += n;
      i++;
    }
    return out;
  }

  spans(offset: number, length: number): Span[] {
    checkRange(this, offset, length, 'span');
    const out: Span[] = [];
    let i = this.locate(offset);
    let done = 0;
    while (done < length && i < this.pieces.length) {
      const p = this.pieces[i]!;
      const from = offset + done - p.at;
      const n = Math.min(p.length - from, length - done);
      if (n > 0) {
        if (p.disk >= 0) out.push(...this.parent.spans(p.disk + from, n));
        else out.push({ stream: this.zeroStream, offset: offset + done, length: n });
        done += n;
      }
      i++;
    }
    return out;
  }
}
