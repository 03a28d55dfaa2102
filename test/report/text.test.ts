import { describe, expect, it } from 'vitest';
import { makeReport, realisticReport, SOURCE_DATE_HINT } from '../fixtures/report/sample.js';
import { colorWanted, humanBytes, renderText, wrap } from '../../src/report/text.js';

const ESC = '\x1b';

describe('renderText', () => {
  const r = realisticReport();

  it('leads with the verdict, then what to fix: one group per tool with its fix, then its findings', () => {
    const t = renderText(r, { color: false });
    const lines = t.split('\n');
    expect(lines[0]).toBe('reprodiff: differs: 9 root causes, 2,671 of 2,675 differing bytes explained (4 unexplained)');
    expect(t).toContain('What to fix: ');
    // the ISO volume dates and the GPT GUID are one xorriso group with one fix, listed once
    expect(t).toMatch(/^ {2}\d+\. xorriso: 3 root causes, 2 derived findings$/m);
    expect(t.split('-volume_date all_file_dates').length - 1).toBe(1);
    // its findings follow it, with both decoded values and derived findings folded under their cause
    const x = t.indexOf('. xorriso:');
    expect(t.indexOf('f1 timestamp  /  iso9660 pvd.creation_date')).toBeGreaterThan(x);
    expect(t).toContain('f3 random-id  /  gpt gpt.header.disk_guid\n       5b7f6f3c-2a1e-4d55-9c0e-8f1a2b3c4d5e → c1d2e3f4-a5b6-47c8-99d0-e1f2a3b4c5d6\n       + 2 derived findings: checksum 2');
    expect(t).not.toContain('gpt.header.crc32');
    // FAT serial and FAT times: one mkfs.fat/mtools group
    expect(t).toMatch(/^ {2}\d+\. mkfs\.fat \/ mtools: 2 root causes$/m);
    // findings come before detail: the hex/diff detail is in a closing section
    expect(t.indexOf('Detail (')).toBeGreaterThan(t.indexOf('f12 ordering'));
    expect(t.indexOf('-kernel/fs/ext4/ext4.ko')).toBeGreaterThan(t.indexOf('Detail ('));
  });

  it('wraps to the width (default 100), fix text on whole words', () => {
    for (const width of [undefined, 60, 140]) {
      const t = renderText(r, { color: false, width });
      const w = width ?? 100;
      for (const line of t.split('\n')) expect(Array.from(line).length, line).toBeLessThanOrEqual(w);
      // the xorriso fix is all there, wrapped, not cut
      const fixLines = t.split('\n').filter((l) => /^ {5}(?:fix: |[^ f+])/.test(l) && !/ → /.test(l));
      expect(fixLines.join(' ').replace(/^\s*fix: /, '').replace(/\s+/g, ' ')).toContain('xorriso 1.5.4 then takes the volume dates, every file date, the GPT GUIDs');
    }
    expect(wrap('aaa bbb ccc', 10)).toEqual(['aaa bbb', 'ccc']);
    expect(wrap('x'.repeat(25), 10)).toEqual(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
  });

  it('has no ANSI codes unless asked, and colours when asked', () => {
    expect(renderText(r, { color: false })).not.toContain(ESC);
    const c = renderText(r, { color: true });
    expect(c).toContain(`${ESC}[1m${ESC}[31mdiffers:`);
    expect(c.replace(/\x1b\[[0-9;]*m/g, '')).toBe(renderText(r, { color: false }));
  });

  it('cuts at maxFindings with a clear "N more" line', () => {
    const t = renderText(r, { color: false, maxFindings: 3 });
    expect(t).toContain('… 6 more root findings not shown (all are in the JSON report)');
    expect(t.match(/ → /g)?.length).toBe(3);
    expect(renderText(r, { color: false, maxFindings: 100 })).not.toContain('more root finding');
  });

  it('clips lines to the width', () => {
    const wide = makeReport([
      { path: '/' + 'deep/'.repeat(60) + 'file', format: 'tar', field: 'tar.header.mtime', kind: 'timestamp', root: true, a: 'x'.repeat(300), b: 'y'.repeat(10), spans: [] },
    ]);
    const t = renderText(wide, { color: false, width: 80 });
    for (const line of t.split('\n')) expect(Array.from(line).length).toBeLessThanOrEqual(80);
    expect(t).toMatch(/x+… → y{10}$/m);
  });

  it('makes control characters from images visible so they cannot drive the terminal', () => {
    const evil = makeReport([
      { path: `/a${ESC}]0;owned${'\x07'}\r\n${ESC}[2J.txt`, format: 'cpio', field: null, kind: 'content', root: true, a: `${ESC}[31mred`, b: '\u202eevil', spans: [], hint: `fix${ESC}[8m` },
    ]);
    for (const color of [false, true]) {
      const t = renderText(evil, { color });
      const stripped = t.replace(/\x1b\[(?:[0-9;]*)m/g, ''); // our own SGR colours only
      expect(stripped).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f\u202e]/);
      expect(t).toContain('/a\\x1b]0;owned\\x07\\r\\n\\x1b[2J.txt');
      expect(t).toContain('\\x1b[31mred → \\u202eevil');
    }
  });

  it('says identical in one line and is deterministic', () => {
    const same = makeReport([]);
    expect(renderText(same, { color: false }).split('\n')[0]).toBe('reprodiff: identical');
    expect(renderText(r, { color: true, width: 100 })).toBe(renderText(realisticReport(), { color: true, width: 100 }));
  });

  it('shows accepted findings apart, not as root causes', () => {
    const acc = realisticReport();
    for (const f of acc.findings) if (f.kind === 'timestamp') Object.assign(f, { accepted: true });
    const t = renderText(acc, { color: false });
    expect(t.split('\n')[0]).toContain('differs: 5 root causes (+4 accepted)');
    expect(t).toContain('Accepted, not counted: 4 root causes (timestamp 4)');
    expect(t).not.toMatch(/^ {5}f\d+ timestamp/m);
  });
});

describe('colorWanted', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  it.each([
    ['a TTY', tty, {}, true],
    ['a pipe', pipe, {}, false],
    ['a stream without isTTY', {}, {}, false],
    ['NO_COLOR on a TTY', tty, { NO_COLOR: '1' }, false],
    ['empty NO_COLOR on a TTY', tty, { NO_COLOR: '' }, true],
    ['FORCE_COLOR on a pipe', pipe, { FORCE_COLOR: '1' }, true],
    ['FORCE_COLOR=true on a pipe', pipe, { FORCE_COLOR: 'true' }, true],
    ['FORCE_COLOR with NO_COLOR', pipe, { FORCE_COLOR: '2', NO_COLOR: '1' }, true],
    ['FORCE_COLOR=0 on a TTY', tty, { FORCE_COLOR: '0' }, false],
    ['empty FORCE_COLOR on a pipe', pipe, { FORCE_COLOR: '' }, false],
    ['TERM=dumb on a TTY', tty, { TERM: 'dumb' }, false],
  ] as const)('%s', (_, stream, env, want) => {
    expect(colorWanted(stream, env)).toBe(want);
  });
});

describe('sizes', () => {
  it('formats sizes', () => {
    expect(humanBytes(0)).toBe('0 B');
    expect(humanBytes(1536)).toBe('1.5 KiB');
    expect(humanBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
});
