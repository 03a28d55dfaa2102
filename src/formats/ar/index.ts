/**
 * ar archives (the common format: `!<arch>\n`, then 60-byte member headers) with GNU names (`/` and
 * `/SYM64/` symbol tables, the `//` long-name table, `name/` and `/123` references) and BSD names
 * (`#1/LEN`, the name stored before the data, `__.SYMDEF` symbol tables); thin archives (`!<thin>\n`) are
 * listed with their members opaque. Each member's data is padded to an even offset with `\n`.
 *
 * A Debian package is an ar archive of `debian-binary`, `control.tar.*` and `data.tar.*`; the tarballs are
 * member contents, which the walker opens through their compression layers.
 */
import { ReprodiffError } from '../../errors.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import { checkCap, checkTime, entryStop } from '../../limits.js';
import type { Container, Entry, Field, Format, OpenContext, Region, Span } from '../../model.js';
import { field } from '../../model.js';
import { isoFromUnix } from '../../util/time.js';
import { typeFromMode } from '../../util/mode.js';

export const AR_HINTS = {
  debMtime:
    'dpkg-deb stamps the ar headers with the build time and keeps the files\' mtimes: set SOURCE_DATE_EPOCH (dpkg 1.18.11+ writes it into the ar headers and clamps the tar members\' times to it)',
  arMtime: 'ar records the members\' mtimes, uids, gids and modes unless it runs in deterministic mode: use `ar rcD` (or `ar rcsD`; `U` turns it off)',
  owner: 'ar records the build user\'s uid and gid unless it runs in deterministic mode (`ar D`); dpkg-deb writes 0',
  order: 'ar keeps members in the order given on its command line: pass them sorted',
};

const MAGIC = '!<arch>\n';
const THIN = '!<thin>\n';
const HEADER = 60;
/** the GNU long-name table and the BSD in-header names are read whole */
const MAX_NAME_TABLE = 16 * 1024 * 1024;
const MAX_BSD_NAME = 64 * 1024;

export const arFormat: Format = {
  name: 'ar',
  exclusive: true,
  detect(src: ByteSource): number {
    if (src.size < 8) return 0;
    const m = String.fromCharCode(...src.read(0, 8, 'ar magic'));
    return m === MAGIC || m === THIN ? 90 : 0;
  },
  open(src: ByteSource, ctx: OpenContext): Container {
    return openAr(src, ctx);
  },
};

/** The layout of a member header: [offset, length] of each field. */
const H = { name: [0, 16], mtime: [16, 12], uid: [28, 6], gid: [34, 6], mode: [40, 8], size: [48, 10], fmag: [58, 2] } as const;
type HField = keyof typeof H;

/** A decimal or octal number of a header, or null when the field is blank (as in the long-name table's header). */
function headerNumber(b: Bytes, f: HField, radix: 8 | 10): number | null {
  const [off, len] = H[f];
  const s = b.ascii(off, len, false).replace(/ +$/, '');
  if (s === '') return null;
  const ok = radix === 10 ? /^\d+$/.test(s) : /^[0-7]+$/.test(s);
  if (!ok) throw b.error(off, `ar ${f} field is not a ${radix === 10 ? 'decimal' : 'octal'} number: ${JSON.stringify(s)}`);
  const v = parseInt(s, radix);
  if (!Number.isSafeInteger(v)) throw b.error(off, `ar ${f} field is too large`);
  return v;
}

interface LongNames {
  bytes: Bytes;
}

export function openAr(src: ByteSource, ctx: OpenContext): Container {
  const magic = String.fromCharCode(...src.read(0, 8, 'ar magic'));
  if (magic !== MAGIC && magic !== THIN) throw new ReprodiffError('E_FORMAT', 'not an ar archive', { file: src.name, structure: 'ar magic', offset: 0 });
  const thin = magic === THIN;
  const entries: Entry[] = [];
  const regions: Region[] = [{ name: 'ar magic', role: 'metadata', spans: src.spans(0, 8) }];
  const fields: Field[] = [];
  const notes: string[] = [];
  const seen = new Map<string, number>();
  let longNames: LongNames | undefined;
  let partial: string | undefined;
  let dialect: 'gnu' | 'bsd' | undefined;
  const debMembers: string[] = [];
  let off = 8;
  let members = 0;
  while (off < src.size) {
    if (src.size - off < HEADER) {
      // a lone newline is a harmless odd-size pad some writers leave at the very end
      notes.push(`${src.size - off} bytes after the last ar member do not form a header`);
      regions.push({ name: 'ar trailing bytes', role: 'unused', spans: src.spans(off, src.size - off) });
      break;
    }
    checkTime('listing ar members', src.name, off);
    members++;
    checkCap(members, ctx.limits.maxEntries + 3, 'ar members', src.name, off);
    const hb = Bytes.at(src, off, HEADER, 'ar member header');
    if (hb.u8(58) !== 0x60 || hb.u8(59) !== 0x0a) throw hb.error(58, 'ar member header does not end with "`\\n"');
    const rawName = hb.ascii(0, 16, false);
    const size = headerNumber(hb, 'size', 10);
    if (size === null) throw hb.error(H.size[0], 'ar member size is blank');
    const dataOff = off + HEADER;
    if (size > src.size - dataOff) {
      throw new ReprodiffError('E_TRUNCATED', `ar member ${JSON.stringify(rawName.trim())} claims ${size} bytes but only ${src.size - dataOff} remain`, {
        file: src.name,
        structure: 'ar member header',
        offset: off + H.size[0],
      });
    }
    const pad = size % 2;
    const next = dataOff + size + pad;
    regions.push({ name: `ar header ${rawName.trim()}`, role: 'metadata', spans: src.spans(off, HEADER) });
    if (pad) {
      if (next > src.size) notes.push(`the last ar member's padding byte is missing at offset ${dataOff + size}`);
      else {
        regions.push({ name: 'ar member padding', role: 'padding', spans: src.spans(dataOff + size, 1) });
        if (src.read(dataOff + size, 1, 'ar padding')[0] !== 0x0a) notes.push(`ar padding byte at offset ${dataOff + size} is not "\\n"`);
      }
    }
    const trimmed = rawName.replace(/ +$/, '');
    // special members: symbol tables and the long-name table
    if (trimmed === '/' || trimmed === '/SYM64/' || trimmed === '__.SYMDEF' || trimmed === '__.SYMDEF SORTED') {
      const which = trimmed === '/SYM64/' ? 'ar.symbol_table64' : 'ar.symbol_table';
      // member offsets and names of the objects' symbols: they follow from the members and where they sit
      fields.push(field(which, size, 'layout', src.spans(dataOff, size), { derived: true }));
      fields.push(...headerTimes(hb, which, false));
      regions.push({ name: `ar symbol table ${trimmed}`, role: 'metadata', spans: src.spans(dataOff, size) });
      if (trimmed.startsWith('__.SYMDEF')) dialect = 'bsd';
      else dialect ??= 'gnu';
      off = Math.min(next, src.size);
      continue;
    }
    if (trimmed === '//') {
      checkCap(size, MAX_NAME_TABLE, 'ar long-name table size', src.name, off);
      if (longNames) notes.push(`a second ar long-name table at offset ${off} replaces the first`);
      longNames = { bytes: Bytes.at(src, dataOff, size, 'ar long-name table') };
      dialect = 'gnu';
      fields.push(field('ar.long_names', size, 'layout', src.spans(dataOff, size), { derived: true }));
      regions.push({ name: 'ar long-name table', role: 'metadata', spans: src.spans(dataOff, size) });
      off = Math.min(next, src.size);
      continue;
    }
    const stop = entryStop(entries.length + 1, ctx.limits, 'ar members', off);
    if (stop) {
      partial = stop.describe();
      notes.push(partial);
      break;
    }
    const f: Field[] = [];
    let name: string;
    let contentOff = dataOff;
    let contentSize = size;
    const bsd = /^#1\/(\d+)$/.exec(trimmed);
    const gnuRef = /^\/(\d+)$/.exec(trimmed);
    if (bsd) {
      // BSD 4.4: the name's length in the header, the name itself first in the data
      const len = Number(bsd[1]);
      checkCap(len, MAX_BSD_NAME, 'ar BSD name length', src.name, off);
      if (len > size) throw hb.error(0, `ar BSD name of ${len} bytes is longer than its member (${size} bytes)`);
      const nb = Bytes.at(src, dataOff, len, 'ar BSD member name');
      name = nb.utf8(0, len).replace(/\0+$/, '');
      f.push(field('ar.name', name, 'content', nb.spans(0, len)));
      f.push(field('ar.name_length', len, 'size', hb.spans(0, 16), { derived: true }));
      contentOff = dataOff + len;
      contentSize = size - len;
      dialect = 'bsd';
    } else if (gnuRef) {
      const at = Number(gnuRef[1]);
      if (!longNames) throw hb.error(0, `ar member name ${trimmed} refers to a long-name table the archive does not have`);
      const t = longNames.bytes;
      if (at >= t.length) throw hb.error(0, `ar long name at ${at} is past the end of the ${t.length}-byte long-name table`);
      let end = at;
      while (end < t.length && t.data[end] !== 0x0a && !(t.data[end] === 0x2f && (end + 1 >= t.length || t.data[end + 1] === 0x0a))) end++;
      name = t.utf8(at, end - at);
      f.push(field('ar.name', name, 'content', t.spans(at, end - at)));
      // where the name sits in the table follows from the names before it
      f.push(field('ar.name_offset', at, 'layout', hb.spans(0, 16), { derived: true }));
    } else {
      // GNU ends short names with '/'; the common (SysV without it, old BSD) format pads with spaces
      name = trimmed.endsWith('/') ? trimmed.slice(0, -1) : trimmed;
      f.push(field('ar.name', name, 'content', hb.spans(0, 16)));
    }
    const mode = headerNumber(hb, 'mode', 8);
    const uid = headerNumber(hb, 'uid', 10);
    const gid = headerNumber(hb, 'gid', 10);
    const mtime = headerNumber(hb, 'mtime', 10);
    f.push(...headerTimes(hb, 'ar', true));
    f.push(field('ar.uid', uid, 'ownership', hb.spans(...H.uid), { hint: AR_HINTS.owner }));
    f.push(field('ar.gid', gid, 'ownership', hb.spans(...H.gid), { hint: AR_HINTS.owner }));
    f.push(field('ar.mode', mode === null ? null : '0' + mode.toString(8), 'permissions', hb.spans(...H.mode)));
    f.push(field('ar.size', size, 'size', hb.spans(...H.size), { derived: true }));
    if (entries.length < 3) debMembers.push(name);
    let path = '/' + (name.replace(/^\/+/, '') || '(unnamed)');
    const dup = seen.get(path);
    if (dup !== undefined) {
      seen.set(path, dup + 1);
      notes.push(`ar member ${path} appears again at offset ${off}`);
      path = `${path}#${dup + 1}`;
    } else seen.set(path, 1);
    const entry: Entry = {
      path,
      type: mode === null || (mode & 0o170000) === 0 ? 'file' : typeFromMode(mode),
      size: contentSize,
      extents: contentSize && !thin ? [{ offset: contentOff, length: contentSize }] : [],
      fields: f,
      meta: {
        ...(mode !== null ? { mode } : {}),
        ...(uid !== null ? { uid } : {}),
        ...(gid !== null ? { gid } : {}),
        ...(mtime !== null ? { mtime: isoFromUnix(mtime) ?? undefined } : {}),
      },
      order: entries.length,
      records: src.spans(off, HEADER),
    };
    if (thin) {
      // a thin archive's members are files elsewhere: the header's size is theirs, no data follows
      entry.opaque = 'member of a thin archive: its data is a file outside the archive';
      off = dataOff;
    } else off = Math.min(next, src.size);
    entries.push(entry);
  }
  // the mtimes' hint depends on the writer: a Debian package is dpkg-deb's
  const deb = debMembers[0] === 'debian-binary' && debMembers.slice(1).some((n) => n.startsWith('control.tar'));
  const hint = deb ? AR_HINTS.debMtime : AR_HINTS.arMtime;
  for (const e of entries) for (const x of e.fields) if (x.kind === 'timestamp') x.hint = hint;
  for (const x of fields) if (x.kind === 'timestamp') x.hint = hint;
  if (deb) {
    const bin = entries[0];
    if (bin && bin.size <= 64 && bin.extents[0]) {
      const v = new TextDecoder().decode(src.read(bin.extents[0].offset, bin.size, 'debian-binary')).trim();
      notes.push(`Debian binary package, format ${v}`);
    }
  }
  if (thin) notes.push('thin ar archive: member data is not in the archive');
  if (dialect) notes.push(`${dialect === 'gnu' ? 'GNU' : 'BSD'} ar names and symbol tables`);
  const producer = deb ? 'dpkg-deb' : undefined;
  return {
    format: 'ar',
    source: src,
    ...(producer ? { producer } : {}),
    fields,
    entries,
    regions,
    notes,
    ...(partial ? { partial } : {}),
  };
}

/** The mtime field of a header (with the hint set later, once the writer is known). */
function headerTimes(hb: Bytes, prefix: string, always: boolean): Field[] {
  const m = headerNumber(hb, 'mtime', 10);
  if (m === null && !always) return [];
  const spans: Span[] = hb.spans(...H.mtime);
  return [field(`${prefix}.mtime`, m === null ? null : isoFromUnix(m), 'timestamp', spans)];
}
