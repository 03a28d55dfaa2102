/**
 * The progress line on stderr while a comparison runs: the lockstep pass over both inputs with its rate and
 * an ETA, then the entries compared and the bytes decoded. Drawn only when stderr is a terminal and not with
 * -q, at most every 100 ms, and cleared when the work ends.
 */
import type { CompareProgress } from './compare/types.js';

interface Terminal {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

function bytes(n: number): string {
  if (n < 1024) return `${Math.max(0, Math.round(n))} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

function seconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${Math.ceil(s)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s - m * 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The text of the progress line for a state, `elapsed` seconds into its phase. */
export function progressLine(p: CompareProgress, elapsed: number): string {
  if (p.phase === 'pass') {
    const pct = p.bytesTotal > 0 ? Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 100)) : 100;
    const rate = elapsed > 0 ? p.bytesDone / elapsed : 0;
    const speed = rate > 0 ? `, ${bytes(rate)}/s` : '';
    const eta = rate > 0 && p.bytesTotal > p.bytesDone ? `, ETA ${seconds((p.bytesTotal - p.bytesDone) / rate)}` : '';
    return `comparing bytes: ${pct}% (${bytes(p.bytesDone)} of ${bytes(p.bytesTotal)}${speed}${eta})`;
  }
  // a rate over less than a second says little
  const rate = elapsed >= 1 ? ` (${Math.round(p.entries / elapsed)} entries/s)` : '';
  return `comparing entries: ${p.entries} entr${p.entries === 1 ? 'y' : 'ies'}, ${bytes(p.decodedBytes)} decoded${rate}`;
}

export class ProgressLine {
  private readonly enabled: boolean;
  private phase: CompareProgress['phase'] | undefined;
  private phaseStart = 0;
  private lastDraw = -Infinity;
  private shown = 0;

  constructor(
    private readonly out: Terminal,
    quiet: boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.enabled = out.isTTY === true && !quiet;
  }

  update(p: CompareProgress): void {
    if (!this.enabled) return;
    const t = this.now();
    if (p.phase !== this.phase) {
      this.phase = p.phase;
      this.phaseStart = t;
    } else if (t - this.lastDraw < 100) return;
    this.lastDraw = t;
    const width = this.out.columns && this.out.columns > 10 ? this.out.columns - 1 : 79;
    let text = progressLine(p, (t - this.phaseStart) / 1000);
    if (text.length > width) text = `${text.slice(0, width - 1)}…`;
    this.out.write(`\r${text}${' '.repeat(Math.max(0, this.shown - text.length))}`);
    this.shown = text.length;
  }

  /** Clears the line. */
  done(): void {
    if (!this.enabled || this.shown === 0) return;
    this.out.write(`\r${' '.repeat(this.shown)}\r`);
    this.shown = 0;
  }
}
