/**
 * Unified Kernel Images: a systemd-stub PE with .linux, .initrd, .cmdline, .osrel, .uname, .sbat, .pcrsig,
 * .pcrpkey, .splash, .dtb and (multi-profile UKIs) .profile sections. Everything PE is read by the PE
 * reader; the text sections are decoded here as fields.
 */
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import type { Container, Field, Format, OpenContext } from '../../model.js';
import { field } from '../../model.js';
import { hasSection, isPe, parsePe, type PeSection } from '../pe/index.js';

/** text sections held in memory at once */
const MAX_TEXT = 1024 * 1024;
const TEXT_SECTIONS: Record<string, string> = {
  '.cmdline': 'uki.cmdline',
  '.uname': 'uki.uname',
  '.sbat': 'uki.sbat',
  '.pcrsig': 'uki.pcrsig',
  '.pcrpkey': 'uki.pcrpkey',
};

export const ukiFormat: Format = {
  name: 'uki',
  exclusive: true,
  detect(src: ByteSource): number {
    return isPe(src) && hasSection(src, '.linux') ? 80 : 0;
  },
  open(src: ByteSource, ctx: OpenContext): Container {
    return openUki(src, ctx);
  },
};

/** Parses os-release text: KEY=value lines, values unquoted. Returns [key, value, line offset, line length]. */
export function parseOsRelease(text: string): [string, string, number, number][] {
  const out: [string, string, number, number][] = [];
  let at = 0;
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (m) {
      let v = (m[2] as string).trim();
      if ((v.startsWith('"') && v.endsWith('"') && v.length >= 2) || (v.startsWith("'") && v.endsWith("'") && v.length >= 2)) {
        v = v.slice(1, -1).replace(/\\(["'$`\\])/g, '$1');
      }
      out.push([m[1] as string, v, at, Buffer.byteLength(line)]);
    }
    at += Buffer.byteLength(line) + 1;
  }
  return out;
}

function textOf(src: ByteSource, s: PeSection): Bytes | null {
  if (!s.fileLength) return null;
  const len = Math.min(s.fileLength, s.virtualSize || s.fileLength, MAX_TEXT);
  return Bytes.at(src, s.rawPointer, len, `${s.name} section`);
}

function trimmedLength(b: Bytes): number {
  let n = b.length;
  while (n > 0 && b.data[n - 1] === 0) n--;
  return n;
}

export function openUki(src: ByteSource, ctx: OpenContext): Container {
  const pe = parsePe(src, ctx, 'uki');
  const c = pe.container;
  const fields: Field[] = [];
  let profile = -1;
  for (const s of pe.sections) {
    // sections after a .profile section belong to that profile
    if (s.name === '.profile') profile++;
    const pre = profile >= 0 ? `uki.profile[${profile}].` : 'uki.';
    if (s.name === '.osrel' || s.name === '.profile') {
      const b = textOf(src, s);
      if (!b) continue;
      const n = trimmedLength(b);
      const text = b.utf8(0, n);
      const base = s.name === '.osrel' ? `${pre}osrel.` : `${pre}profile.`;
      const enc = new TextEncoder();
      for (const [key, value, off, len] of parseOsRelease(text)) {
        // text offsets are in characters; convert through UTF-8 for spans
        const byteOff = enc.encode(text.slice(0, off)).length;
        fields.push(field(`${base}${key}`, value, 'content', b.spans(Math.min(byteOff, n), Math.min(len, n - Math.min(byteOff, n)))));
      }
      if (s.name === '.profile') c.notes.push(`multi-profile UKI: profile ${profile} at section ${s.index}`);
      continue;
    }
    const name = TEXT_SECTIONS[s.name];
    if (name) {
      const b = textOf(src, s);
      if (!b) continue;
      const n = trimmedLength(b);
      const fname = profile >= 0 ? name.replace(/^uki\./, pre) : name;
      fields.push(field(fname, b.utf8(0, n).replace(/\s+$/, s.name === '.cmdline' ? '' : '\n').trimEnd(), 'content', b.spans(0, Math.max(n, 0))));
    }
  }
  if (!pe.sections.some((s) => s.name === '.linux')) c.notes.push('no .linux section: not a complete UKI');
  c.fields.push(...fields);
  return c;
}
