/**
 * The registry is the one list of formats: FormatName in src/model.ts, the JSON Schema's format enum and the
 * registry must name the same formats (plus `raw` and `text`, inputs or bytes no format claims, and `folder`), and the rules the core asks
 * of a format have defaults for formats that do not declare them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FORMATS } from '../../src/formats/index.js';
import { BufferSource } from '../../src/io/source.js';
import type { Format } from '../../src/model.js';
import { formatNamed, isCoResident, isCopyField, isTransparent, orderingHint } from '../../src/walk/rules.js';
import { ROOT } from '../helpers/cli.js';

const registered = FORMATS.map((f) => f.name);

/** The string literals of `export type FormatName = ...;` as src/model.ts declares them. */
function formatNameUnion(): string[] {
  const text = readFileSync(join(ROOT, 'src/model.ts'), 'utf8');
  const decl = /export type FormatName =([^;]*);/.exec(text)?.[1] ?? '';
  return [...decl.matchAll(/'([a-z0-9_-]+)'/g)].map((m) => m[1]!);
}

/** formats no reader registers: the bytes no format claims, text no format opens (both compared as one content), a release folder */
const UNREGISTERED = ['raw', 'text', 'folder'];

describe('the format registry', () => {
  it('names each format once', () => {
    expect(new Set(registered).size).toBe(registered.length);
  });

  it('matches the JSON Schema format enum, plus raw, text and folder', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schema/report.schema.json'), 'utf8')) as { $defs?: Record<string, { enum?: string[] }>; definitions?: Record<string, { enum?: string[] }> };
    const defs = schema.$defs ?? schema.definitions ?? {};
    const names = defs.format?.enum;
    expect(names, 'schema format enum').toBeDefined();
    expect([...names!].sort()).toEqual([...registered, ...UNREGISTERED].sort());
  });

  it('matches FormatName in src/model.ts, plus raw, text and folder', () => {
    expect(formatNameUnion().sort()).toEqual([...registered, ...UNREGISTERED].sort());
  });

  it('gives the core defaults for a format that declares no rules', () => {
    // the shape of a format written before the rules existed: name, detect, exclusive, open
    const plain: Format = { name: 'tar', detect: () => 0, exclusive: true, open: (src: BufferSource) => ({ format: 'tar', source: src, fields: [], entries: [], regions: [], notes: [] }) };
    expect(plain.coResident ?? false).toBe(false);
    expect(isTransparent('raw', '/content')).toBe(false);
    expect(isCoResident('raw')).toBe(false);
    expect(isCopyField('raw', 'x.self.y')).toBe(false);
    expect(orderingHint('raw')).toMatch(/sorted, fixed order/);
  });

  it('looks the rules up on the formats that declare them', () => {
    for (const f of ['gzip', 'xz', 'zstd', 'lz4']) expect(isTransparent(f, '/content'), f).toBe(true);
    expect(isTransparent('gzip', '/other')).toBe(false);
    expect(isTransparent('cpio', '/content')).toBe(false);
    for (const f of ['mbr', 'gpt', 'apm', 'eltorito']) expect(isCoResident(f), f).toBe(true);
    expect(isCoResident('iso9660')).toBe(false);
    expect(isCopyField('iso9660', 'dirent.self.recording_date')).toBe(true);
    expect(isCopyField('iso9660', 'joliet.creation_date')).toBe(true);
    expect(isCopyField('iso9660', 'dirent.recording_date')).toBe(false);
    expect(isCopyField('gpt', 'gpt.backup.header.disk_guid')).toBe(true);
    expect(isCopyField('gpt', 'gpt.header.disk_guid')).toBe(false);
    expect(orderingHint('tar')).toBe('use `tar --sort=name`');
    expect(formatNamed('zip')?.presenceHint).toMatch(/zip -X/);
  });
});
