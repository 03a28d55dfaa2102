/**
 * The FAT boot sector's BIOS parameter block (Microsoft "FAT: General Overview of On-Disk Format" 1.03, section 3).
 * Shared with the MBR reader (to leave FAT volume boot records to FAT) and the El Torito reader (EFI image sizes).
 */

export type FatType = 12 | 16 | 32;

export interface Bpb {
  bytesPerSector: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  numFats: number;
  rootEntries: number;
  totalSectors: number;
  /** sectors per FAT */
  fatSize: number;
  media: number;
  fatType: FatType;
  clusterCount: number;
  rootDirSectors: number;
  firstDataSector: number;
  /** FAT32 only (0 otherwise) */
  rootCluster: number;
  fsInfoSector: number;
  backupBootSector: number;
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
const u16 = (b: Uint8Array, o: number): number => (b[o] as number) | ((b[o + 1] as number) << 8);
const u32 = (b: Uint8Array, o: number): number => (u16(b, o) + u16(b, o + 2) * 0x10000) >>> 0;

/**
 * Validates and decodes a BPB from the first 512 bytes of a volume. Returns null when the sector is not a
 * FAT boot sector (wrong jump, impossible geometry, no 55AA) - NTFS and exFAT fail here too (reserved or
 * bytes/sector are zero in theirs).
 */
export function readBpb(b: Uint8Array): Bpb | null {
  if (b.length < 512) return null;
  // 0 - BS_jmpBoot: EB xx 90 or E9 xx xx (EB xx with another third byte is common enough to accept)
  if (b[0] !== 0xeb && b[0] !== 0xe9) return null;
  // 510 - signature 55 AA
  if (b[510] !== 0x55 || b[511] !== 0xaa) return null;
  const bytesPerSector = u16(b, 11); // 11 - BPB_BytsPerSec
  const sectorsPerCluster = b[13] as number; // 13 - BPB_SecPerClus
  const reservedSectors = u16(b, 14); // 14 - BPB_RsvdSecCnt
  const numFats = b[16] as number; // 16 - BPB_NumFATs
  const rootEntries = u16(b, 17); // 17 - BPB_RootEntCnt
  const totSec16 = u16(b, 19); // 19 - BPB_TotSec16
  const media = b[21] as number; // 21 - BPB_Media
  const fatSz16 = u16(b, 22); // 22 - BPB_FATSz16
  const totSec32 = u32(b, 32); // 32 - BPB_TotSec32
  const fatSz32 = u32(b, 36); // 36 - BPB_FATSz32 (FAT32 only)
  if (!isPow2(bytesPerSector) || bytesPerSector < 512 || bytesPerSector > 4096) return null;
  if (!isPow2(sectorsPerCluster) || sectorsPerCluster > 128) return null;
  if (reservedSectors === 0 || numFats < 1 || numFats > 4) return null;
  if (media !== 0xf0 && media < 0xf8) return null;
  const totalSectors = totSec16 !== 0 ? totSec16 : totSec32;
  const fatSize = fatSz16 !== 0 ? fatSz16 : fatSz32;
  if (totalSectors === 0 || fatSize === 0) return null;
  const rootDirSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const firstDataSector = reservedSectors + numFats * fatSize + rootDirSectors;
  if (firstDataSector >= totalSectors) return null;
  const clusterCount = Math.floor((totalSectors - firstDataSector) / sectorsPerCluster);
  if (clusterCount < 1) return null;
  const fatType: FatType = clusterCount < 4085 ? 12 : clusterCount < 65525 ? 16 : 32;
  if (fatType === 32 && (rootEntries !== 0 || fatSz16 !== 0)) return null;
  if (fatType !== 32 && rootEntries === 0) return null;
  // the FAT must be large enough to describe every cluster
  const fatBytesNeeded = Math.ceil(((clusterCount + 2) * (fatType === 12 ? 12 : fatType === 16 ? 16 : 32)) / 8);
  if (fatSize * bytesPerSector < fatBytesNeeded) return null;
  return {
    bytesPerSector,
    sectorsPerCluster,
    reservedSectors,
    numFats,
    rootEntries,
    totalSectors,
    fatSize,
    media,
    fatType,
    clusterCount,
    rootDirSectors,
    firstDataSector,
    rootCluster: fatType === 32 ? u32(b, 44) : 0, // 44 - BPB_RootClus
    fsInfoSector: fatType === 32 ? u16(b, 48) : 0, // 48 - BPB_FSInfo
    backupBootSector: fatType === 32 ? u16(b, 50) : 0, // 50 - BPB_BkBootSec
  };
}
