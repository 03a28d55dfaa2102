import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReprodiffError } from '../../src/errors.js';
import { BufferSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container, Span } from '../../src/model.js';
import { parsePe, peFormat } from '../../src/formats/pe/index.js';
import { DerReader } from '../../src/formats/pe/der.js';
import { hasTool, scratch } from '../helpers/tools.js';

const STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
const KERNEL = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux';
const ctx = { limits: { ...DEFAULT_LIMITS } };
const { dir, cleanup } = scratch('reprodiff-pe-');
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

afterAll(() => cleanup());

function load(path: string): { c: Container; bytes: Uint8Array } {
  const bytes = new Uint8Array(readFileSync(path));
  const src = new BufferSource(path, bytes);
  expect(peFormat.detect(src)).toBeGreaterThan(0);
  return { c: parsePe(src, ctx, 'pe').container, bytes };
}
const val = (c: Container, name: string): unknown => c.fields.find((f) => f.name === name)?.value;
function hashSpans(bytes: Uint8Array, spans: Span[]): string {
  const h = createHash('sha256');
  for (const s of spans) h.update(bytes.subarray(s.offset, s.offset + s.length));
  return h.digest('hex');
}

/** objdump -h as [name, size, vma, file offset] */
function objdumpSections(path: string): [string, number, number, number][] {
  const out: [string, number, number, number][] = [];
  for (const line of sh(`objdump -h '${path}'`).split('\n')) {
    const m = /^\s+\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)/.exec(line);
    if (m) out.push([m[1]!, parseInt(m[2]!, 16), parseInt(m[3]!, 16), parseInt(m[4]!, 16)]);
  }
  return out;
}

describe('PE: systemd-boot stub', () => {
  it.skipIf(!existsSync(STUB) || !hasTool('objdump'))('lists the sections objdump -h lists', () => {
    const { c } = load(STUB);
    const ref = objdumpSections(STUB);
    const base = val(c, 'pe.opt.image_base') as number;
    expect(c.entries.map((e) => e.path)).toEqual(ref.map((r) => '/' + r[0]));
    c.entries.forEach((e, i) => {
      const f = (n: string): unknown => e.fields.find((x) => x.name === n)?.value;
      expect(f('pe.section.virtual_size')).toBe(ref[i]![1]);
      expect(base + (f('pe.section.virtual_address') as number)).toBe(ref[i]![2]);
      expect(e.extents[0]?.offset).toBe(ref[i]![3]);
    });
    expect(val(c, 'pe.coff.number_of_symbols')).toBeGreaterThan(0);
    expect(c.regions.some((r) => r.name.startsWith('COFF symbol'))).toBe(true);
    expect(c.fields.find((f) => f.name === 'pe.coff.timestamp')?.kind).toBe('timestamp');
  });
});

describe('PE: Authenticode', () => {
  beforeAll(() => {
    if (!hasTool('openssl') || !existsSync(STUB)) return;
    sh(`openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 30 -subj '/O=reprodiff tests/CN=Throwaway Signer' 2>/dev/null`);
    copyFileSync(STUB, join(dir, 'stub.efi'));
  });

  it.skipIf(!hasTool('sbsign') || !hasTool('sbverify') || !existsSync(STUB))('reads an sbsign signature as sbverify does, and its digest covers the image', () => {
    sh('sbsign --key key.pem --cert cert.pem --output s1.efi stub.efi 2>/dev/null');
    const { c, bytes } = load(join(dir, 's1.efi'));
    const issuers = sh('sbverify --list s1.efi').split('\n').filter((l) => l.startsWith(' - /')).map((l) => l.slice(3));
    expect(val(c, 'pe.authenticode.signer.issuer')).toBe(issuers[0]);
    expect(val(c, 'pe.cert.type')).toBe('PKCS_SIGNED_DATA');
    expect(val(c, 'pe.authenticode.digest_algorithm')).toBe('sha256');
    const digest = c.fields.find((f) => f.name === 'pe.authenticode.digest')!;
    expect(digest.derived).toBe(true);
    expect(hashSpans(bytes, digest.covers!)).toBe(digest.value);
    // the signing time is now, give or take
    const t = Date.parse(val(c, 'pe.authenticode.signing_time') as string);
    expect(Math.abs(Date.now() - t)).toBeLessThan(10 * 60 * 1000);
    // the serial is the certificate's
    const serial = sh('openssl x509 -in cert.pem -noout -serial').trim().split('=')[1]!.toLowerCase();
    expect((val(c, 'pe.authenticode.signer.serial') as string).replace(/^0+/, '')).toBe(serial.replace(/^0+/, ''));
    const sig = c.fields.find((f) => f.name === 'pe.authenticode.signer.signature')!;
    expect(sig.kind).toBe('checksum');
    expect(sig.covers?.length).toBeGreaterThan(0);
  });

  it.skipIf(!hasTool('sbsign') || !existsSync(STUB))('two sbsign runs seconds apart differ in signing_time', async () => {
    sh('sbsign --key key.pem --cert cert.pem --output a.efi stub.efi 2>/dev/null');
    await new Promise((r) => setTimeout(r, 1100));
    sh('sbsign --key key.pem --cert cert.pem --output b.efi stub.efi 2>/dev/null');
    const a = load(join(dir, 'a.efi')).c;
    const b = load(join(dir, 'b.efi')).c;
    expect(val(a, 'pe.authenticode.signing_time')).not.toBe(val(b, 'pe.authenticode.signing_time'));
    expect(val(a, 'pe.authenticode.digest')).toBe(val(b, 'pe.authenticode.digest'));
    const st = a.fields.find((f) => f.name === 'pe.authenticode.signing_time')!;
    expect(st.hint).toMatch(/sbsign/);
  });

  it.skipIf(!hasTool('osslsigncode') || !existsSync(STUB))('reads the time osslsigncode -time stamps', () => {
    sh('osslsigncode sign -certs cert.pem -key key.pem -time 1700000000 -in stub.efi -out o.efi >/dev/null');
    const { c, bytes } = load(join(dir, 'o.efi'));
    expect(val(c, 'pe.authenticode.signing_time')).toBe('2023-11-14T22:13:20Z');
    const digest = c.fields.find((f) => f.name === 'pe.authenticode.digest')!;
    expect(hashSpans(bytes, digest.covers!)).toBe(digest.value);
  });

  it.skipIf(!existsSync(KERNEL) || !hasTool('sbverify'))('reads the Debian signature on the d-i kernel', () => {
    const { c, bytes } = load(KERNEL);
    const issuers = sh(`sbverify --list '${KERNEL}'`).split('\n').filter((l) => l.startsWith(' - /')).map((l) => l.slice(3));
    expect(val(c, 'pe.authenticode.signer.issuer')).toBe(issuers[0]);
    const digest = c.fields.find((f) => f.name === 'pe.authenticode.digest')!;
    expect(hashSpans(bytes, digest.covers!)).toBe(digest.value);
  });
});

describe('hostile PE', () => {
  const stubBytes = (): Uint8Array => new Uint8Array(readFileSync(STUB));
  const err = (bytes: Uint8Array): ReprodiffError => {
    try {
      parsePe(new BufferSource('evil.efi', bytes), ctx, 'pe');
    } catch (e) {
      return e as ReprodiffError;
    }
    throw new Error('no error');
  };
  it('rejects e_lfanew past the end', () => {
    const b = new Uint8Array(0x80);
    b.set([0x4d, 0x5a]);
    new DataView(b.buffer).setUint32(0x3c, 0x7fffffff, true);
    expect(peFormat.detect(new BufferSource('x', b))).toBe(0);
    const e = err(b);
    expect(e).toBeInstanceOf(ReprodiffError);
    expect(e.message).toMatch(/e_lfanew/);
    expect(e.offset).toBe(0x3c);
  });
  it.skipIf(!existsSync(STUB))('rejects a section starting past the end of the file', () => {
    const b = stubBytes();
    const v = new DataView(b.buffer);
    const lfanew = v.getUint32(0x3c, true);
    const tbl = lfanew + 24 + v.getUint16(lfanew + 20, true);
    v.setUint32(tbl + 20, b.length + 4096, true);
    expect(err(b).message).toMatch(/past the end/);
  });
  it.skipIf(!existsSync(STUB))('refuses a section count of 65535', () => {
    const b = stubBytes();
    const v = new DataView(b.buffer);
    v.setUint16(v.getUint32(0x3c, true) + 6, 65535, true);
    expect(err(b).code).toBe('E_LIMIT');
  });
  it.skipIf(!existsSync(STUB))('survives truncation at every header boundary', () => {
    const b = stubBytes();
    for (const n of [0x40, 0x84, 0x90, 0x100, 0x180, 0x200, 0x300]) {
      expect(() => parsePe(new BufferSource('cut.efi', b.subarray(0, n)), ctx, 'pe')).toThrow(ReprodiffError);
    }
  });
  it('DER reader refuses huge lengths, BER and deep nesting', () => {
    const r = (bytes: number[]): DerReader => new DerReader(new Uint8Array(bytes), 0, 'sig');
    expect(() => r([0x30, 0x84, 0xff, 0xff, 0xff, 0xf0, 0]).read(0, 7)).toThrow(/runs past/);
    expect(() => r([0x30, 0x88, 1, 1, 1, 1, 1, 1, 1, 1]).read(0, 10)).toThrow(/too large/);
    expect(() => r([0x30, 0x80, 0, 0]).read(0, 4)).toThrow(/indefinite/);
    const deep: number[] = [];
    for (let i = 0; i < 40; i++) deep.push(0x30, 2 * (40 - i - 1));
    const dr = r(deep);
    let el = dr.read(0, deep.length);
    expect(() => {
      for (;;) el = dr.children(el)[0]!;
    }).toThrow(/nesting|lacks|constructed/);
  });
  it.skipIf(!hasTool('sbsign') || !existsSync(STUB))('a corrupted signature length inside the certificate becomes a note, not a crash', () => {
    const b = new Uint8Array(readFileSync(join(dir, 's1.efi')));
    const v = new DataView(b.buffer);
    const lfanew = v.getUint32(0x3c, true);
    const certOff = v.getUint32(lfanew + 24 + 112 + 4 * 8, true);
    // SEQUENCE length of the ContentInfo -> huge
    b[certOff + 8 + 1] = 0x84;
    b.set([0x7f, 0xff, 0xff, 0xff], certOff + 8 + 2);
    const c = parsePe(new BufferSource('bad.efi', b), ctx, 'pe').container;
    expect(c.notes.join('\n')).toMatch(/certificate 0/);
  });
});
