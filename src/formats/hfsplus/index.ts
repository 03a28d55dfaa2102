/**
 * HFS+ and HFSX volumes (Apple TN1150): the volume header and its alternate, the extents overflow, catalog
 * and attributes B-trees, and every folder and file of the catalog with its data fork as content. Exclusive:
 * the source is the volume (a GPT or APM partition of a hybrid ISO, as xorriso -hfsplus and grub-mkrescue
 * write them, or a whole disk image).
 */
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import { EntryLimit } from '../../limits.js';
import type { Container, Entry, Field, Format, OpenContext, Region, Span } from '../../model.js';
import { field } from '../../model.js';
import { keyCompareName, openBTree, shortHash, walkBTree } from './btree.js';
import { catalogEntries } from './catalog.js';
import { HEADER_OFFSET, HEADER_SIZE, looksLikeHeader, producerOf, readHeader, SIG_HFSX, type ForkData, type VolumeHeader } from './header.js';
import { DATA_FORK, forkBytes, forkSource, readOverflow, type Volume } from './volume.js';

const EXTENTS_FILE_ID = 3;
const CATALOG_FILE_ID = 4;
const ALLOCATION_FILE_ID = 6;
const STARTUP_FILE_ID = 7;
const ATTRIBUTES_FILE_ID = 8;
/** notes kept at most; the rest are counted */
const MAX_NOTES = 200;
/** bytes of a special file digested into one field at most (the allocation bitmap, the startup file) */
const MAX_DIGEST = 64 * 1024 * 1024;

function detect(src: ByteSource): number {
  if (src.size < HEADER_OFFSET + HEADER_SIZE) return 0;
  return looksLikeHeader(src.read(HEADER_OFFSET, 48, 'HFS+ volume header')) ? 70 : 0;
}

function digest(src: ByteSource, what: string): string {
  if (src.size > MAX_DIGEST) return `${src.size} bytes (not digested)`;
  return shortHash(src.read(0, src.size, what));
}

function open(src: ByteSource, ctx: OpenContext): Container {
  const hb = Bytes.at(src, HEADER_OFFSET, HEADER_SIZE, 'HFS+ volume header');
  if (!looksLikeHeader(hb.data)) throw hb.error(0, "no HFS+ volume header ('H+' version 4 or 'HX' version 5 with a power-of-two block size)");
  const fields: Field[] = [];
  const regions: Region[] = [];
  const notes: string[] = [];
  const entries: Entry[] = [];
  regions.push({ name: 'boot blocks', role: 'system-area', spans: src.spans(0, HEADER_OFFSET) });
  regions.push({ name: 'HFS+ volume header', role: 'metadata', spans: hb.spans(0, HEADER_SIZE) });
  const vh = readHeader(hb, 'hfsplus.header', fields);
  const hfsx = vh.signature === SIG_HFSX;
  const volumeBytes = vh.blockSize * vh.totalBlocks;
  if (volumeBytes > src.size) notes.push(`the volume header counts ${vh.totalBlocks} blocks of ${vh.blockSize} bytes (${volumeBytes} bytes), but the source holds ${src.size}`);
  else if (volumeBytes < src.size) {
    regions.push({ name: 'after the HFS+ volume', role: 'unused', spans: src.spans(volumeBytes, src.size - volumeBytes) });
  }
  readAlternate(src, vh, hb, volumeBytes, fields, regions, notes);

  const v: Volume = { src, blockSize: vh.blockSize, totalBlocks: vh.totalBlocks, limits: ctx.limits, notes, overflow: new Map() };
  const special = (fork: ForkData, id: number, name: string, key: string): ByteSource | undefined => {
    const fb = forkBytes(v, fork, id, DATA_FORK, `the ${name}`, `hfsplus.${key}`);
    fields.push(...fb.overflowFields);
    if (fb.extents.length) regions.push({ name: `HFS+ ${name}`, role: 'metadata', spans: fb.extents.flatMap((e) => src.spans(e.offset, e.length)) });
    return forkSource(v, fb, name);
  };

  // the extents overflow file first: the other special files may continue there
  const extSrc = special(vh.forks.extents_file, EXTENTS_FILE_ID, 'extents overflow file', 'extents_file');
  if (extSrc) {
    const t = openBTree(extSrc, 'extents overflow file', 'hfsplus.extents', fields, notes);
    if (t) readOverflow(v, walkBTree(t, fields, notes, ctx.limits).leaves);
  }
  const alloc = special(vh.forks.allocation_file, ALLOCATION_FILE_ID, 'allocation file', 'allocation_file');
  if (alloc) fields.push(field('hfsplus.allocation_file.bitmap', digest(alloc, 'HFS+ allocation file'), 'layout', alloc.spans(0, alloc.size), { derived: true }));
  const startup = special(vh.forks.startup_file, STARTUP_FILE_ID, 'startup file', 'startup_file');
  if (startup) fields.push(field('hfsplus.startup_file.content', digest(startup, 'HFS+ startup file'), 'content', startup.spans(0, startup.size)));
  const attrSrc = special(vh.forks.attributes_file, ATTRIBUTES_FILE_ID, 'attributes file', 'attributes_file');
  if (attrSrc) {
    const t = openBTree(attrSrc, 'attributes file', 'hfsplus.attributes', fields, notes);
    if (t) {
      const leaves = walkBTree(t, fields, notes, ctx.limits).leaves;
      for (const r of leaves) fields.push(field('hfsplus.attributes.record', shortHash(r.node.bytes(r.off, r.len)), 'content', r.node.spans(r.off, r.len)));
      if (leaves.length) notes.push(`${leaves.length} extended attribute records are compared as digests, not decoded`);
    }
  }

  let partial: string | undefined;
  const catSrc = special(vh.forks.catalog_file, CATALOG_FILE_ID, 'catalog file', 'catalog_file');
  if (!catSrc) notes.push('the volume has no catalog file; no entries are listed');
  else {
    const t = openBTree(catSrc, 'catalog file', 'hfsplus.catalog', fields, notes);
    if (t) {
      if (hfsx) notes.push(`HFSX: names compare ${t.keyCompareType === 0xbc ? 'case-sensitively (binary)' : `by key compare type ${keyCompareName(t.keyCompareType)}`}`);
      else if (t.keyCompareType !== 0 && t.keyCompareType !== 0xcf) notes.push(`an HFS+ (not HFSX) catalog with key compare type ${keyCompareName(t.keyCompareType)}`);
      const walk = walkBTree(t, fields, notes, ctx.limits);
      try {
        catalogEntries(v, t, walk.leaves, entries);
      } catch (e) {
        if (!(e instanceof EntryLimit)) throw e;
        partial = e.describe();
        notes.push(partial);
      }
    }
  }
  if (notes.length > MAX_NOTES) {
    const more = notes.length - MAX_NOTES;
    notes.length = MAX_NOTES;
    notes.push(`${more} more notes left out`);
  }
  const producer = producerOf(vh.lastMountedVersion);
  return { format: 'hfsplus', source: src, ...(producer ? { producer } : {}), fields, entries, regions, notes, ...(partial ? { partial } : {}) };
}

/** The alternate volume header, 1024 bytes before the end of the volume: its fields are copies of the primary's. */
function readAlternate(src: ByteSource, vh: VolumeHeader, primary: Bytes, volumeBytes: number, fields: Field[], regions: Region[], notes: string[]): void {
  const end = Math.min(volumeBytes, src.size);
  const at = end - HEADER_OFFSET;
  if (at < HEADER_OFFSET + HEADER_SIZE) {
    notes.push(`the volume is too small (${end} bytes) to hold an alternate volume header`);
    return;
  }
  if (volumeBytes > src.size) {
    notes.push('the alternate volume header is past the end of the source (truncated volume); not read');
    return;
  }
  const ab = Bytes.at(src, at, HEADER_SIZE, 'HFS+ alternate volume header');
  if (!looksLikeHeader(ab.data)) {
    notes.push(`no alternate volume header at offset ${at}`);
    return;
  }
  regions.push({ name: 'HFS+ alternate volume header', role: 'metadata', spans: ab.spans(0, HEADER_SIZE) });
  const tail: Span[] = src.spans(at + HEADER_SIZE, end - at - HEADER_SIZE);
  if (tail.length) regions.push({ name: 'reserved last sector', role: 'system-area', spans: tail });
  readHeader(ab, 'hfsplus.backup.header', fields);
  const a = primary.data;
  const b = ab.data;
  let same = true;
  for (let i = 0; i < HEADER_SIZE && same; i++) if (a[i] !== b[i]) same = false;
  if (!same) notes.push('the alternate volume header differs from the primary');
  void vh;
}

export const hfsplusFormat: Format = { name: 'hfsplus', detect, exclusive: true, isCopyField: (name) => /(^|\.)backup\./.test(name), open };
