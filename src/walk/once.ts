/**
 * Each distinct compressed stream decoded once per run. One build often stores the same stream several times
 * (a Debian live ISO holds its initrd in the ISO, in the squashfs and in the UKI's .initrd section): a stream
 * is found again by its encoded bytes, compared with those of the few streams of its size met before (past a
 * few, by their SHA-256), and
 * its other copies are listed over the decoded bytes already at hand, each under its own name. Zero bytes at
 * the end are left out of the key: a PE section pads the same stream to its alignment, and a format lists
 * them as padding after the stream's last member whichever way it was decoded. Large streams
 * are decoded in the worker pool, so that the two builds' copies, opened together, inflate on two CPUs.
 *
 * Only what went right is kept: a stream that failed to decode is decoded again wherever it is met, so that
 * its rejection names that place.
 */
import { createHash } from 'node:crypto';
import { SpillFile } from '../io/spill.js';
import type { ByteSource } from '../io/source.js';
import { timeLimitNow, withDeadline } from '../limits.js';
import type { Container, OpenContext } from '../model.js';
import type { XzLayout } from '../codec/xz.js';
import type { ZstdLayout } from '../codec/zstd.js';
import { grown } from '../util/rows.js';
import { trace } from '../util/trace.js';

/** What inflating one member of a stream gave: the encoded bytes it used, the CRC-32 and size of its output. */
export interface Inflated {
  used: number;
  crc: number;
  size: number;
}

/**
 * What inflating each member of a stream gave, a row a member in typed arrays: a stream of 500,000 members
 * keeps 20 bytes a member, and crosses from a worker thread as three arrays, not 500,000 objects.
 */
export interface MemberTable {
  count: number;
  used: Float64Array;
  crc: Uint32Array;
  size: Float64Array;
}

/** A MemberTable filled a member at a time. */
export class MemberRows implements MemberTable {
  count = 0;
  used = new Float64Array(16);
  crc = new Uint32Array(16);
  size = new Float64Array(16);

  add(m: Inflated): void {
    if (this.count === this.used.length) {
      const n = this.count * 2;
      this.used = grown(this.used, new Float64Array(n));
      this.crc = grown(this.crc, new Uint32Array(n));
      this.size = grown(this.size, new Float64Array(n));
    }
    this.used[this.count] = m.used;
    this.crc[this.count] = m.crc;
    this.size[this.count] = m.size;
    this.count++;
  }

  /** the rows as a plain table of arrays just long enough (to keep, or to send to another thread) */
  table(): MemberTable {
    const n = this.count;
    return { count: n, used: this.used.slice(0, n), crc: this.crc.slice(0, n), size: this.size.slice(0, n) };
  }
}

/**
 * What decoding a stream gave: the decoded bytes (in a temporary file) and what the format learnt decoding them
 * that its headers do not say (gzip: each member's results; xz: where each stream and block sits).
 */
export interface DecodedStream<M = MemberTable> {
  members: M;
  store: Uint8Array | SpillFile;
}

/** What each format decoded once a run (and in the pool when large) learns decoding a stream. */
export interface OnceLayouts {
  gzip: MemberTable;
  xz: XzLayout;
  zstd: ZstdLayout;
}
export type OnceFormat = keyof OnceLayouts;

/** Decoding in another thread, into a temporary file made here. */
export interface DecodeElsewhere {
  /** undefined when `src` cannot be read there (its bytes are not all in an input file) */
  decode<F extends OnceFormat>(format: F, src: ByteSource, ctx: OpenContext): Promise<DecodedStream<OnceLayouts[F]>> | undefined;
}

/** How a format opens a stream: decoding it here (telling `keep` what it decoded), or over what is known. */
export interface OpenWays<M = MemberTable> {
  here(keep?: (d: DecodedStream<M>) => void): Container;
  list(known: DecodedStream<M>): Container;
  /** whether the stream ending at `end` (before the zero bytes at the end) decodes to more than is held in memory */
  large(end: number): boolean;
}

/** streams smaller than this are decoded again where they are met: it is cheap, and they stay in memory */
const MIN_SIZE = 1 << 20;
const PIECE = 1 << 20;
/** streams of one size compared byte by byte before digests are used instead */
const COMPARED = 4;

interface Known<M = unknown> {
  src: ByteSource;
  /** where the zero bytes at the end of `src` start */
  end: number;
  format: string;
  digest?: string;
  /** pending while another thread decodes it; undefined once that failed */
  value: DecodedStream<M> | Promise<DecodedStream<M> | undefined>;
}

export class DecodedOnce {
  private readonly bySize = new Map<number, Known[]>();
  private buffer: Uint8Array | undefined;
  private other: Uint8Array | undefined;

  constructor(private readonly elsewhere?: DecodeElsewhere) {}

  /** Opens `src` as `format`, decoding it only when no stream with the same bytes was decoded before. */
  open<F extends OnceFormat>(src: ByteSource, format: F, ctx: OpenContext, ways: OpenWays<OnceLayouts[F]>): Container | Promise<Container> {
    if (src.size < MIN_SIZE) return ways.here();
    const end = src.size - trailingZeros(src);
    if (end < MIN_SIZE) return ways.here();
    const found = this.find(src, end, format);
    const digest = found.digest;
    // a known stream of the same format: what it holds is what this format's decoding gives
    const hit = found.hit as Known<OnceLayouts[F]>['value'] | undefined;
    if (hit) {
      trace(`decoded once: ${src.name} (${format}, ${src.size} bytes) is a copy of a stream met before`);
      if (!(hit instanceof Promise)) return ways.list(hit);
      // the first copy is being decoded: wait for it; should it fail, this one is decoded here, as it would have been
      const limit = timeLimitNow();
      return hit.then((d) => (d ? ways.list(d) : withDeadline(limit, () => ways.here())));
    }
    const entry: Known = { src, end, format, ...(digest !== undefined ? { digest } : {}), value: undefined as unknown as DecodedStream<unknown> };
    const pooled = ways.large(end) ? this.elsewhere?.decode(format, src, ctx) : undefined;
    if (pooled) {
      trace(`decoding ${src.name} (${format}, ${src.size} bytes) in the pool`);
      entry.value = pooled.then(
        (d) => d,
        () => {
          this.drop(entry);
          return undefined;
        },
      );
      this.add(entry);
      return pooled.then((d) => ways.list(d));
    }
    let kept: DecodedStream<OnceLayouts[F]> | undefined;
    const opened = ways.here((d) => (kept = d));
    // decoded bytes held in memory are not kept past their container's life
    if (kept && kept.store instanceof SpillFile) {
      entry.value = kept;
      this.add(entry);
    }
    return opened;
  }

  private add(entry: Known): void {
    const list = this.bySize.get(entry.end);
    if (list) list.push(entry);
    else this.bySize.set(entry.end, [entry]);
  }

  private drop(entry: Known): void {
    const list = this.bySize.get(entry.end);
    const i = list?.indexOf(entry) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }

  /**
   * A stream of the same format with the same bytes, when one was met; the digest of `src` when it was worked
   * out. Against a few streams of its size, the bytes are compared, stopping at the first difference (the
   * initrd's copies in a live ISO: hashing each took longer than reading it); against more, digests are
   * compared, so that many streams of one size cost one reading each.
   */
  private find(src: ByteSource, end: number, format: string): { hit?: Known['value']; digest?: string } {
    const list = this.bySize.get(end);
    if (!list?.length) return {};
    if (list.length <= COMPARED) {
      for (const k of list) if (k.format === format && this.sameBytes(src, k.src, end)) return { hit: k.value };
      return {};
    }
    const digest = this.digest(src, end);
    for (const k of list) if (k.format === format && (k.digest ??= this.digest(k.src, k.end)) === digest) return { hit: k.value, digest };
    return { digest };
  }

  /** Whether the first `end` bytes of `a` and `b` are the same */
  private sameBytes(a: ByteSource, b: ByteSource, end: number): boolean {
    const x = (this.buffer ??= new Uint8Array(PIECE));
    const y = (this.other ??= new Uint8Array(PIECE));
    for (let at = 0; at < end; at += PIECE) {
      const n = Math.min(PIECE, end - at);
      const p = piece(a, at, n, x);
      const q = piece(b, at, n, y);
      if (Buffer.compare(p, q) !== 0) return false;
    }
    return true;
  }

  /** SHA-256 of the first `end` bytes of `src` */
  private digest(src: ByteSource, end: number): string {
    const h = createHash('sha256');
    const buf = (this.buffer ??= new Uint8Array(PIECE));
    for (let at = 0; at < end; at += PIECE) h.update(piece(src, at, Math.min(PIECE, end - at), buf));
    return h.digest('hex');
  }
}

/** `n` bytes of `src` at `at`, read into `buf` where the source can. */
function piece(src: ByteSource, at: number, n: number, buf: Uint8Array): Uint8Array {
  if (!src.readInto) return src.read(at, n, 'content');
  const into = buf.subarray(0, n);
  src.readInto(at, into, 'content');
  return into;
}

/** How many zero bytes end `src`, read backwards a window at a time. */
function trailingZeros(src: ByteSource): number {
  let end = src.size;
  while (end > 0) {
    const n = Math.min(end, 64 * 1024);
    const w = src.read(end - n, n, 'padding');
    let i = n;
    while (i > 0 && w[i - 1] === 0) i--;
    end -= n - i;
    if (i > 0) break;
  }
  return src.size - end;
}
