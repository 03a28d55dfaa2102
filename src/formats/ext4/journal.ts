/**
 * The jbd2 journal superblock (kernel Documentation/filesystems/ext4/journal.rst, journal_superblock_t),
 * big-endian, in the first block of the journal inode.
 */
import type { Field, Span } from '../../model.js';
import { field } from '../../model.js';
import { Bytes, uuidToString } from '../../io/bytes.js';
import { crc32c } from './crc32c.js';

const JBD2_MAGIC = 0xc03b3998;
const JOURNAL_UUID_HINT = 'mke2fs copies the file system UUID into the journal superblock: pass mkfs.ext4 -U <uuid>';

/** `fsUuid`: the file system's UUID and its spans; an internal journal holds a copy of it. */
export function journalFields(b: Bytes, notes: string[], fsUuid: { text: string; spans: Span[] }): Field[] {
  if (b.u32be(0) !== JBD2_MAGIC) {
    notes.push('the journal has no jbd2 superblock magic; it is not read');
    return [];
  }
  const f: Field[] = [];
  const n = (name: string, off: number, kind: Field['kind'], derived = false): void => {
    f.push(field(`ext4.journal.${name}`, b.u32be(off), kind, b.spans(off, 4), derived ? { derived } : undefined));
  };
  n('magic', 0x0, 'layout');
  n('blocktype', 0x4, 'content');
  n('header_sequence', 0x8, 'content');
  n('blocksize', 0xc, 'layout');
  n('maxlen', 0x10, 'size', true);
  n('first', 0x14, 'layout');
  n('sequence', 0x18, 'content');
  n('start', 0x1c, 'layout');
  n('errno', 0x20, 'content');
  n('feature_compat', 0x24, 'content');
  n('feature_incompat', 0x28, 'content');
  n('feature_ro_compat', 0x2c, 'content');
  const uuid = uuidToString(b.bytes(0x30, 16));
  // a copy of the file system UUID follows from it
  f.push(field('ext4.journal.uuid', uuid, 'random-id', b.spans(0x30, 16), uuid === fsUuid.text ? { hint: JOURNAL_UUID_HINT, covers: fsUuid.spans } : { hint: JOURNAL_UUID_HINT }));
  n('nr_users', 0x40, 'content');
  n('dynsuper', 0x44, 'layout');
  n('max_transaction', 0x48, 'size');
  n('max_trans_data', 0x4c, 'size');
  f.push(field('ext4.journal.checksum_type', b.u8(0x50), 'content', b.spans(0x50, 1)));
  f.push(field('ext4.journal.padding2', b.hex(0x51, 3), 'content', b.spans(0x51, 3)));
  n('num_fc_blocks', 0x54, 'size');
  n('head', 0x58, 'layout');
  f.push(field('ext4.journal.padding', b.bytes(0x5c, 0xfc - 0x5c).every((x) => x === 0) ? 'zero' : b.hex(0x5c, 0xfc - 0x5c), 'content', b.spans(0x5c, 0xfc - 0x5c)));
  const incompat = b.u32be(0x28);
  const stored = b.u32be(0xfc);
  if (incompat & 0x10) {
    // JBD2_FEATURE_INCOMPAT_CSUM_V3 (or v2 0x8): crc32c over the superblock with s_checksum zeroed
    const copy = b.data.slice(0, 1024);
    copy.fill(0, 0xfc, 0x100);
    const calc = crc32c(0xffffffff, copy);
    if (calc !== stored) notes.push(`journal superblock checksum 0x${stored.toString(16)} does not match its bytes`);
    f.push(field('ext4.journal.checksum', stored, 'checksum', b.spans(0xfc, 4), { covers: [...b.spans(0, 0xfc), ...b.spans(0x100, 1024 - 0x100)] }));
  } else {
    n('checksum', 0xfc, 'content');
  }
  // s_users: the UUIDs of the file systems sharing an external journal (none for an internal one)
  const users = b.bytes(0x100, 16 * 48);
  f.push(field('ext4.journal.users', users.every((x) => x === 0) ? 'none' : b.hex(0x100, 64), 'random-id', b.spans(0x100, 16 * 48)));
  return f;
}
