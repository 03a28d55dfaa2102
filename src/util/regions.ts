/**
 * Collects the regions of a container by name: one Region per name and role however many structures share it
 * (a tar archive has a header per member), adjacent spans merged. Keeps the region list short on big archives.
 */
import type { Region, Span } from '../model.js';

export class RegionList {
  private readonly byKey = new Map<string, Region>();

  add(name: string, role: Region['role'], spans: Span[]): void {
    const key = `${role}\0${name}`;
    let r = this.byKey.get(key);
    if (!r) {
      r = { name, role, spans: [] };
      this.byKey.set(key, r);
    }
    for (const s of spans) {
      if (s.length === 0) continue;
      const last = r.spans[r.spans.length - 1];
      if (last && last.stream === s.stream && last.offset + last.length === s.offset) last.length += s.length;
      else r.spans.push({ ...s });
    }
  }

  /** The regions in the order their names first appeared; names with no bytes are left out. */
  list(): Region[] {
    return [...this.byKey.values()].filter((r) => r.spans.length > 0);
  }
}
