/** The single-value rules of lint (src/lint/judge.ts): what looks random, derived or chosen. */
import { describe, expect, it } from 'vitest';
import { buildPathIn, chosenLooking, dateDerivedGuid, tempName, uuidVersion } from '../../src/lint/judge.js';

describe('lint rules', () => {
  it('tells mktemp suffixes from words and version tags', () => {
    for (const n of ['mkinitramfs-MAIN_zfoLdW', 'mkinitramfs-MAIN_PDSah9', 'tmp.Xa8f3Q', '/tmp/foo.k3J9xQ']) expect(tempName(n), n).not.toBeNull();
    for (const n of ['changelog.Debian', 'README.Debian', 'MainWindow', 'Lat2-Terminus16', 'initrd.img-6.1.0-50-amd64', 'shimx64.efi', 'ubuntu20', 'x86_64', 'vmlinuz']) expect(tempName(n), n).toBeNull();
  });

  it('recognises the GPT GUIDs libisofs derives from the volume date, and UUID versions', () => {
    expect(dateDerivedGuid('33323032-3131-4431-b230-303231333230')).toBe(true);
    expect(dateDerivedGuid('dacf3b4a-a731-49ee-a95e-0af471dde605')).toBe(false);
    expect(uuidVersion('dacf3b4a-a731-49ee-a95e-0af471dde605')).toBe(4);
    expect(uuidVersion('6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(1);
  });

  it('takes patterned serials for chosen ones, random-looking ones not', () => {
    for (const s of ['12345678', 'deadbeef', '00000001', 'abababab']) expect(chosenLooking(s), s).toBe(true);
    for (const s of ['871dbb90', '09f1abf9']) expect(chosenLooking(s), s).toBe(false);
  });

  it('finds build folders in paths, not system paths', () => {
    expect(buildPathIn('/build/linux-AbC123/drivers/x.c')).toMatch(/build folder/);
    expect(buildPathIn('/usr/lib/x86_64-linux-gnu/libc.so.6')).toBeNull();
  });
});
