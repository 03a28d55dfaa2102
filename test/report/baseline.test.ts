import { describe, expect, it } from 'vitest';
import { makeReport, realisticReport } from '../fixtures/report/sample.js';
import { compareBaseline, parseBaseline, renderBaseline } from '../../src/report/baseline.js';
import { applyAccept, parseAccept, pathGlob } from '../../src/report/accept.js';
import { exitStatus, isAccepted } from '../../src/report/common.js';
import { ReprodiffError } from '../../src/errors.js';
import type { Finding, Report } from '../../src/report/types.js';

/** Tonight's build: same causes, new dates and GUIDs, findings in another order with other ids. */
function nextNight(): Report {
  const r = realisticReport();
  const shifted = r.findings.map((f) => ({
    ...f,
    a: typeof f.a === 'string' && /^\d{4}-/.test(f.a) ? f.a.replace('2026-11-22', '2026-11-23') : f.a,
    b: typeof f.b === 'string' && /^\d{4}-/.test(f.b) ? f.b.replace('2026-11-22', '2026-11-23') : f.b,
  }));
  shifted.reverse();
  return { ...r, findings: shifted.map((f, i) => ({ ...f, id: `n${i}` })) };
}

function finding(over: Partial<Finding>): Finding {
  return { id: 'x', path: '/', format: 'iso9660', field: 'pvd.creation_date', kind: 'timestamp', root: true, causedBy: [], a: 1, b: 2, spans: [], ...over };
}

describe('compareBaseline', () => {
  it('matches by format, path, field and kind, not by id, order or value', () => {
    const res = compareBaseline(nextNight(), realisticReport());
    expect(res.added).toEqual([]);
    expect(res.gone).toEqual([]);
    expect(res.kept).toBe(9);
    expect(res.exitCode).toBe(0);
  });

  it('exits 1 when a root cause appears that the baseline did not have', () => {
    const r = nextNight();
    r.findings.push(finding({ id: 'new1', path: '/boot/grub/grub.cfg', format: 'text', field: null, kind: 'build-path', a: '/home/alice/build', b: '/home/bob/build' }));
    const res = compareBaseline(r, realisticReport());
    expect(res.added.map((f) => f.id)).toEqual(['new1']);
    expect(res.exitCode).toBe(1);
  });

  it('the same key with another kind is a new cause', () => {
    const r = nextNight();
    const f = r.findings.find((x) => x.field === 'fat.bpb.volume_id') as Finding;
    f.kind = 'content';
    const res = compareBaseline(r, realisticReport());
    expect(res.added.map((x) => x.field)).toEqual(['fat.bpb.volume_id']);
    expect(res.gone.map((x) => x.field)).toEqual(['fat.bpb.volume_id']);
    expect(res.exitCode).toBe(1);
  });

  it('a cause that disappeared is reported as gone and exits 0', () => {
    const r = nextNight();
    r.findings = r.findings.filter((f) => f.field !== 'squashfs.super.mkfs_time');
    const res = compareBaseline(r, realisticReport());
    expect(res.gone.map((f) => f.field)).toEqual(['squashfs.super.mkfs_time']);
    expect(res.added).toEqual([]);
    expect(res.exitCode).toBe(0);
  });

  it('new derived findings do not count; repeated keys are matched as often as the baseline has them', () => {
    const r = nextNight();
    r.findings.push(finding({ id: 'd9', root: false, kind: 'checksum', field: 'gpt.entries.crc32', format: 'gpt', causedBy: ['n0'] }));
    expect(compareBaseline(r, realisticReport()).exitCode).toBe(0);
    const unknown = (id: string) => finding({ id, path: '/', format: 'raw', field: null, kind: 'unknown' });
    const base = makeReport([]);
    base.findings = [unknown('u1')];
    const now = makeReport([]);
    now.findings = [unknown('u1'), unknown('u2')];
    const res = compareBaseline(now, base);
    expect(res.added.map((f) => f.id)).toEqual(['u2']);
    expect(res.kept).toBe(1);
    expect(res.exitCode).toBe(1);
  });

  it('an accepted new cause does not fail the run', () => {
    const r = nextNight();
    r.findings.push(finding({ id: 'new1', path: '/EFI/BOOT/grubx64.efi', format: 'pe', field: 'pe.coff.timestamp' }));
    const accepted = applyAccept(r, parseAccept('timestamp'));
    const res = compareBaseline(accepted, realisticReport());
    expect(res.added.length).toBe(1);
    expect(res.exitCode).toBe(0);
  });

  it('renders what is new and what is gone, escaped', () => {
    const r = nextNight();
    r.findings = r.findings.filter((f) => f.field !== 'squashfs.super.mkfs_time');
    r.findings.push(finding({ id: 'new1', path: '/x\x1b[2J|**y**', format: 'tar', field: 'tar.header.uname', kind: 'ownership', a: 'alice', b: 'bob' }));
    const res = compareBaseline(r, realisticReport());
    const text = renderBaseline(res);
    expect(text).toBe(
      'Compared with the baseline: 1 new root cause, 1 gone, 8 unchanged.\n\n' +
        'New since the baseline (1):\n  ownership  /x\\x1b[2J|**y**  tar tar.header.uname  alice → bob\n\n' +
        'Gone since the baseline (1):\n  timestamp  /live/filesystem.squashfs  squashfs squashfs.super.mkfs_time  2026-11-22T06:30:01Z → 2026-11-22T06:31:44Z\n',
    );
    const md = renderBaseline(res, { format: 'markdown' });
    expect(md).toContain('- ownership: `/x\\x1b[2J|**y**` · tar · `tar.header.uname`: `alice` → `bob`');
    expect(md).toContain('**Gone since the baseline** (1)');
  });

  it('reads a baseline file and refuses what is not a report', () => {
    const r = realisticReport();
    expect(parseBaseline(JSON.stringify(r), 'prev.json')).toEqual(r);
    const bad = (text: string) => {
      try {
        parseBaseline(text, 'prev.json');
      } catch (e) {
        return e;
      }
      return null;
    };
    for (const text of ['{', '[]', '{"schemaVersion":2,"findings":[]}', '{"schemaVersion":1}', '{"schemaVersion":1,"findings":[{"path":1}]}', 'null']) {
      const e = bad(text);
      expect(e).toBeInstanceOf(ReprodiffError);
      expect((e as ReprodiffError).code).toBe('E_FORMAT');
      expect((e as ReprodiffError).file).toBe('prev.json');
    }
  });
});

describe('accept', () => {
  it('reads --accept kinds and rejects unknown ones', () => {
    expect(parseAccept('timestamp, random-id,timestamp').kinds).toEqual(['timestamp', 'random-id']);
    expect(() => parseAccept('timestamps')).toThrow(/--accept: unknown kind 'timestamps'/);
  });

  it('reads an accept file: comments, blank lines, quotes, and says which line is wrong', () => {
    const acc = parseAccept(undefined, '# nightly noise\n\nkind=timestamp path=/boot/** field=dirent.*  # xorriso\n  path="/live/My Files/**" kind=random-id,checksum\r\nformat=gpt\n');
    expect(acc.rules.map((r) => [r.line, r.text])).toEqual([
      [3, 'kind=timestamp path=/boot/** field=dirent.*'],
      [4, 'path="/live/My Files/**" kind=random-id,checksum'],
      [5, 'format=gpt'],
    ]);
    const err = (text: string) => {
      try {
        parseAccept(undefined, text, 'reprodiff.accept');
      } catch (e) {
        return (e as ReprodiffError).message;
      }
      return '';
    };
    expect(err('kind=timestamp\npaht=/x')).toBe("reprodiff.accept line 2: unknown key 'paht' (keys: kind, format, path, field)");
    expect(err('kind=time')).toMatch(/^reprodiff.accept line 1: unknown kind 'time'/);
    expect(err('path="/unterminated')).toBe('reprodiff.accept line 1: unterminated quote after path=');
    expect(err('just-a-word')).toBe("reprodiff.accept line 1: expected key=pattern, found 'just-a-word'");
    expect(err('path=' + '*a'.repeat(40))).toMatch(/^reprodiff.accept line 1: pattern .* has 40 wildcards/);
  });

  it('path globs: * within a component, ** across / and //', () => {
    const g = pathGlob('/boot/**');
    expect(g.test('/boot')).toBe(true);
    expect(g.test('/boot/efiboot.img//EFI/BOOT/BOOTX64.EFI')).toBe(true);
    expect(g.test('/bootx/y')).toBe(false);
    expect(pathGlob('/live/*.squashfs').test('/live/filesystem.squashfs')).toBe(true);
    expect(pathGlob('/live/*.squashfs').test('/live/x/filesystem.squashfs')).toBe(false);
    expect(pathGlob('**/machine-id').test('/live/filesystem.squashfs//etc/machine-id')).toBe(true);
    expect(pathGlob('/a/**/z').test('/a/z')).toBe(true);
    expect(pathGlob('/a/**/z').test('/a/b//c/z')).toBe(true);
    expect(pathGlob('/a.b(c)').test('/a.b(c)')).toBe(true);
    expect(pathGlob('/a.b').test('/axb')).toBe(false);
  });

  it('marks accepted findings, keeps them, follows derived ones, and they do not count for the exit status', () => {
    const r = realisticReport();
    const acc = parseAccept(undefined, 'kind=timestamp path=/efiboot.img/** field=dirent.*\nkind=random-id format=gpt\nkind=ordering');
    const out = applyAccept(r, acc);
    expect(out.findings.length).toBe(r.findings.length);
    expect(r.findings.some(isAccepted)).toBe(false); // the input is not changed
    const accepted = out.findings.filter(isAccepted).map((f) => f.id);
    // f7 fat.dirent.mtime (field without its format prefix), f3 disk GUID and its CRCs f4 f5,
    // f12 ordering and, through it, f11 size and f9 layout
    expect(accepted).toEqual(['f3', 'f4', 'f5', 'f7', 'f9', 'f11', 'f12']);
    expect(exitStatus(out)).toBe(1);
    const all = applyAccept(r, parseAccept('timestamp,random-id,ordering,unknown'));
    expect(all.findings.every(isAccepted)).toBe(true);
    expect(exitStatus(all)).toBe(0);
    expect(exitStatus(r)).toBe(1);
    expect(exitStatus(makeReport([]))).toBe(0);
  });

  it('a derived finding with one cause not accepted stays counted, and cycles stop', () => {
    const r = makeReport([]);
    r.identical = false;
    r.findings = [
      finding({ id: 'a', kind: 'timestamp' }),
      finding({ id: 'b', kind: 'random-id', field: 'x' }),
      finding({ id: 'c', root: false, kind: 'checksum', field: 'crc', causedBy: ['a', 'b'] }),
      finding({ id: 'd', root: false, kind: 'layout', field: 'l1', causedBy: ['e'] }),
      finding({ id: 'e', root: false, kind: 'layout', field: 'l2', causedBy: ['d'] }),
      finding({ id: 'g', root: false, kind: 'size', field: 's', causedBy: ['a', 'missing'] }),
    ];
    const out = applyAccept(r, parseAccept('timestamp'));
    expect(out.findings.filter(isAccepted).map((f) => f.id)).toEqual(['a', 'g']);
    expect(exitStatus(out)).toBe(1);
    const chain = makeReport([]);
    chain.findings = [finding({ id: 'r0' })];
    for (let i = 1; i < 50_000; i++) chain.findings.push(finding({ id: `r${i}`, root: false, kind: 'layout', causedBy: [`r${i - 1}`] }));
    expect(applyAccept(chain, parseAccept('timestamp')).findings.every(isAccepted)).toBe(true);
  });
});
