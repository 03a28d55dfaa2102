/** `REPRODIFF_TRACE=1`: the phases of a run, with milliseconds since the process started and the RSS, on stderr. */
const on = process.env.REPRODIFF_TRACE === '1';

export function trace(phase: string): void {
  if (on) process.stderr.write(`reprodiff trace: ${performance.now().toFixed(0).padStart(6)} ms ${(process.memoryUsage.rss() / 1048576).toFixed(0).padStart(5)} MiB ${phase}\n`);
}
