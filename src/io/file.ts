/** The one place that reads files: positional reads through a file descriptor, with a small block cache. */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { ReprodiffError } from '../errors.js';
import { checkRegularFile, ioMessage, statInput } from './inputs.js';
import type { Span } from '../model.js';
import { checkRange, type ByteSource } from './source.js';

const BLOCK = 64 * 1024;
const CACHE_BLOCKS = 64; // 4 MiB per open file

export class FileSource implements ByteSource {
  readonly stream = undefined;
  readonly size: number;
  private fd: number;
  private cache = new Map<number, Uint8Array>();
  /** the block read last: a listing reads many records from one block, and a hit here needs no map work */
  private lastIndex = -1;
  private last: Uint8Array | undefined;

  constructor(readonly path: string, readonly name: string = path) {
    // stat first: opening a FIFO would block until a writer comes, and a device is no file to compare
    checkRegularFile(statInput(path, name), name);
    let fd = -1;
    try {
      // O_NONBLOCK, in case a FIFO took the file's place after the stat; it changes nothing for a regular file
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
      const st = fstatSync(fd, { bigint: true });
      checkRegularFile(st, name);
      this.size = Number(st.size);
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      if (e instanceof ReprodiffError) throw e;
      throw new ReprodiffError('E_IO', ioMessage(e), { file: name });
    }
    this.fd = fd;
  }

  read(offset: number, length: number, structure?: string): Uint8Array {
    checkRange(this, offset, length, structure);
    if (length === 0) return new Uint8Array(0);
    const firstBlock = Math.floor(offset / BLOCK);
    const lastBlock = Math.floor((offset + length - 1) / BLOCK);
    if (firstBlock === lastBlock) {
      const blk = this.block(firstBlock, structure);
      const start = offset - firstBlock * BLOCK;
      return blk.subarray(start, start + length);
    }
    if (length > 4 * BLOCK) return this.readDirect(offset, length, structure);
    const out = new Uint8Array(length);
    let done = 0;
    for (let b = firstBlock; b <= lastBlock; b++) {
      const blk = this.block(b, structure);
      const start = b === firstBlock ? offset - b * BLOCK : 0;
      const n = Math.min(blk.length - start, length - done);
      out.set(blk.subarray(start, start + n), done);
      done += n;
    }
    return out;
  }

  spans(offset: number, length: number): Span[] {
    return [{ offset, length }];
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
      this.cache.clear();
      this.lastIndex = -1;
      this.last = undefined;
    }
  }

  private block(index: number, structure?: string): Uint8Array {
    if (index === this.lastIndex) return this.last!;
    const blk = this.cachedBlock(index, structure);
    this.lastIndex = index;
    this.last = blk;
    return blk;
  }

  private cachedBlock(index: number, structure?: string): Uint8Array {
    const hit = this.cache.get(index);
    if (hit) {
      this.cache.delete(index);
      this.cache.set(index, hit);
      return hit;
    }
    const start = index * BLOCK;
    const data = this.readDirect(start, Math.min(BLOCK, this.size - start), structure);
    this.cache.set(index, data);
    if (this.cache.size > CACHE_BLOCKS) {
      const oldest = this.cache.keys().next().value as number;
      this.cache.delete(oldest);
    }
    return data;
  }

  /** Fills `into` with the bytes at `offset`, past the block cache (for long sequential scans). */
  readInto(offset: number, into: Uint8Array, structure?: string): void {
    checkRange(this, offset, into.length, structure);
    this.fill(into, offset, structure);
  }

  private readDirect(offset: number, length: number, structure?: string): Uint8Array {
    return this.fill(new Uint8Array(length), offset, structure);
  }

  private fill(buf: Uint8Array, offset: number, structure?: string): Uint8Array {
    const length = buf.length;
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        n = readSync(this.fd, buf, done, length - done, offset + done);
      } catch (e) {
        throw new ReprodiffError('E_IO', ioMessage(e), { file: this.name, structure, offset: offset + done });
      }
      if (n === 0) {
        throw new ReprodiffError('E_TRUNCATED', 'the file ended early (was it changed while being read?)', {
          file: this.name,
          structure,
          offset: offset + done,
        });
      }
      done += n;
    }
    return buf;
  }
}

export { ioMessage };
