/**
 * ISO 9660 (ECMA-119) reader with Rock Ridge and Joliet.
 *
 * Structure: system area (sectors 0-15), volume descriptors from sector 16 to the terminator, path tables,
 * directory extents holding directory records, each with a System Use area (SUSP / Rock Ridge).
 * Entries are named by Rock Ridge names when present, otherwise by the ISO 9660 identifiers
 * (version `;1` and a trailing dot removed). Joliet records are attached to the entry of the same path.
 */
import { Bytes } from '../../io/bytes.js';
import type { ByteSource, Extent } from '../../io/source.js';
import { checkCap, checkEntries, checkTime, EntryLimit } from '../../limits.js';
import {
  field,
  fieldName,
  type Container,
  type Entry,
  type EntryMeta,
  type EntryType,
  type Field,
  type Format,
  type LazyFields,
  type OpenContext,
  type Region,
  type Span,
} from '../../model.js';
import { typeFromMode } from '../../util/mode.js';
import { pushAll } from '../../util/array.js';
import { isoDate17, isoDate7 } from '../../util/time.js';
import { detectProducer, fileDateHint, inodeHint, volumeDateHint, type IsoProducer } from './hints.js';
import { LazyMeta } from '../../util/lazy-meta.js';
import { RecordTable, type Chain } from './records.js';
import { ReusedReads } from '../../io/reuse.js';
import { parseSystemUse, type RockRidge, type SuspContext } from './susp.js';

const SECTOR = 2048;
const VD_START = 16;
const ATIME_HINT =
  'Rock Ridge keeps access times, and reading the tree (even by the previous build) changes them: with xorriso add `-volume_date all_file_dates =$SOURCE_DATE_EPOCH`, or build from a tree mounted noatime or touched just before';
const MAX_DESCRIPTORS = 256;

function isVolumeDescriptor(src: ByteSource, sector: number): boolean {
  if (src.size < (sector + 1) * SECTOR) return false;
  const b = src.read(sector * SECTOR + 1, 5);
  return b[0] === 0x43 && b[1] === 0x44 && b[2] === 0x30 && b[3] === 0x30 && b[4] === 0x31; // CD001
}

export const iso9660Format: Format = {
  name: 'iso9660',
  exclusive: false,
  orderingHint:
    'file placement follows the order files are added: give xorriso a fixed order (`-sort_weight`, or mkisofs `-sort FILE`) and build from a tree walked in sorted order',
  // the `.` and `..` records repeat a directory's own record; Joliet repeats the primary volume's records
  isCopyField: (name) => /\.(self|parent)\./.test(name) || /(^|\.)joliet\./.test(name),
  detect(src) {
    return isVolumeDescriptor(src, VD_START) ? 100 : 0;
  },
  open(src, ctx) {
    return new IsoReader(src, ctx).read();
  },
};

interface VolumeInfo {
  kind: 'primary' | 'joliet';
  prefix: string;
  sector: number;
  blockSize: number;
  volumeBlocks: number;
  root: Bytes;
  pathTable: { size: number; l: number; lOpt: number; m: number; mOpt: number };
}

interface DirRecord {
  /** offset of the record in the source */
  at: number;
  rec: Bytes;
  name: string;
  isoName: string;
  flags: number;
  lba: number;
  size: number;
  unitSize: number;
  gap: number;
  rr: RockRidge | undefined;
}

class IsoReader {
  private readonly fields: Field[] = [];
  private readonly entries: IsoEntry[] = [];
  private readonly regions: Region[] = [];
  private readonly notes: string[] = [];
  /**
   * Every entry by its directory's path and its own name: the walk looks names up in one directory at a time,
   * in small maps, instead of hashing every full path into one map of them all.
   */
  private readonly tree = new Map<string, Map<string, IsoEntry>>();
  private root: IsoEntry | undefined;
  /** primary-tree files by extent offset, to attach Joliet records whose names differ */
  private byExtent: Map<number, IsoEntry> | undefined;
  private readonly visitedDirs = new Set<number>();
  /** where every entry's directory records are (see records.ts) */
  readonly rows = new RecordTable<VolumeInfo>();
  private producer: { tool: IsoProducer; label: string | undefined } = { tool: 'unknown', label: undefined };
  private suspSkip: number | undefined;
  private hints: SuspContext['hints'] | undefined;
  private order = 0;
  /** directories and records are read into reused buffers: nothing keeps a view of them */
  private readonly reads: ReusedReads;

  constructor(
    private readonly src: ByteSource,
    private readonly ctx: OpenContext,
  ) {
    this.reads = new ReusedReads(src);
  }

  get source(): ByteSource {
    return this.src;
  }

  read(): Container {
    const { src } = this;
    if (!isVolumeDescriptor(src, VD_START)) {
      throw Bytes.at(src, 0, 0, 'volume descriptor').error(VD_START * SECTOR, 'no ISO 9660 volume descriptor (CD001) at sector 16');
    }
    this.regions.push({ name: 'system area', role: 'system-area', spans: src.spans(0, Math.min(src.size, VD_START * SECTOR)) });

    const volumes: VolumeInfo[] = [];
    let terminated = false;
    for (let i = 0; i < MAX_DESCRIPTORS; i++) {
      const sector = VD_START + i;
      if (!isVolumeDescriptor(src, sector)) {
        this.notes.push(`volume descriptor set ends without a terminator at sector ${sector}`);
        break;
      }
      const vd = Bytes.at(src, sector * SECTOR, SECTOR, 'volume descriptor');
      this.regions.push({ name: `volume descriptor ${sector}`, role: 'metadata', spans: vd.spans(0, SECTOR) });
      const type = vd.u8(0);
      if (type === 255) {
        terminated = true;
        break;
      }
      if (type === 1 && !volumes.some((v) => v.kind === 'primary')) {
        volumes.push(this.readVolume(vd, sector, 'primary', 'pvd'));
      } else if (type === 2) {
        const esc = vd.bytes(88, 32);
        const joliet = esc[0] === 0x25 && esc[1] === 0x2f && (esc[2] === 0x40 || esc[2] === 0x43 || esc[2] === 0x45);
        if (joliet && !volumes.some((v) => v.kind === 'joliet')) volumes.push(this.readVolume(vd, sector, 'joliet', 'joliet'));
        else this.notes.push(`supplementary volume descriptor at sector ${sector} is not Joliet; its tree is not listed`);
      } else if (type === 0) {
        const sys = vd.ascii(7, 32);
        this.fields.push(field(`boot_record.${sector}.system_id`, sys, 'content', vd.spans(7, 32)));
      }
    }
    if (!terminated && volumes.length === 0) throw Bytes.at(src, VD_START * SECTOR, SECTOR, 'volume descriptor').error(0, 'no primary volume descriptor');
    const primary = volumes.find((v) => v.kind === 'primary');
    if (!primary) throw Bytes.at(src, VD_START * SECTOR, SECTOR, 'volume descriptor').error(0, 'no primary volume descriptor');

    let partial: string | undefined;
    try {
      this.readTree(primary);
      const joliet = volumes.find((v) => v.kind === 'joliet');
      if (joliet) this.readTree(joliet);
    } catch (e) {
      if (!(e instanceof EntryLimit)) throw e;
      partial = e.describe();
      this.notes.push(partial);
    }

    for (const v of volumes) this.readPathTables(v);
    this.refineProducer();
    // what only the walk needed: the entries outlive it, and hold this reader
    this.tree.clear();
    this.byExtent = undefined;
    this.visitedDirs.clear();

    const imageBytes = primary.volumeBlocks * SECTOR;
    if (imageBytes < src.size) {
      this.notes.push(`${src.size - imageBytes} bytes follow the ISO 9660 volume (appended partitions or padding)`);
    } else if (imageBytes > src.size) {
      this.notes.push(`the volume claims ${imageBytes} bytes but the image holds ${src.size}: it is truncated`);
    }

    return {
      format: 'iso9660',
      source: src,
      declaredSize: imageBytes,
      producer: this.producer.label,
      fields: this.fields,
      entries: this.entries,
      regions: this.regions,
      notes: this.notes,
      ...(partial ? { partial } : {}),
    };
  }

  /**
   * grub-mkrescue leaves no mark in the volume descriptor (xorriso's preparer id only), but its tree does:
   * GRUB's platform module folders and eltorito.img. Its hints differ from plain xorriso's.
   */
  private refineProducer(): void {
    if (this.producer.tool !== 'xorriso') return;
    const grub = this.has('/boot/grub/i386-pc/eltorito.img') || (this.has('/boot/grub/x86_64-efi') && this.has('/efi.img'));
    if (!grub) return;
    const before = { volume: volumeDateHint('xorriso'), file: fileDateHint('xorriso') };
    this.producer = { tool: 'grub-mkrescue', label: `grub-mkrescue (${this.producer.label ?? 'xorriso'})` };
    const after = { volume: volumeDateHint('grub-mkrescue'), file: fileDateHint('grub-mkrescue') };
    const retag = (f: Field): void => {
      if (f.hint === before.volume) f.hint = after.volume;
      else if (f.hint === before.file) f.hint = after.file;
    };
    this.fields.forEach(retag); // entry fields are read later, with the refined producer's hints
  }

  private readVolume(vd: Bytes, sector: number, kind: 'primary' | 'joliet', prefix: string): VolumeInfo {
    const text = (off: number, len: number): string => (kind === 'joliet' ? vd.utf16be(off, len).replace(/[ \0]+$/, '') : vd.ascii(off, len));
    // 8 - system identifier ... 574 - application identifier (ECMA-119 8.4)
    const system = text(8, 32);
    const preparer = text(446, 128);
    const application = text(574, 128);
    if (kind === 'primary') this.producer = detectProducer(preparer, application, system);
    const dateHint = volumeDateHint(this.producer.tool);
    const ids: [string, number, number][] = [
      ['system_id', 8, 32],
      ['volume_id', 40, 32],
      ['volume_set_id', 190, 128],
      ['publisher_id', 318, 128],
      ['preparer_id', 446, 128],
      ['application_id', 574, 128],
      ['copyright_file_id', 702, 37],
      ['abstract_file_id', 739, 37],
      ['bibliographic_file_id', 776, 37],
    ];
    for (const [name, off, len] of ids) {
      const value = text(off, len);
      const kindOf = name === 'preparer_id' || name === 'application_id' ? 'build-path' : 'content';
      this.fields.push(field(`${prefix}.${name}`, value, kindOf, vd.spans(off, len)));
    }
    const volumeBlocks = vd.u32le(80);
    const blockSize = vd.u16le(128);
    if (blockSize !== SECTOR) throw vd.error(128, `logical block size ${blockSize} is not supported (only 2048)`, 'E_UNSUPPORTED');
    this.fields.push(
      field(`${prefix}.volume_space_size`, volumeBlocks, 'size', vd.spans(80, 8), { derived: true }),
      field(`${prefix}.volume_set_size`, vd.u16le(120), 'content', vd.spans(120, 4)),
      field(`${prefix}.volume_sequence_number`, vd.u16le(124), 'content', vd.spans(124, 4)),
      field(`${prefix}.logical_block_size`, blockSize, 'content', vd.spans(128, 4)),
      field(`${prefix}.path_table_size`, vd.u32le(132), 'size', vd.spans(132, 8), { derived: true }),
      field(`${prefix}.path_table_l`, vd.u32le(140), 'layout', vd.spans(140, 4), { derived: true }),
      field(`${prefix}.path_table_l_optional`, vd.u32le(144), 'layout', vd.spans(144, 4), { derived: true }),
      field(`${prefix}.path_table_m`, vd.u32be(148), 'layout', vd.spans(148, 4), { derived: true }),
      field(`${prefix}.path_table_m_optional`, vd.u32be(152), 'layout', vd.spans(152, 4), { derived: true }),
    );
    const dates: [string, number][] = [
      ['creation_date', 813],
      ['modification_date', 830],
      ['expiration_date', 847],
      ['effective_date', 864],
    ];
    for (const [name, off] of dates) {
      this.fields.push(field(`${prefix}.${name}`, isoDate17(vd.bytes(off, 17)), 'timestamp', vd.spans(off, 17), { hint: dateHint }));
    }
    this.fields.push(
      field(`${prefix}.file_structure_version`, vd.u8(881), 'content', vd.spans(881, 1)),
      field(`${prefix}.application_use`, vd.hex(883, 512).replace(/^(.{64}).*$/, '$1…'), 'content', vd.spans(883, 512)),
    );
    const root = vd.sub(156, 34, 'root directory record');
    return {
      kind,
      prefix,
      sector,
      blockSize,
      volumeBlocks,
      root,
      pathTable: { size: vd.u32le(132), l: vd.u32le(140), lOpt: vd.u32le(144), m: vd.u32be(148), mOpt: vd.u32be(152) },
    };
  }

  /** The hints SUSP fields carry: one object per reader, not one per record. */
  private get suspHints(): SuspContext['hints'] {
    return (this.hints ??= { time: fileDateHint(this.producer.tool), inode: inodeHint(this.producer.tool), atime: ATIME_HINT });
  }

  /**
   * Parses the directory record at the start of `b`.
   * `walk`: names, modes and links only (and the continuation areas are noted as regions); `fields`: every
   * field, or with `keep` only those over bytes it says yes to (names are then decoded only when their bytes
   * are kept); `meta`: with times.
   */
  private parseRecord(b: Bytes, volume: VolumeInfo, rrPrefix: string, mode: 'walk' | 'fields' | 'meta' = 'walk', keep?: (offset: number, length: number) => boolean): DirRecord {
    const len = b.u8(0);
    if (len < 34) throw b.error(0, `directory record length ${len} is below the minimum of 34`);
    const lenFi = b.u8(32);
    if (33 + lenFi > len) throw b.error(32, `file identifier of ${lenFi} bytes overruns the ${len}-byte record`);
    const first = b.data[33];
    const dot = lenFi === 1 && first === 0 ? '.' : lenFi === 1 && first === 1 ? '..' : undefined;
    // the names are needed to walk the tree; to make fields, only when the identifier's bytes are asked for
    const names = mode === 'walk' || (mode === 'fields' && (keep === undefined || keep(b.base + 32, identifierField(lenFi))));
    let rr: RockRidge | undefined;
    if (volume.kind === 'primary') {
      const suStart = 32 + identifierField(lenFi);
      const skip = this.suspSkip ?? 0;
      if (suStart + skip + 4 <= len) {
        rr = parseSystemUse(b.sub(suStart + skip, len - suStart - skip, 'system use area'), {
          src: this.src,
          maxChain: this.ctx.limits.maxChain,
          hints: this.suspHints,
          fields: mode === 'fields',
          times: mode !== 'walk',
          names: mode !== 'fields',
          ...(keep ? { keep } : {}),
        }, rrPrefix);
        if (rr.ceSpans.length && mode === 'walk') {
          for (const ce of rr.ceSpans) this.regions.push({ name: 'SUSP continuation area', role: 'metadata', spans: this.src.spans(ce.offset, ce.length) });
        }
      }
    }
    let isoName = dot ?? '';
    let name = isoName;
    if (dot === undefined) {
      if (rr?.name !== undefined) name = rr.name;
      if (names && (mode !== 'walk' || rr?.name === undefined)) {
        isoName = volume.kind === 'joliet' ? b.utf16be(33, lenFi) : b.ascii(33, lenFi, false);
        if (rr?.name === undefined) name = volume.kind === 'primary' ? isoName.replace(/;\d+$/, '').replace(/\.$/, '') : isoName.replace(/;\d+$/, '');
      }
    }
    return {
      at: b.base,
      rec: b,
      name,
      isoName,
      flags: b.u8(25),
      lba: b.u32le(2),
      size: b.u32le(10),
      unitSize: b.u8(26),
      gap: b.u8(27),
      rr,
    };
  }

  /** The fields of one directory record (not its Rock Ridge ones). */
  private recordFields(r: DirRecord, prefix: string, keep?: (offset: number, length: number) => boolean): Field[] {
    const b = r.rec;
    const hint = this.suspHints.time;
    const lenFi = b.u8(32);
    const out: Field[] = [];
    const k = (off: number, len: number): boolean => keep === undefined || keep(b.base + off, len);
    if (k(0, 1)) out.push(field(fieldName(prefix, 'length'), b.u8(0), 'layout', b.spans(0, 1), { derived: true }));
    const idLen = identifierField(lenFi);
    if (k(32, idLen)) out.push(field(fieldName(prefix, 'identifier'), r.isoName, 'content', b.spans(32, idLen)));
    if (k(28, 4)) out.push(field(fieldName(prefix, 'volume_sequence_number'), b.u16le(28), 'content', b.spans(28, 4)));
    if (k(26, 2)) out.push(field(fieldName(prefix, 'unit_size'), r.unitSize, 'content', b.spans(26, 2)));
    if (k(2, 8)) out.push(field(fieldName(prefix, 'extent'), r.lba, 'layout', b.spans(2, 8), { derived: true }));
    if (k(10, 8)) out.push(field(fieldName(prefix, 'data_length'), r.size, 'size', b.spans(10, 8), { derived: true }));
    if (k(18, 7)) out.push(field(fieldName(prefix, 'recording_date'), isoDate7(b.bytes(18, 7)), 'timestamp', b.spans(18, 7), { hint }));
    if (k(25, 1)) out.push(field(fieldName(prefix, 'flags'), r.flags, 'content', b.spans(25, 1)));
    if (k(1, 1)) out.push(field(fieldName(prefix, 'ext_attr_length'), b.u8(1), 'content', b.spans(1, 1)));
    return out;
  }

  private readTree(volume: VolumeInfo): void {
    const rootRec = this.parseRecordNoSusp(volume);
    const tag = volume.kind === 'joliet' ? 'joliet' : 'dirent';
    this.fields.push(
      field(`${volume.prefix}.root.extent`, rootRec.lba, 'layout', rootRec.rec.spans(2, 8), { derived: true }),
      field(`${volume.prefix}.root.data_length`, rootRec.size, 'size', rootRec.rec.spans(10, 8), { derived: true }),
      field(`${volume.prefix}.root.recording_date`, isoDate7(rootRec.rec.bytes(18, 7)), 'timestamp', rootRec.rec.spans(18, 7), {
        hint: volumeDateHint(this.producer.tool),
      }),
    );
    if (volume.kind === 'primary') {
      // SUSP: the SP entry lives in the root directory's '.' record.
      const first = this.readExtentBytes(rootRec.lba, Math.min(rootRec.size, SECTOR), 'root directory');
      const len = first.u8(0);
      if (len >= 34 && len <= first.length) {
        const lenFi = first.u8(32);
        const suStart = 32 + identifierField(lenFi);
        if (suStart + 7 <= len && first.ascii(suStart, 2, false) === 'SP' && first.u8(suStart + 4) === 0xbe && first.u8(suStart + 5) === 0xef) {
          this.suspSkip = first.u8(suStart + 6);
        }
      }
    }
    this.root ??= this.addEntry('', '/', 'dir', 0, { first: -1, last: -1 });
    this.walkDir(volume, rootRec.lba, rootRec.size, '/', this.root, tag, 0, new Set());
  }

  private parseRecordNoSusp(volume: VolumeInfo): DirRecord {
    const b = volume.root;
    return { at: b.base, rec: b, name: '/', isoName: '.', flags: b.u8(25), lba: b.u32le(2), size: b.u32le(10), unitSize: 0, gap: 0, rr: undefined };
  }

  /** Reads an extent, through the block cache or, with `slot`, into that reused buffer (see ReusedReads.slot). */
  private readExtentBytes(lba: number, size: number, structure: string, slot?: number): Bytes {
    checkCap(size, this.ctx.limits.maxStructureBytes, `${structure} size`, this.src.name, lba * SECTOR);
    if (slot === undefined) return Bytes.at(this.src, lba * SECTOR, size, structure);
    return new Bytes(this.reads.slot(slot, lba * SECTOR, size, structure), this.src, lba * SECTOR, structure);
  }

  /** Lists a directory's records; `self` is the directory's own entry, which its '.' and '..' records join. */
  private walkDir(volume: VolumeInfo, lba: number, size: number, dirPath: string, self: IsoEntry, tag: string, depth: number, ancestors: Set<number>): void {
    checkCap(depth, this.ctx.limits.maxDirDepth, 'directory depth', this.src.name, lba * SECTOR);
    const key = lba * 2 + (volume.kind === 'joliet' ? 1 : 0);
    if (ancestors.has(lba)) {
      throw this.readExtentBytes(lba, 0, 'directory').error(0, `directory ${dirPath} contains itself (extent ${lba} is its own ancestor)`, 'E_LOOP');
    }
    if (this.visitedDirs.has(key)) {
      this.notes.push(`directory extent ${lba} is reached twice (at ${dirPath}); listed once`);
      return;
    }
    this.visitedDirs.add(key);
    // one buffer per depth: this directory's bytes are parsed on after its subdirectories are read
    const dir = this.readExtentBytes(lba, size, `directory ${dirPath}`, depth);
    this.regions.push({ name: `directory ${dirPath}${volume.kind === 'joliet' ? ' (Joliet)' : ''}`, role: 'metadata', spans: dir.spans(0, size) });
    const here = this.entriesIn(dirPath);

    // Multi-extent files: consecutive records with the same name, all but the last flagged bit 7.
    let pending: PendingFile | undefined;
    let p = 0;
    let recordIndex = 0;
    while (p < size) {
      const len = dir.u8(p);
      if (len === 0) {
        // records never cross a sector boundary: skip to the next sector
        p = (Math.floor(p / SECTOR) + 1) * SECTOR;
        continue;
      }
      if (p + len > size) throw dir.error(p, `directory record of ${len} bytes overruns the directory (${size} bytes)`);
      const which = recordIndex === 0 ? 'self' : recordIndex === 1 ? 'parent' : '';
      const rrPrefix = which ? `rr.${which}` : 'rr';
      const rec = this.parseRecord(dir.sub(p, len, `directory record in ${dirPath}`), volume, rrPrefix);
      const at = dir.base + p;
      const ce = rec.rr?.ceSpans.length ? rec.rr.ceSpans : NO_CE;
      const ref = (t: string, r: string): Chain => {
        const row = this.rows.add(volume, at, len, t, r, ce);
        return { first: row, last: row };
      };
      const tags = TAGS[tag === 'joliet' ? 'joliet' : 'dirent'];
      p += len;
      recordIndex++;
      if (rec.isoName === '.') {
        // the directory's own record: its dates and Rock Ridge fields belong to the directory entry
        this.rows.append(self, ref(tags.self, 'rr.self'));
        continue;
      }
      if (rec.isoName === '..') {
        // the parent's record inside this directory: its own copy of the parent's date and Rock Ridge fields
        this.rows.append(self, ref(tags.parent, 'rr.parent'));
        continue;
      }
      if (rec.rr?.relocated) continue; // listed where its CL record points

      const extents = this.fileExtents(rec);
      if (pending && pending.rec.name === rec.name) {
        const part = pending.parts++;
        pending.extents.push(...extents);
        pending.size += rec.size;
        this.rows.append(pending.refs, ref(`${tag}.part${part}`, `rr.part${part}`));
      } else {
        if (pending) this.finishFile(volume, dirPath, here, pending);
        pending = { rec, extents, size: rec.size, refs: ref(tags.base, 'rr'), parts: 1 };
      }
      if (!(rec.flags & 0x80)) {
        const done = pending;
        pending = undefined;
        const isDir = (done.rec.flags & 0x02) !== 0 || done.rec.rr?.childLink !== undefined;
        if (isDir) {
          const childPath = joinPath(dirPath, done.rec.name);
          const child = this.finishDir(volume, dirPath, here, done.rec, done.refs);
          let childLba = done.rec.lba;
          let childSize = done.rec.size;
          if (done.rec.rr?.childLink !== undefined) {
            // CL: the directory's real records are at the link target; its '.' record holds the size
            childLba = done.rec.rr.childLink;
            const first = this.readExtentBytes(childLba, Math.min(SECTOR, Math.max(0, this.src.size - childLba * SECTOR)), 'relocated directory');
            if (first.length < 34) throw first.error(0, 'relocated directory extent is outside the image');
            childSize = first.u32le(10);
          }
          const next = new Set(ancestors);
          next.add(lba);
          this.walkDir(volume, childLba, childSize, childPath, child, tag, depth + 1, next);
        } else {
          this.finishFile(volume, dirPath, here, done);
        }
      }
    }
    if (pending) this.finishFile(volume, dirPath, here, pending);
  }

  private fileExtents(rec: DirRecord): Extent[] {
    const all = this.layoutExtents(rec);
    // content past the end of the image (a truncated file): keep what is there and say so
    const out: Extent[] = [];
    let cut = false;
    for (const e of all) {
      const len = Math.max(0, Math.min(e.length, this.src.size - e.offset));
      if (len < e.length) cut = true;
      if (len > 0) out.push({ offset: e.offset, length: len });
    }
    if (cut) this.notes.push(`${rec.name}: its content (extent ${rec.lba}, ${rec.size} bytes) runs past the end of the image; only the part inside is compared`);
    return out;
  }

  private layoutExtents(rec: DirRecord): Extent[] {
    if (rec.size === 0) return [];
    const start = rec.lba * SECTOR;
    if (rec.unitSize === 0 || rec.gap === 0) return [{ offset: start, length: rec.size }];
    // interleaved: runs of unitSize blocks separated by gap blocks (ECMA-119 6.4.3)
    const out: Extent[] = [];
    let left = rec.size;
    let at = start;
    while (left > 0) {
      const n = Math.min(left, rec.unitSize * SECTOR);
      out.push({ offset: at, length: n });
      left -= n;
      at += (rec.unitSize + rec.gap) * SECTOR;
      checkCap(out.length, this.ctx.limits.maxEntries, 'interleaved file units', this.src.name, rec.at);
    }
    return out;
  }

  /** The entry a directory record stands for (a new one, or the one its other tree's record made); returned for its walk. */
  private finishDir(volume: VolumeInfo, dirPath: string, here: Map<string, IsoEntry>, rec: DirRecord, refs: Chain): IsoEntry {
    const existing = here.get(rec.name);
    if (existing) {
      this.rows.append(existing, refs);
      return existing;
    }
    if (volume.kind === 'joliet') {
      // a directory only Joliet shows: list it under its own root so nothing is hidden
      const e = this.addEntry(jolietOnly(dirPath), rec.name, 'dir', 0, refs);
      here.set(rec.name, e);
      return e;
    }
    return this.addEntry(dirPath, rec.name, 'dir', 0, refs, rec.rr?.target);
  }

  private finishFile(volume: VolumeInfo, dirPath: string, here: Map<string, IsoEntry>, file: PendingFile): void {
    const name = file.rec.name;
    if (volume.kind === 'joliet') {
      const existing = here.get(name);
      if (existing && existing.type !== 'dir') {
        this.rows.append(existing, file.refs);
        return;
      }
      // match by extent (Joliet names may be truncated)
      const first = file.extents[0];
      const byExtent = first ? this.filesByExtent().get(first.offset) : undefined;
      if (byExtent && byExtent.size === file.size) {
        this.rows.append(byExtent, file.refs);
        return;
      }
      const e = this.addEntry(jolietOnly(dirPath), name, 'file', file.size, file.refs);
      e.setExtents(file.extents);
      return;
    }
    let type: EntryType = 'file';
    const mode = file.rec.rr?.mode;
    if (mode !== undefined) type = typeFromMode(mode);
    let unique = name;
    for (let n = 2; here.has(unique); n++) unique = `${name}~${n}`;
    if (unique !== name) {
      const path = joinPath(dirPath, name);
      this.notes.push(`${path} appears more than once in its directory; later copies are named ${path}~N`);
    }
    const e = this.addEntry(dirPath, unique, type, type === 'file' ? file.size : 0, file.refs, file.rec.rr?.target);
    if (type === 'file') e.setExtents(file.extents);
    if (file.rec.rr?.zisofs) {
      e.opaque = `zisofs-compressed (${file.rec.rr.zisofs.algorithm}); content compared as stored`;
    }
  }

  /**
   * The primary tree's files by where their content starts, for Joliet records whose names do not match: made
   * when the first such record is met (the primary tree is listed by then), not for every image.
   */
  private filesByExtent(): Map<number, IsoEntry> {
    if (!this.byExtent) {
      this.byExtent = new Map();
      for (const e of this.entries) {
        const first = e.type === 'file' ? e.extents[0] : undefined;
        if (first && !this.byExtent.has(first.offset)) this.byExtent.set(first.offset, e);
      }
    }
    return this.byExtent;
  }

  /** The entries listed in one directory so far, by name. */
  private entriesIn(dirPath: string): Map<string, IsoEntry> {
    let m = this.tree.get(dirPath);
    if (!m) this.tree.set(dirPath, (m = new Map()));
    return m;
  }

  /** Whether the walk listed an entry at this path. */
  private has(path: string): boolean {
    if (path === '/') return this.root !== undefined;
    const cut = path.lastIndexOf('/');
    return this.tree.get(cut === 0 ? '/' : path.slice(0, cut))?.has(path.slice(cut + 1)) ?? false;
  }

  /**
   * Entries keep where their records are, not their fields or metadata: the fields (some thirty per file) are
   * read from the records when first asked for, which the comparer does only for records whose bytes differ
   * or moved; the metadata when a listing asks. `dirPath` '' with name '/' is the root.
   */
  private addEntry(dirPath: string, name: string, type: EntryType, size: number, refs: Chain, target?: string): IsoEntry {
    const at = refs.first >= 0 ? this.rows.offset(refs.first) : undefined;
    checkEntries(this.entries.length + 1, this.ctx.limits, 'ISO 9660 entries', at);
    checkTime('listing ISO 9660 entries', this.src.name, at);
    const path = dirPath === '' ? name : joinPath(dirPath, name);
    const e = new IsoEntry(this, path, type, size, this.order++, refs.first, refs.last, target);
    this.entries.push(e);
    if (dirPath !== '') this.entriesIn(dirPath).set(name, e);
    return e;
  }

  /** The metadata of an entry, from its own record and its directory's '.' record (Rock Ridge). */
  metaOf(e: IsoEntry): EntryMeta {
    const meta: EntryMeta = {};
    const first = e.first;
    const tag = first >= 0 ? this.rows.kind(first).tag : undefined;
    if (tag === 'dirent' || tag === 'joliet') {
      const rec = this.recordAt(first, 'meta');
      const mtime = isoDate7(rec.rec.bytes(18, 7));
      if (mtime) meta.mtime = mtime;
      if (rec.rr) applyRockRidge(meta, rec.rr);
    }
    for (let r = first; r >= 0; r = this.rows.next(r)) {
      if (this.rows.kind(r).tag !== 'dirent.self') continue;
      const rec = this.recordAt(r, 'meta');
      if (rec.rr) applyRockRidge(meta, rec.rr);
    }
    if (e.target !== undefined) meta.target = e.target;
    return meta;
  }

  private recordAt(row: number, mode: 'fields' | 'meta', keep?: (offset: number, length: number) => boolean): DirRecord {
    const { volume, rr } = this.rows.kind(row);
    const at = this.rows.offset(row);
    const bytes = new Bytes(this.reads.window(at, this.rows.length(row), 'directory record'), this.src, at, 'directory record');
    return this.parseRecord(bytes, volume, rr, mode, keep);
  }

  /** Reads one record (a row of `rows`) again, with its fields. */
  recordFieldsAt(row: number, keep?: (offset: number, length: number) => boolean): Field[] {
    const rec = this.recordAt(row, 'fields', keep);
    const out = this.recordFields(rec, this.rows.kind(row).tag, keep);
    if (rec.rr) out.push(...rec.rr.fields);
    return out;
  }

  /** Path tables: records of (extent, parent number, name) for every directory, in L (LE) and M (BE) order. */
  private readPathTables(v: VolumeInfo): void {
    const { size } = v.pathTable;
    if (size === 0) return;
    checkCap(size, this.ctx.limits.maxStructureBytes, 'path table size', this.src.name, v.sector * SECTOR + 132);
    const tables: [string, number, boolean][] = [
      ['l', v.pathTable.l, true],
      ['l_optional', v.pathTable.lOpt, true],
      ['m', v.pathTable.m, false],
      ['m_optional', v.pathTable.mOpt, false],
    ];
    for (const [name, lba, le] of tables) {
      if (lba === 0) continue;
      if ((lba * SECTOR + size) > this.src.size) {
        this.notes.push(`${v.prefix} path table ${name} at block ${lba} lies outside the image`);
        continue;
      }
      const t = this.readExtentBytes(lba, size, `${v.prefix} path table ${name}`);
      this.regions.push({ name: `${v.prefix} path table ${name}`, role: 'metadata', spans: t.spans(0, size) });
      const paths: string[] = [];
      let p = 0;
      let n = 0;
      while (p + 8 <= size) {
        const lenDi = t.u8(p);
        if (lenDi === 0) break;
        if (p + 8 + lenDi > size) throw t.error(p, `path table record overruns the table`);
        const extent = le ? t.u32le(p + 2) : t.u32be(p + 2);
        const parent = le ? t.u16le(p + 6) : t.u16be(p + 6);
        const raw = t.bytes(p + 8, lenDi);
        let ident = v.kind === 'joliet' ? t.utf16be(p + 8, lenDi) : t.ascii(p + 8, lenDi, false);
        if (lenDi === 1 && raw[0] === 0) ident = '';
        const parentPath = n === 0 ? '' : (paths[parent - 1] ?? `?${parent}`);
        const isoPath = n === 0 ? '/' : joinPath(parentPath || '/', ident);
        paths.push(isoPath);
        this.fields.push(field(`${v.prefix}.path_table_${name}[${isoPath}].extent`, extent, 'layout', t.spans(p + 2, 4), { derived: true }));
        p += 8 + lenDi + (lenDi % 2);
        n++;
        if (n >= this.ctx.limits.maxEntries) {
          this.notes.push(`${v.prefix} path table ${name}: records past the ${this.ctx.limits.maxEntries}th are not read (limit maxEntries)`);
          break;
        }
      }
    }
  }
}

/**
 * Bytes from offset 32 of a directory record to its system use area: the identifier length byte, the
 * identifier, and a padding byte when the identifier's length is even (ECMA-119 9.1.12).
 */
function identifierField(lenFi: number): number {
  return 1 + lenFi + (lenFi % 2 === 0 ? 1 : 0);
}

function applyRockRidge(meta: EntryMeta, rr: RockRidge): void {
  if (rr.mode !== undefined) meta.mode = rr.mode;
  if (rr.uid !== undefined) meta.uid = rr.uid;
  if (rr.gid !== undefined) meta.gid = rr.gid;
  if (rr.nlink !== undefined) meta.nlink = rr.nlink;
  if (rr.ino !== undefined) meta.ino = rr.ino;
  if (rr.times.modify) meta.mtime = rr.times.modify;
  if (rr.times.access) meta.atime = rr.times.access;
  if (rr.times.attributes) meta.ctime = rr.times.attributes;
  if (rr.times.creation) meta.birthtime = rr.times.creation;
  if (rr.target !== undefined) meta.target = rr.target;
}

const NO_EXTENTS: Extent[] = [];
/** record tags, one string each (not one per record) */
const TAGS = {
  dirent: { base: 'dirent', self: 'dirent.self', parent: 'dirent.parent' },
  joliet: { base: 'joliet', self: 'joliet.self', parent: 'joliet.parent' },
};
const NO_CE: { offset: number; length: number }[] = [];

/** A file being listed: a multi-extent file's records follow one another with the same name. */
interface PendingFile {
  rec: DirRecord;
  extents: Extent[];
  size: number;
  refs: Chain;
  /** records so far */
  parts: number;
}

/**
 * An entry that reads its fields and metadata from its records when asked (not cached: see addEntry). Its
 * records are a chain of rows of the reader's table; its content is one extent at `extentAt` of `size` bytes, or a list
 * (a multi-extent, interleaved or truncated file).
 */
class IsoEntry implements Entry, LazyFields, Chain {
  opaque?: string;
  private extentAt = -1;
  private extentList: Extent[] | undefined;

  constructor(
    private readonly reader: IsoReader,
    readonly path: string,
    readonly type: EntryType,
    readonly size: number,
    readonly order: number,
    /** its first and last record (rows of the reader's table) */
    public first: number,
    public last: number,
    readonly target: string | undefined,
  ) {}

  setExtents(list: Extent[]): void {
    const only = list.length === 1 ? list[0]! : undefined;
    if (only && only.length === this.size) this.extentAt = only.offset;
    else if (list.length) this.extentList = list.slice();
  }

  get extents(): Extent[] {
    if (this.extentList) return this.extentList;
    return this.extentAt < 0 ? NO_EXTENTS : [{ offset: this.extentAt, length: this.size }];
  }

  /** Made afresh from the records on each call (LazyFields). */
  readFields(): Field[] {
    const rows = this.reader.rows;
    const out: Field[] = [];
    for (let r = this.first; r >= 0; r = rows.next(r)) pushAll(out, this.reader.recordFieldsAt(r));
    return out;
  }

  get fields(): Field[] {
    return this.readFields();
  }

  fieldsTouching(touched: (offset: number, length: number) => boolean): Field[] {
    const rows = this.reader.rows;
    const out: Field[] = [];
    for (let r = this.first; r >= 0; r = rows.next(r)) {
      // a record (with its continuation areas) no differing byte touches has no field to make
      if (!touched(rows.offset(r), rows.length(r)) && !rows.continuations(r).some((c) => touched(c.offset, c.length))) continue;
      pushAll(out, this.reader.recordFieldsAt(r, touched));
    }
    return out;
  }

  /** The symlink target is kept; the rest is read from the records when a listing first asks. */
  get meta(): EntryMeta {
    return new LazyMeta(this.target, () => this.reader.metaOf(this));
  }

  get records(): Span[] {
    const src = this.reader.source;
    const rows = this.reader.rows;
    const out: Span[] = [];
    for (let r = this.first; r >= 0; r = rows.next(r)) {
      pushAll(out, src.spans(rows.offset(r), rows.length(r)));
      for (const c of rows.continuations(r)) pushAll(out, src.spans(c.offset, c.length));
    }
    return out;
  }
}

/** Where a directory's entries that only the Joliet tree lists go: under `/.joliet`, so nothing is hidden. */
function jolietOnly(dirPath: string): string {
  return dirPath === '/' ? '/.joliet' : `/.joliet${dirPath}`;
}

function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export type { Span };
