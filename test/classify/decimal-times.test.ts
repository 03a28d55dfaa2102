/**
 * Decimal times in ASCII headers (ar's 12-character mtime) are read as decimal seconds, not as the 8 hex
 * digits of a cpio newc header, when the bytes are looked at as content (an ar archive no parser opened).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { explainContent } from '../../src/classify/content.js';
import { BINARY_TIME_DECODERS } from '../../src/classify/values-time.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const { dir, cleanup } = scratch('reprodiff-decimal-');
afterAll(cleanup);
const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

describe('decimal header times', () => {
  it.skipIf(!hasTool('ar')).each([[2], [73], [4000]])('an ar member mtime (ar rcU) of a file touched %i s later', (delta) => {
    // binary member data around the headers, as a .deb's compressed tarballs are
    writeFileSync(join(dir, 'm.o'), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 2654435761) >>> 24)));
    const times = [1795329917, 1795329917 + delta];
    const arcs = times.map((t, i) => {
      run('touch', ['-d', `@${t}`, 'm.o'], { cwd: dir });
      run('ar', ['rcU', `${delta}-${i}.a`, 'm.o'], { cwd: dir });
      return new Uint8Array(readFileSync(join(dir, `${delta}-${i}.a`)));
    });
    // ar's own listing has the two times
    expect(run('ar', ['tvU', join(dir, `${delta}-0.a`)], { env: { ...process.env, TZ: 'UTC' } })).toMatch(/Nov 22 06:45 2026 m\.o/);
    const e = explainContent(arcs[0]!, arcs[1]!);
    const ts = e.evidence.filter((x) => x.kind === 'timestamp');
    expect(ts.length).toBeGreaterThan(0);
    for (const t of ts) expect(t.description).not.toContain('hex digits');
    expect(ts.some((t) => t.a === iso(times[0]!) && t.b === iso(times[1]!))).toBe(true);
    expect(e.unexplained).toEqual([]);
  });
});

describe('the 8-hex-digit decoder', () => {
  const hex8 = BINARY_TIME_DECODERS.find((d) => d.id === 'hex8-seconds')!;
  const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const at = (text: string, inner: string): [Uint8Array, number] => {
    const b = new TextEncoder().encode(text);
    return [b, text.indexOf(inner)];
  };
  it('does not read eight digits of a decimal ar mtime as hex', () => {
    // an ar header: name, then the 12-character decimal mtime
    for (const start of [0, 1, 2]) {
      const [b, off] = at('debian-binary/  1796191213  0     0     100644  4         `\n', '1796191213');
      expect(hex8.decode(b, off + start, dv(b)), `window at +${start}`).toBeNull();
    }
  });
  it('still reads the mtime of a cpio newc header', () => {
    const mtime = (1796191213).toString(16).toUpperCase().padStart(8, '0');
    const fields = ['00000001', '000081A4', '00000000', '00000000', '00000001', mtime, '00000004', '00000000', '00000000', '00000000', '00000000', '00000005', '00000000'];
    const [b, off] = at('070701' + fields.join('') + 'init\0', mtime);
    expect(hex8.decode(b, off, dv(b))?.value).toBe(iso(1796191213));
    // and one whose hex digits happen to be decimal
    const dec = '65432100';
    const [c, o2] = at('070701' + fields.join('').replace(mtime, dec) + 'init\0', dec);
    expect(hex8.decode(c, o2, dv(c))?.value).toBe(iso(0x65432100));
  });
});
