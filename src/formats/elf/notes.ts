/**
 * ELF notes (SHT_NOTE sections: the GNU build id, ABI tag, properties, package metadata), `.gnu_debuglink`
 * and `.comment`, as fields of their sections' entries.
 */
import type { ByteSource } from '../../io/source.js';
import { checkTime } from '../../limits.js';
import type { Span } from '../../model.js';
import { toHex } from '../../io/bytes.js';
import type { SectionContent } from './reader.js';

export const BUILD_ID_HINT =
  'the build id is a hash over the linked file (GNU ld and lld hash all of its bytes): it changes whenever anything else in the file does. Fix the causes it follows from, or pass a fixed id with `-Wl,--build-id=0x<hex>`';
export const DEBUGLINK_HINT =
  'the CRC32 of the separate debug file (objcopy --only-keep-debug): that file differs; compare the two debug files, whose differences are the debug info of this build';

/** notes read from one section at most */
const MAX_NOTES = 4096;

const GNU_TYPES: Record<number, string> = { 1: 'NT_GNU_ABI_TAG', 2: 'NT_GNU_HWCAP', 3: 'NT_GNU_BUILD_ID', 4: 'NT_GNU_GOLD_VERSION', 5: 'NT_GNU_PROPERTY_TYPE_0' };
const ABI_OS: Record<number, string> = { 0: 'Linux', 1: 'Hurd', 2: 'Solaris', 3: 'FreeBSD' };
/** systemd's package metadata note (FDO_PACKAGING_METADATA) */
const FDO_PACKAGING_METADATA = 0xcafe1a7e;

/** The notes of one SHT_NOTE section. The build id is a checksum over the whole file but its own bytes. */
export function readNotes(sc: SectionContent, align: number, file: ByteSource, notes: string[]): void {
  const size = sc.size;
  const pad = (n: number): number => Math.ceil(n / align) * align;
  let p = 0;
  let i = 0;
  while (p + 12 <= size) {
    checkTime('ELF notes', sc.src.name, p);
    if (i >= MAX_NOTES) {
      notes.push(`${sc.name}: more than ${MAX_NOTES} notes; the rest are not read`);
      break;
    }
    const h = sc.view(p, 12, 'note header');
    const namesz = h.u32(0);
    const descsz = h.u32(4);
    const type = h.u32(8);
    const nameOff = p + 12;
    // the descriptor and the next note start at the alignment (4, or 8 in 8-aligned note sections)
    const descOff = p + pad(12 + namesz);
    const end = p + pad(descOff - p + descsz);
    if (namesz > size || descsz > size || descOff + descsz > size) {
      notes.push(`${sc.name}: note ${i} at +${p} runs past the end of the section (namesz ${namesz}, descsz ${descsz})`);
      break;
    }
    const pre = i === 0 ? 'elf.note.' : `elf.note[${i}].`;
    sc.put(`${pre}namesz`, namesz, 'size', p, 4, { derived: true });
    sc.put(`${pre}descsz`, descsz, 'size', p + 4, 4, { derived: true });
    const nameBytes = namesz ? sc.view(nameOff, namesz, 'note name').b : undefined;
    const name = nameBytes ? nameBytes.ascii(0, namesz) : '';
    const typeName = name === 'GNU' ? GNU_TYPES[type] ?? type : type === FDO_PACKAGING_METADATA ? 'FDO_PACKAGING_METADATA' : type;
    sc.put(`${pre}type`, typeName, 'content', p + 8, 4);
    sc.put(`${pre}name`, name, 'content', nameOff, Math.min(descOff, size) - nameOff);
    if (descsz) {
      const d = sc.view(descOff, descsz, 'note descriptor');
      const descLen = Math.min(end, size) - descOff;
      if (name === 'GNU' && type === 3) {
        const descSpans = d.spans(0, descsz);
        sc.put(`${pre}build_id`, toHex(d.b.bytes(0, descsz)), 'checksum', descOff, descLen, { covers: allBut(file, descSpans), derived: true, hint: BUILD_ID_HINT });
      } else if (name === 'GNU' && type === 1 && descsz >= 16) {
        const os = d.u32(0);
        sc.put(`${pre}abi_tag`, `${ABI_OS[os] ?? os} ${d.u32(4)}.${d.u32(8)}.${d.u32(12)}`, 'content', descOff, descLen);
      } else if (type === FDO_PACKAGING_METADATA || (name === 'GNU' && type === 4)) {
        sc.put(`${pre}desc`, d.b.utf8(0, descsz).replace(/\0+$/, ''), 'content', descOff, descLen);
      } else {
        sc.put(`${pre}desc`, toHex(d.b.bytes(0, Math.min(descsz, 256))) + (descsz > 256 ? '…' : ''), 'content', descOff, descLen);
      }
    }
    if (end <= p) break;
    p = end;
    i++;
  }
}

/** Every byte of `file` but those in `except` (spans of the outer file, in order). */
function allBut(file: ByteSource, except: Span[]): Span[] {
  const out: Span[] = [];
  let pos = 0;
  for (const s of except) {
    if (s.stream !== undefined) return file.spans(0, file.size);
    if (s.offset > pos) out.push(...file.spans(pos, s.offset - pos));
    pos = Math.max(pos, s.offset + s.length);
  }
  if (pos < file.size) out.push(...file.spans(pos, file.size - pos));
  return out;
}

/** `.gnu_debuglink`: the debug file's name, padding to 4 bytes, and its CRC32. */
export function readDebuglink(sc: SectionContent, file: ByteSource, notes: string[]): void {
  const s = sc.cstring(0);
  if (!s) {
    notes.push(`${sc.name}: the file name is not terminated`);
    return;
  }
  const [name, len] = s;
  const crcOff = Math.ceil((len + 1) / 4) * 4;
  sc.put('elf.debuglink.file', name, 'content', 0, crcOff);
  if (crcOff + 4 > sc.size) {
    notes.push(`${sc.name}: no CRC32 after the file name`);
    return;
  }
  const crc = sc.view(crcOff, 4, 'debuglink CRC32').u32(0);
  const crcSpans = sc.src.spans(crcOff, 4);
  // the debug file is not at hand: what it holds is this build's debug info, so the CRC follows from
  // differences in this file
  sc.put('elf.debuglink.crc32', crc.toString(16).padStart(8, '0'), 'checksum', crcOff, 4, { covers: allBut(file, crcSpans), derived: true, hint: DEBUGLINK_HINT });
}

/** `.comment`: NUL-separated strings, one per tool that wrote it (compilers, linkers). */
export function readComment(sc: SectionContent, notes: string[]): string | undefined {
  let p = 0;
  let i = 0;
  let first: string | undefined;
  while (p < sc.size) {
    const s = sc.cstring(p);
    if (!s) {
      notes.push(`${sc.name}: a string at +${p} is not terminated`);
      break;
    }
    const [text, len] = s;
    if (len > 0) {
      sc.put(`elf.comment[${i}]`, text, 'content', p, len + 1);
      first ??= text;
      i++;
    } else sc.describe(p, 1);
    p += len + 1;
    if (i > MAX_NOTES) break;
  }
  return first;
}
