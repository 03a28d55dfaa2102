/**
 * Fix-first grouping: every root finding is put under the tool that produced it (xorriso, grub-mkrescue,
 * mkinitramfs, mksquashfs, mkfs.fat/mtools, objcopy, ...) with the one change to that tool's run that removes
 * the whole group. The report does not carry each container's producer, so the tool is derived here, in one
 * place, from what the findings say: their format, field, path (an initrd), values and the producer-specific
 * hints the readers wrote (an ISO whose volume date hint names grub-mkrescue was made by grub-mkrescue).
 *
 * Where no single change is known, the group's fix is the findings' own hint, so findings of one tool with
 * different hints make different groups. Pure and deterministic: the same findings give the same groups.
 */
import type { Finding, FixGroup, Report } from './types.js';
import { findingBytes, isAccepted } from './common.js';

export type { FixGroup };

/** What every rule sees besides the finding: facts about the whole report. */
interface Context {
  /** the tool that made the outer ISO 9660 image, from its producer-specific hints */
  isoTool: 'grub-mkrescue' | 'xorriso' | null;
  /** the initramfs was made by mkinitramfs: a Debian `initrd.img` name, or its `mkinitramfs-*` temporary name in a gzip header */
  mkinitramfs: boolean;
}

/** The authored one-change fixes, by tool. */
export const TOOL_FIXES = {
  'grub-mkrescue': 'append `--modification-date=YYYYMMDDhhmmsscc -- -volume_date all_file_dates =$SOURCE_DATE_EPOCH` (YYYYMMDDhhmmsscc: the SOURCE_DATE_EPOCH time) to the grub-mkrescue command line: it passes them to xorriso, which then takes the volume dates, every file date, the GPT GUIDs and the isohybrid MBR signature from that one time',
  xorriso: 'export SOURCE_DATE_EPOCH and add `-volume_date all_file_dates =$SOURCE_DATE_EPOCH` (after `--` with -as mkisofs): xorriso 1.5.4 then takes the volume dates, every file date, the GPT GUIDs and the isohybrid MBR signature from it',
  mkinitramfs: 'export SOURCE_DATE_EPOCH when running mkinitramfs (update-initramfs): it then compresses with `gzip -n` (no name, no time), clamps the file times to it and packs with `cpio --reproducible` (no inode numbers), which removes every finding of this group at once',
  cpio: 'touch the tree to SOURCE_DATE_EPOCH (`find . -exec touch -h -d @$SOURCE_DATE_EPOCH {} +`) and pack a sorted list with `cpio --reproducible` (GNU cpio 2.13+): times and inode numbers are then the same on every build',
  gzip: 'compress with `gzip -n` (or GZIP=-n, `pigz -n`): the header then holds neither the input name nor its time',
  mksquashfs: 'export SOURCE_DATE_EPOCH for mksquashfs (squashfs-tools 4.5.1 takes it as the creation time and clamps newer file times to it), or pass `-mkfs-time $SOURCE_DATE_EPOCH -all-time $SOURCE_DATE_EPOCH`',
  'mkfs.fat / mtools': 'make the image with `mkfs.fat --invariant` (or `-i <hex>` for the serial) and export SOURCE_DATE_EPOCH for mcopy/mmd (mtools 4.0.32 stamps the entries it creates with it)',
  'grub-mkrescue (efi.img: mformat, mcopy)': 'export SOURCE_DATE_EPOCH (mcopy then stamps the efi.img entries with it); the volume serial needs `mformat -N <hex>`, which grub-mkrescue 2.06 does not pass: patch its mformat call or build efi.img yourself',
} as const;

/** Whether a path lies in an initramfs (an initrd file, a UKI's `.initrd` section). */
function inInitrd(f: Finding): boolean {
  if (/(?:^|\/)(?:\.initrd|initrd[^/]*|initramfs[^/]*)(?:\/\/|$)/i.test(f.path)) return true;
  return isMkinitramfsName(f);
}

function isMkinitramfsName(f: Finding): boolean {
  return f.format === 'gzip' && [f.a, f.b].some((v) => typeof v === 'string' && v.startsWith('mkinitramfs'));
}

/** The tool of one root finding and, when one change is known for it, that change. */
function classify(f: Finding, ctx: Context): { tool: string; fix?: string } {
  const hint = f.hint ?? '';
  const outer = !f.path.includes('//');
  // an entry's content (a file inside) is made by whatever wrote that file, not by the container's tool
  if (f.field === null && (f.format === 'gpt' || f.format === 'mbr' || f.format === 'apm')) return { tool: 'what was put into the partition' };
  if (f.field === null && f.format !== 'gzip' && f.format !== 'raw') return { tool: 'the files put into the image' };
  switch (f.format) {
    case 'iso9660':
    case 'eltorito':
      if (ctx.isoTool) return { tool: ctx.isoTool, fix: TOOL_FIXES[ctx.isoTool] };
      return { tool: 'xorriso', fix: TOOL_FIXES.xorriso };
    case 'gpt':
    case 'mbr':
      if (outer && ctx.isoTool && /xorriso|isohybrid/.test(hint)) return { tool: ctx.isoTool, fix: TOOL_FIXES[ctx.isoTool] };
      if (/xorriso/.test(hint)) return { tool: 'xorriso', fix: TOOL_FIXES.xorriso };
      return { tool: f.format === 'gpt' ? 'the partitioning tool (GPT)' : 'the partitioning tool (MBR)' };
    case 'fat':
      if (ctx.isoTool === 'grub-mkrescue' && f.path.split('//').length <= 2 && (f.kind === 'timestamp' || f.kind === 'random-id')) {
        return { tool: 'grub-mkrescue (efi.img: mformat, mcopy)', fix: TOOL_FIXES['grub-mkrescue (efi.img: mformat, mcopy)'] };
      }
      if (f.kind === 'timestamp' || f.kind === 'random-id') return { tool: 'mkfs.fat / mtools', fix: TOOL_FIXES['mkfs.fat / mtools'] };
      return { tool: 'mkfs.fat / mtools' };
    case 'squashfs':
      if (f.kind === 'timestamp') return { tool: 'mksquashfs', fix: TOOL_FIXES.mksquashfs };
      return { tool: 'mksquashfs' };
    case 'cpio':
      if (ctx.mkinitramfs && inInitrd(f)) return { tool: 'mkinitramfs (cpio, gzip)', fix: TOOL_FIXES.mkinitramfs };
      if (f.kind === 'timestamp' || f.kind === 'inode' || f.kind === 'ordering') return { tool: 'cpio', fix: TOOL_FIXES.cpio };
      return { tool: 'cpio' };
    case 'gzip':
      if (ctx.mkinitramfs && inInitrd(f)) return { tool: 'mkinitramfs (cpio, gzip)', fix: TOOL_FIXES.mkinitramfs };
      if (f.field !== null && /^gzip\.header\./.test(f.field)) return { tool: 'gzip', fix: TOOL_FIXES.gzip };
      return { tool: 'gzip' };
    case 'pe':
    case 'uki':
      if (f.field !== null && /cert|signature|authenticode|security/i.test(f.field)) return { tool: 'sbsign' };
      if (/ukify/.test(hint) && !/objcopy/.test(hint)) return { tool: 'ukify' };
      return { tool: 'objcopy / ld' };
    case 'linux':
      return { tool: 'the kernel build (KBUILD_BUILD_TIMESTAMP, KBUILD_BUILD_USER, KBUILD_BUILD_HOST)' };
    case 'elf':
      return { tool: 'gcc / ld' };
    case 'zip':
      return { tool: 'zip' };
    case 'tar':
      return { tool: 'tar' };
    case 'ar':
      return { tool: /\.deb(?:\/\/|$)/.test(f.path) ? 'dpkg-deb' : 'ar' };
    case 'ext4':
      return { tool: 'mkfs.ext4' };
    case 'erofs':
      return { tool: 'mkfs.erofs' };
    case 'hfsplus':
      return { tool: 'the HFS+ tool (hfsplus, xorriso -hfsplus)' };
    case 'apm':
      return { tool: 'xorriso (Apple partition map)' };
    case 'pyc':
      return { tool: 'python (py_compile)' };
    case 'xz':
    case 'zstd':
    case 'lz4':
    case 'bzip2':
      return { tool: f.format };
    default:
      break;
  }
  if (f.kind === 'content' || f.kind === 'added' || f.kind === 'removed' || f.kind === 'size') return { tool: 'the inputs themselves' };
  return { tool: `the ${f.format} tool` };
}

const NO_FIX_CONTENT = 'no build setting: what went into it differs; compare the inputs of this step';
const NO_FIX = 'no fix is known for this difference yet';

function contextOf(findings: readonly Finding[]): Context {
  let isoTool: Context['isoTool'] = null;
  const mkinitramfs = findings.some((f) => isMkinitramfsName(f) || /(?:^|\/)initrd\.img(?:-[^/]*)?(?:\/\/|$)/.test(f.path));
  for (const f of findings) {
    if (f.format !== 'iso9660' || !f.hint) continue;
    if (/^grub-mkrescue\b/.test(f.hint)) {
      isoTool = 'grub-mkrescue';
      break;
    }
    if (/^xorriso\b/.test(f.hint)) isoTool = 'xorriso';
  }
  return { isoTool, mkinitramfs };
}

/**
 * The fix groups of a report: its root findings that are not accepted, grouped by (tool, fix). Groups with
 * a fix to apply come first, each part ordered by the bytes its groups remove (their root findings and the
 * derived findings that follow from them), most first, then by tool and fix as code units; findings within
 * a group in report order.
 */
export function computeFixes(report: Report): FixGroup[] {
  const roots = report.findings.filter((f) => f.root && !isAccepted(f));
  const ctx = contextOf(roots);
  const byId = new Map(report.findings.map((f) => [f.id, f] as const));
  /** bytes owned by each root: its own and those of the derived findings whose first cause it is */
  const owned = new Map<string, number>();
  for (const f of report.findings) {
    if (f.root) owned.set(f.id, (owned.get(f.id) ?? 0) + findingBytes(f));
    else {
      const cause = f.causedBy.find((id) => byId.get(id)?.root === true);
      if (cause !== undefined) owned.set(cause, (owned.get(cause) ?? 0) + findingBytes(f));
    }
  }
  const groups = new Map<string, FixGroup & { bytes: number; rank: number }>();
  for (const f of roots) {
    const c = classify(f, ctx);
    const fix = c.fix ?? f.hint ?? (f.kind === 'content' || f.kind === 'added' || f.kind === 'removed' ? NO_FIX_CONTENT : NO_FIX);
    const key = `${c.tool}\u0000${fix}`;
    let g = groups.get(key);
    // a group with a fix to apply comes before one that only says what differs
    if (!g) groups.set(key, (g = { tool: c.tool, fix, findings: [], bytes: 0, rank: fix === NO_FIX_CONTENT || fix === NO_FIX ? 1 : 0 }));
    g.findings.push(f.id);
    g.bytes += owned.get(f.id) ?? 0;
  }
  const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  return [...groups.values()]
    .sort((x, y) => x.rank - y.rank || y.bytes - x.bytes || cmp(x.tool, y.tool) || cmp(x.fix, y.fix))
    .map(({ tool, fix, findings }) => ({ tool, fix, findings }));
}

/** The report with its `fixes` array (replacing any it had), appended as the last member. */
export function withFixes(report: Report): Report {
  const { fixes: _old, ...rest } = report;
  return { ...rest, fixes: computeFixes(report) };
}

/** A shown fix group: its findings resolved, those the report no longer has (cut by size) dropped. */
export interface ShownFixGroup {
  tool: string;
  fix: string;
  findings: Finding[];
}

/**
 * The fix groups a presenter shows: the report's own `fixes` when it has a well-formed array (a saved report
 * renders as it was written), else computed from the findings. Accepted findings are left out.
 */
export function fixGroups(report: Report): ShownFixGroup[] {
  const byId = new Map(report.findings.map((f) => [f.id, f] as const));
  const raw = Array.isArray(report.fixes) && report.fixes.every(isFixGroup) ? report.fixes : computeFixes(report);
  const out: ShownFixGroup[] = [];
  for (const g of raw) {
    const findings = g.findings.map((id) => byId.get(id)).filter((f): f is Finding => f !== undefined && !isAccepted(f));
    if (findings.length) out.push({ tool: g.tool, fix: g.fix, findings });
  }
  return out;
}

function isFixGroup(v: unknown): v is FixGroup {
  if (typeof v !== 'object' || v === null) return false;
  const g = v as Record<string, unknown>;
  return typeof g.tool === 'string' && typeof g.fix === 'string' && Array.isArray(g.findings) && g.findings.every((x) => typeof x === 'string');
}
