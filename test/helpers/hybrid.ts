/** The usual xorriso hybrid ISO recipe (isohybrid MBR, GPT, El Torito BIOS + EFI), built in a scratch folder. */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './tools.js';

export const ISOLINUX_BIN = '/usr/lib/ISOLINUX/isolinux.bin';
export const ISOHDPFX_BIN = '/usr/lib/ISOLINUX/isohdpfx.bin';

/**
 * Builds `dir/hybrid.iso` from `dir/tree` (isolinux.bin, a readme and a 2880 KiB efiboot.img made by
 * mkfs.fat). With `efiFile`, efiboot.img also holds /EFI/BOOT/BOOTX64.EFI (mmd + mcopy).
 */
export function buildHybridIso(dir: string, opts: { efiFile?: boolean } = {}): { iso: string; tree: string } {
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'isolinux'), { recursive: true });
  copyFileSync(ISOLINUX_BIN, join(tree, 'isolinux', 'isolinux.bin'));
  writeFileSync(join(tree, 'readme.txt'), 'hello\n');
  const efi = join(tree, 'efiboot.img');
  run('mkfs.fat', ['-C', efi, '2880']);
  if (opts.efiFile) {
    run('mmd', ['-i', efi, '::/EFI', '::/EFI/BOOT']);
    writeFileSync(join(dir, 'BOOTX64.EFI'), 'not really a PE file');
    run('mcopy', ['-i', efi, join(dir, 'BOOTX64.EFI'), '::/EFI/BOOT/BOOTX64.EFI']);
  }
  const iso = join(dir, 'hybrid.iso');
  run('xorriso', ['-as', 'mkisofs', '-isohybrid-mbr', ISOHDPFX_BIN, '-c', 'isolinux/boot.cat',
    '-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table',
    '-eltorito-alt-boot', '-e', 'efiboot.img', '-no-emul-boot', '-isohybrid-gpt-basdat', '-o', iso, tree]);
  return { iso, tree };
}
