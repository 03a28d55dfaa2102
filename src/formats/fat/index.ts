/**
 * FAT12/16/32 file systems (Microsoft "FAT: General Overview of On-Disk Format" 1.03): boot sector and BPB,
 * FSInfo, the FATs, directories with long file names, and every file's cluster chain as extents.
 */
import { createHash } from 'node:crypto';
import type { Container, Entry, Field, Format, OpenContext, Region, Span } from '../../model.js';
import { field } from '../../model.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource, Extent } from '../../io/source.js';
import { checkCap, checkEntries, checkTime, EntryLimit } from '../../limits.js';
import { dosDateTime } from '../../util/time.js';
import { readBpb, type Bpb } from './bpb.js';

export { readBpb, type Bpb, type FatType } from './bpb.js';

const DIRENT = 32;
const ATTR_READ_ONLY = 0x01;
const ATTR_VOLUME_ID = 0x08;
const ATTR_DIRECTORY = 0x10;
const ATTR_LFN = 0x0f;

const SERIAL_HINT_MKFS =
  'mkfs.fat 4.2 makes the serial from the clock and ignores SOURCE_DATE_EPOCH: pass --invariant or -i <hex>';
const SERIAL_HINT_MTOOLS =
  "mformat's serial is random even with SOURCE_DATE_EPOCH: pass -N <hex> (grub-mkrescue 2.06 runs mformat for " +
  'its efi.img without -N, so that serial changes on every build)';
const SERIAL_HINT_OTHER =
  'give the volume serial explicitly: mkfs.fat -i <hex> (or --invariant), mformat -N <hex>';
const TIME_HINT =
  'mtools 4.0.32 (Debian 12) mcopy/mmd stamp the entries they create with SOURCE_DATE_EPOCH when it is set, ' +
  'otherwise with the current time; mcopy -m keeps the source files\' times instead (clamp those first)';
const LABEL_TIME_HINT_MKFS =
  'mkfs.fat 4.2 stamps the volume label entry with the current time even when SOURCE_DATE_EPOCH is set: pass --invariant';

function detect(src: ByteSource): number {
  if (src.size < 512) return 0;
  return readBpb(src.read(0, 512, 'FAT boot sector')) ? 60 : 0;
}

function producerFromOem(oem: string): string | undefined {
  if (oem === 'mkfs.fat' || oem === 'mkdosfs') return oem;
  const m = /^MTOO(\d)(\d)(\d\d)$/.exec(oem);
  if (m) return `mtools ${m[1]}.${m[2]}.${m[3]}`;
  if (oem.startsWith('MTOO')) return 'mtools';
  if (/^MSWIN|^MSDOS|^IBM/.test(oem)) return `Windows/DOS (${oem})`;
  if (oem === 'BSD  4.4') return 'newfs_msdos';
  return oem || undefined;
}

/** Accumulates spans, merging adjacent ones. */
class SpanList {
  readonly spans: Span[] = [];
  add(s: Span[]): void {
    for (const x of s) {
      const last = this.spans[this.spans.length - 1];
      if (last && last.stream === x.stream && last.offset + last.length === x.offset) last.length += x.length;
      else if (x.length > 0) this.spans.push({ ...x });
    }
  }
}

interface Ctx {
  src: ByteSource;
  limits: OpenContext['limits'];
  bpb: Bpb;
  fat: Bytes;
  clusterBytes: number;
  dataStart: number;
  /** highest cluster number whose bytes lie inside the source */
  maxCluster: number;
  used: Uint8Array;
  notes: string[];
  entries: Entry[];
  dirSpans: SpanList;
  slackSpans: SpanList;
  producer: string | undefined;
  paths: Set<string>;
}

function fatEntry(c: Ctx, n: number): number {
  switch (c.bpb.fatType) {
    case 12: {
      const v = c.fat.u16le(n + (n >> 1));
      return n & 1 ? v >> 4 : v & 0xfff;
    }
    case 16:
      return c.fat.u16le(n * 2);
    default:
      return c.fat.u32le(n * 4) & 0x0fffffff;
  }
}

function isEoc(c: Ctx, v: number): boolean {
  return c.bpb.fatType === 12 ? v >= 0xff8 : c.bpb.fatType === 16 ? v >= 0xfff8 : v >= 0x0ffffff8;
}

/**
 * Follows a cluster chain, marking clusters used; stops at the end mark, at a repeat (loop or cross link),
 * at a free, bad or out-of-range link, or after `maxClusters`.
 */
function chain(c: Ctx, first: number, what: string, maxClusters = Infinity): number[] {
  const out: number[] = [];
  let n = first;
  while (out.length < maxClusters) {
    if (n < 2 || n > c.bpb.clusterCount + 1) {
      c.notes.push(`${what}: cluster chain links to invalid cluster ${n}; stopped there`);
      break;
    }
    if (n > c.maxCluster) {
      c.notes.push(`${what}: cluster ${n} is past the end of the image; stopped there`);
      break;
    }
    if (c.used[n]) {
      c.notes.push(`${what}: cluster ${n} is already in use (a loop or cross-linked chain); stopped there`);
      break;
    }
    c.used[n] = 1;
    out.push(n);
    const next = fatEntry(c, n);
    if (isEoc(c, next)) break;
    if (next === 0) {
      c.notes.push(`${what}: cluster chain runs into free cluster after ${n}; stopped there`);
      break;
    }
    n = next;
  }
  return out;
}

const clusterOffset = (c: Ctx, n: number): number => c.dataStart + (n - 2) * c.clusterBytes;

/** Cluster runs merged into extents, trimmed to `size` bytes. */
function extentsOf(c: Ctx, clusters: number[], size: number): Extent[] {
  const out: Extent[] = [];
  let left = size;
  for (const n of clusters) {
    if (left <= 0) break;
    const len = Math.min(c.clusterBytes, left);
    const off = clusterOffset(c, n);
    const last = out[out.length - 1];
    if (last && last.offset + last.length === off) last.length += len;
    else out.push({ offset: off, length: len });
    left -= len;
  }
  return out;
}

function shortName(raw: Uint8Array, caseFlags: number): string {
  const bytes = Array.from(raw);
  if (bytes[0] === 0x05) bytes[0] = 0xe5;
  let base = String.fromCharCode(...bytes.slice(0, 8)).replace(/ +$/, '');
  let ext = String.fromCharCode(...bytes.slice(8, 11)).replace(/ +$/, '');
  if (caseFlags & 0x08) base = base.toLowerCase();
  if (caseFlags & 0x10) ext = ext.toLowerCase();
  return ext ? `${base}.${ext}` : base;
}

function lfnChecksum(raw: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = ((sum & 1 ? 0x80 : 0) + (sum >> 1) + (raw[i] as number)) & 0xff;
  return sum;
}

/** One 32-byte directory slot: the structure it sits in and its offset there. */
interface Slot {
  b: Bytes;
  off: number;
}

interface PendingLfn {
  count: number;
  next: number;
  checksum: number;
  parts: string[];
  nameSpans: Span[];
  sumSpans: Span[];
}

function timeFields(b: Bytes, o: number, p: string, hint: string): { fields: Field[]; meta: Entry['meta'] } {
  // 13 - DIR_CrtTimeTenth, 14 - DIR_CrtTime, 16 - DIR_CrtDate, 18 - DIR_LstAccDate, 22 - DIR_WrtTime, 24 - DIR_WrtDate
  const ctime = dosDateTime(b.u16le(o + 16), b.u16le(o + 14), Math.min(b.u8(o + 13), 199));
  const adate = dosDateTime(b.u16le(o + 18), 0);
  const atime = adate ? adate.slice(0, 10) : null;
  const mtime = dosDateTime(b.u16le(o + 24), b.u16le(o + 22));
  const meta: Entry['meta'] = {};
  if (mtime) meta.mtime = mtime;
  if (ctime) meta.ctime = ctime;
  if (adate) meta.atime = adate;
  return {
    meta,
    fields: [
      field(`${p}.ctime`, ctime, 'timestamp', b.spans(o + 13, 5), { hint }),
      field(`${p}.atime`, atime, 'timestamp', b.spans(o + 18, 2), { hint }),
      field(`${p}.mtime`, mtime, 'timestamp', b.spans(o + 22, 4), { hint }),
    ],
  };
}

function firstCluster(c: Ctx, b: Bytes, o: number): number {
  // 20 - DIR_FstClusHI (FAT32 only), 26 - DIR_FstClusLO
  return (c.bpb.fatType === 32 ? b.u16le(o + 20) * 0x10000 : 0) + b.u16le(o + 26);
}

function clusterFieldSpans(b: Bytes, o: number): Span[] {
  return [...b.spans(o + 20, 2), ...b.spans(o + 26, 2)];
}

interface DirJob {
  path: string;
  slots: Slot[];
  depth: number;
  /** fields of the directory's own entry, to which its '.' and '..' fields are added */
  ownFields: Field[] | undefined;
}

/** Reads a directory's clusters into slots. */
function dirSlots(c: Ctx, clusters: number[], what: string): Slot[] {
  checkCap(clusters.length * c.clusterBytes, c.limits.maxStructureBytes, `${what}: directory bytes`, c.src.name);
  const slots: Slot[] = [];
  for (const n of clusters) {
    const b = Bytes.at(c.src, clusterOffset(c, n), c.clusterBytes, `directory ${what}`);
    c.dirSpans.add(b.spans(0, b.length));
    for (let off = 0; off + DIRENT <= b.length; off += DIRENT) slots.push({ b, off });
  }
  return slots;
}

function walkDirs(c: Ctx, root: DirJob, containerFields: Field[]): void {
  const stack: DirJob[] = [root];
  while (stack.length) {
    const job = stack.pop() as DirJob;
    let pending: PendingLfn | undefined;
    let order = 0;
    const children: DirJob[] = [];
    for (const { b, off: o } of job.slots) {
      const lead = b.u8(o);
      if (lead === 0x00) break; // end of directory
      if (lead === 0xe5) {
        pending = undefined;
        continue; // deleted
      }
      const attr = b.u8(o + 11);
      if ((attr & 0x3f) === ATTR_LFN) {
        const ord = lead & 0x1f;
        const sum = b.u8(o + 13);
        const text = b.utf16le(o + 1, 10) + b.utf16le(o + 14, 12) + b.utf16le(o + 28, 4);
        if (lead & 0x40) pending = { count: ord, next: ord, checksum: sum, parts: [], nameSpans: [], sumSpans: [] };
        if (!pending || ord !== pending.next || sum !== pending.checksum || ord === 0) {
          pending = undefined;
          continue;
        }
        pending.parts[ord - 1] = text;
        pending.nameSpans.push(...b.spans(o, 13), ...b.spans(o + 14, 18));
        pending.sumSpans.push(...b.spans(o + 13, 1));
        pending.next = ord - 1;
        continue;
      }
      const raw = b.bytes(o, 11);
      const lfn = pending;
      pending = undefined;
      if (attr & ATTR_VOLUME_ID) {
        if (job.depth === 0 && !(attr & ATTR_DIRECTORY)) {
          containerFields.push(field('fat.root_label.name', b.ascii(o, 11), 'content', b.spans(o, 11)));
          const t = timeFields(b, o, 'fat.root_label', c.producer === 'mkfs.fat' ? LABEL_TIME_HINT_MKFS : TIME_HINT);
          containerFields.push(...t.fields);
        }
        continue;
      }
      const caseFlags = b.u8(o + 12);
      const short = shortName(raw, caseFlags);
      if (short === '.' || short === '..') {
        if (job.ownFields) {
          const p = short === '.' ? 'fat.dot' : 'fat.dotdot';
          job.ownFields.push(...timeFields(b, o, p, TIME_HINT).fields);
          job.ownFields.push(field(`${p}.first_cluster`, firstCluster(c, b, o), 'layout', clusterFieldSpans(b, o), { derived: true }));
        }
        continue;
      }
      let name = short;
      const fields: Field[] = [field('fat.dirent.short_name', short, 'content', b.spans(o, 11))];
      if (lfn) {
        if (lfn.next === 0 && lfnChecksum(raw) === lfn.checksum) {
          const joined = lfn.parts.join('');
          const end = joined.indexOf('\0');
          name = end >= 0 ? joined.slice(0, end) : joined.replace(/\uffff+$/, '');
          fields.push(
            field('fat.dirent.lfn', name, 'content', lfn.nameSpans),
            field('fat.dirent.lfn_checksum', lfn.checksum, 'checksum', lfn.sumSpans, { covers: b.spans(o, 11) }),
          );
        } else {
          c.notes.push(`${job.path}: long name entries before ${short} do not match it (checksum or sequence); the short name is used`);
        }
      }
      if (name === '' || name.includes('/') || name === '.' || name === '..') {
        c.notes.push(`${job.path}: a directory entry has the unusable name ${JSON.stringify(name)}; listed as ${JSON.stringify(short || '_')}`);
        name = short.replace(/\//g, '_') || '_';
      }
      let path = (job.path === '/' ? '' : job.path) + '/' + name;
      if (c.paths.has(path)) {
        c.notes.push(`${path} appears twice in its directory; the second is listed as ${path}#${order}`);
        path = `${path}#${order}`;
      }
      c.paths.add(path);
      const isDir = (attr & ATTR_DIRECTORY) !== 0;
      const first = firstCluster(c, b, o);
      const size = b.u32le(o + 28);
      const t = timeFields(b, o, 'fat.dirent', TIME_HINT);
      fields.push(
        field('fat.dirent.case_flags', caseFlags, 'content', b.spans(o + 12, 1)),
        field('fat.dirent.attr', attr, 'permissions', b.spans(o + 11, 1)),
        ...t.fields,
        field('fat.dirent.first_cluster', first, 'layout', clusterFieldSpans(b, o), { derived: true }),
        field('fat.dirent.size', size, 'size', b.spans(o + 28, 4), { derived: true }),
      );
      const meta: Entry['meta'] = { ...t.meta, mode: modeOf(attr) };
      checkEntries(c.entries.length + 1, c.limits, 'FAT entries', b.base + o);
      checkTime('listing FAT entries', b.src.name, b.base + o);
      if (isDir) {
        const entry: Entry = { path, type: 'dir', size: 0, extents: [], fields, meta, order: order++ };
        c.entries.push(entry);
        if (first === 0) {
          c.notes.push(`${path}: directory has no clusters`);
          continue;
        }
        if (job.depth + 1 > c.limits.maxDirDepth) {
          c.notes.push(`${path}: directories nest deeper than ${c.limits.maxDirDepth}; not read`);
          continue;
        }
        const clusters = chain(c, first, path);
        children.push({ path, slots: dirSlots(c, clusters, path), depth: job.depth + 1, ownFields: fields });
      } else {
        let extents: Extent[] = [];
        let realSize = size;
        if (size > 0 || first !== 0) {
          const need = Math.ceil(size / c.clusterBytes);
          const clusters = first === 0 ? [] : chain(c, first, path, Math.max(need, 1));
          if (clusters.length < need) {
            c.notes.push(`${path}: ${size} bytes need ${need} clusters but the chain has ${clusters.length}; content is cut short`);
            realSize = clusters.length * c.clusterBytes;
          } else if (need > 0 && clusters.length === need) {
            const last = clusters[clusters.length - 1] as number;
            const next = fatEntry(c, last);
            if (!isEoc(c, next)) c.notes.push(`${path}: the cluster chain goes on past the file size (cluster ${last} links to ${next})`);
          }
          extents = extentsOf(c, clusters, realSize);
          const slack = clusters.length * c.clusterBytes - realSize;
          const lastCluster = clusters[clusters.length - 1];
          if (slack > 0 && lastCluster !== undefined && realSize > 0) {
            c.slackSpans.add(c.src.spans(clusterOffset(c, lastCluster) + c.clusterBytes - slack, slack));
          }
        }
        c.entries.push({ path, type: 'file', size: realSize, extents, fields, meta, order: order++ });
      }
    }
    // depth-first in directory order
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i] as DirJob);
  }
}

function modeOf(attr: number): number {
  const dir = (attr & ATTR_DIRECTORY) !== 0;
  const write = attr & ATTR_READ_ONLY ? 0 : 0o200;
  return (dir ? 0o040555 : 0o100444) | write;
}

/** Hash of a byte range read in bounded pieces. */
function hashRange(src: ByteSource, off: number, len: number, what: string): string {
  const h = createHash('sha256');
  const piece = 1 << 20;
  for (let p = 0; p < len; p += piece) h.update(src.read(off + p, Math.min(piece, len - p), what));
  return 'sha256:' + h.digest('hex').slice(0, 16);
}

function open(src: ByteSource, ctx: OpenContext): Container {
  const head = Bytes.at(src, 0, 512, 'FAT boot sector');
  const bpb = readBpb(head.data);
  if (!bpb) throw head.error(0, 'not a FAT boot sector (BPB fails validation)');
  const bps = bpb.bytesPerSector;
  const notes: string[] = [];
  const fields: Field[] = [];
  const regions: Region[] = [];
  const bs = Bytes.at(src, 0, Math.min(bps, src.size), 'FAT boot sector');
  const oem = bs.ascii(3, 8);
  const producer = producerFromOem(oem);
  const fat32 = bpb.fatType === 32;
  const ext = fat32 ? 64 : 36; // the extended BPB: drive number, boot signature, serial, label, type
  const serialHint = producer === 'mkfs.fat' ? SERIAL_HINT_MKFS : producer?.startsWith('mtools') ? SERIAL_HINT_MTOOLS : SERIAL_HINT_OTHER;
  fields.push(
    field('fat.jump', bs.hex(0, 3), 'content', bs.spans(0, 3)),
    field('fat.oem_name', oem, 'content', bs.spans(3, 8)),
    field('fat.bytes_per_sector', bps, 'layout', bs.spans(11, 2)),
    field('fat.sectors_per_cluster', bpb.sectorsPerCluster, 'layout', bs.spans(13, 1)),
    field('fat.reserved_sectors', bpb.reservedSectors, 'layout', bs.spans(14, 2)),
    field('fat.num_fats', bpb.numFats, 'layout', bs.spans(16, 1)),
    field('fat.root_entries', bpb.rootEntries, 'layout', bs.spans(17, 2)),
    field('fat.total_sectors', bpb.totalSectors, 'size', [...bs.spans(19, 2), ...bs.spans(32, 4)]),
    field('fat.media', bpb.media, 'content', bs.spans(21, 1)),
    field('fat.fat_size', bpb.fatSize, 'size', fat32 ? bs.spans(36, 4) : bs.spans(22, 2), { derived: true }),
    field('fat.sectors_per_track', bs.u16le(24), 'layout', bs.spans(24, 2)),
    field('fat.heads', bs.u16le(26), 'layout', bs.spans(26, 2)),
    field('fat.hidden_sectors', bs.u32le(28), 'layout', bs.spans(28, 4)),
  );
  if (fat32) {
    fields.push(
      field('fat.ext_flags', bs.u16le(40), 'content', bs.spans(40, 2)),
      field('fat.fs_version', bs.u16le(42), 'content', bs.spans(42, 2)),
      field('fat.root_cluster', bpb.rootCluster, 'layout', bs.spans(44, 4), { derived: true }),
      field('fat.fsinfo_sector', bpb.fsInfoSector, 'layout', bs.spans(48, 2)),
      field('fat.backup_boot_sector', bpb.backupBootSector, 'layout', bs.spans(50, 2)),
    );
  }
  const bootSig = bs.u8(ext + 2);
  fields.push(
    field('fat.drive_number', bs.u8(ext), 'content', bs.spans(ext, 1)),
    field('fat.boot_signature', bootSig, 'content', bs.spans(ext + 2, 1)),
  );
  let codeStart = ext + 3;
  if (bootSig === 0x29) {
    fields.push(
      field('fat.volume_serial', bs.hex(ext + 3, 4).match(/../g)?.reverse().join('') ?? '', 'random-id', bs.spans(ext + 3, 4), {
        hint: serialHint,
      }),
      field('fat.volume_label', bs.ascii(ext + 7, 11), 'content', bs.spans(ext + 7, 11)),
      field('fat.fs_type', bs.ascii(ext + 18, 8), 'content', bs.spans(ext + 18, 8)),
    );
    codeStart = ext + 26;
  }
  fields.push(
    field('fat.boot_code', hashRange(src, codeStart, 510 - codeStart, 'boot code'), 'content', bs.spans(codeStart, 510 - codeStart)),
    field('fat.signature', bs.hex(510, 2), 'content', bs.spans(510, 2)),
  );
  regions.push({ name: 'boot sector', role: 'metadata', spans: bs.spans(0, bs.length) });

  const volumeBytes = bpb.totalSectors * bps;
  if (volumeBytes > src.size) notes.push(`the volume claims ${volumeBytes} bytes but the image holds ${src.size}`);

  // Reserved area: FSInfo and the backup boot sector on FAT32, the rest is for boot code.
  const reserved = new SpanList();
  const claimed = new Set<number>([0]);
  if (fat32 && bpb.fsInfoSector > 0 && bpb.fsInfoSector < bpb.reservedSectors && (bpb.fsInfoSector + 1) * bps <= src.size) {
    const fi = Bytes.at(src, bpb.fsInfoSector * bps, 512, 'FSInfo sector');
    claimed.add(bpb.fsInfoSector);
    if (fi.u32le(0) === 0x41615252 && fi.u32le(484) === 0x61417272) {
      fields.push(
        field('fat.fsinfo.free_count', fi.u32le(488), 'size', fi.spans(488, 4), { derived: true }),
        field('fat.fsinfo.next_free', fi.u32le(492), 'layout', fi.spans(492, 4), { derived: true }),
      );
    } else notes.push('the FSInfo sector has no valid signatures');
    regions.push({ name: 'FSInfo sector', role: 'metadata', spans: Bytes.at(src, bpb.fsInfoSector * bps, bps, 'FSInfo').spans(0, bps) });
  }
  if (fat32 && bpb.backupBootSector > 0 && bpb.backupBootSector < bpb.reservedSectors && (bpb.backupBootSector + 1) * bps <= src.size) {
    const bk = Bytes.at(src, bpb.backupBootSector * bps, bps, 'backup boot sector');
    claimed.add(bpb.backupBootSector);
    fields.push(field('fat.backup_boot_sector.copy', hashRange(src, bk.base, bps, 'backup boot sector'), 'content', bk.spans(0, bps), {
      derived: true,
      covers: bs.spans(0, bps),
    }));
    regions.push({ name: 'backup boot sector', role: 'metadata', spans: bk.spans(0, bps) });
  }
  for (let s = 1; s < bpb.reservedSectors && (s + 1) * bps <= src.size; s++) {
    if (!claimed.has(s)) reserved.add(src.spans(s * bps, bps));
  }
  if (reserved.spans.length) regions.push({ name: 'reserved sectors', role: 'system-area', spans: reserved.spans });

  // The FATs
  const fatOff = bpb.reservedSectors * bps;
  const fatBytes = bpb.fatSize * bps;
  const needed = Math.ceil(((bpb.clusterCount + 2) * bpb.fatType) / 8);
  checkCap(needed, ctx.limits.maxStructureBytes, 'FAT bytes', src.name, fatOff);
  if (fatOff + needed > src.size) throw head.error(14, `the FAT at byte ${fatOff} runs past the end of the image`, 'E_FORMAT');
  // FAT12 reads two bytes for the last entry: one byte more than the entries strictly need
  const fat = Bytes.at(src, fatOff, Math.min(needed + 1, fatBytes, src.size - fatOff), 'FAT 1');
  let fat1Spans: Span[] = [];
  for (let k = 0; k < bpb.numFats; k++) {
    const off = fatOff + k * fatBytes;
    if (off + fatBytes > src.size) {
      notes.push(`FAT ${k + 1} runs past the end of the image`);
      break;
    }
    const spans = src.spans(off, fatBytes);
    regions.push({ name: `FAT ${k + 1}`, role: 'metadata', spans });
    const value = hashRange(src, off, fatBytes, `FAT ${k + 1}`);
    if (k === 0) {
      fat1Spans = spans;
      fields.push(field('fat.table.1', value, 'layout', spans, { derived: true }));
    } else {
      fields.push(field(`fat.table.${k + 1}`, value, 'layout', spans, { derived: true, covers: fat1Spans }));
    }
  }

  const clusterBytes = bpb.sectorsPerCluster * bps;
  const dataStart = bpb.firstDataSector * bps;
  const inSource = Math.floor(Math.max(0, src.size - dataStart) / clusterBytes);
  const c: Ctx = {
    src,
    limits: ctx.limits,
    bpb,
    fat,
    clusterBytes,
    dataStart,
    maxCluster: Math.min(bpb.clusterCount, inSource) + 1,
    used: new Uint8Array(bpb.clusterCount + 2),
    notes,
    entries: [],
    dirSpans: new SpanList(),
    slackSpans: new SpanList(),
    producer,
    paths: new Set(),
  };

  // The root directory: a fixed area on FAT12/16, a cluster chain on FAT32
  let rootSlots: Slot[];
  if (fat32) {
    rootSlots = dirSlots(c, chain(c, bpb.rootCluster, 'root directory'), '/');
  } else {
    const rootOff = (bpb.reservedSectors + bpb.numFats * bpb.fatSize) * bps;
    const rootLen = bpb.rootEntries * DIRENT;
    if (rootOff + rootLen > src.size) throw head.error(17, 'the root directory runs past the end of the image');
    const rb = Bytes.at(src, rootOff, rootLen, 'root directory');
    regions.push({ name: 'root directory', role: 'metadata', spans: rb.spans(0, rootLen) });
    rootSlots = [];
    for (let off = 0; off < rootLen; off += DIRENT) rootSlots.push({ b: rb, off });
  }
  let partial: string | undefined;
  try {
    walkDirs(c, { path: '/', slots: rootSlots, depth: 0, ownFields: undefined }, fields);
  } catch (e) {
    if (!(e instanceof EntryLimit)) throw e;
    partial = e.describe();
    notes.push(partial);
  }
  if (c.dirSpans.spans.length) regions.push({ name: 'directory clusters', role: 'metadata', spans: c.dirSpans.spans });
  if (c.slackSpans.spans.length) regions.push({ name: 'file slack', role: 'padding', spans: c.slackSpans.spans });

  // Free and lost clusters, and whatever follows the last cluster
  const free = new SpanList();
  const lost = new SpanList();
  let lostCount = 0;
  for (let n = 2; n <= c.maxCluster; n++) {
    if (c.used[n]) continue;
    const v = fatEntry(c, n);
    const spans = src.spans(clusterOffset(c, n), clusterBytes);
    if (v === 0) free.add(spans);
    else {
      lost.add(spans);
      lostCount++;
    }
  }
  if (free.spans.length) regions.push({ name: 'free clusters', role: 'unused', spans: free.spans });
  if (lost.spans.length) {
    regions.push({ name: 'allocated clusters no entry uses', role: 'unused', spans: lost.spans });
    notes.push(`${lostCount} clusters are allocated in the FAT but belong to no file or directory (lost or bad)`);
  }
  const dataEnd = clusterOffset(c, c.maxCluster + 1);
  if (dataEnd < src.size) regions.push({ name: 'after the last cluster', role: 'unused', spans: src.spans(dataEnd, src.size - dataEnd) });

  return { format: 'fat', source: src, producer, fields, entries: c.entries, regions, notes, ...(partial ? { partial } : {}) };
}

export const fatFormat: Format = { name: 'fat', detect, exclusive: true, open };
