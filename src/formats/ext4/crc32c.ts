/** ext4's checksums: CRC-32C (src/util/crc32c.ts) and, for the older gdt_csum, CRC-16. */
export { crc32c, crc32cU32 } from '../../util/crc32c.js';

const TABLE16 = (() => {
  const t = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xa001 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-16 (ANSI, reflected 0xA001), for the older gdt_csum group descriptor checksum. */
export function crc16(crc: number, data: Uint8Array): number {
  let c = crc & 0xffff;
  for (let i = 0; i < data.length; i++) c = (TABLE16[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)) & 0xffff;
  return c;
}
