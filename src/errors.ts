/**
 * Typed errors with a stable code. Callers branch on `code`, never on message text.
 * Every error names the file (or nested source), the structure being read and the offset.
 */
export type ErrorCode =
  | 'E_USAGE' // bad command line
  | 'E_IO' // the operating system refused a read or open
  | 'E_TRUNCATED' // a structure extends past the end of its source
  | 'E_FORMAT' // a structure is malformed
  | 'E_LIMIT' // a named cap was hit (depth, entries, decoded bytes, ...)
  | 'E_LOOP' // a linked structure revisits itself (CE chain, FAT chain, directory extents)
  | 'E_UNSUPPORTED'; // valid but not handled (e.g. unknown compressor)

export interface ErrorPlace {
  /** human name of the source: a file path, or a nested path such as `a.iso//efiboot.img` */
  file?: string;
  /** the structure being read, e.g. `primary volume descriptor`, `directory record` */
  structure?: string;
  /** byte offset within `file` */
  offset?: number;
}

export class ReprodiffError extends Error {
  override readonly name = 'ReprodiffError';
  readonly code: ErrorCode;
  readonly file: string | undefined;
  readonly structure: string | undefined;
  readonly offset: number | undefined;

  constructor(code: ErrorCode, message: string, place: ErrorPlace = {}) {
    super(message);
    this.code = code;
    this.file = place.file;
    this.structure = place.structure;
    this.offset = place.offset;
  }

  /** One line for a person: `file: structure at offset N: message`. */
  describe(): string {
    const where: string[] = [];
    if (this.structure) where.push(this.structure);
    if (this.offset !== undefined) where.push(`at offset ${this.offset} (0x${this.offset.toString(16)})`);
    const prefix = this.file ? `${this.file}: ` : '';
    return `${prefix}${where.length ? where.join(' ') + ': ' : ''}${this.message}`;
  }
}

export function isReprodiffError(e: unknown): e is ReprodiffError {
  return e instanceof ReprodiffError;
}

/**
 * A bug, not a bad image: a TypeError, RangeError or failed assertion inside a parser, the comparer or a
 * worker. It is never a clean rejection: the CLI exits 2 with `internal error while reading <structure> at
 * <offset>: <message> — please report`, and prints the stack only with REPRODIFF_DEBUG=1. Formats reject
 * malformed input with a ReprodiffError, never by letting a read past a buffer's end throw.
 */
export class InternalError extends Error {
  override readonly name = 'InternalError';
  constructor(
    /** what was being read: `a.iso//efiboot.img as fat`, `content hash of a.iso` */
    readonly structure: string,
    /** where it starts in its outer file, when known */
    readonly offset: number | undefined,
    readonly original: unknown,
  ) {
    super(original instanceof Error ? original.message : String(original));
    if (original instanceof Error && original.stack) this.stack = original.stack;
  }

  /** One line for a person: `internal error while reading <structure> at <offset>: <message> — please report`. */
  describe(): string {
    const at = this.offset !== undefined ? ` at offset ${this.offset} (0x${this.offset.toString(16)})` : '';
    return `internal error while reading ${this.structure}${at}: ${this.message} — please report`;
  }
}

/** `e` as an InternalError naming `structure` (kept as it is when it already is one). */
export function internalError(e: unknown, structure: string, offset?: number): InternalError {
  return e instanceof InternalError ? e : new InternalError(structure, offset, e);
}

/**
 * Whether an exception is a programming error rather than a verdict on the input: what JavaScript throws on
 * a bad property access, an index or length out of range, or a failed assertion. Code that turns a
 * decoder's errors into ReprodiffErrors lets these through, so that they surface as internal errors.
 */
export function isProgrammingError(e: unknown): boolean {
  return e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError || (e instanceof Error && e.name === 'AssertionError');
}
