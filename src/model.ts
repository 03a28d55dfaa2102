/**
 * The one tree every format produces. A format opens a byte source into a Container: its own fields
 * (volume descriptors, headers), its entries (files, members, partitions, sections) with their fields,
 * and the regions it claims (metadata areas, padding). Every field records the spans where its bytes sit.
 */
import type { ByteSource, Extent } from './io/source.js';
import type { Limits } from './limits.js';
import type { TempFiles } from './io/spill.js';
import type { DecodedOnce } from './walk/once.js';

export const KINDS = [
  'timestamp',
  'random-id',
  'ordering',
  'inode',
  'ownership',
  'permissions',
  'build-path',
  'content',
  'added',
  'removed',
  'size',
  'layout',
  'checksum',
  'unknown',
] as const;
export type Kind = (typeof KINDS)[number];

export type FormatName =
  | 'iso9660'
  | 'eltorito'
  | 'mbr'
  | 'gpt'
  | 'apm'
  | 'fat'
  | 'hfsplus'
  | 'squashfs'
  | 'erofs'
  | 'ext4'
  | 'pe'
  | 'uki'
  | 'linux'
  | 'cpio'
  | 'gzip'
  | 'xz'
  | 'zstd'
  | 'lz4'
  | 'elf'
  | 'bzip2'
  | 'ar'
  | 'pyc'
  | 'zip'
  | 'tar'
  | 'raw'
  | 'text'
  | 'folder';

/**
 * Where bytes sit. Without `stream`: offset and length in the outermost input file.
 * With `stream`: in the decoded stream of that id (a decompressed initrd, a squashfs block).
 */
export interface Span {
  stream?: string;
  offset: number;
  length: number;
}

/** A decoded value. Times are ISO 8601 strings in UTC (`2026-11-22T06:45:17Z`, fractions when the format has them). */
export type Value = string | number | boolean | null;

export interface Field {
  /** stable dotted name, e.g. `pvd.creation_date`, `dirent.recording_date`, `rr.tf.modify` */
  name: string;
  value: Value;
  /** what a difference in this field is */
  kind: Kind;
  /** where its bytes are */
  spans: Span[];
  /** for checksums, digests and signatures: the bytes it is computed over. Such a field is derived from whatever differs there. */
  covers?: Span[];
  /** the value follows from placement, sizes or content elsewhere (an extent LBA, a size); the comparer finds its cause */
  derived?: boolean;
  /** how to make this field deterministic for the tool that produced the image */
  hint?: string;
}

export type EntryType = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket' | 'other';

/** Convenience copies of common metadata, for listings. The authoritative values are in `fields`. */
export interface EntryMeta {
  mode?: number;
  uid?: number;
  gid?: number;
  nlink?: number;
  ino?: number;
  mtime?: string;
  atime?: string;
  ctime?: string;
  birthtime?: string;
  /** symlink target */
  target?: string;
}

export interface Entry {
  /** rooted at `/`, unique within its container */
  path: string;
  type: EntryType;
  /** content bytes */
  size: number;
  /** where the content sits in `contentSource ?? container.source`, in order */
  extents: Extent[];
  /** set when the content is not in the container's source */
  contentSource?: ByteSource;
  /** the entry's fields; an entry that makes them on demand implements LazyFields too, and this may be a getter over it */
  fields: Field[];
  meta: EntryMeta;
  /** position in the container's own order (directory order, archive member order, partition index) */
  order: number;
  /** content exists but cannot be read (e.g. unsupported compressor): why */
  opaque?: string;
  /**
   * Where the entry's own metadata sits (its directory records, headers), when the format knows. When both
   * builds hold them at the same offsets and no byte there differs, the entry's fields are the same and the
   * comparer does not read them.
   */
  records?: Span[];
  /**
   * Where the entry's fields hold values that come from its place among the others (zip's member order), not
   * from its records' bytes: its place in the container's other order (`order` is the first), and those
   * fields, made when asked. Records untouched at the same offsets can still hold another place, so the
   * comparer makes these fields when either place differs.
   */
  placeRank?: number;
  placeFields?(): Field[];
  /**
   * The fields `touched` says yes to (it is given where a field's bytes are in the container's source),
   * made without making the others: what the comparer asks for when both builds hold the entry's records at
   * the same offsets, so that only fields over differing bytes can differ. Formats whose fields are cheap
   * leave it out.
   */
  fieldsTouching?(touched: (offset: number, length: number) => boolean): Field[];
  /** see LazyFields */
  readFields?(): Field[];
}

/**
 * An entry that keeps where its records are, not its fields (ISO 9660, squashfs: images of 100,000 files).
 * `readFields()` makes the fields afresh from the records on every call and keeps nothing, so a caller that
 * needs them twice keeps them itself; `fieldsTouching` (above) makes only those over differing bytes.
 * Entries with plain `fields` arrays need neither: the core reads fields through `entryFields`.
 */
export interface LazyFields {
  readFields(): Field[];
  fieldsTouching?(touched: (offset: number, length: number) => boolean): Field[];
}

/** The fields of an entry: made afresh for a LazyFields entry, the array of a plain one. */
export function entryFields(e: Entry): Field[] {
  return e.readFields ? e.readFields() : e.fields;
}

export interface Region {
  name: string;
  /** metadata: parsed structures; padding: must be zero or fill; unused: free space; system-area: reserved for boot code */
  role: 'metadata' | 'padding' | 'unused' | 'system-area';
  spans: Span[];
  /** whether a span of the region holds this offset of the outer file, when the region can say faster than its spans */
  contains?(offset: number): boolean;
}

export interface Container {
  format: FormatName;
  source: ByteSource;
  /** the producing tool when the image says (application id, OEM name), e.g. `xorriso 1.5.4` */
  producer?: string;
  fields: Field[];
  /** more of the container's own fields, made on demand a group at a time (see FieldGroups) */
  fieldGroups?: FieldGroups;
  entries: Entry[];
  regions: Region[];
  /** things the reader noticed and could not parse fully */
  notes: string[];
  /** set when a limit stopped the reader before the end: what was hit and where; the entries listed are those read before */
  partial?: string;
  /**
   * How many bytes the structure says its source holds (an ISO 9660 volume's space size), when it says: a
   * source shorter than that has been cut.
   */
  declaredSize?: number;
  /**
   * Decoded streams whose spans this container's fields use (a squashfs metadata block, a compressed
   * table), each with the spans of its encoded bytes: a difference inside a stream explains its encoded bytes.
   */
  streams?: { id: string; origin: Span[] }[];
}

/**
 * A container's own fields in numbered groups made on demand (a gzip stream's members after the first): a
 * stream of 500,000 members keeps a few numbers a member, not six fields. Group `i` of one build pairs with
 * group `i` of the other; fields are paired by name within a group, as a container's `fields` are.
 */
export interface FieldGroups {
  readonly count: number;
  /** group `i`'s fields, made afresh on every call */
  fields(i: number): Field[];
  /** where group `i`'s bytes are in the container's source: groups at the same offsets in both builds, over no differing byte, hold the same fields */
  records(i: number): Span[];
}

/** Every field of a container's own: `fields`, then each group's. */
export function* containerFields(c: Container): Generator<Field> {
  yield* c.fields;
  const g = c.fieldGroups;
  if (g) for (let i = 0; i < g.count; i++) yield* g.fields(i);
}

export interface OpenContext {
  limits: Limits;
  /** opening under limits.maxEntrySeconds (the content of an entry, and each input itself) */
  timeLimited?: boolean;
  /** where decoded streams over limits.memoryDecodedBytes go; closed when the run ends */
  temp?: TempFiles;
  /** streams decoded so far in the run, so that each distinct one is decoded once (walk/once.ts) */
  once?: DecodedOnce;
}

export interface Format {
  name: FormatName;
  /**
   * 0 when the source is not this format; otherwise a confidence (higher is surer). Reads only a few bytes.
   * Exclusive formats own the whole source (FAT, squashfs, PE, archives, compressed streams); the others
   * (iso9660, eltorito, mbr, gpt, apm) may share one source with each other, as a hybrid ISO does.
   */
  detect(src: ByteSource): number;
  exclusive: boolean;
  open(src: ByteSource, ctx: OpenContext): Container | Promise<Container>;
  /** how to fix fields that one build writes and the other does not (zip's extra fields), when the format knows */
  presenceHint?: string;
  /*
   * The rules below are what the comparer needs to know about a format beyond its listing. Every one is
   * optional; leaving it out gives the default named on it (see docs/formats.md).
   */
  /**
   * Its entries (partitions, boot images) may lie over structures that another view of the same source
   * parses (the ISO 9660 volume inside an isohybrid partition): an entry whose differing bytes that view
   * already explained adds nothing. Default false.
   */
  coResident?: boolean;
  /**
   * A layer that only wraps one stream (a compression format): the entry of this path, its decoded data,
   * adds no step to report paths, and what is inside it is reported under the layer's own path. Default: none.
   */
  transparentEntry?: string;
  /** How to fix a change of the order its entries are placed in. Default: a generic hint. */
  orderingHint?: string;
  /**
   * Whether a field holds a copy of a value stored first elsewhere (an ISO 9660 `.` record, a backup GPT
   * header, a Joliet record): when one change is stored in several fields, a copy is never the one named as
   * the root. Default: no field is a copy.
   */
  isCopyField?(name: string): boolean;
}

/** Builds a field from a structure view: `bytes.spans(off, len)` gives its spans. */
const fieldNames = new Map<string, Map<string, string>>();
let fieldNameCount = 0;

/**
 * `prefix.suffix`, the same string object each time for a small set of names (a record layout's fields,
 * made again for every record): comparing and keying by names then needs no string building.
 */
export function fieldName(prefix: string, suffix: string): string {
  let bySuffix = fieldNames.get(prefix);
  const known = bySuffix?.get(suffix);
  if (known !== undefined) return known;
  const name = `${prefix}.${suffix}`;
  if (fieldNameCount >= 100_000) return name; // names that vary per record are not worth keeping
  if (!bySuffix) fieldNames.set(prefix, (bySuffix = new Map()));
  bySuffix.set(suffix, name);
  fieldNameCount++;
  return name;
}

export function field(name: string, value: Value, kind: Kind, spans: Span[], extra?: Partial<Field>): Field {
  const f: Field = { name, value, kind, spans };
  if (extra) {
    // set one by one: a spread makes a new object shape per call, and images hold millions of fields
    if (extra.covers !== undefined) f.covers = extra.covers;
    if (extra.derived !== undefined) f.derived = extra.derived;
    if (extra.hint !== undefined) f.hint = extra.hint;
  }
  return f;
}
