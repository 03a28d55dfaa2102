/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as EROFS uses it for the superblock checksum. The
 * kernel calls `crc32c(~0, block, len)` and stores the register as is, without the final inversion that
 * iSCSI's CRC-32C applies: `crc32cRaw` returns that register.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Feeds `data` into the CRC-32C register `crc` (no pre- or post-inversion). */
export function crc32cRaw(data: Uint8Array, crc: number): number {
  let c = crc >>> 0;
  for (let i = 0; i < data.length; i++) c = (TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return c >>> 0;
}
