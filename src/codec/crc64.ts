/**
 * CRC-64 as xz uses it (ECMA-182 polynomial, reflected, initial and final value all ones), fed piece by piece.
 * Slicing by eight: eight tables of 256 entries, each split into 32-bit halves, so that eight input bytes take
 * one round of table look-ups instead of eight.
 */

/** TABLES[k * 256 + i] in LO and HI: the CRC of byte i followed by k zero bytes */
const LO = new Uint32Array(8 * 256);
const HI = new Uint32Array(8 * 256);
{
  const poly = 0xc96c5795d7870f42n;
  for (let i = 0; i < 256; i++) {
    let c = BigInt(i);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    LO[i] = Number(c & 0xffffffffn);
    HI[i] = Number(c >> 32n);
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 8; k++) {
      const lo = LO[(k - 1) * 256 + i] as number;
      const hi = HI[(k - 1) * 256 + i] as number;
      // one more zero byte: shift right by 8 and fold the byte shifted out
      const idx = lo & 0xff;
      LO[k * 256 + i] = ((LO[idx] as number) ^ ((lo >>> 8) | (hi << 24))) >>> 0;
      HI[k * 256 + i] = ((HI[idx] as number) ^ (hi >>> 8)) >>> 0;
    }
  }
}

export class Crc64 {
  private lo = 0xffffffff;
  private hi = 0xffffffff;

  update(data: Uint8Array): void {
    let lo = this.lo;
    let hi = this.hi;
    const n = data.length;
    let i = 0;
    for (const end = n - 7; i < end; i += 8) {
      const a = lo ^ ((data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24));
      const b = hi ^ ((data[i + 4] as number) | ((data[i + 5] as number) << 8) | ((data[i + 6] as number) << 16) | ((data[i + 7] as number) << 24));
      const t7 = 7 * 256 + (a & 0xff);
      const t6 = 6 * 256 + ((a >>> 8) & 0xff);
      const t5 = 5 * 256 + ((a >>> 16) & 0xff);
      const t4 = 4 * 256 + (a >>> 24);
      const t3 = 3 * 256 + (b & 0xff);
      const t2 = 2 * 256 + ((b >>> 8) & 0xff);
      const t1 = 256 + ((b >>> 16) & 0xff);
      const t0 = b >>> 24;
      lo = (LO[t7] as number) ^ (LO[t6] as number) ^ (LO[t5] as number) ^ (LO[t4] as number) ^ (LO[t3] as number) ^ (LO[t2] as number) ^ (LO[t1] as number) ^ (LO[t0] as number);
      hi = (HI[t7] as number) ^ (HI[t6] as number) ^ (HI[t5] as number) ^ (HI[t4] as number) ^ (HI[t3] as number) ^ (HI[t2] as number) ^ (HI[t1] as number) ^ (HI[t0] as number);
    }
    for (; i < n; i++) {
      const idx = (lo ^ (data[i] as number)) & 0xff;
      lo = (LO[idx] as number) ^ ((lo >>> 8) | (hi << 24));
      hi = (HI[idx] as number) ^ (hi >>> 8);
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** The CRC so far, as xz stores it (little-endian). */
  digest(): Uint8Array {
    const out = new Uint8Array(8);
    const v = new DataView(out.buffer);
    v.setUint32(0, ~this.lo >>> 0, true);
    v.setUint32(4, ~this.hi >>> 0, true);
    return out;
  }
}

export function crc64(data: Uint8Array): Uint8Array {
  const c = new Crc64();
  c.update(data);
  return c.digest();
}
