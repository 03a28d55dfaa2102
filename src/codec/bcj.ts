/** Branch converters: filters that xz may apply before LZMA2 (the Linux kernel's xz uses BCJ x86). */

/**
 * BCJ x86 branch converter, decoding direction, fed the output piece by piece. A position is converted once
 * the four bytes after it are known, so up to four bytes wait for the next piece (or `end`).
 */
export class BcjX86 {
  private buf = new Uint8Array(0);
  private held = 0;
  /** stream position (with the filter's start offset) of `buf[0]` */
  private at: number;
  /** stream position of the last 0xE8/0xE9 byte seen, and the mask of recent ones */
  private prevPos: number;
  private prevMask = 0;

  constructor(startPos: number) {
    this.at = startPos;
    this.prevPos = startPos - 1;
  }

  /** Converts `bytes`, following what came before; hands each converted piece to `out` (valid during the call). */
  push(bytes: Uint8Array, out: (bytes: Uint8Array) => void): void {
    const n = this.held + bytes.length;
    if (this.buf.length < n) {
      const next = new Uint8Array(Math.max(n, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.held));
      this.buf = next;
    }
    this.buf.set(bytes, this.held);
    const done = this.convert(n);
    if (done > 0) out(this.buf.subarray(0, done));
    this.buf.copyWithin(0, done, n);
    this.held = n - done;
    this.at += done;
  }

  /** The last bytes, which are never converted. */
  end(out: (bytes: Uint8Array) => void): void {
    if (this.held) out(this.buf.subarray(0, this.held));
    this.at += this.held;
    this.held = 0;
  }

  /** Converts `buf[0, n)` as far as it can; returns how many bytes are final. */
  private convert(n: number): number {
    const allowed = [true, true, true, false, true, false, false, false];
    const bitNum = [0, 1, 2, 2, 3, 3, 3, 3];
    const msb = (b: number): boolean => b === 0 || b === 0xff;
    const buf = this.buf;
    const base = this.at;
    let prevPos = this.prevPos;
    let prevMask = this.prevMask;
    const size = n - 4;
    let i = 0;
    for (; i < size; i++) {
      if (((buf[i] as number) & 0xfe) !== 0xe8) continue;
      const here = base + i;
      const gap = here - prevPos;
      if (gap > 3) prevMask = 0;
      else {
        prevMask = (prevMask << (gap - 1)) & 7;
        if (prevMask !== 0) {
          const b = buf[i + 4 - (bitNum[prevMask] as number)] as number;
          if (!allowed[prevMask] || msb(b)) {
            prevPos = here;
            prevMask = (prevMask << 1) | 1;
            continue;
          }
        }
      }
      prevPos = here;
      if (msb(buf[i + 4] as number)) {
        let src = ((buf[i + 1] as number) | ((buf[i + 2] as number) << 8) | ((buf[i + 3] as number) << 16) | ((buf[i + 4] as number) << 24)) >>> 0;
        let dest: number;
        for (;;) {
          dest = (src - (here + 5)) >>> 0;
          if (prevMask === 0) break;
          const j = (bitNum[prevMask] as number) * 8;
          if (!msb((dest >>> (24 - j)) & 0xff)) break;
          src = (dest ^ (2 ** (32 - j) - 1)) >>> 0;
        }
        dest &= 0x01ffffff;
        if (dest & 0x01000000) dest = (dest | 0xfe000000) >>> 0;
        buf[i + 1] = dest & 0xff;
        buf[i + 2] = (dest >>> 8) & 0xff;
        buf[i + 3] = (dest >>> 16) & 0xff;
        buf[i + 4] = (dest >>> 24) & 0xff;
        i += 4;
      } else {
        prevMask = (prevMask << 1) | 1;
      }
    }
    this.prevPos = prevPos;
    this.prevMask = prevMask;
    return Math.max(0, Math.min(i, n));
  }
}
