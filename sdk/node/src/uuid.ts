// UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Event ids minted by the SDK
// are sortable by time and unique, so a retried batch is de-duplicated by the server.

import { webcrypto } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A new UUIDv7 string, e.g. `0193f4a2-7b1c-7d3e-9f00-1a2b3c4d5e6f`. */
export function uuidv7(now: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  // node:crypto's, not globalThis.crypto: that one is flagged on Node 18 (Debian 12's nodejs).
  webcrypto.getRandomValues(bytes);
  let ms = Math.floor(now);
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f); // version 7
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f); // variant 10
  let out = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
    out += HEX[bytes[i] ?? 0];
  }
  return out;
}
