/**
 * `REPRODIFF_TRACE=1`: the phases of a run on stderr, with milliseconds since the process started, the RSS,
 * and of that the JS heap in use and the memory of ArrayBuffers (decoded data, read blocks).
 */
const on = process.env.REPRODIFF_TRACE === '1';

const mib = (n: number): string => (n / 1048576).toFixed(0).padStart(5);

export function trace(phase: string): void {
  if (!on) return;
  const m = process.memoryUsage();
  process.stderr.write(`reprodiff trace: ${performance.now().toFixed(0).padStart(6)} ms ${mib(m.rss)} MiB rss ${mib(m.heapUsed)} heap ${mib(m.arrayBuffers)} buffers  ${phase}\n`);
}
