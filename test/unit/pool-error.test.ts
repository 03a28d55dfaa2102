/**
 * The worker pool's own 'error' events (piscina's answer for a task it no longer tracks, as when a failing run
 * destroyed the pool while a task was in flight) are not the run's failure: they must not escape as an
 * uncaught exception.
 */
import { describe, expect, it } from 'vitest';
import { WorkerPool } from '../../src/compare/pool.js';

describe('worker pool', () => {
  it('an error event from the pool outside any task is not thrown', async () => {
    const pool = new WorkerPool(1);
    const inner = (pool as unknown as { pool: { emit(e: string, v: unknown): boolean } }).pool;
    expect(() => inner.emit('error', new Error('Unexpected message from Worker: { taskId: 7 }'))).not.toThrow();
    await pool.close();
  });
});
