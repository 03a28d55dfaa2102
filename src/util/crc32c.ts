/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) with the caller's initial value and no final
 * inversion: the kernel's crc32c_le, as ext4's metadata_csum, jbd2 v3 and EROFS' superblock checksum use it.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(crc: number, data: Uint8Array): number {
  let c = crc >>> 0;
  for (let i = 0; i < data.length; i++) c = (TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)) >>> 0;
  return c >>> 0;
}

/** crc32c over a little-endian 32-bit number (an inode or group number, a generation). */
export function crc32cU32(crc: number, v: number): number {
  return crc32c(crc, new Uint8Array([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]));
}
