/**
 * The Debian live ISO built twice the naive way (`bench/live/build.sh OUTDIR`, about 30 minutes as root with
 * Debian's packages): every move and copy explained, one root per cause. Runs when the images are there
 * (REPRODIFF_LIVE_DIR, default /work/live); skipped otherwise.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/types.js';
import { cli } from '../helpers/cli.js';

const DIR = process.env.REPRODIFF_LIVE_DIR ?? '/work/live';
const have = (f: string): boolean => existsSync(join(DIR, 'a', f)) && existsSync(join(DIR, 'b', f));

function compare(f: string): Report {
  const r = cli([join(DIR, 'a', f), join(DIR, 'b', f), '--json', '-', '-q']);
  expect(r.status, r.stderr).toBe(1);
  return JSON.parse(r.stdout) as Report;
}

/** bytes of the outer files a finding's spans cover */
const outer = (f: Report['findings'][number]): number => f.spans.reduce((n, s) => n + (s.stream === undefined ? s.length : 0), 0);

describe('the Debian live ISO built twice', () => {
  it.skipIf(!have('live.iso'))(
    'no catch-all root, at most 64 KiB unexplained, at most 16 roots, the initrd copies and derived GUIDs folded',
    () => {
      const r = compare('live.iso');
      const roots = r.findings.filter((f) => f.root);
      expect(roots.length).toBeLessThanOrEqual(16);
      expect(r.bytes.unexplained).toBeLessThanOrEqual(64 * 1024);
      for (const f of roots.filter((g) => g.kind === 'content' || g.kind === 'unknown')) expect(outer(f), `${f.path} ${f.field}`).toBeLessThanOrEqual(1 << 20);
      // the initrd is stored in the ISO, in the squashfs and in the UKI: its causes appear once
      expect(roots.filter((f) => f.field === 'gzip.header.mtime').length).toBe(1);
      // xorriso's partition GUIDs are made from the disk GUID
      expect(roots.filter((f) => /^gpt\.part\.\d+\.unique_guid$/.test(f.field ?? ''))).toEqual([]);
      // and so are the same GUIDs seen again as the content of the Apple partition map's partition over the GPT
      expect(roots.filter((f) => f.kind === 'random-id' && f.field === null).map((f) => f.path)).toEqual([]);
      // a partition's size in its table follows the files that grew in the file system it holds
      expect(roots.filter((f) => ['mbr', 'gpt', 'apm'].includes(f.format) && f.kind === 'size').map((f) => f.field)).toEqual([]);
      // what moved in the squashfs after the initrd follows from the initrd, not from mkfs_time
      const ids = new Map(r.findings.map((f) => [f.id, f]));
      for (const f of r.findings.filter((g) => g.field === 'squashfs.inode.blocks_start')) {
        for (const c of f.causedBy) expect(ids.get(c)!.field).not.toBe('squashfs.super.mkfs_time');
      }
    },
    600_000,
  );

  it.skipIf(!have('filesystem.squashfs'))('its two squashfs images alone: 0 unexplained', () => {
    const r = compare('filesystem.squashfs');
    expect(r.bytes.unexplained).toBe(0);
    expect(r.findings.filter((f) => f.root).length).toBeLessThanOrEqual(8);
  }, 600_000);
});
