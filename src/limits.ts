import { ReprodiffError } from './errors.js';

/** Named caps applied to untrusted input. Every count, length and depth read from an image is checked against one. */
export interface Limits {
  /** how deep containers may nest (ISO -> FAT -> ...) */
  maxDepth: number;
  /** bytes a decoder may produce for one decoded stream */
  maxDecodedBytes: number;
  /** entries one container may hold */
  maxEntries: number;
  /** directory nesting within one container */
  maxDirDepth: number;
  /** bytes of one metadata structure read at once (directory extent, FAT, table) */
  maxStructureBytes: number;
  /** links followed in one chain (CE areas, FAT clusters are bounded by their own size) */
  maxChain: number;
  /** nested containers opened in one run, all depths together (bounds archive quines and garbage tables) */
  maxContainers: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxDepth: 8,
  maxDecodedBytes: 1024 * 1024 * 1024,
  maxEntries: 2_000_000,
  maxDirDepth: 256,
  maxStructureBytes: 64 * 1024 * 1024,
  maxChain: 100_000,
  maxContainers: 20_000,
});

/** Throws E_LIMIT when `value` exceeds `cap`. `what` names the thing counted. */
export function checkCap(value: number, cap: number, what: string, file?: string, offset?: number): void {
  if (!Number.isFinite(value) || value > cap) {
    throw new ReprodiffError('E_LIMIT', `${what} is ${value}, over the limit of ${cap}`, { file, offset });
  }
}
