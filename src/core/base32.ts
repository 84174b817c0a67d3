/** RFC 4648 base32 in lower case without padding: the random part of pseudonyms and token ids. */
const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/** Encodes bytes as RFC 4648 base32, lower case, no padding. */
export function base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}
