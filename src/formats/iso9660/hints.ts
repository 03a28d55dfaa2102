/** Fix hints for ISO 9660 fields, tailored to the producer named in the volume descriptor. */

export type IsoProducer = 'xorriso' | 'genisoimage' | 'mkisofs' | 'grub-mkrescue' | 'unknown';

export function detectProducer(preparer: string, application: string, system: string): { tool: IsoProducer; label: string | undefined } {
  const all = `${preparer} ${application} ${system}`;
  const xorriso = /XORRISO-([\d.]+)/i.exec(all);
  if (/GRUB/i.test(application) && xorriso) return { tool: 'grub-mkrescue', label: `grub-mkrescue (xorriso ${xorriso[1]})` };
  if (xorriso) return { tool: 'xorriso', label: `xorriso ${xorriso[1]}` };
  if (/LIBISOFS/i.test(all)) return { tool: 'xorriso', label: 'libisofs' };
  if (/GENISOIMAGE/i.test(all)) return { tool: 'genisoimage', label: 'genisoimage' };
  if (/MKISOFS/i.test(all)) return { tool: 'mkisofs', label: 'mkisofs' };
  return { tool: 'unknown', label: undefined };
}

const XORRISO_VOLUME_DATES =
  'set SOURCE_DATE_EPOCH (xorriso 1.5.4 then takes the volume dates from it), or fix them with `-volume_date c|m YYYYMMDDhhmmsscc` and `-volume_date uuid YYYYMMDDhhmmsscc`';

export function volumeDateHint(tool: IsoProducer): string {
  switch (tool) {
    case 'xorriso':
      return `xorriso: ${XORRISO_VOLUME_DATES}`;
    case 'grub-mkrescue':
      return 'grub-mkrescue passes --modification-date=<now> to xorriso, which overrides SOURCE_DATE_EPOCH: append `--modification-date=YYYYMMDDhhmmsscc -- -volume_date all_file_dates =$SOURCE_DATE_EPOCH` to its command line (GRUB 2.06, xorriso 1.5.4)';
    case 'genisoimage':
    case 'mkisofs':
      return 'genisoimage stamps the build time into the volume descriptor; build with xorriso -as mkisofs and SOURCE_DATE_EPOCH instead';
    default:
      return 'fix the volume dates: with xorriso set SOURCE_DATE_EPOCH or `-volume_date`';
  }
}

export function fileDateHint(tool: IsoProducer): string {
  switch (tool) {
    case 'grub-mkrescue':
      return 'grub-mkrescue copies its modules at build time, so their times are the build time: append `-- -volume_date all_file_dates =$SOURCE_DATE_EPOCH` to its command line';
    case 'xorriso':
      return 'file times come from the input tree and SOURCE_DATE_EPOCH does not change them: add `-volume_date all_file_dates =$SOURCE_DATE_EPOCH` (after `--` with -as mkisofs), or touch the tree first (`find tree -exec touch -h -d @$SOURCE_DATE_EPOCH {} +`)';
    default:
      return 'file times come from the input tree: touch every file to $SOURCE_DATE_EPOCH before building';
  }
}

export function inodeHint(tool: IsoProducer): string {
  if (tool === 'xorriso' || tool === 'grub-mkrescue') {
    return 'Rock Ridge inode numbers follow the input tree: with xorriso use `-hardlinks off` or build from a tree with a stable order';
  }
  return 'Rock Ridge inode numbers depend on the input tree and build order; renumber or build from the same tree';
}
