/**
 * Token material. A token is 32 random bytes (base64url) behind a readable prefix that says what it is, so secret
 * scanners and humans can recognise a leaked one. Only the SHA-256 is stored: lookup is one indexed equality.
 */
import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_PREFIX = {
  personal: 'whpat-',
  deploy: 'whdt-',
} as const;
export type TokenKind = keyof typeof TOKEN_PREFIX;

export function generateToken(kind: TokenKind): string {
  return TOKEN_PREFIX[kind] + randomBytes(32).toString('base64url');
}

export function digestToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
