/** Lossless name decoding (src/util/names.ts) and how the presenters and the JSON show escaped bytes. */
import { describe, expect, it } from 'vitest';
import { decodeName, encodeName, hasEscapedBytes, showEscapedBytes } from '../../src/util/names.js';
import { escapeHtml, escapeXml, jsonNames, mdText, visible } from '../../src/report/escape.js';

const b = (...x: number[]): Uint8Array => Uint8Array.from(x);

describe('decodeName', () => {
  it('decodes valid UTF-8 as TextDecoder does, with no escapes', () => {
    for (const s of ['', 'etc/motd', 'café', '日本語', 'a\u202eb', '💀 skull', '\0nul']) {
      const bytes = Buffer.from(s, 'utf8');
      expect(decodeName(bytes)).toBe(s);
      expect(hasEscapedBytes(decodeName(bytes))).toBe(false);
    }
  });

  it('keeps each byte outside a valid sequence as U+DC00 + byte (as Python surrogateescape)', () => {
    expect(decodeName(b(0x6e, 0xff))).toBe('n\udcff');
    // an overlong NUL, an encoded surrogate, a sequence cut short, a stray continuation byte, past U+10FFFF
    expect(decodeName(b(0xc0, 0x80))).toBe('\udcc0\udc80');
    expect(decodeName(b(0xed, 0xa0, 0x80))).toBe('\udced\udca0\udc80');
    expect(decodeName(b(0x61, 0xe2, 0x82))).toBe('a\udce2\udc82');
    expect(decodeName(b(0x80, 0x61))).toBe('\udc80a');
    expect(decodeName(b(0xf4, 0x90, 0x80, 0x80))).toBe('\udcf4\udc90\udc80\udc80');
    // valid sequences around an invalid byte are decoded
    expect(decodeName(Buffer.concat([Buffer.from('é'), b(0xfe), Buffer.from('💀')]))).toBe('é\udcfe💀');
    // the python3 reference: b'\xe2\x82x\xff'.decode('utf-8', 'surrogateescape') == '\udce2\udc82x\udcff'
    expect(decodeName(b(0xe2, 0x82, 0x78, 0xff))).toBe('\udce2\udc82x\udcff');
  });

  it('is reversible: encodeName gives back the bytes, so two names that differ in a byte stay two', () => {
    let seed = 12345;
    const next = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    const seen = new Map<string, string>();
    for (let i = 0; i < 3000; i++) {
      const bytes = Uint8Array.from({ length: 1 + (next() % 12) }, () => (next() < 96 ? 0x61 + (next() % 26) : next()));
      const s = decodeName(bytes);
      expect(Buffer.from(encodeName(s)).equals(Buffer.from(bytes))).toBe(true);
      const hex = Buffer.from(bytes).toString('hex');
      const other = seen.get(s);
      if (other !== undefined) expect(other).toBe(hex);
      seen.set(s, hex);
    }
  });

  it('decodes long ASCII and long invalid names', () => {
    const long = Buffer.alloc(10_000, 0x61);
    expect(decodeName(long)).toBe('a'.repeat(10_000));
    long[5000] = 0xff;
    expect(decodeName(long)).toBe(`${'a'.repeat(5000)}\udcff${'a'.repeat(4999)}`);
  });
});

describe('escaped bytes in the presenters and the JSON', () => {
  const name = `/n${decodeName(b(0xff))}\u202e💀`;

  it('every presenter shows an escaped byte as \\xNN, and leaves a valid surrogate pair alone', () => {
    expect(showEscapedBytes(name)).toBe('/n\\xff\u202e💀');
    expect(visible(name)).toBe('/n\\xff\\u202e💀');
    expect(escapeHtml(name)).toBe('/n\\xff\\u202e💀');
    expect(escapeXml(name)).toBe('/n\\xff\\u202e💀');
    expect(mdText(name)).toBe('/n\\\\xff\\\\u202e💀');
  });

  it('JSON: the display form, and the bytes in hex beside path, a and b only when not valid UTF-8', () => {
    const text = JSON.stringify({ findings: [{ path: name, a: 'plain', b: name, spans: [{ stream: name }] }, { path: '/ok', a: 1 }], notes: [name] }, jsonNames);
    expect(text).not.toMatch(/\\ud[c-f]/i);
    const back = JSON.parse(text) as { findings: Record<string, unknown>[]; notes: string[] };
    const hex = Buffer.from(encodeName(name)).toString('hex');
    expect(back.findings[0]).toEqual({ path: '/n\\xff\u202e💀', pathBytes: hex, a: 'plain', b: '/n\\xff\u202e💀', bBytes: hex, spans: [{ stream: '/n\\xff\u202e💀' }] });
    expect(Object.keys(back.findings[0]!)).toEqual(['path', 'pathBytes', 'a', 'b', 'bBytes', 'spans']);
    expect(back.findings[1]).toEqual({ path: '/ok', a: 1 });
    expect(back.notes).toEqual(['/n\\xff\u202e💀']);
    // valid names: byte for byte what JSON.stringify writes
    const plain = { path: '/é\u202e', a: 'x' };
    expect(JSON.stringify(plain, jsonNames, 2)).toBe(JSON.stringify(plain, null, 2));
  });
});
