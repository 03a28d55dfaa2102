import { createHash } from 'node:crypto';

/** A short content digest used as the value of bulk fields (boot code, FAT copies): `sha256:` and 16 hex digits. */
export function shortHash(data: Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex').slice(0, 16);
}

/** True when `data` holds only zero bytes. */
export function allZero(data: Uint8Array): boolean {
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) return false;
  return true;
}

/** Latin-1 search for an ASCII marker inside a buffer. */
export function containsAscii(data: Uint8Array, marker: string): boolean {
  const first = marker.charCodeAt(0);
  outer: for (let i = 0; i + marker.length <= data.length; i++) {
    if (data[i] !== first) continue;
    for (let j = 1; j < marker.length; j++) if (data[i + j] !== marker.charCodeAt(j)) continue outer;
    return true;
  }
  return false;
}
