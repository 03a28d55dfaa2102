/**
 * System Use Sharing Protocol (IEEE P1281) and Rock Ridge (IEEE P1282) entries of one directory record.
 * Continuation areas (CE) are followed with a visited set and a chain cap, so a CE loop ends with E_LOOP.
 */
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import { field, type Field } from '../../model.js';
import { isoDate17, isoDate7 } from '../../util/time.js';

const SECTOR = 2048;
/** entries whose data the reader splits into fields: their 4-byte headers are fields of their own */
const SUSP_HEADERS = new Set(['SP', 'CE', 'PX', 'PN', 'TF', 'CL', 'PL', 'RE', 'ZF', 'ST']);

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

export interface SuspContext {
  src: ByteSource;
  maxChain: number;
  /** hints by field name */
  hints: { time: string; inode: string; atime?: string };
  /** false: decode names, modes and times only, and make no fields (the tree walk; fields are read on demand) */
  fields?: boolean;
  /** false: times are not decoded (the tree walk needs none); default: as `fields` */
  times?: boolean;
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
  const keep = ctx.keep;
  /** whether to make the field of `len` bytes at `off` of `b` */
  const wants = (b: Bytes, off: number, len: number): boolean => want && (keep === undefined || keep(b.base + off, len));
  let nmParts: string[] | undefined;
  let nmCount = 0;
  let slCount = 0;
  let slComponents: string[] | undefined;
  let slPending = '';
  const visited = new Set<number>();
  let current: Bytes | undefined = area;
  let hops = 0;

  while (current) {
    const b: Bytes = current;
    current = undefined;
    let p = 0;
    while (p + 4 <= b.length) {
      const sig = String.fromCharCode(b.data[p]!, b.data[p + 1]!);
      const len = b.u8(p + 2);
      if (len < 4 || p + len > b.length) break; // padding or damage: stop this area
      const body = b.sub(p, len, `SUSP ${sig} entry`);
      switch (sig) {
        case 'SP':
          if (len >= 7) rr.spSkip = body.u8(6);
          break;
        case 'ST':
          p = b.length; // terminator
          continue;
        case 'CE': {
          if (len < 28) break;
          const block = body.u32le(4);
          const off = body.u32le(12);
          const size = body.u32le(20);
          const at = block * SECTOR + off;
          if (visited.has(at)) throw body.error(4, `continuation area at offset ${at} is visited twice (CE loop)`, 'E_LOOP');
          if (++hops > ctx.maxChain) throw body.error(4, `more than ${ctx.maxChain} continuation areas`, 'E_LIMIT');
          visited.add(at);
          if (size > 0) {
            if (size > SECTOR * 64) throw body.error(20, `continuation area of ${size} bytes is too large`, 'E_LIMIT');
            current = Bytes.at(ctx.src, at, size, 'SUSP continuation area');
            rr.ceSpans.push({ offset: at, length: size });
            if (wants(body, 4, 24)) rr.fields.push(field(`${prefix}.ce.${hops}.location`, at, 'layout', body.spans(4, 24), { derived: true }));
          }
          break;
        }
        case 'ER': {
          if (len < 8) break;
          const lenId = body.u8(4);
          if (8 + lenId <= len) rr.extensions.push(body.ascii(8, lenId));
          break;
        }
        case 'PX': {
          if (len < 36) break;
          rr.mode = body.u32le(4);
          rr.nlink = body.u32le(12);
          rr.uid = body.u32le(20);
          rr.gid = body.u32le(28);
          if (wants(body, 4, 8)) rr.fields.push(field(`${prefix}.px.mode`, rr.mode.toString(8).padStart(6, '0'), 'permissions', body.spans(4, 8)));
          if (wants(body, 12, 8)) rr.fields.push(field(`${prefix}.px.nlink`, rr.nlink, 'inode', body.spans(12, 8), { hint: ctx.hints.inode }));
          if (wants(body, 20, 8)) rr.fields.push(field(`${prefix}.px.uid`, rr.uid, 'ownership', body.spans(20, 8)));
          if (wants(body, 28, 8)) rr.fields.push(field(`${prefix}.px.gid`, rr.gid, 'ownership', body.spans(28, 8)));
          if (len >= 44) {
            rr.ino = body.u32le(36);
            if (wants(body, 36, 8)) rr.fields.push(field(`${prefix}.px.ino`, rr.ino, 'inode', body.spans(36, 8), { hint: ctx.hints.inode }));
          }
          break;
        }
        case 'PN': {
          if (len < 20) break;
          rr.dev = { high: body.u32le(4), low: body.u32le(12) };
          if (wants(body, 4, 16)) rr.fields.push(field(`${prefix}.pn.dev`, `${rr.dev.high},${rr.dev.low}`, 'content', body.spans(4, 16)));
          break;
        }
        case 'NM': {
          if (len < 5) break;
          const flags = body.u8(4);
          const nm = nmCount++;
          if (wants(body, 0, len)) rr.fields.push(field(`${prefix}.nm.${nm}`, body.utf8(5, len - 5), 'content', body.spans(0, len)));
          nmParts ??= [];
          if (flags & 2) nmParts.push('.');
          else if (flags & 4) nmParts.push('..');
          else nmParts.push(body.utf8(5, len - 5));
          break;
        }
        case 'SL': {
          if (len < 5) break;
          const sl = slCount++;
          if (wants(body, 0, len)) rr.fields.push(field(`${prefix}.sl.${sl}`, body.hex(4, len - 4), 'content', body.spans(0, len)));
          slComponents ??= [];
          let q = 5;
          while (q + 2 <= len) {
            const cflags = body.u8(q);
            const clen = body.u8(q + 1);
            if (q + 2 + clen > len) break;
            let text: string;
            if (cflags & 2) text = '.';
            else if (cflags & 4) text = '..';
            else if (cflags & 8) text = '';
            else text = body.utf8(q + 2, clen);
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
        case 'CL':
          if (len >= 12) {
            rr.childLink = body.u32le(4);
            if (wants(body, 4, 8)) rr.fields.push(field(`${prefix}.cl.location`, rr.childLink, 'layout', body.spans(4, 8), { derived: true }));
          }
          break;
        case 'PL':
          if (len >= 12) {
            rr.parentLink = body.u32le(4);
            if (wants(body, 4, 8)) rr.fields.push(field(`${prefix}.pl.location`, rr.parentLink, 'layout', body.spans(4, 8), { derived: true }));
          }
          break;
        case 'RE':
          rr.relocated = true;
          break;
        case 'TF': {
          if (!wantTimes) break;
          const flags = body.u8(4);
          const long = (flags & 0x80) !== 0;
          const w = long ? 17 : 7;
          let q = 5;
          for (let bit = 0; bit < 7; bit++) {
            if (!(flags & (1 << bit))) continue;
            if (q + w > len) break;
            const name = TF_ORDER[bit] as TfName;
            if (want && !wants(body, q, w)) {
              q += w;
              continue;
            }
            const raw = body.bytes(q, w);
            const value = long ? isoDate17(raw) : isoDate7(raw);
            rr.times[name] = value;
            const hint = name === 'access' && ctx.hints.atime ? ctx.hints.atime : ctx.hints.time;
            if (want) rr.fields.push(field(`${prefix}.tf.${name}`, value, 'timestamp', body.spans(q, w), { hint }));
            q += w;
          }
          break;
        }
        case 'ZF': {
          if (len < 16) break;
          rr.zisofs = {
            algorithm: body.ascii(4, 2, false),
            blockSizeLog2: body.u8(7),
            uncompressedSize: body.u32le(8),
          };
          if (wants(body, 8, 8)) rr.fields.push(field(`${prefix}.zf.uncompressed_size`, rr.zisofs.uncompressedSize, 'size', body.spans(8, 8), { derived: true }));
          break;
        }
        default:
          // RR, ER, ES, AA, AL, SF, AS, ...: kept as raw fields so their bytes are accounted for
          if (wants(body, 0, len)) rr.fields.push(field(`${prefix}.${sig.toLowerCase().replace(/[^a-z0-9]/g, '_')}`, body.hex(0, Math.min(len, 64)), 'content', body.spans(0, len)));
          break;
      }
      if (sig !== 'NM' && sig !== 'SL' && SUSP_HEADERS.has(sig)) {
        if (wants(body, 0, 4)) rr.fields.push(field(`${prefix}.${sig.toLowerCase()}.header`, body.hex(0, 4), 'content', body.spans(0, 4)));
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
