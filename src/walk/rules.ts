/**
 * What the core asks of a format beyond its listing, looked up on its Format object (src/model.ts). The core
 * never names a format: each rule has a default for formats that leave it out.
 */
import type { Format } from '../model.js';
import { FORMATS } from '../formats/index.js';

const byName = new Map<string, Format>(FORMATS.map((f) => [f.name, f]));

/** The registered format of this name (undefined for `raw`, the pseudo-format of bytes no format claims). */
export function formatNamed(name: string): Format | undefined {
  return byName.get(name);
}

/** Whether `entryPath` of a `format` container is a layer's decoded stream, which adds no path step. */
export function isTransparent(format: string, entryPath: string): boolean {
  const t = byName.get(format)?.transparentEntry;
  return t !== undefined && t === entryPath;
}

/** Whether a format's entries may lie over structures another view of the same source parses. */
export function isCoResident(format: string): boolean {
  return byName.get(format)?.coResident === true;
}

const ORDERING_HINT = 'make the producing tool add members in a sorted, fixed order';

export function orderingHint(format: string): string {
  return byName.get(format)?.orderingHint ?? ORDERING_HINT;
}

/** Whether a field of a format holds a copy of a value stored first elsewhere. */
export function isCopyField(format: string, field: string): boolean {
  return byName.get(format)?.isCopyField?.(field) === true;
}

/** How to fix fields only one build writes, when the format says. */
export function presenceHint(format: string): string | undefined {
  return byName.get(format)?.presenceHint;
}

/** The registered formats' names, for messages. */
export function formatNames(): string[] {
  return FORMATS.map((f) => f.name);
}
