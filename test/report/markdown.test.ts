import { describe, expect, it } from 'vitest';
import { hasTool, run } from '../helpers/tools.js';
import { makeReport, realisticReport } from '../fixtures/report/sample.js';
import { GITHUB_ISSUE_LIMIT, mdProse, renderMarkdown } from '../../src/report/markdown.js';
import { renderGithubSummary, GITHUB_SUMMARY_LIMIT_BYTES } from '../../src/report/github.js';
import { fenceFor, mdCode, mdText } from '../../src/report/escape.js';
import type { Finding } from '../../src/report/types.js';

/** Renders Markdown the way GitHub does (cmark-gfm with its extensions), raw HTML allowed so any that forms shows. */
function gfm(md: string): string {
  return run('cmark-gfm', ['-e', 'table', '-e', 'autolink', '-e', 'strikethrough', '-e', 'tagfilter', '--unsafe'], { input: md });
}

/** The HTML tags the reports emit on purpose; anything else came from image strings. */
const OURS = new Set(['h2', 'h3', 'ol', 'p', 'strong', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'details', 'summary', 'b', 'br', 'ul', 'li', 'code', 'pre']);
function foreignTags(html: string): string[] {
  const tags = [...html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9-]*)/g)].map((m) => (m[1] as string).toLowerCase());
  return [...new Set(tags.filter((t) => !OURS.has(t)))];
}
/** Text of the HTML with entities decoded (enough for &lt; &gt; &amp; &quot; and numeric ones). */
function decode(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}

const HOSTILE = [
  '/<img src=x onerror=alert(1)>.txt',
  '/**bold**|pipe',
  '/`tick``s` and ```fence',
  '/[link](https://evil.example/x) ![img](http://e/x.png)',
  '/a_b_c *d* ~~e~~ $x^2$ <!-- c --> &amp; &lt;',
  '/www.evil.example and mail@evil.example :smile: https://evil.example',
  '/</details><script>alert(1)</script>',
  '/\\*escaped\\* \\| back\\slash',
];

function hostileReport() {
  return makeReport(
    HOSTILE.map((path, i) => ({
      path,
      format: 'fat' as const,
      field: i % 2 ? 'fat.dirent.mtime' : null,
      kind: i % 2 ? ('timestamp' as const) : ('content' as const),
      root: true,
      a: `a|${path}`,
      b: `<b>${path}</b>`,
      spans: [{ side: 'a' as const, offset: i * 32, length: 4 }],
      detail: 'line\n```\n````` five\n</details>\n<img src=x onerror=alert(2)>',
      hint: i === 1 ? 'touch -d @$SOURCE_DATE_EPOCH <files> [before] *mcopy*' : undefined,
    })),
  );
}

describe('markdown escaping', () => {
  it('mdText escapes Markdown and HTML syntax and keeps one line', () => {
    expect(mdText('**bold**|pipe')).toBe('\\*\\*bold\\*\\*\\|pipe');
    expect(mdText('<img src=x>')).toBe('&lt;img src=x&gt;');
    expect(mdText('a\nb\x1b[31m')).toBe('a\\\\nb\\\\x1b\\[31m');
  });

  it('mdCode picks a backtick run longer than any inside and pads edge backticks', () => {
    expect(mdCode('plain')).toBe('`plain`');
    expect(mdCode('a`b')).toBe('``a`b``');
    expect(mdCode('`x`')).toBe('`` `x` ``');
    expect(mdCode('a|b', { table: true })).toBe('`a\\|b`');
  });

  it('fenceFor is longer than any backtick run', () => {
    expect(fenceFor('no ticks')).toBe('```');
    expect(fenceFor('````` five')).toBe('``````');
  });

  it.skipIf(!hasTool('cmark-gfm'))('hostile names render literally in GitHub-flavoured Markdown (cmark-gfm)', () => {
    const md = renderMarkdown(hostileReport());
    const html = gfm(md);
    expect(foreignTags(html)).toEqual([]);
    expect(html).not.toMatch(/<a\s/);
    expect(html).not.toMatch(/<img/);
    const text = decode(html);
    // every finding is one table row whose path cell holds the name literally
    const cells = [...html.matchAll(/<tr>\s*<td><code>(f\d+)<\/code><\/td>\s*<td><code>([^]*?)<\/code><\/td>/g)].map((m) => decode(m[2] as string));
    expect([...cells].sort()).toEqual([...HOSTILE].sort());
    for (const p of HOSTILE) {
      expect(text).toContain(p);
      expect(text).toContain(`a|${p}`);
      expect(text).toContain(`<b>${p}</b>`);
    }
    // the detail block survives whole: its fence was not closed by the ````` line inside
    expect(text).toContain('````` five\n</details>\n<img src=x onerror=alert(2)>');
    // hints are text too
    expect(text).toContain('touch -d @$SOURCE_DATE_EPOCH <files> [before] *mcopy*');
  });

  it.skipIf(!hasTool('cmark-gfm'))('root findings and fixes are visible, derived findings and details folded, code spans intact', () => {
    const r = realisticReport();
    r.findings[0]!.hint = 'add `-volume_date all_file_dates =$SOURCE_DATE_EPOCH` and `a``b`';
    const md = renderMarkdown(r);
    const html = gfm(md);
    expect(foreignTags(html)).toEqual([]);
    expect(html.match(/<details>/g)?.length).toBe(html.match(/<\/details>/g)?.length);
    // outside every <details>: the headline, each group's fix and all root findings
    const outside = html.replace(/<details>[^]*?<\/details>/g, '');
    expect(outside).toContain('<strong>Differs:</strong> 9 root causes');
    expect(outside).not.toMatch(/Differs.*differs/i);
    const rootIds = r.findings.filter((f) => f.root).map((f) => f.id);
    for (const id of rootIds) expect(outside).toContain(`<td><code>${id}</code></td>`);
    const derivedIds = r.findings.filter((f) => !f.root).map((f) => f.id);
    for (const id of derivedIds) expect(outside).not.toContain(`<td><code>${id}</code></td>`);
    // the xorriso fix keeps its code span whole, underscores and all
    expect(outside).toContain('<code>-volume_date all_file_dates =$SOURCE_DATE_EPOCH</code>');
    // a reader hint with a backtick inside a code span keeps it literally
    expect(decode(html)).toContain('/efiboot.img//EFI/BOOT/BOOTX64.EFI');
    expect(outside).toMatch(/<h3>\d\. xorriso: 3 root causes/);
    // derived ones and details inside
    const inside = [...html.matchAll(/<details>[^]*?<\/details>/g)].map((m) => m[0]).join('');
    for (const id of derivedIds) expect(inside).toContain(`<code>${id}</code>`);
    expect(inside).toContain('-kernel/fs/ext4/ext4.ko');
  });

  it('mdProse turns backtick spans into code spans with enough backticks and escapes the rest', () => {
    expect(mdProse('use `gzip -n` *now*')).toBe('use `gzip -n` \\*now\\*');
    expect(mdProse('a `x` b `y`')).toBe('a `x` b `y`');
    expect(mdProse('lone ` tick')).toBe('lone \\` tick');
    expect(mdProse('`SOURCE_DATE_EPOCH`')).toBe('`SOURCE_DATE_EPOCH`');
  });
});

function bigReport(n: number) {
  const drafts = [] as Parameters<typeof makeReport>[0];
  const long = 'very-long-directory-name-'.repeat(8);
  for (let i = 0; i < n; i++) {
    const root = i % 3 !== 2;
    drafts.push({
      path: `/live/filesystem.squashfs//usr/share/${long}/${i}/file-${i}.txt`,
      format: 'squashfs',
      field: root ? 'squashfs.inode.mtime' : 'squashfs.inode.start_block',
      kind: root ? 'timestamp' : 'layout',
      root,
      causedBy: root ? [] : [`f${i}`],
      a: '2026-11-22T06:30:01Z',
      b: '2026-11-22T06:31:44Z',
      spans: [{ side: 'a', offset: 0x100000 + i * 64, length: 4 }, { side: 'b', offset: 0x100000 + i * 64, length: 4 }],
      hint: 'mksquashfs: set SOURCE_DATE_EPOCH (or -all-time)',
      detail: i % 50 === 0 ? 'x'.repeat(10_000) : undefined,
    });
  }
  return makeReport(drafts);
}

describe('markdown size limits', () => {
  const big = bigReport(5_000);
  const roots = big.findings.filter((f: Finding) => f.root).length;

  it('stays within 65,536 characters on 5,000 findings and says how many were left out', () => {
    const md = renderMarkdown(big);
    expect(md.length).toBeLessThanOrEqual(GITHUB_ISSUE_LIMIT);
    expect(md.length).toBeGreaterThan(GITHUB_ISSUE_LIMIT - 3_000); // the budget is used, not wasted
    const m = /\*\*Left out:\*\* ([\d,]+) root findings and ([\d,]+) derived findings/.exec(md);
    expect(m).not.toBeNull();
    const leftRoots = Number((m?.[1] ?? '').replace(/,/g, ''));
    const leftDerived = Number((m?.[2] ?? '').replace(/,/g, ''));
    // what is listed plus what is counted as left out is every finding
    const listedRoots = (md.match(/^\| `f\d+` \|.*\| `squashfs\.inode\.mtime` \|/gm) ?? []).length;
    const listedDerived = (md.match(/^\| `f\d+` \|.*\| `squashfs\.inode\.start_block` \|/gm) ?? []).length;
    expect(listedRoots + leftRoots).toBe(roots);
    expect(listedDerived + leftDerived).toBe(big.findings.length - roots);
    expect(listedRoots).toBeGreaterThan(0);
  });

  it.skipIf(!hasTool('cmark-gfm'))('a cut report is still well-formed (every <details> closed, fences closed)', () => {
    const html = gfm(renderMarkdown(big));
    expect(html.match(/<details>/g)?.length).toBe(html.match(/<\/details>/g)?.length);
    expect(html).toContain('Left out:');
  });

  it('holds small budgets too, and the GitHub summary stays under 1 MiB in UTF-8 bytes', () => {
    for (const limit of [2_000, 10_000, 30_000]) {
      expect(renderMarkdown(big, { maxLength: limit }).length).toBeLessThanOrEqual(limit);
    }
    const wide = bigReport(20_000);
    for (const f of wide.findings) f.b = 'ü日本語🙂'.repeat(40);
    const summary = renderGithubSummary(wide);
    expect(Buffer.byteLength(summary, 'utf8')).toBeLessThanOrEqual(GITHUB_SUMMARY_LIMIT_BYTES);
    expect(summary.length).toBeGreaterThan(GITHUB_ISSUE_LIMIT);
    expect(summary).toMatch(/Left out:.*within 1,000,000 bytes/);
  });

  it('is deterministic and lists everything when it fits', () => {
    const r = realisticReport();
    expect(renderMarkdown(r)).toBe(renderMarkdown(realisticReport()));
    const md = renderMarkdown(r);
    expect(md).not.toContain('Left out');
    for (const f of r.findings) expect(md).toContain(f.field ?? '(content)');
    expect(md).toMatch(/\| `f3` \| `\/` \| gpt \| `gpt\.header\.disk_guid` \|.*\| random-id \(\+2 derived\) \|/);
    expect(md).toMatch(/\| `f4` \|.*\| checksum from `f3` random-id \|/);
  });

  it('says identical for an identical pair', () => {
    const md = renderMarkdown(makeReport([]));
    expect(md).toContain('**Identical**');
    expect(md).not.toContain('<details>');
  });
});
