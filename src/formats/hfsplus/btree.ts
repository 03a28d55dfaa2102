/**
 * HFS+ B-trees (TN1150 "B-Trees"): the header node, node descriptors, record offset tables, index nodes and
 * the leaf chain. A tree is read from its fork (an extent source over the volume), node by node; every link is
 * checked against the node count and followed at most once.
 */
import { createHash } from 'node:crypto';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import { checkTime, type Limits } from '../../limits.js';
import type { Field, Span } from '../../model.js';
import { field } from '../../model.js';

/** node sizes TN1150 allows: a power of two from 512 to 32,768 bytes */
export const MIN_NODE_SIZE = 512;
export const MAX_NODE_SIZE = 32768;
const DESCRIPTOR = 14;
const HEADER_RECORD = 106;

export const KIND_LEAF = -1;
export const KIND_INDEX = 0;
export const KIND_HEADER = 1;
export const KIND_MAP = 2;

/** kBTBigKeysMask: key lengths are 16-bit; kBTVariableIndexKeysMask: index keys take their own length */
const BIG_KEYS = 0x2;
const VARIABLE_INDEX_KEYS = 0x4;

export interface BTree {
  /** e.g. `catalog file` */
  label: string;
  /** field prefix, e.g. `hfsplus.catalog` */
  prefix: string;
  src: ByteSource;
  nodeSize: number;
  /** nodes read at most: the header's totalNodes, cut to the fork */
  nodes: number;
  depth: number;
  rootNode: number;
  leafRecords: number;
  firstLeaf: number;
  lastLeaf: number;
  maxKeyLength: number;
  btreeType: number;
  keyCompareType: number;
  attributes: number;
  header: Bytes;
}

/** One record of a node: the node's bytes and where the record lies in it. */
export interface NodeRecord {
  node: Bytes;
  nodeNumber: number;
  index: number;
  off: number;
  len: number;
}

export function shortHash(data: Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex').slice(0, 16);
}

function allZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Reads the header node: node 0 of the fork. Throws when it is unusable (no tree can be read). */
export function openBTree(src: ByteSource, label: string, prefix: string, fields: Field[], notes: string[]): BTree | undefined {
  if (src.size < MIN_NODE_SIZE) {
    notes.push(`${label}: its fork holds ${src.size} bytes, less than one ${MIN_NODE_SIZE}-byte node; not read`);
    return undefined;
  }
  const first = Bytes.at(src, 0, MIN_NODE_SIZE, `${label} header node`);
  const kind = (first.u8(8) << 24) >> 24; // 8 - kind
  if (kind !== KIND_HEADER) {
    notes.push(`${label}: node 0 has kind ${kind}, not a header node (1); not read`);
    return undefined;
  }
  const nodeSize = first.u16be(DESCRIPTOR + 18); // 18 - nodeSize
  if (nodeSize < MIN_NODE_SIZE || nodeSize > MAX_NODE_SIZE || (nodeSize & (nodeSize - 1)) !== 0) {
    notes.push(`${label}: node size ${nodeSize} is not a power of two in ${MIN_NODE_SIZE}..${MAX_NODE_SIZE}; not read`);
    return undefined;
  }
  if (nodeSize > src.size) {
    notes.push(`${label}: node size ${nodeSize} is larger than its ${src.size}-byte fork; not read`);
    return undefined;
  }
  const h = Bytes.at(src, 0, nodeSize, `${label} header node`);
  const r = DESCRIPTOR;
  const totalNodes = h.u32be(r + 22); // 22 - totalNodes
  const inFork = Math.floor(src.size / nodeSize);
  let nodes = totalNodes;
  if (totalNodes > inFork) {
    notes.push(`${label}: the header counts ${totalNodes} nodes but the fork holds ${inFork}; only those are read`);
    nodes = inFork;
  }
  const t: BTree = {
    label,
    prefix,
    src,
    nodeSize,
    nodes,
    depth: h.u16be(r), // 0 - treeDepth
    rootNode: h.u32be(r + 2), // 2 - rootNode
    leafRecords: h.u32be(r + 6), // 6 - leafRecords
    firstLeaf: h.u32be(r + 10), // 10 - firstLeafNode
    lastLeaf: h.u32be(r + 14), // 14 - lastLeafNode
    maxKeyLength: h.u16be(r + 20), // 20 - maxKeyLength
    btreeType: h.u8(r + 36), // 36 - btreeType
    keyCompareType: h.u8(r + 37), // 37 - keyCompareType
    attributes: h.u32be(r + 38), // 38 - attributes
    header: h,
  };
  const p = `${prefix}.header`;
  fields.push(
    ...descriptorFields(h, prefix, 0),
    field(`${p}.tree_depth`, t.depth, 'layout', h.spans(r, 2), { derived: true }),
    field(`${p}.root_node`, t.rootNode, 'layout', h.spans(r + 2, 4), { derived: true }),
    field(`${p}.leaf_records`, t.leafRecords, 'size', h.spans(r + 6, 4), { derived: true }),
    field(`${p}.first_leaf_node`, t.firstLeaf, 'layout', h.spans(r + 10, 4), { derived: true }),
    field(`${p}.last_leaf_node`, t.lastLeaf, 'layout', h.spans(r + 14, 4), { derived: true }),
    field(`${p}.node_size`, nodeSize, 'layout', h.spans(r + 18, 2)),
    field(`${p}.max_key_length`, t.maxKeyLength, 'layout', h.spans(r + 20, 2)),
    field(`${p}.total_nodes`, totalNodes, 'size', h.spans(r + 22, 4), { derived: true }),
    field(`${p}.free_nodes`, h.u32be(r + 26), 'size', h.spans(r + 26, 4), { derived: true }), // 26 - freeNodes
    field(`${p}.reserved1`, h.u16be(r + 30), 'content', h.spans(r + 30, 2)),
    field(`${p}.clump_size`, h.u32be(r + 32), 'layout', h.spans(r + 32, 4)), // 32 - clumpSize
    field(`${p}.btree_type`, t.btreeType, 'content', h.spans(r + 36, 1)),
    field(`${p}.key_compare_type`, keyCompareName(t.keyCompareType), 'content', h.spans(r + 37, 1)),
    field(`${p}.attributes`, hex32(t.attributes), 'content', h.spans(r + 38, 4)),
    field(`${p}.reserved3`, h.hex(r + 42, 64), 'content', h.spans(r + 42, 64)),
  );
  if (!(t.attributes & BIG_KEYS)) notes.push(`${label}: the header lacks kBTBigKeysMask; HFS+ trees always have 16-bit key lengths and are read so`);
  // the user data record (128 bytes) and the map record follow the header record (records 1 and 2)
  const recs = nodeRecords(t, h, 0, notes);
  if (recs.length >= 2 && recs[0]!.off === DESCRIPTOR && recs[0]!.len >= HEADER_RECORD) {
    const u = recs[1]!;
    fields.push(field(`${p}.user_data`, shortHash(h.bytes(u.off, u.len)), 'content', h.spans(u.off, u.len)));
    const m = recs[2];
    if (m) fields.push(field(`${p}.map`, shortHash(h.bytes(m.off, m.len)), 'layout', h.spans(m.off, m.len), { derived: true }));
  } else notes.push(`${label}: the header node does not hold its header, user data and map records`);
  fields.push(...tableFields(h, prefix, recs));
  return t;
}

export function keyCompareName(v: number): string {
  return v === 0xcf ? 'case-folding (0xCF)' : v === 0xbc ? 'binary (0xBC)' : v === 0 ? '0' : `0x${v.toString(16)}`;
}

const hex32 = (n: number): string => '0x' + n.toString(16).padStart(8, '0');

function descriptorFields(b: Bytes, prefix: string, n: number): Field[] {
  const kind = (b.u8(8) << 24) >> 24;
  const value = `node ${n}: kind ${kind}, height ${b.u8(9)}, ${b.u16be(10)} records, fLink ${b.u32be(0)}, bLink ${b.u32be(4)}`;
  return [field(`${prefix}.node.descriptor`, value, 'layout', b.spans(0, DESCRIPTOR), { derived: true })];
}

/** The offset table and the free space of a node as fields (bytes between the last record and the table). */
function tableFields(b: Bytes, prefix: string, recs: NodeRecord[]): Field[] {
  const size = b.length;
  const n = b.u16be(10);
  const tableLen = Math.min(size - DESCRIPTOR, (n + 1) * 2);
  const out = [field(`${prefix}.node.offsets`, b.hex(size - tableLen, tableLen), 'layout', b.spans(size - tableLen, tableLen), { derived: true })];
  const last = recs[recs.length - 1];
  const freeStart = last ? last.off + last.len : DESCRIPTOR;
  const freeLen = size - tableLen - freeStart;
  if (freeLen > 0) {
    const free = b.bytes(freeStart, freeLen);
    out.push(field(`${prefix}.node.free_space`, allZero(free) ? 'zero' : shortHash(free), 'layout', b.spans(freeStart, freeLen), { derived: true }));
  }
  return out;
}

/**
 * The records of a node from its offset table (TN1150: offsets from the end of the node backwards, one more
 * than numRecords for the free space). Offsets out of the node, or going backwards, end the list with a note.
 */
export function nodeRecords(t: BTree, b: Bytes, n: number, notes: string[]): NodeRecord[] {
  const size = b.length;
  const count = b.u16be(10); // 10 - numRecords
  const tableLen = (count + 1) * 2;
  if (DESCRIPTOR + tableLen > size) {
    notes.push(`${t.label} node ${n}: ${count} records do not fit a ${size}-byte node; its records are not read`);
    return [];
  }
  const limit = size - tableLen;
  const out: NodeRecord[] = [];
  let prev = b.u16be(size - 2);
  if (prev !== DESCRIPTOR) {
    notes.push(`${t.label} node ${n}: the first record starts at ${prev}, not right after the node descriptor; its records are not read`);
    return [];
  }
  for (let i = 0; i < count; i++) {
    const next = b.u16be(size - 2 * (i + 2));
    if (next < prev || next > limit) {
      notes.push(`${t.label} node ${n}: record ${i} ends at offset ${next}, outside ${prev}..${limit}; the node's records from there on are not read`);
      break;
    }
    out.push({ node: b, nodeNumber: n, index: i, off: prev, len: next - prev });
    prev = next;
  }
  return out;
}

/** Reads node `n`, or says why not. */
export function readNode(t: BTree, n: number, notes: string[]): Bytes | undefined {
  if (n >= t.nodes) {
    notes.push(`${t.label}: a link names node ${n}, past the ${t.nodes} nodes of the tree`);
    return undefined;
  }
  return Bytes.at(t.src, n * t.nodeSize, t.nodeSize, `${t.label} node ${n}`);
}

/** The child node number of an index record and the key's length in bytes (with its length field). */
function indexChild(t: BTree, r: NodeRecord): number | undefined {
  const b = r.node;
  if (r.len < 2) return undefined;
  const keyLen = t.attributes & VARIABLE_INDEX_KEYS ? b.u16be(r.off) + 2 : t.maxKeyLength + 2;
  if (keyLen + 4 > r.len) return undefined;
  return b.u32be(r.off + keyLen);
}

export interface Walk {
  /** leaf records in leaf-chain order */
  leaves: NodeRecord[];
  /** spans of the nodes read (for regions) */
  nodeSpans: Span[];
}

/**
 * Reads the tree: the index nodes from the root down (each node once), the leaf chain from firstLeafNode along
 * fLink (stops on a repeat, a node of another kind or a link out of the tree), and the map nodes from the
 * header's fLink. Every node read adds its descriptor, offset table and free space (and for index and map
 * nodes a digest of their records) as fields.
 */
export function walkBTree(t: BTree, fields: Field[], notes: string[], limits: Limits): Walk {
  const seen = new Uint8Array(t.nodes);
  seen[0] = 1;
  const nodeSpans: Span[] = [...t.header.spans(0, t.nodeSize)];
  const visit = (n: number, want: number, what: string): Bytes | undefined => {
    if (n === 0 || n >= t.nodes) {
      notes.push(`${t.label}: ${what} names node ${n}, ${n === 0 ? 'the header node' : `past the ${t.nodes} nodes of the tree`}; not followed`);
      return undefined;
    }
    if (seen[n]) {
      notes.push(`${t.label}: ${what} names node ${n}, which was already read (a loop or a shared node); not followed`);
      return undefined;
    }
    const b = readNode(t, n, notes);
    if (!b) return undefined;
    const kind = (b.u8(8) << 24) >> 24;
    if (kind !== want) {
      notes.push(`${t.label}: ${what} names node ${n}, of kind ${kind} where kind ${want} was expected; not followed`);
      return undefined;
    }
    seen[n] = 1;
    checkTime(`reading the ${t.label}`, t.src.name, n * t.nodeSize);
    nodeSpans.push(...b.spans(0, t.nodeSize));
    return b;
  };

  // the index, breadth first from the root; leaves it names are checked against the chain below
  const indexLeaves: number[] = [];
  if (t.depth > 1 && t.rootNode !== 0) {
    let level = [t.rootNode];
    for (let d = t.depth; d > 1 && level.length; d--) {
      const next: number[] = [];
      for (const n of level) {
        const b = visit(n, KIND_INDEX, `the index at height ${d}`);
        if (!b) continue;
        const recs = nodeRecords(t, b, n, notes);
        fields.push(...descriptorFields(b, t.prefix, n));
        const end = recs.length ? recs[recs.length - 1]!.off + recs[recs.length - 1]!.len : DESCRIPTOR;
        fields.push(field(`${t.prefix}.node.index_records`, shortHash(b.bytes(DESCRIPTOR, end - DESCRIPTOR)), 'layout', b.spans(DESCRIPTOR, end - DESCRIPTOR), { derived: true }));
        fields.push(...tableFields(b, t.prefix, recs));
        for (const r of recs) {
          const child = indexChild(t, r);
          if (child === undefined) {
            notes.push(`${t.label} node ${n}: index record ${r.index} has no room for its child pointer`);
            continue;
          }
          if (d - 1 > 1) next.push(child);
          else indexLeaves.push(child);
        }
      }
      if (next.length > limits.maxChain) {
        notes.push(`${t.label}: more than ${limits.maxChain} index nodes on one level; the rest are not read`);
        next.length = limits.maxChain;
      }
      level = next;
    }
  } else if (t.depth === 1 && t.rootNode !== t.firstLeaf) {
    notes.push(`${t.label}: a one-level tree whose root node ${t.rootNode} is not its first leaf ${t.firstLeaf}`);
  }

  const leaves: NodeRecord[] = [];
  const leafNodes = new Set<number>();
  const readLeaf = (n: number, what: string): Bytes | undefined => {
    const b = visit(n, KIND_LEAF, what);
    if (!b) return undefined;
    leafNodes.add(n);
    const recs = nodeRecords(t, b, n, notes);
    fields.push(...descriptorFields(b, t.prefix, n), ...tableFields(b, t.prefix, recs));
    for (const r of recs) leaves.push(r);
    return b;
  };
  if (t.firstLeaf !== 0 || t.leafRecords !== 0) {
    let n = t.firstLeaf;
    let prev = 0;
    let what = 'the header (firstLeafNode)';
    while (n !== 0) {
      const b = readLeaf(n, what);
      if (!b) break;
      if (b.u32be(4) !== prev) notes.push(`${t.label} node ${n}: bLink ${b.u32be(4)} does not name the previous leaf ${prev}`); // 4 - bLink
      prev = n;
      what = `leaf node ${n} (fLink)`;
      n = b.u32be(0); // 0 - fLink
    }
    if (prev !== 0 && prev !== t.lastLeaf) notes.push(`${t.label}: the leaf chain ends at node ${prev}, but the header names ${t.lastLeaf} as the last leaf`);
  }
  const missed: number[] = [];
  for (const n of indexLeaves) {
    if (leafNodes.has(n)) continue;
    if (n < t.nodes && seen[n]) notes.push(`${t.label}: the index names node ${n} as a leaf, but it was read as another kind of node; not followed`);
    else missed.push(n);
  }
  if (missed.length) {
    notes.push(`${t.label}: the index names ${missed.length} leaf node(s) the leaf chain does not reach (${missed.slice(0, 5).join(', ')}); read too`);
    for (const n of missed) readLeaf(n, 'the index');
  }
  if (leaves.length !== t.leafRecords) notes.push(`${t.label}: the header counts ${t.leafRecords} leaf records, the leaves hold ${leaves.length}`);

  // map nodes, chained from the header node's fLink
  let m = t.header.u32be(0);
  while (m !== 0) {
    const b = visit(m, KIND_MAP, m === t.header.u32be(0) ? 'the header node (fLink)' : 'a map node (fLink)');
    if (!b) break;
    const recs = nodeRecords(t, b, m, notes);
    fields.push(...descriptorFields(b, t.prefix, m));
    const r = recs[0];
    if (r) fields.push(field(`${t.prefix}.node.map`, shortHash(b.bytes(r.off, r.len)), 'layout', b.spans(r.off, r.len), { derived: true }));
    fields.push(...tableFields(b, t.prefix, recs));
    m = b.u32be(0);
  }
  return { leaves, nodeSpans };
}
