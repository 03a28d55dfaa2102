import type { EntryType } from '../model.js';

/** The entry type of a Unix st_mode (S_IFMT bits), as Rock Ridge PX, cpio, tar and squashfs store it. */
export function typeFromMode(mode: number): EntryType {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'dir';
    case 0o120000:
      return 'symlink';
    case 0o020000:
      return 'chardev';
    case 0o060000:
      return 'blockdev';
    case 0o010000:
      return 'fifo';
    case 0o140000:
      return 'socket';
    default:
      return 'other';
  }
}
