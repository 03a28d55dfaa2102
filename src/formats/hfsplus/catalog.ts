/**
 * The catalog file's leaf records (TN1150 "Catalog File"): folder, file and thread records, made into entries
 * with full paths (parentID + name up to the root folder, CNID 2), and each file's data fork as its content.
 */
import { Bytes } from '../../io/bytes.js';
import type { Extent } from '../../io/source.js';
import { checkEntries, checkTime } from '../../limits.js';
import type { Entry, EntryMeta, EntryType, Field, Span } from '../../model.js';
import { field } from '../../model.js';
import { LazyMeta } from '../../util/lazy-meta.js';
import type { BTree, NodeRecord } from './btree.js';
import { forkFields, hfsDate, readFork } from './header.js';
import { DATA_FORK, forkBytes, RESOURCE_FORK, type Volume } from './volume.js';
import { decodeName } from '../../util/names.js';

const FOLDER_RECORD = 1;
const FILE_RECORD = 2;
const FOLDER_THREAD = 3;
const FILE_THREAD = 4;
const FOLDER_SIZE = 88;
const FILE_SIZE = 248;
const ROOT_PARENT = 1;
const ROOT_FOLDER = 2;
/** a symlink's target is read up to this many bytes */
const MAX_TARGET = 4096;

export const CATALOG_TIME_HINT =
  "xorriso (libisofs) copies each file's times into its HFS+ catalog record (createDate, contentModDate, " +
  "attributeModDate, accessDate); with SOURCE_DATE_EPOCH set they all become the file's mtime, which it does not " +
  'clamp: touch the tree first, or pass --set_all_file_dates YYYYMMDDhhmmsscc (or `-- -volume_date all_file_dates ' +
  '=$SOURCE_DATE_EPOCH`); grub-mkrescue copies its files afresh on every run and passes either through to xorriso ' +
  '(GRUB 2.06, xorriso 1.5.4)';

/** Where a record lies: its node, its offset and length there, and where its data (after the key) starts. */
interface Place {
  node: number;
  off: number;
  len: number;
  data: number;
}

interface CatalogObject {
  cnid: number;
  parentID: number;
  name: string;
  folder: boolean;
  rec: NodeRecord;
  /** where the record's data starts in its node */
  data: number;
}

const NO_FIELDS: Field[] = [];

/**
 * Reads an entry's fields from its catalog records when the comparer asks (not kept: a catalog of 100,000
 * files would otherwise hold millions of fields). The last node read is kept, as entries are asked in order.
 */
class Records {
  private last: Bytes | undefined;
  constructor(private readonly t: BTree) {}

  node(n: number): Bytes {
    if (this.last && this.last.base === n * this.t.nodeSize) return this.last;
    return (this.last = Bytes.at(this.t.src, n * this.t.nodeSize, this.t.nodeSize, `${this.t.label} node ${n}`));
  }

  spans(p: Place): Span[] {
    return this.t.src.spans(p.node * this.t.nodeSize + p.off, p.len);
  }

  fields(obj: Place, folder: boolean, thread: Place | undefined, extra: Field[]): Field[] {
    const b = this.node(obj.node);
    const d = obj.data;
    const p = folder ? 'hfsplus.folder' : 'hfsplus.file';
    const out = [...keyFields(b, obj.off, 'hfsplus'), ...commonFields(b, d, p)];
    if (thread) out.push(...threadFields(this.node(thread.node), thread));
    if (folder) {
      out.push(
        field(`${p}.valence`, b.u32be(d + 4), 'size', b.spans(d + 4, 4), { derived: true }), // 4 - valence
        field(`${p}.reserved`, b.u32be(d + 84), 'content', b.spans(d + 84, 4)), // 84 - reserved (folderCount on newer HFSX)
      );
      return out;
    }
    out.push(
      field(`${p}.reserved1`, b.u32be(d + 4), 'content', b.spans(d + 4, 4)), // 4 - reserved1
      field(`${p}.reserved2`, b.u32be(d + 84), 'content', b.spans(d + 84, 4)), // 84 - reserved2
      ...forkFields(b, d + 88, `${p}.data_fork`, readFork(b, d + 88)), // 88 - dataFork
      ...forkFields(b, d + 168, `${p}.resource_fork`, readFork(b, d + 168)), // 168 - resourceFork
      ...extra,
    );
    return out;
  }

  meta(obj: Place): EntryMeta {
    return metaOf(this.node(obj.node), obj.data);
  }
}

class HfsEntry implements Entry {
  constructor(
    private readonly recs: Records,
    readonly path: string,
    readonly type: EntryType,
    readonly size: number,
    readonly extents: Extent[],
    readonly order: number,
    private readonly obj: Place,
    private readonly thread: Place | undefined,
    private readonly target: string | undefined,
    private readonly extra: Field[],
  ) {}

  get fields(): Field[] {
    return this.recs.fields(this.obj, this.type === 'dir', this.thread, this.extra);
  }

  get meta(): EntryMeta {
    return new LazyMeta(this.target, () => this.recs.meta(this.obj));
  }

  get records(): Span[] {
    const out = this.recs.spans(this.obj);
    if (this.thread) out.push(...this.recs.spans(this.thread));
    return out;
  }
}

/** A name from an image as a path component: '/' is ':' in HFS+ (as macOS shows it), NUL is shown as U+2400. */
function component(name: string): string {
  const s = name.replace(/\//g, ':').replace(/\0/g, '\u2400');
  return s === '' || s === '.' || s === '..' ? `${s}_` : s;
}

/** The key of a catalog leaf record: keyLength, parentID, nodeName (HFSUniStr255, UTF-16BE). */
function readKey(v: Volume, r: NodeRecord): { parentID: number; name: string; data: number } | undefined {
  const b = r.node;
  const o = r.off;
  const where = `catalog node ${r.nodeNumber} record ${r.index}`;
  if (r.len < 8) {
    v.notes.push(`${where}: ${r.len} bytes is too short for a catalog key; skipped`);
    return undefined;
  }
  const keyLength = b.u16be(o); // 0 - keyLength
  const nameLen = b.u16be(o + 6); // 6 - nodeName.length
  if (keyLength < 6 || 2 + keyLength + 2 > r.len || nameLen > 255 || 6 + 2 * nameLen > keyLength) {
    v.notes.push(`${where}: key length ${keyLength} with a ${nameLen}-character name does not fit its ${r.len}-byte record; skipped`);
    return undefined;
  }
  return { parentID: b.u32be(o + 2), name: b.utf16be(o + 8, 2 * nameLen), data: o + 2 + keyLength }; // 2 - parentID, 8 - nodeName.unicode
}

function keyFields(b: Bytes, o: number, prefix: string): Field[] {
  const nameLen = b.u16be(o + 6);
  return [
    field(`${prefix}.key.length`, b.u16be(o), 'size', b.spans(o, 2), { derived: true }),
    field(`${prefix}.key.parent_id`, b.u32be(o + 2), 'inode', b.spans(o + 2, 4), { derived: true }),
    field(`${prefix}.key.name`, b.utf16be(o + 8, 2 * nameLen), 'content', b.spans(o + 6, 2 + 2 * nameLen)),
  ];
}

/** A thread record: the key (CNID, empty name), then the object's parent and name. */
function threadFields(b: Bytes, t: Place): Field[] {
  const p = 'hfsplus.thread';
  const d = t.data;
  const nameLen = b.u16be(d + 8);
  return [
    field(`${p}.key.length`, b.u16be(t.off), 'size', b.spans(t.off, 2), { derived: true }),
    field(`${p}.key.cnid`, b.u32be(t.off + 2), 'inode', b.spans(t.off + 2, 4), { derived: true }),
    field(`${p}.key.name_length`, b.u16be(t.off + 6), 'size', b.spans(t.off + 6, 2), { derived: true }),
    field(`${p}.record_type`, b.u16be(d), 'content', b.spans(d, 2)),
    field(`${p}.reserved`, b.u16be(d + 2), 'content', b.spans(d + 2, 2)),
    field(`${p}.parent_id`, b.u32be(d + 4), 'inode', b.spans(d + 4, 4), { derived: true }),
    field(`${p}.name`, b.utf16be(d + 10, 2 * nameLen), 'content', b.spans(d + 8, 2 + 2 * nameLen)),
  ];
}

/** Fields folder and file records share: ids, the five dates, BSD permissions, Finder info, text encoding. */
function commonFields(b: Bytes, d: number, p: string): Field[] {
  const hint = CATALOG_TIME_HINT;
  return [
    field(`${p}.record_type`, b.u16be(d), 'content', b.spans(d, 2)), // 0 - recordType
    field(`${p}.flags`, '0x' + b.hex(d + 2, 2), 'content', b.spans(d + 2, 2)), // 2 - flags
    field(`${p}.cnid`, b.u32be(d + 8), 'inode', b.spans(d + 8, 4)), // 8 - folderID / fileID
    field(`${p}.create_date`, hfsDate(b.u32be(d + 12)), 'timestamp', b.spans(d + 12, 4), { hint }), // 12 - createDate
    field(`${p}.content_mod_date`, hfsDate(b.u32be(d + 16)), 'timestamp', b.spans(d + 16, 4), { hint }), // 16 - contentModDate
    field(`${p}.attribute_mod_date`, hfsDate(b.u32be(d + 20)), 'timestamp', b.spans(d + 20, 4), { hint }), // 20 - attributeModDate
    field(`${p}.access_date`, hfsDate(b.u32be(d + 24)), 'timestamp', b.spans(d + 24, 4), { hint }), // 24 - accessDate
    field(`${p}.backup_date`, hfsDate(b.u32be(d + 28)), 'timestamp', b.spans(d + 28, 4), { hint }), // 28 - backupDate
    // 32 - permissions (HFSPlusBSDInfo)
    field(`${p}.owner_id`, b.u32be(d + 32), 'ownership', b.spans(d + 32, 4)),
    field(`${p}.group_id`, b.u32be(d + 36), 'ownership', b.spans(d + 36, 4)),
    field(`${p}.admin_flags`, b.u8(d + 40), 'permissions', b.spans(d + 40, 1)),
    field(`${p}.owner_flags`, b.u8(d + 41), 'permissions', b.spans(d + 41, 1)),
    field(`${p}.file_mode`, b.u16be(d + 42), 'permissions', b.spans(d + 42, 2)),
    field(`${p}.special`, b.u32be(d + 44), 'inode', b.spans(d + 44, 4)), // iNodeNum, linkCount or rawDevice
    field(`${p}.user_info`, b.hex(d + 48, 16), 'content', b.spans(d + 48, 16)), // 48 - FileInfo / FolderInfo
    field(`${p}.finder_info`, b.hex(d + 64, 16), 'content', b.spans(d + 64, 16)), // 64 - ExtendedFileInfo / ExtendedFolderInfo
    field(`${p}.text_encoding`, b.u32be(d + 80), 'content', b.spans(d + 80, 4)), // 80 - textEncoding
  ];
}

function metaOf(b: Bytes, d: number): EntryMeta {
  const meta: EntryMeta = {};
  const mode = b.u16be(d + 42);
  if (mode !== 0) {
    meta.mode = mode;
    meta.uid = b.u32be(d + 32);
    meta.gid = b.u32be(d + 36);
  }
  const birth = hfsDate(b.u32be(d + 12));
  const mtime = hfsDate(b.u32be(d + 16));
  const ctime = hfsDate(b.u32be(d + 20));
  const atime = hfsDate(b.u32be(d + 24));
  if (mtime) meta.mtime = mtime;
  if (atime) meta.atime = atime;
  if (ctime) meta.ctime = ctime;
  if (birth) meta.birthtime = birth;
  return meta;
}

/** Makes the catalog's entries: the root folder as '/', then every folder and file by its full path. */
export function catalogEntries(v: Volume, t: BTree, leaves: NodeRecord[], entries: Entry[]): void {
  const recs = new Records(t);
  const objects: CatalogObject[] = [];
  const folders = new Map<number, CatalogObject>();
  const threads = new Map<number, Place>();
  let unknownTypes = 0;
  for (const r of leaves) {
    const key = readKey(v, r);
    if (!key) continue;
    const b = r.node;
    const d = key.data;
    const dlen = r.off + r.len - d;
    const type = b.u16be(d);
    const where = `catalog node ${r.nodeNumber} record ${r.index}`;
    if (type === FOLDER_RECORD || type === FILE_RECORD) {
      const need = type === FOLDER_RECORD ? FOLDER_SIZE : FILE_SIZE;
      if (dlen < need) {
        v.notes.push(`${where}: a ${type === FOLDER_RECORD ? 'folder' : 'file'} record of ${dlen} bytes, less than ${need}; skipped`);
        continue;
      }
      const cnid = b.u32be(d + 8);
      const o: CatalogObject = { cnid, parentID: key.parentID, name: key.name, folder: type === FOLDER_RECORD, rec: r, data: d };
      if (o.folder) {
        if (folders.has(cnid)) {
          v.notes.push(`${where}: a second folder record for CNID ${cnid}; skipped`);
          continue;
        }
        folders.set(cnid, o);
      }
      objects.push(o);
    } else if (type === FOLDER_THREAD || type === FILE_THREAD) {
      // the key is (CNID, empty name); the record names the object's parent and name
      if (dlen < 10) {
        v.notes.push(`${where}: a thread record of ${dlen} bytes; skipped`);
        continue;
      }
      const nameLen = b.u16be(d + 8);
      if (nameLen > 255 || 10 + 2 * nameLen > dlen) {
        v.notes.push(`${where}: a thread record's ${nameLen}-character name does not fit; skipped`);
        continue;
      }
      threads.set(key.parentID, { node: r.nodeNumber, off: r.off, len: r.len, data: d });
    } else unknownTypes++;
  }
  if (unknownTypes) v.notes.push(`${unknownTypes} catalog records of unknown type were skipped`);

  // paths: a folder's path is its parent's path and its name, up to the root folder (CNID 2)
  const memo = new Map<number, string | null>();
  const dirPath = (cnid: number): string | null => {
    const chain: number[] = [];
    const seen = new Set<number>();
    let cur = cnid;
    let base: string | null;
    for (;;) {
      if (cur === ROOT_FOLDER) {
        base = '';
        break;
      }
      const known = memo.get(cur);
      if (known !== undefined) {
        base = known;
        break;
      }
      const f = folders.get(cur);
      if (!f || seen.has(cur) || chain.length >= v.limits.maxDirDepth) {
        base = null;
        break;
      }
      seen.add(cur);
      chain.push(cur);
      cur = f.parentID;
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const id = chain[i]!;
      base = base === null ? null : `${base}/${component(folders.get(id)!.name)}`;
      memo.set(id, base);
    }
    return base;
  };

  const paths = new Set<string>();
  let unresolved = 0;
  let hardLinks = 0;
  for (const o of objects) {
    checkTime('listing the HFS+ catalog', v.src.name);
    const b = o.rec.node;
    const d = o.data;
    let path: string;
    if (o.folder && o.cnid === ROOT_FOLDER) {
      if (o.parentID !== ROOT_PARENT) v.notes.push(`the root folder (CNID 2) names parent ${o.parentID}, not 1`);
      path = '/';
    } else {
      const parent = o.parentID === ROOT_FOLDER ? '' : dirPath(o.parentID);
      if (parent === null || (o.folder && dirPath(o.cnid) === null)) {
        unresolved++;
        path = `/?cnid-${o.parentID}/${component(o.name)}`;
      } else path = `${parent}/${component(o.name)}`;
    }
    if (paths.has(path)) {
      v.notes.push(`${path} is named by two catalog records; the second is listed as ${path}#${o.cnid}`);
      path = `${path}#${o.cnid}`;
    }
    paths.add(path);
    const p = o.folder ? 'hfsplus.folder' : 'hfsplus.file';
    const place: Place = { node: o.rec.nodeNumber, off: o.rec.off, len: o.rec.len, data: d };
    const thread = threads.get(o.cnid);
    if (!thread) v.notes.push(`${path}: no thread record for CNID ${o.cnid}`);
    checkEntries(entries.length + 1, v.limits, 'HFS+ catalog entries', b.base + o.rec.off);
    if (o.folder) {
      entries.push(new HfsEntry(recs, path, 'dir', 0, [], entries.length, place, thread, undefined, NO_FIELDS));
      continue;
    }
    const dataFork = readFork(b, d + 88); // 88 - dataFork
    const rsrcFork = readFork(b, d + 168); // 168 - resourceFork
    const data = forkBytes(v, dataFork, o.cnid, DATA_FORK, path, `${p}.data_fork`);
    const fileType = b.ascii(d + 48, 4, false);
    const creator = b.ascii(d + 52, 4, false);
    let type: EntryType = 'file';
    let target: string | undefined;
    if (fileType === 'slnk' && creator === 'rhap') {
      type = 'symlink';
      target = readTarget(v, data.extents);
    } else if ((fileType === 'hlnk' && creator === 'hfs+') || (fileType === 'fdrp' && creator === 'MACS')) hardLinks++;
    const extra = data.overflowFields.length ? data.overflowFields : NO_FIELDS;
    entries.push(new HfsEntry(recs, path, type, data.size, data.extents, entries.length, place, thread, target, extra));
    if (rsrcFork.logicalSize > 0 || rsrcFork.totalBlocks > 0) {
      // macOS names a resource fork <file>/..namedfork/rsrc
      const rsrc = forkBytes(v, rsrcFork, o.cnid, RESOURCE_FORK, `${path} resource fork`, `${p}.resource_fork`);
      checkEntries(entries.length + 1, v.limits, 'HFS+ catalog entries', b.base + o.rec.off);
      entries.push({
        path: `${path}/..namedfork/rsrc`,
        type: 'file',
        size: rsrc.size,
        extents: rsrc.extents,
        fields: rsrc.overflowFields,
        meta: {},
        order: entries.length,
      });
    }
  }
  if (unresolved) {
    v.notes.push(`${unresolved} catalog records name a parent folder that does not lead to the root (missing, or a loop); listed under /?cnid-<parent>/`);
  }
  if (hardLinks) v.notes.push(`${hardLinks} hard-link records are listed as they are stored (their content is the indirect node file's in the private data folder)`);
}

function readTarget(v: Volume, extents: { offset: number; length: number }[]): string | undefined {
  const parts: Uint8Array[] = [];
  let left = MAX_TARGET;
  for (const e of extents) {
    if (left <= 0) break;
    const n = Math.min(e.length, left);
    parts.push(v.src.read(e.offset, n, 'symlink target'));
    left -= n;
  }
  const all = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return decodeName(all);
}
