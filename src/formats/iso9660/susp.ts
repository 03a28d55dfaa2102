/**
 * System Use Sharing Protocol (IEEE P1281) and Rock Ridge (IEEE P1282) entries of one directory record.
 * Continuation areas (CE) are followed with a visited set and a chain cap, so a CE loop ends with E_LOOP.
 */
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import { field, fieldName, type Field } from '../../model.js';
import { isoDate17, isoDate7 } from '../../util/time.js';

const SECTOR = 2048;
/** A SUSP signature as a number: its two ASCII letters, big-endian. */
const sig = (s: string): number => (s.charCodeAt(0) << 8) | s.charCodeAt(1);
const SIG_SP = sig('SP');
const SIG_ST = sig('ST');
const SIG_CE = sig('CE');
const SIG_ER = sig('ER');
const SIG_PX = sig('PX');
const SIG_PN = sig('PN');
const SIG_NM = sig('NM');
const SIG_SL = sig('SL');
const SIG_CL = sig('CL');
const SIG_PL = sig('PL');
const SIG_RE = sig('RE');
const SIG_TF = sig('TF');
const SIG_ZF = sig('ZF');
const sigName = (code: number): string => String.fromCharCode(code >> 8, code & 0xff);
/** entries whose data the reader splits into fields: their 4-byte headers are fields of their own (not NM, SL) */
const SUSP_HEADERS = new Set([SIG_SP, SIG_CE, SIG_PX, SIG_PN, SIG_TF, SIG_CL, SIG_PL, SIG_RE, SIG_ZF, SIG_ST]);

export interface RockRidge {
  /** SUSP in use (SP seen in the root's '.' record) */
  mode?: number;
  nlink?: number;
  uid?: number;
  gid?: number;
  ino?: number;
  name?: string;
  target?: string;
  dev?: { high: number; low: number };
  times: Partial<Record<TfName, string | null>>;
  /** CL: the real location of a relocated directory */
  childLink?: number;
  /** PL: the real parent of a relocated directory */
  parentLink?: number;
  /** RE: this record is the relocated directory itself; it is listed where CL points */
  relocated: boolean;
  /** ZF: zisofs-compressed content */
  zisofs?: { algorithm: string; uncompressedSize: number; blockSizeLog2: number };
  /** SP: bytes to skip at the start of each system use area (root '.' record only) */
  spSkip?: number;
  /** ER extension identifiers (root '.' record) */
  extensions: string[];
  fields: Field[];
  /** continuation areas read, for byte accounting */
  ceSpans: { offset: number; length: number }[];
}

export type TfName = 'creation' | 'modify' | 'access' | 'attributes' | 'backup' | 'expiration' | 'effective';
const TF_ORDER: TfName[] = ['creation', 'modify', 'access', 'attributes', 'backup', 'expiration', 'effective'];
const TF_SUFFIX = TF_ORDER.map((n) => `tf.${n}`);

/**
 * The components of one SL entry as a path (`target-one`, `/usr/lib/x`, `../a`): the symlink target when one
 * entry holds it all, which is the usual case. Flag bits the text does not show are still compared as bytes.
 */
function slText(b: Bytes, p: number, len: number): string {
  let t = '';
  let pending = '';
  let q = 5;
  while (q + 2 <= len) {
    // 0 - component flags, 1 - component length, 2 - component content
    const cflags = b.u8(p + q);
    const clen = b.u8(p + q + 1);
    if (q + 2 + clen > len) break;
    pending += cflags & 2 ? '.' : cflags & 4 ? '..' : cflags & 8 ? '' : b.utf8(p + q + 2, clen);
    if (cflags & 8) t = '/';
    else if (!(cflags & 1)) {
      t = t === '' || t.endsWith('/') ? t + pending : `${t}/${pending}`;
      pending = '';
    }
    q += 2 + clen;
  }
  return pending ? `${t}${t && !t.endsWith('/') ? '/' : ''}${pending}…` : t;
}

export interface SuspContext {
  src: ByteSource;
  maxChain: number;
  /** hints by field name */
  hints: { time: string; inode: string; atime?: string };
  /** false: decode names, modes and times only, and make no fields (the tree walk; fields are read on demand) */
  fields?: boolean;
  /** false: times are not decoded (the tree walk needs none); default: as `fields` */
  times?: boolean;
  /** false: NM and SL are not decoded into a name and a target (making fields needs neither); default true */
  names?: boolean;
  /**
   * With `fields`: makes only the fields whose bytes (`length` at `offset` of the source) this says yes to.
   * The comparer asks for the fields a differing byte touches when both builds hold the record at one place.
   */
  keep?: (offset: number, length: number) => boolean;
}

/**
 * Parses the system use area `area` (already past the SP skip) of a directory record.
 * `prefix` names fields (`rr` for the record, `rr.self` for a directory's '.' record).
 */
export function parseSystemUse(area: Bytes, ctx: SuspContext, prefix: string): RockRidge {
  const rr: RockRidge = { times: {}, relocated: false, extensions: [], fields: [], ceSpans: [] };
  const want = ctx.fields !== false;
  const wantTimes = ctx.times ?? want;
  const wantNames = ctx.names !== false;
  const keep = ctx.keep;
  /** whether to make the field of `len` bytes at `off` of `b` */
  const wants = (b: Bytes, off: number, len: number): boolean => want && (keep === undefined || keep(b.base + off, len));
  let nmParts: string[] | undefined;
  let nmCount = 0;
  let slCount = 0;
  let slComponents: string[] | undefined;
  let slPending = '';
  let visited: Set<number> | undefined;
  let current: Bytes | undefined = area;
  let hops = 0;

  while (current) {
    const b: Bytes = current;
    current = undefined;
    let p = 0;
    while (p + 4 <= b.length) {
      const code = ((b.data[p] as number) << 8) | (b.data[p + 1] as number);
      const len = b.u8(p + 2);
      if (len < 4 || p + len > b.length) break; // padding or damage: stop this area
      // the entry's fields are read from `b` at `p + offset`: no view per entry
      switch (code) {
        case SIG_SP:
          if (len >= 7) rr.spSkip = b.u8(p + 6);
          break;
        case SIG_ST:
          p = b.length; // terminator
          continue;
        case SIG_CE: {
          if (len < 28) break;
          const block = b.u32le(p + 4);
          const off = b.u32le(p + 12);
          const size = b.u32le(p + 20);
          const at = block * SECTOR + off;
          visited ??= new Set<number>();
          if (visited.has(at)) throw b.error(p + 4, `continuation area at offset ${at} is visited twice (CE loop)`, 'E_LOOP');
          if (++hops > ctx.maxChain) throw b.error(p + 4, `more than ${ctx.maxChain} continuation areas`, 'E_LIMIT');
          visited.add(at);
          if (size > 0) {
            if (size > SECTOR * 64) throw b.error(p + 20, `continuation area of ${size} bytes is too large`, 'E_LIMIT');
            current = Bytes.at(ctx.src, at, size, 'SUSP continuation area');
            rr.ceSpans.push({ offset: at, length: size });
            if (wants(b, p + 4, 24)) rr.fields.push(field(fieldName(prefix, `ce.${hops}.location`), at, 'layout', b.spans(p + 4, 24), { derived: true }));
          }
          break;
        }
        case SIG_ER: {
          if (len < 8) break;
          const lenId = b.u8(p + 4);
          if (8 + lenId <= len) rr.extensions.push(b.ascii(p + 8, lenId));
          break;
        }
        case SIG_PX: {
          if (len < 36) break;
          rr.mode = b.u32le(p + 4);
          rr.nlink = b.u32le(p + 12);
          rr.uid = b.u32le(p + 20);
          rr.gid = b.u32le(p + 28);
          if (wants(b, p + 4, 8)) rr.fields.push(field(fieldName(prefix, 'px.mode'), rr.mode.toString(8).padStart(6, '0'), 'permissions', b.spans(p + 4, 8)));
          if (wants(b, p + 12, 8)) rr.fields.push(field(fieldName(prefix, 'px.nlink'), rr.nlink, 'inode', b.spans(p + 12, 8), { hint: ctx.hints.inode }));
          if (wants(b, p + 20, 8)) rr.fields.push(field(fieldName(prefix, 'px.uid'), rr.uid, 'ownership', b.spans(p + 20, 8)));
          if (wants(b, p + 28, 8)) rr.fields.push(field(fieldName(prefix, 'px.gid'), rr.gid, 'ownership', b.spans(p + 28, 8)));
          if (len >= 44) {
            rr.ino = b.u32le(p + 36);
            if (wants(b, p + 36, 8)) rr.fields.push(field(fieldName(prefix, 'px.ino'), rr.ino, 'inode', b.spans(p + 36, 8), { hint: ctx.hints.inode }));
          }
          break;
        }
        case SIG_PN: {
          if (len < 20) break;
          rr.dev = { high: b.u32le(p + 4), low: b.u32le(p + 12) };
          if (wants(b, p + 4, 16)) rr.fields.push(field(fieldName(prefix, 'pn.dev'), `${rr.dev.high},${rr.dev.low}`, 'content', b.spans(p + 4, 16)));
          break;
        }
        case SIG_NM: {
          if (len < 5) break;
          const flags = b.u8(p + 4);
          const nm = nmCount++;
          if (wants(b, p, len)) rr.fields.push(field(fieldName(prefix, `nm.${nm}`), b.utf8(p + 5, len - 5), 'content', b.spans(p, len)));
          if (!wantNames) break;
          nmParts ??= [];
          if (flags & 2) nmParts.push('.');
          else if (flags & 4) nmParts.push('..');
          else nmParts.push(b.utf8(p + 5, len - 5));
          break;
        }
        case SIG_SL: {
          if (len < 5) break;
          const sl = slCount++;
          if (wants(b, p, len)) rr.fields.push(field(fieldName(prefix, `sl.${sl}`), slText(b, p, len), 'content', b.spans(p, len)));
          if (!wantNames) break;
          slComponents ??= [];
          let q = 5;
          while (q + 2 <= len) {
            const cflags = b.u8(p + q);
            const clen = b.u8(p + q + 1);
            if (q + 2 + clen > len) break;
            let text: string;
            if (cflags & 2) text = '.';
            else if (cflags & 4) text = '..';
            else if (cflags & 8) text = '';
            else text = b.utf8(p + q + 2, clen);
            slPending += text;
            if (cflags & 8) slComponents.push('/');
            if (!(cflags & 1)) {
              if (!(cflags & 8)) slComponents.push(slPending);
              slPending = '';
            }
            q += 2 + clen;
          }
          break;
        }
        case SIG_CL:
          if (len >= 12) {
            rr.childLink = b.u32le(p + 4);
            if (wants(b, p + 4, 8)) rr.fields.push(field(fieldName(prefix, 'cl.location'), rr.childLink, 'layout', b.spans(p + 4, 8), { derived: true }));
          }
          break;
        case SIG_PL:
          if (len >= 12) {
            rr.parentLink = b.u32le(p + 4);
            if (wants(b, p + 4, 8)) rr.fields.push(field(fieldName(prefix, 'pl.location'), rr.parentLink, 'layout', b.spans(p + 4, 8), { derived: true }));
          }
          break;
        case SIG_RE:
          rr.relocated = true;
          break;
        case SIG_TF: {
          if (!wantTimes) break;
          const flags = b.u8(p + 4);
          const long = (flags & 0x80) !== 0;
          const w = long ? 17 : 7;
          let q = 5;
          for (let bit = 0; bit < 7; bit++) {
            if (!(flags & (1 << bit))) continue;
            if (q + w > len) break;
            const name = TF_ORDER[bit] as TfName;
            if (want && !wants(b, p + q, w)) {
              q += w;
              continue;
            }
            const raw = b.bytes(p + q, w);
            const value = long ? isoDate17(raw) : isoDate7(raw);
            rr.times[name] = value;
            const hint = name === 'access' && ctx.hints.atime ? ctx.hints.atime : ctx.hints.time;
            if (want) rr.fields.push(field(fieldName(prefix, TF_SUFFIX[bit] as string), value, 'timestamp', b.spans(p + q, w), { hint }));
            q += w;
          }
          break;
        }
        case SIG_ZF: {
          if (len < 16) break;
          rr.zisofs = {
            algorithm: b.ascii(p + 4, 2, false),
            blockSizeLog2: b.u8(p + 7),
            uncompressedSize: b.u32le(p + 8),
          };
          if (wants(b, p + 8, 8)) rr.fields.push(field(fieldName(prefix, 'zf.uncompressed_size'), rr.zisofs.uncompressedSize, 'size', b.spans(p + 8, 8), { derived: true }));
          break;
        }
        default:
          // RR, ER, ES, AA, AL, SF, AS, ...: kept as raw fields so their bytes are accounted for
          if (wants(b, p, len)) rr.fields.push(field(`${prefix}.${sigName(code).toLowerCase().replace(/[^a-z0-9]/g, '_')}`, b.hex(p, Math.min(len, 64)), 'content', b.spans(p, len)));
          break;
      }
      if (SUSP_HEADERS.has(code)) {
        if (wants(b, p, 4)) rr.fields.push(field(fieldName(prefix, `${sigName(code).toLowerCase()}.header`), b.hex(p, 4), 'content', b.spans(p, 4)));
      }
      p += len;
    }
  }
  if (nmParts) rr.name = nmParts.join('');
  if (slComponents) {
    // components after a root marker start an absolute path
    let t = '';
    for (const c of slComponents) {
      if (c === '/') t = '/';
      else t = t === '' || t.endsWith('/') ? t + c : `${t}/${c}`;
    }
    rr.target = t;
  }
  return rr;
}
