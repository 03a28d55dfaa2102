/**
 * Entry metadata read when first asked for. Readers that keep only where an entry's records are (ISO 9660,
 * squashfs) hand this out as `entry.meta`: the symlink target, which the comparer asks of every entry, is kept;
 * the rest is loaded from the records by `load` on first use.
 */
import type { EntryMeta } from '../model.js';

export class LazyMeta implements EntryMeta {
  private read: EntryMeta | undefined;
  constructor(
    readonly target: string | undefined,
    private readonly load: () => EntryMeta,
  ) {}
  private get all(): EntryMeta {
    return (this.read ??= this.load());
  }
  get mode(): number | undefined {
    return this.all.mode;
  }
  get uid(): number | undefined {
    return this.all.uid;
  }
  get gid(): number | undefined {
    return this.all.gid;
  }
  get nlink(): number | undefined {
    return this.all.nlink;
  }
  get ino(): number | undefined {
    return this.all.ino;
  }
  get mtime(): string | undefined {
    return this.all.mtime;
  }
  get atime(): string | undefined {
    return this.all.atime;
  }
  get ctime(): string | undefined {
    return this.all.ctime;
  }
  get birthtime(): string | undefined {
    return this.all.birthtime;
  }
}
