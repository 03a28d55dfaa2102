/**
 * A small bounded DER reader (X.690) for Authenticode's PKCS#7 SignedData: definite lengths only,
 * every length checked against its parent, nesting depth and child counts capped.
 */
import { ReprodiffError } from '../../errors.js';

export const MAX_DER_DEPTH = 32;
export const MAX_DER_CHILDREN = 10_000;

export interface Der {
  /** the full identifier octet (class, constructed bit, tag number < 31) */
  tag: number;
  constructed: boolean;
  /** offset of the identifier octet within the buffer */
  start: number;
  /** offset of the contents */
  contentStart: number;
  /** end of the contents (exclusive) */
  end: number;
  depth: number;
}

export class DerReader {
  constructor(
    readonly data: Uint8Array,
    /** offset of `data` in the source, for messages */
    readonly base: number,
    readonly file: string,
  ) {}

  error(at: number, message: string): ReprodiffError {
    return new ReprodiffError('E_FORMAT', message, { file: this.file, structure: 'Authenticode DER', offset: this.base + at });
  }

  /** Reads the element at `off`, which must end by `limit`. */
  read(off: number, limit: number, depth = 0): Der {
    if (depth > MAX_DER_DEPTH) throw new ReprodiffError('E_LIMIT', `DER nesting deeper than ${MAX_DER_DEPTH}`, { file: this.file, structure: 'Authenticode DER', offset: this.base + off });
    if (off + 2 > limit) throw this.error(off, 'DER element header runs past its parent');
    const tag = this.data[off] as number;
    if ((tag & 0x1f) === 0x1f) throw this.error(off, 'multi-byte DER tags are not supported');
    let p = off + 1;
    const first = this.data[p++] as number;
    let len: number;
    if (first < 0x80) len = first;
    else if (first === 0x80) throw this.error(off, 'indefinite DER length (BER) is not supported');
    else {
      const n = first & 0x7f;
      if (n > 4) throw this.error(off, `DER length of ${n} bytes is too large`);
      if (p + n > limit) throw this.error(off, 'DER length runs past its parent');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (this.data[p++] as number);
    }
    if (len > limit - p) throw this.error(off, `DER element of ${len} bytes runs past its parent`);
    return { tag, constructed: (tag & 0x20) !== 0, start: off, contentStart: p, end: p + len, depth };
  }

  /** The children of a constructed element. */
  children(el: Der): Der[] {
    if (!el.constructed) throw this.error(el.start, 'expected a constructed DER element');
    const out: Der[] = [];
    let p = el.contentStart;
    while (p < el.end) {
      const c = this.read(p, el.end, el.depth + 1);
      out.push(c);
      if (out.length > MAX_DER_CHILDREN) throw new ReprodiffError('E_LIMIT', `more than ${MAX_DER_CHILDREN} DER elements in one set`, { file: this.file, structure: 'Authenticode DER', offset: this.base + p });
      p = c.end;
    }
    return out;
  }

  /** Child `i`, which must have tag `tag` when given. */
  child(el: Der, i: number, tag?: number): Der {
    const c = this.children(el)[i];
    if (!c) throw this.error(el.start, `DER element lacks child ${i}`);
    if (tag !== undefined && c.tag !== tag) throw this.error(c.start, `DER tag 0x${c.tag.toString(16)} where 0x${tag.toString(16)} is expected`);
    return c;
  }

  bytes(el: Der): Uint8Array {
    return this.data.subarray(el.contentStart, el.end);
  }

  oid(el: Der): string {
    if (el.tag !== 0x06) throw this.error(el.start, 'expected an OBJECT IDENTIFIER');
    const b = this.bytes(el);
    const parts: number[] = [];
    let v = 0;
    for (let i = 0; i < b.length; i++) {
      v = v * 128 + ((b[i] as number) & 0x7f);
      if (((b[i] as number) & 0x80) === 0) {
        if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
        else parts.push(v);
        v = 0;
      }
    }
    return parts.join('.');
  }

  hex(el: Der): string {
    return Buffer.from(this.bytes(el)).toString('hex');
  }

  string(el: Der): string {
    const b = this.bytes(el);
    if (el.tag === 0x1e) return new TextDecoder('utf-16be').decode(b);
    return new TextDecoder(el.tag === 0x0c ? 'utf-8' : 'latin1').decode(b);
  }

  /** UTCTime / GeneralizedTime as ISO 8601 UTC, or null. */
  time(el: Der): string | null {
    const s = new TextDecoder('latin1').decode(this.bytes(el));
    let m: RegExpExecArray | null;
    if (el.tag === 0x17 && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s))) {
      const yy = Number(m[1]);
      return `${yy >= 50 ? 1900 + yy : 2000 + yy}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}Z`;
    }
    if (el.tag === 0x18 && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d+)?Z$/.exec(s))) {
      return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ''}Z`;
    }
    return null;
  }
}

const NAME_OIDS: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.42': 'GN',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.25': 'DC',
};

/** An X.501 Name in OpenSSL's one-line form (`/C=DE/O=Example/CN=Signer`), as sbverify prints it. */
export function nameToString(r: DerReader, name: Der): string {
  let s = '';
  for (const rdn of r.children(name)) {
    for (const atv of r.children(rdn)) {
      const [type, value] = r.children(atv);
      if (!type || !value) continue;
      const oid = r.oid(type);
      s += `/${NAME_OIDS[oid] ?? oid}=${r.string(value)}`;
    }
  }
  return s;
}
