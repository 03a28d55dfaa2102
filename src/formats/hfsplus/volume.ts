/**
 * Forks as bytes: a fork's extents (in allocation blocks from the start of the volume), continued from the
 * extents overflow file when it has more than eight, checked against the volume and the source.
 */
import { ExtentSource, type ByteSource, type Extent as ByteExtent } from '../../io/source.js';
import type { Limits } from '../../limits.js';
import type { Field, Span } from '../../model.js';
import { field } from '../../model.js';
import type { NodeRecord } from './btree.js';
import { extentsText, type Extent, type ForkData } from './header.js';

export const DATA_FORK = 0x00;
export const RESOURCE_FORK = 0xff;

/** One extents overflow record: eight more extents of a fork, from `startBlock` (in the fork) on. */
export interface OverflowRecord {
  startBlock: number;
  extents: Extent[];
  /** where the record (key and extents) sits */
  spans: Span[];
}

export interface Volume {
  src: ByteSource;
  blockSize: number;
  totalBlocks: number;
  limits: Limits;
  notes: string[];
  /** by `${fileID}:${forkType}`, then by the fork block each record starts at */
  overflow: Map<string, Map<number, OverflowRecord>>;
}

/** Reads the extents overflow file's leaf records (HFSPlusExtentKey, then eight HFSPlusExtentDescriptors). */
export function readOverflow(v: Volume, leaves: NodeRecord[]): void {
  for (const r of leaves) {
    const b = r.node;
    const o = r.off;
    if (r.len < 2 + 10 + 64) {
      v.notes.push(`extents overflow file node ${r.nodeNumber}: record ${r.index} holds ${r.len} bytes, less than a key and eight extents`);
      continue;
    }
    const keyLength = b.u16be(o); // 0 - keyLength (10)
    if (keyLength < 10 || 2 + keyLength + 64 > r.len) {
      v.notes.push(`extents overflow file node ${r.nodeNumber}: record ${r.index} has key length ${keyLength}; skipped`);
      continue;
    }
    const forkType = b.u8(o + 2); // 2 - forkType
    const fileID = b.u32be(o + 4); // 4 - fileID
    const startBlock = b.u32be(o + 8); // 8 - startBlock
    const d = o + 2 + keyLength;
    const extents: Extent[] = [];
    for (let i = 0; i < 8; i++) {
      const count = b.u32be(d + i * 8 + 4);
      if (count === 0) break;
      extents.push({ startBlock: b.u32be(d + i * 8), blockCount: count });
    }
    const key = `${fileID}:${forkType}`;
    let byStart = v.overflow.get(key);
    if (!byStart) v.overflow.set(key, (byStart = new Map()));
    if (byStart.has(startBlock)) {
      v.notes.push(`extents overflow file: two records for file ${fileID} fork ${forkType} start at block ${startBlock}; the first is used`);
      continue;
    }
    byStart.set(startBlock, { startBlock, extents, spans: b.spans(o, 2 + keyLength + 64) });
  }
}

export interface ForkBytes {
  /** byte extents in the volume source, cut to the fork's logical size */
  extents: ByteExtent[];
  size: number;
  /** the overflow records the fork continues in, as fields */
  overflowFields: Field[];
}

/**
 * A fork's byte extents: its own eight, then overflow records while blocks are missing (each found by the
 * fork block it starts at, so a record is used once and the walk always advances). Extents past the volume
 * or the source are cut, with a note.
 */
export function forkBytes(v: Volume, fork: ForkData, fileID: number, forkType: number, what: string, prefix: string): ForkBytes {
  const all: Extent[] = [...fork.extents];
  let blocks = all.reduce((a, e) => a + e.blockCount, 0);
  const overflowFields: Field[] = [];
  if (blocks < fork.totalBlocks && fork.extents.length === 8) {
    const byStart = v.overflow.get(`${fileID}:${forkType}`);
    let guard = 0;
    while (blocks < fork.totalBlocks && guard++ < v.limits.maxChain) {
      const rec = byStart?.get(blocks);
      if (!rec || rec.extents.length === 0) {
        v.notes.push(`${what}: ${fork.totalBlocks} blocks, but the extents found cover ${blocks}; no overflow record starts at block ${blocks}`);
        break;
      }
      overflowFields.push(field(`${prefix}.overflow_extents`, extentsText(rec.extents), 'layout', rec.spans, { derived: true }));
      for (const e of rec.extents) {
        all.push(e);
        blocks += e.blockCount;
      }
    }
  } else if (blocks < fork.totalBlocks) {
    v.notes.push(`${what}: ${fork.totalBlocks} blocks, but its extents cover ${blocks}`);
  }
  const out: ByteExtent[] = [];
  let left = fork.logicalSize;
  const bs = v.blockSize;
  for (const e of all) {
    if (left <= 0) break;
    let count = e.blockCount;
    if (e.startBlock >= v.totalBlocks || e.startBlock + count > v.totalBlocks) {
      v.notes.push(`${what}: extent ${e.startBlock}+${e.blockCount} runs past the ${v.totalBlocks} blocks of the volume; cut there`);
      count = Math.max(0, v.totalBlocks - e.startBlock);
    }
    const off = e.startBlock * bs;
    let len = Math.min(count * bs, left);
    if (len > 0 && off + len > v.src.size) {
      v.notes.push(`${what}: extent ${e.startBlock}+${e.blockCount} runs past the end of the ${v.src.size}-byte source; cut there`);
      len = Math.max(0, v.src.size - off);
    }
    if (len <= 0) break;
    const last = out[out.length - 1];
    if (last && last.offset + last.length === off) last.length += len;
    else out.push({ offset: off, length: len });
    left -= len;
  }
  const size = out.reduce((a, e) => a + e.length, 0);
  if (size < fork.logicalSize && left > 0) v.notes.push(`${what}: logical size ${fork.logicalSize} bytes, but its extents hold ${size}`);
  return { extents: out, size, overflowFields };
}

/** The fork's bytes as a source of their own (for the B-tree files), or undefined when empty. */
export function forkSource(v: Volume, fb: ForkBytes, name: string): ByteSource | undefined {
  if (fb.size === 0) return undefined;
  return new ExtentSource(`${v.src.name}//${name}`, v.src, fb.extents);
}
