/**
 * Decoded data too large to keep in memory: an initrd inflates to 100-300 MB, and a comparison holds two.
 * Past `limits.memoryDecodedBytes` a decoded stream is written to an unnamed temporary file in the
 * temporary folder (`$TMPDIR`, else /tmp) and read back through a small block cache.
 *
 * The file never has a name when the system allows it (Linux O_TMPFILE); otherwise it is created with a
 * random name and removed at once, before anything is written to it. Either way it is gone when its
 * descriptor closes: at the end of the run, when the process exits or is killed, and nothing is left behind.
 *
 * A temporary folder that cannot take the file is a fault of this machine, not a verdict on the input: the
 * run's TempFiles keep the first such failure, and the comparison raises it (exit 2, naming TMPDIR) even where
 * a format's reader turned it into its own rejection, so that it never silently changes what the report
 * explains.
 */
import { closeSync, constants, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ReprodiffError } from '../errors.js';
import { readAcrossBlocks } from './blocks.js';

/** Linux's O_TMPFILE (__O_TMPFILE | O_DIRECTORY); node:fs does not export it. */
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;
/** cached block size: small, since a listing (cpio headers every few KiB) reads a block per record */
const BLOCK = 4 * 1024;
/** reads at least this long go straight to a fresh buffer, past the cache */
const DIRECT = 16 * 1024;
/** reads at most this long away from the last one read only their own bytes (see `read`) */
const SHORT = 4096;

/** Descriptors of spill files no longer reachable: closed by the collector if nobody closed them. */
const orphans = new FinalizationRegistry<{ fd: number; open: boolean }>((h) => {
  if (h.open) {
    h.open = false;
    closeSync(h.fd);
  }
});

function openTemp(dir: string): number {
  try {
    return openSync(dir, O_TMPFILE | constants.O_RDWR, 0o600);
  } catch {
    // no O_TMPFILE here (another system, or a file system without it): a random name, removed at once
    const path = join(dir, `reprodiff-${process.pid}-${randomBytes(8).toString('hex')}`);
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      unlinkSync(path);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return fd;
  }
}

/** Decoded bytes in an unnamed temporary file. Reads are positional; the last few blocks read are cached. */
export class SpillFile {
  private readonly handle: { fd: number; open: boolean };
  private size_ = 0;
  private sealed = false;
  private readonly cache = new Map<number, Uint8Array>();
  /** the last block a read touched: a read near it is a scan going on, which the cache serves */
  private lastBlock = -2;

  /**
   * `failed`: told of a failure of the temporary folder (making or writing the file) before it is thrown.
   * `lent`: the descriptor of a file another thread made, written here and never closed here (see `descriptor`).
   */
  constructor(
    readonly name: string,
    private readonly failed?: (e: ReprodiffError) => void,
    private readonly lent?: number,
  ) {
    if (lent !== undefined) {
      this.handle = { fd: lent, open: true };
      return;
    }
    const dir = tmpdir();
    let fd: number;
    try {
      fd = openTemp(dir);
    } catch (e) {
      throw this.fail(`cannot make a temporary file in ${dir} (TMPDIR) for decoded data: ${(e as Error).message} (set TMPDIR to a writable folder, or raise --in-memory)`);
    }
    this.handle = { fd, open: true };
    orphans.register(this, this.handle, this);
  }

  /** The descriptor, for a worker thread of this process that writes the decoded data (then `grown`). */
  get descriptor(): number {
    return this.handle.fd;
  }

  /** Another thread wrote `n` more bytes at the end. */
  grown(n: number): void {
    if (this.sealed) throw new Error('spill file is sealed');
    this.size_ += n;
  }

  /** A failure of the temporary folder that another thread met writing this file: the run stops on it. */
  failedElsewhere(e: ReprodiffError): void {
    this.failed?.(e);
  }

  private fail(message: string): ReprodiffError {
    const e = new ReprodiffError('E_IO', message, { file: this.name });
    this.failed?.(e);
    return e;
  }

  get size(): number {
    return this.size_;
  }

  append(chunk: Uint8Array): void {
    if (this.sealed) throw new Error('spill file is sealed');
    let done = 0;
    while (done < chunk.length) {
      let n: number;
      try {
        n = writeSync(this.handle.fd, chunk, done, chunk.length - done, this.size_ + done);
      } catch (e) {
        throw this.fail(`cannot write decoded data to a temporary file in ${tmpdir()} (TMPDIR): ${(e as Error).message} (free space there, set TMPDIR to another folder, or raise --in-memory)`);
      }
      done += n;
    }
    this.size_ += chunk.length;
  }

  /** No more appends: reads may start. */
  seal(): void {
    this.sealed = true;
  }

  /** Exactly `length` bytes at `offset`; the caller has checked the range. */
  read(offset: number, length: number): Uint8Array {
    if (length >= DIRECT) return this.readRaw(offset, length);
    const first = Math.floor(offset / BLOCK);
    const near = first === this.lastBlock || first === this.lastBlock + 1;
    this.lastBlock = Math.floor((offset + Math.max(0, length - 1)) / BLOCK);
    // a short read away from the last one (a member's name read back in path order, not the file's): only its
    // bytes; a block for each would be read and left to the collector, 150 MB of them for two initrds' names
    if (!near && length <= SHORT && !this.cache.has(first)) return this.readRaw(offset, length);
    return readAcrossBlocks(offset, length, BLOCK, (i) => this.block(i));
  }

  private block(i: number): Uint8Array {
    const hit = this.cache.get(i);
    if (hit) return hit;
    const start = i * BLOCK;
    const data = this.readRaw(start, Math.min(BLOCK, this.size_ - start));
    if (this.cache.size >= 8) this.cache.delete(this.cache.keys().next().value as number);
    this.cache.set(i, data);
    return data;
  }

  private readRaw(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.readInto(offset, out);
    return out;
  }

  /** Fills `into` with the bytes at `offset`; the caller has checked the range. */
  readInto(offset: number, into: Uint8Array): void {
    if (!this.handle.open) throw new Error(`${this.name}: read after the temporary file was closed`);
    let done = 0;
    while (done < into.length) {
      let n: number;
      try {
        n = readSync(this.handle.fd, into, done, into.length - done, offset + done);
      } catch (e) {
        throw this.fail(`cannot read decoded data back from a temporary file in ${tmpdir()} (TMPDIR): ${(e as Error).message}`);
      }
      if (n === 0) throw this.fail(`temporary file for decoded data in ${tmpdir()} (TMPDIR) ended early at ${offset + done}`);
      done += n;
    }
  }

  close(): void {
    if (!this.handle.open) return;
    this.handle.open = false;
    this.cache.clear();
    if (this.lent !== undefined) return;
    orphans.unregister(this);
    closeSync(this.handle.fd);
  }
}

/** The spill files of one run, closed together when the run ends. */
export class TempFiles {
  private readonly files = new Set<SpillFile>();
  /** the first failure of the temporary folder in this run */
  private failure: ReprodiffError | undefined;
  private readonly failed = (e: ReprodiffError): void => void (this.failure ??= e);

  /** `lent`: in a worker thread, the one file that the main thread made for it (see SpillFile.descriptor) */
  constructor(private readonly lent?: number) {}

  make(name: string): SpillFile {
    if (this.lent !== undefined && this.files.size) throw new Error('a worker is lent one temporary file');
    const f = new SpillFile(name, this.failed, this.lent);
    this.files.add(f);
    return f;
  }

  /** Whether the temporary folder failed in this run. */
  get broken(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Throws the first failure of the temporary folder in this run, if there was one: whatever a reader made of
   * it (a rejection of its format, a corrupt stream), the run stops on it.
   */
  check(): void {
    if (this.failure) throw this.failure;
  }
  close(): void {
    for (const f of this.files) f.close();
    this.files.clear();
  }
}

/**
 * Collects a decoded stream as it is produced: in memory up to `inMemory` bytes, then in a SpillFile.
 * Chunks passed to `write` may be reused by the caller afterwards; they are copied or written out at once.
 */
export class DecodedSink {
  private chunks: Uint8Array[] = [];
  private held = 0;
  private file: SpillFile | undefined;
  /** small writes (a gzip of many small members) gathered into one buffer, not kept as a buffer each */
  private gather: Uint8Array | undefined;
  private gathered = 0;

  /** `expected`: the size the stream is believed to have (a trailer's word); over `inMemory`, the file is used from the start */
  constructor(
    readonly name: string,
    private readonly inMemory: number,
    private readonly temp: TempFiles | undefined,
    expected = 0,
  ) {
    if (expected > inMemory) this.file = this.makeFile();
  }

  private makeFile(): SpillFile {
    return this.temp ? this.temp.make(this.name) : new SpillFile(this.name);
  }

  get size(): number {
    return (this.file ? this.file.size : 0) + this.held + this.gathered;
  }

  /** Moves the gathered small writes to the chunk list (or the file). */
  private flushGather(): void {
    if (!this.gather || !this.gathered) return;
    const g = this.gather.subarray(0, this.gathered);
    this.gather = undefined;
    this.gathered = 0;
    if (this.file) this.file.append(g);
    else {
      this.chunks.push(g);
      this.held += g.length;
    }
  }

  /** `owned`: the chunk is not reused by the caller, so it may be kept without a copy. */
  write(chunk: Uint8Array, owned = false): void {
    if (!chunk.length) return;
    if (chunk.length < GATHER_SMALL && !this.file) {
      if (this.gather && this.gathered + chunk.length > this.gather.length) this.flushGather();
      if (this.held + this.gathered + chunk.length <= this.inMemory) {
        this.gather ??= new Uint8Array(GATHER);
        this.gather.set(chunk, this.gathered);
        this.gathered += chunk.length;
        return;
      }
    }
    this.flushGather();
    if (!this.file && this.held + chunk.length > this.inMemory) {
      this.file = this.makeFile();
      for (const c of this.chunks) this.file.append(c);
      this.chunks = [];
      this.held = 0;
    }
    if (this.file) this.file.append(chunk);
    else {
      // a copy (a Buffer's slice() would share the caller's memory)
      this.chunks.push(owned ? chunk : new Uint8Array(chunk));
      this.held += chunk.length;
    }
  }

  /** Drops what was collected (a stream that failed to decode): its temporary file, if any, is closed. */
  discard(): void {
    this.chunks = [];
    this.held = 0;
    this.gather = undefined;
    this.gathered = 0;
    this.file?.close();
    this.file = undefined;
  }

  /** The whole stream: one buffer in memory, or the sealed spill file. */
  finish(): Uint8Array | SpillFile {
    this.flushGather();
    if (this.file) {
      this.file.seal();
      return this.file;
    }
    if (this.chunks.length === 1) return this.chunks[0] as Uint8Array;
    const out = new Uint8Array(this.held);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    this.chunks = [];
    return out;
  }
}

/** writes shorter than this are gathered, into buffers of GATHER bytes */
const GATHER_SMALL = 16 * 1024;
const GATHER = 256 * 1024;

/** Keeps `data` in memory when it is at most `inMemory` bytes, otherwise moves it to a spill file. */
export function storeDecoded(name: string, data: Uint8Array, inMemory: number, temp: TempFiles | undefined): Uint8Array | SpillFile {
  if (data.length <= inMemory) return data;
  const sink = new DecodedSink(name, inMemory, temp);
  sink.write(data, true);
  return sink.finish();
}
