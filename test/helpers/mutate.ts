/** Seeded byte mutations of a real image, for the per-format robustness tests. */
import { ReprodiffError } from '../../src/errors.js';
import { BufferSource } from '../../src/io/source.js';
import type { Container } from '../../src/model.js';

/**
 * Applies `count` rounds of 1-4 random byte overwrites to copies of `base` (deterministic seed) and opens each
 * with `open`, reading every entry's content. Every outcome must be a container or a ReprodiffError, never a
 * crash; returns how often each outcome happened ('ok' or an error code).
 */
export async function mutations(base: Uint8Array, count: number, open: (src: BufferSource) => Promise<Container> | Container): Promise<Record<string, number>> {
  let seed = 20261122;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const outcomes: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const d = base.slice();
    for (let k = 1 + (rnd() % 4); k > 0; k--) d[rnd() % d.length] = rnd() & 0xff;
    let outcome = 'ok';
    try {
      const c = await open(new BufferSource('mutated', d));
      for (const e of c.entries) if (e.contentSource && !e.opaque) e.contentSource.read(0, e.size);
    } catch (e) {
      if (!(e instanceof ReprodiffError)) throw e;
      outcome = e.code;
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  return outcomes;
}

/** xorshift32: the same numbers on every run */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}
