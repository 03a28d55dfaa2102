import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTool, scratch } from '../helpers/tools.js';
import { makeReport, realisticReport } from '../fixtures/report/sample.js';
import { detailView, htmlCsp, KIND_COLORS, renderHtml } from '../../src/report/html.js';
import { cli, ROOT } from '../helpers/cli.js';

const XSS_IMG = '/<img src=x onerror=alert(1)>.txt';
const XSS_MARK = `/<img src=y onerror="document.documentElement.setAttribute('data-pwned','img')">.txt`;
const XSS_SCRIPT = `/</script><script>document.documentElement.setAttribute('data-pwned','script')</script>`;
const XSS_ATTR = `/" onmouseover="x" data-x=".txt`;

function hostileReport() {
  const r = realisticReport();
  const base = r.findings.length;
  const extra = [XSS_IMG, XSS_MARK, XSS_SCRIPT, XSS_ATTR].map((path, i) => ({
    id: `f${base + i + 1}`,
    path,
    format: 'fat' as const,
    field: 'fat.dirent.mtime',
    kind: 'timestamp' as const,
    root: true,
    causedBy: [],
    a: `<img src=z onerror="document.documentElement.setAttribute('data-pwned','value')">`,
    b: '2026-11-22T06:45:02Z',
    spans: [],
    detail: `-<script>document.documentElement.setAttribute('data-pwned','detail')</script>\n+</pre></td></tr></table><img src=q onerror=alert(2)>`,
    hint: '<b>not bold</b>',
  }));
  r.findings.push(...extra);
  r.inputs[0] = { path: XSS_SCRIPT, size: 1, sha256: null };
  return r;
}

describe('renderHtml (static)', () => {
  it('is self-contained: no external URLs, inline style and script, a CSP that allows only its own script', () => {
    const html = renderHtml(realisticReport());
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:|\/\/)/i);
    expect(html).not.toMatch(/<link\b|<script[^>]*\ssrc=|@import|url\(/i);
    const scripts = [...html.matchAll(/<script>([^]*?)<\/script>/g)].map((m) => m[1] as string);
    expect(scripts.length).toBe(1);
    const hash = createHash('sha256').update(scripts[0] as string).digest('base64');
    expect(htmlCsp()).toContain(`script-src 'sha256-${hash}'`);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;;`);
  });

  it('escapes every image string and keeps embedded JSON inside its script element', () => {
    const r = hostileReport();
    const html = renderHtml(r);
    expect(html).not.toContain('<img');
    expect(html).not.toMatch(/<b>not bold/);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;.txt');
    // the only </script> closings are the two elements the page has
    expect(html.match(/<\/script>/gi)?.length).toBe(2);
    const json = /<script type="application\/json" id="reprodiff-summary">([^]*?)<\/script>/.exec(html)?.[1] ?? '';
    expect(json).not.toMatch(/[<>&]/);
    expect((JSON.parse(json) as { inputs: { path: string }[] }).inputs[0]?.path).toBe(XSS_SCRIPT);
    // attribute values cannot be closed by a quote in a path
    expect(html).toContain('data-path="/&quot; onmouseover=&quot;x&quot; data-x=&quot;.txt"');
  });

  it('is deterministic', () => {
    expect(renderHtml(realisticReport())).toBe(renderHtml(realisticReport()));
  });

  it('shows diffs side by side', () => {
    const v = detailView('@@ -1,2 +1,2 @@\n same\n-old <x>\n+new <y>\n+added', 1000);
    expect(v).toContain('<td class="hunk" colspan="2">@@ -1,2 +1,2 @@</td>');
    expect(v).toContain('<tr><td>same</td><td>same</td></tr>');
    expect(v).toContain('<tr><td class="del">old &lt;x&gt;</td><td class="add">new &lt;y&gt;</td></tr>');
    expect(v).toContain('<tr><td class=""></td><td class="add">added</td></tr>');
    expect(detailView('plain text', 1000)).toBe('<pre>plain text</pre>');
  });
});

interface BrowserResult {
  ready: string | null;
  total: number;
  initial: number;
  afterTimestampOff: number;
  timestampVisibleAfterOff: number;
  afterDerivedOff: number;
  derivedVisibleAfterOff: number;
  afterAll: number;
  underEfiboot: number;
  shownText: string;
  imgs: number;
  pwned: string | null;
  alerted: string | null;
  pathCellHasImgText: boolean;
}

/** Clicks filters like a person would and writes what it saw into the page, for --dump-dom. */
const PROBE = `<script>
window.addEventListener('load', function () {
  function visible() { return Array.prototype.filter.call(document.querySelectorAll('tbody.finding'), function (r) { return !r.hidden && r.offsetParent !== null; }); }
  var res = { ready: document.body.getAttribute('data-ready'), total: document.querySelectorAll('tbody.finding').length };
  res.initial = visible().length;
  document.querySelector('input[data-filter="kind"][value="timestamp"]').click();
  res.afterTimestampOff = visible().length;
  res.timestampVisibleAfterOff = visible().filter(function (r) { return r.getAttribute('data-kind') === 'timestamp'; }).length;
  document.querySelector('input[data-filter="role"][value="derived"]').click();
  res.afterDerivedOff = visible().length;
  res.derivedVisibleAfterOff = visible().filter(function (r) { return r.getAttribute('data-role') === 'derived'; }).length;
  document.querySelector('input[data-filter="kind"][value="timestamp"]').click();
  document.querySelector('input[data-filter="role"][value="derived"]').click();
  res.afterAll = visible().length;
  document.querySelector('#tree button[data-prefix="/efiboot.img"]').click();
  res.underEfiboot = visible().length;
  res.shownText = document.getElementById('shown').textContent;
  res.imgs = document.querySelectorAll('img').length;
  res.pwned = document.documentElement.getAttribute('data-pwned');
  res.alerted = document.documentElement.getAttribute('data-alert');
  res.pathCellHasImgText = Array.prototype.some.call(document.querySelectorAll('td.path'), function (td) { return td.textContent === ${JSON.stringify(XSS_IMG)}; });
  var out = document.createElement('pre');
  out.id = 'probe-result';
  out.textContent = JSON.stringify(res);
  document.body.appendChild(out);
});
</script>`;
const ALERT_TRAP = `<script>window.alert = function () { document.documentElement.setAttribute('data-alert', '1'); };</script>`;

const haveChromium = hasTool('chromium');
if (!haveChromium) console.warn('chromium is not installed: the HTML report browser tests are skipped (apt-get install chromium)');

describe('renderHtml in a real browser (chromium --headless)', () => {
  const tmp = scratch('reprodiff-html-');
  afterAll(() => tmp.cleanup());

  function dumpDom(html: string, name: string, extra: string[] = []): string {
    const file = join(tmp.dir, name);
    writeFileSync(file, html);
    const profile = join(tmp.dir, `profile-${name}`);
    mkdirSync(profile);
    const res = spawnSync(
      'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        '--virtual-time-budget=5000',
        ...extra,
        '--dump-dom',
        `file://${file}`,
      ],
      { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
    );
    if (res.error) throw res.error;
    return res.stdout;
  }

  it.skipIf(!haveChromium)('runs its own script under its CSP', () => {
    const dom = dumpDom(renderHtml(realisticReport()), 'plain.html');
    expect(dom).toMatch(/<body[^>]*data-ready="1"/);
    expect(dom).toContain('<span id="shown">13 of 13 findings shown</span>');
  });

  it.skipIf(!haveChromium)('filters hide rows, the tree narrows by path, and image strings run no script (CSP removed)', () => {
    // Without the CSP, only escaping stands between the names and the page: that is what is tested here.
    const page = renderHtml(hostileReport())
      .replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '')
      .replace('<head>', `<head>${ALERT_TRAP}`)
      .replace('</body>', `${PROBE}</body>`);
    expect(page).not.toContain('Content-Security-Policy');
    const dom = dumpDom(page, 'hostile.html');
    const m = /<pre id="probe-result">([^<]*)<\/pre>/.exec(dom);
    expect(m, 'the probe wrote its result').not.toBeNull();
    const res = JSON.parse((m?.[1] ?? '{}').replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')) as BrowserResult;
    expect(res.ready).toBe('1');
    expect(res.total).toBe(17);
    expect(res.initial).toBe(17);
    // 4 realistic timestamp findings and 4 hostile ones hidden
    expect(res.afterTimestampOff).toBe(9);
    expect(res.timestampVisibleAfterOff).toBe(0);
    // then the 4 derived ones (checksum 2, layout 1, size 1)
    expect(res.afterDerivedOff).toBe(5);
    expect(res.derivedVisibleAfterOff).toBe(0);
    expect(res.afterAll).toBe(17);
    // /efiboot.img and /efiboot.img//EFI/BOOT/BOOTX64.EFI
    expect(res.underEfiboot).toBe(2);
    expect(res.shownText).toBe('2 of 17 findings shown under /efiboot.img');
    expect(res.imgs).toBe(0);
    expect(res.pwned).toBeNull();
    expect(res.alerted).toBeNull();
    expect(res.pathCellHasImgText).toBe(true);
    expect(dom).not.toMatch(/<html[^>]*data-pwned/); // the names themselves, as text, do contain the word
  });

  it.skipIf(!haveChromium)('the probe itself can see an injected script (so the test above can fail)', () => {
    const page = renderHtml(realisticReport())
      .replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '')
      .replace('<head>', `<head>${ALERT_TRAP}`)
      .replace('</body>', `<img src=x onerror="document.documentElement.setAttribute('data-pwned','img')">${PROBE}</body>`);
    const dom = dumpDom(page, 'control.html');
    expect(dom).toMatch(/<html[^>]*data-pwned="img"/);
  });

  it.skipIf(!haveChromium)('with the CSP in place, even an injected handler would not run', () => {
    const page = renderHtml(realisticReport()).replace('</body>', `<img src=x onerror="document.documentElement.setAttribute('data-pwned','img')"></body>`);
    const dom = dumpDom(page, 'csp.html');
    expect(dom).not.toContain('data-pwned="img"');
    expect(dom).toMatch(/<body[^>]*data-ready="1"/);
  });

  /** The page with a probe that records, once loaded, the document's scroll width and its viewport's width. */
  function widths(html: string, name: string, size: string): { scroll: number; client: number; findings: number } {
    const probe = `<script>window.addEventListener('load', function () {
      var t = document.getElementById('findings');
      document.body.setAttribute('data-widths', [document.documentElement.scrollWidth, document.documentElement.clientWidth, t ? Math.ceil(t.getBoundingClientRect().right) : 0].join(' '));
    });</script>`;
    const page = html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '').replace('</body>', `${probe}</body>`);
    const dom = dumpDom(page, name, [`--window-size=${size}`]);
    const m = /data-widths="(\d+) (\d+) (\d+)"/.exec(dom);
    expect(m, 'the probe wrote the widths').not.toBeNull();
    return { scroll: Number(m?.[1]), client: Number(m?.[2]), findings: Number(m?.[3]) };
  }

  it.skipIf(!haveChromium)('has no horizontal overflow at 1280 px nor on a phone-sized window, long paths and values included', () => {
    const wide = realisticReport();
    wide.findings.push({
      id: 'f14', path: '/live/filesystem.squashfs//usr/share/' + 'a-very-long-directory-name/'.repeat(12) + 'x'.repeat(180), format: 'squashfs', field: 'squashfs.inode.mtime',
      kind: 'timestamp', root: true, causedBy: [], a: 'y'.repeat(400), b: 'z'.repeat(400), spans: [], hint: 'a very long fix with a `code-span-that-has-no-spaces-' + 'x'.repeat(120) + '` in it',
    });
    const live = cli([`${ROOT}samples/hybrid-a.iso`, `${ROOT}samples/hybrid-b.iso`, '-q', '--html', join(tmp.dir, 'hybrid.html')]);
    expect(live.status, live.stderr).toBe(1);
    const hybrid = readFileSync(join(tmp.dir, 'hybrid.html'), 'utf8');
    for (const [name, html] of [['wide', renderHtml(wide)], ['hybrid', hybrid]] as const) {
      for (const size of ['1280,900', '500,900']) {
        const w = widths(html, `${name}-${size.replace(',', 'x')}.html`, size);
        expect(w.client, `${name} at ${size}`).toBeGreaterThan(0);
        expect(w.scroll, `${name} at ${size}: page wider than the window`).toBeLessThanOrEqual(w.client);
        expect(w.findings, `${name} at ${size}: findings table past the right edge`).toBeLessThanOrEqual(w.client);
      }
    }
  });
});

describe('renderHtml: fixes first and the byte map', () => {
  it('puts the byte map and the fix groups before the tables, fixes with their code spans', () => {
    const r = realisticReport();
    r.findings[0]!.hint = 'use `gzip -n` <b>now</b>';
    const html = renderHtml(r);
    const at = (s: string) => html.indexOf(s);
    expect(at('id="bytemap"')).toBeGreaterThan(0);
    expect(at('id="bytemap"')).toBeLessThan(at('id="fixes"'));
    expect(at('id="fixes"')).toBeLessThan(at('id="findings"'));
    expect(html).toMatch(/<h3>xorriso <span class="count">3 root causes, 2 derived findings<\/span><\/h3><p class="fix"><b>Fix:<\/b> export SOURCE_DATE_EPOCH and add <code>-volume_date all_file_dates =\$SOURCE_DATE_EPOCH<\/code>/);
    // a reader's hint: the code span as code, the rest escaped
    expect(html).toContain('<b>fix:</b> use <code>gzip -n</code> &lt;b&gt;now&lt;/b&gt;');
    // one strip per input, each piece linked to a finding the page has
    const strips = [...html.matchAll(/<svg viewBox="0 0 1000 20"[^]*?<\/svg>/g)].map((m) => m[0]);
    expect(strips).toHaveLength(2);
    for (const svg of strips) {
      const links = [...svg.matchAll(/<a href="#finding-(f\d+)"><rect [^>]*fill="(#[0-9a-f]{6})"/g)];
      expect(links.length).toBeGreaterThanOrEqual(3);
      for (const [, id] of links) expect(html).toContain(`id="finding-${id}"`);
      // the unexplained bytes (f13, kind unknown, at 0x7ffe00) are red and linked to their finding
      expect(links.some(([, id, fill]) => id === 'f13' && fill === KIND_COLORS.unknown)).toBe(true);
      // the GPT CRC (derived) is drawn in the colour of its root cause, the GUID (random-id)
      expect(links.some(([, id, fill]) => id === 'f3' && fill === KIND_COLORS['random-id'])).toBe(true);
      expect(links.some(([, id]) => id === 'f4' || id === 'f5')).toBe(false);
    }
    expect(Object.entries(KIND_COLORS).filter(([k, c]) => k !== 'unknown' && c === KIND_COLORS.unknown)).toEqual([]);
  });
});

describe('renderHtml on an identical pair', () => {
  it('says identical and has no script', () => {
    const html = renderHtml(makeReport([]));
    expect(html).toContain('<p class="verdict identical">identical</p>');
    expect(html).not.toMatch(/<script>/);
  });
});
