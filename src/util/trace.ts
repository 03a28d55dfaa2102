/** `REPRODIFF_TRACE=1`: the phases of a run, with milliseconds since the process started, on stderr. */
const on = process.env.REPRODIFF_TRACE === '1';

export function trace(phase: string): void {
  if (on) process.stderr.write(`reprodiff trace: ${performance.now().toFixed(0).padStart(6)} ms ${phase}\n`);
}
