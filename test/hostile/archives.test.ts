/**
 * Crafted hostile archives, built in code: a cpio member claiming 4 GB, a zip bomb, archives nested
 * past the depth cap, and member names with `/`, `..`, NUL, control characters, invalid UTF-8, HTML
 * and Markdown. Each must end with exit 0/1/2, a clear message, no trace, in time; names must not
 * leak raw markup or terminal escapes into the reports.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, gzipSync, crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { scratch } from '../helpers/tools.js';
import { expectClean, runCapped } from './harness.js';

const { dir, cleanup } = scratch('reprodiff-hostile-arc-');
afterAll(() => cleanup());

/** One cpio newc member; `size` is what the header claims, `data` what follows. */
function newc(name: Buffer, data: Buffer, o: { mode?: number; size?: number; ino?: number } = {}): Buffer {
  const hex = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
  const nameZ = Buffer.concat([name, Buffer.from([0])]);
  const head = Buffer.from(
    '070701' +
      [o.ino ?? 1, o.mode ?? 0o100644, 0, 0, 1, 0, o.size ?? data.length, 0, 0, 0, 0, nameZ.length, 0].map(hex).join(''),
    'latin1',
  );
  const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  return Buffer.concat([head, nameZ, pad(head.length + nameZ.length), data, pad(data.length)]);
}
const trailer = (): Buffer => newc(Buffer.from('TRAILER!!!'), Buffer.alloc(0), { mode: 0, ino: 0 });

/** A stored (or deflated) single-member zip. */
function zip(members: { name: Buffer; data: Buffer; deflate?: boolean }[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let off = 0;
  for (const m of members) {
    const body = m.deflate ? deflateRawSync(m.data, { level: 9 }) : m.data;
    const method = m.deflate ? 8 : 0;
    const crc = crc32(m.data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(m.data.length, 22);
    lh.writeUInt16LE(m.name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(m.data.length, 24);
    ch.writeUInt16LE(m.name.length, 28);
    ch.writeUInt32LE(off, 42);
    locals.push(lh, m.name, body);
    central.push(ch, m.name);
    off += 30 + m.name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(off, 16);
  return Buffer.concat([...locals, cd, end]);
}

describe('cpio', () => {
  it('a member claiming 4 GB in a small archive', () => {
    const a = join(dir, 'huge-a.cpio');
    const b = join(dir, 'huge-b.cpio');
    writeFileSync(a, Buffer.concat([newc(Buffer.from('etc/motd'), Buffer.from('hello\n')), trailer()]));
    writeFileSync(b, Buffer.concat([newc(Buffer.from('etc/motd'), Buffer.from('hello\n'), { size: 0xffffffff }), trailer()]));
    const r = expectClean(runCapped([a, b, '--json', '-', '--jobs', '1']));
    expect(r.status).not.toBe(0);
  });
});

describe('compression and nesting', () => {
  it('a zip bomb: 64 MiB of zeros deflated to a few KiB', () => {
    const f = join(dir, 'bomb.zip');
    writeFileSync(f, zip([{ name: Buffer.from('zeros.bin'), data: Buffer.alloc(64 * 1024 * 1024), deflate: true }]));
    expect(readFileSync(f).length).toBeLessThan(200 * 1024);
    expectClean(runCapped(['inspect', f]));
  });

  it('gzip nested 20 deep (past the container depth cap) ends cleanly', () => {
    let data: Buffer = Buffer.concat([newc(Buffer.from('core'), Buffer.from('x')), trailer()]);
    for (let i = 0; i < 20; i++) data = gzipSync(data);
    const f = join(dir, 'deep.gz');
    writeFileSync(f, data);
    const r = expectClean(runCapped(['inspect', f]));
    if (r.status === 2) expect(r.stderr).toMatch(/limit|depth|nest/i);
  });

  it('a zip that holds itself under several names (quine-like nesting) ends cleanly', () => {
    let inner = zip([{ name: Buffer.from('self.zip'), data: Buffer.from('seed') }]);
    for (let i = 0; i < 12; i++) inner = zip([{ name: Buffer.from('self.zip'), data: inner }, { name: Buffer.from('again.zip'), data: inner }]);
    const f = join(dir, 'quine.zip');
    writeFileSync(f, inner);
    expectClean(runCapped(['inspect', f]));
  });
});

describe('hostile member names', () => {
  const names = [
    Buffer.from('../../etc/passwd'),
    Buffer.from('/abs/path'),
    Buffer.from('a//b/./c/'),
    Buffer.from('nul\0inside'),
    Buffer.from('esc\x1b[31mred\x1b[0m\rbell\x07'),
    Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0xc0, 0x80, 0x2e, 0x74, 0x78, 0x74]),
    Buffer.from('<script>alert(1)</script><img src=x onerror=alert(2)>'),
    Buffer.from('| pipe | [link](javascript:alert(1)) **bold** `tick` <!-- x'),
  ];
  const build = (content: string): Buffer =>
    Buffer.concat([...names.map((n, i) => newc(n, Buffer.from(`${content}${i}\n`), { ino: i + 1 })), trailer()]);

  it('compare with JSON, HTML and Markdown reports: no crash, no raw markup or escapes', () => {
    const a = join(dir, 'names-a.cpio');
    const b = join(dir, 'names-b.cpio');
    writeFileSync(a, build('one'));
    writeFileSync(b, build('two'));
    const html = join(dir, 'r.html');
    const md = join(dir, 'r.md');
    const r = expectClean(runCapped([a, b, '--json', '-', '--html', html, '--markdown', md, '--jobs', '1']));
    expect(r.status).toBe(1);
    JSON.parse(r.stdout);
    expect(r.stdout).not.toContain('\x1b');
    const h = readFileSync(html, 'utf8');
    expect(h).not.toContain('<script>alert');
    expect(h).not.toContain('<img src=x');
    expect(readFileSync(md, 'utf8')).not.toContain('\x1b');
  });

  it('the terminal report does not pass terminal escapes through', () => {
    const a = join(dir, 'names-a.cpio');
    const b = join(dir, 'names-b.cpio');
    const r = expectClean(runCapped([a, b, '--jobs', '1']));
    expect(r.status).toBe(1);
    expect(r.stdout).not.toContain('\x1b[31m');
  });
});
