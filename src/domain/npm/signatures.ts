/**
 * Registry signatures (docs/design/registry-signatures.md): what Wharf signs for every npm version and how its
 * public keys are described, exactly as npm's `pacote` checks them (`dist.signatures[].keyid` looked up in the
 * registry's `/-/npm/v1/keys`, the message `<name>@<version>:<integrity>` verified with ECDSA-SHA256 over P-256).
 */
import { createHash, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export interface RegistrySignature {
  readonly keyid: string;
  /** Base64 of the DER-encoded ECDSA signature. */
  readonly sig: string;
}

/** One entry of `GET /-/npm/v1/keys`, as the public registry lists its keys. */
export interface RegistryPublicKey {
  readonly keyid: string;
  readonly keytype: 'ecdsa-sha2-nistp256';
  readonly scheme: 'ecdsa-sha2-nistp256';
  /** Base64 of the SubjectPublicKeyInfo DER. */
  readonly key: string;
  /** ISO-8601; a signature is accepted only for a version published before it. `null`: still signing. */
  readonly expires: string | null;
}

/** What a signing key row holds that the public sees. */
export interface SigningKeyFacts {
  readonly keyid: string;
  readonly public_key: string;
  readonly expires_at: string | null;
}

/** The message pacote verifies: its `${mani._id}:${mani._integrity}`. */
export const signedMessage = (name: string, version: string, integrity: string): string => `${name}@${version}:${integrity}`;

/** `SHA256:<unpadded base64 of the SPKI DER's SHA-256>`, the public registry's key id form. */
export const keyIdOf = (spkiDer: Buffer): string => `SHA256:${createHash('sha256').update(spkiDer).digest('base64').replace(/=+$/, '')}`;

export const publicKeyOf = (k: SigningKeyFacts): RegistryPublicKey => ({
  keyid: k.keyid,
  keytype: 'ecdsa-sha2-nistp256',
  scheme: 'ecdsa-sha2-nistp256',
  key: k.public_key,
  expires: k.expires_at,
});

/** The integrity a version's signature covers: its `dist.integrity` as stored (always the server's sha512). */
export function integrityToSign(packageJson: Record<string, unknown>): string | undefined {
  const dist = packageJson.dist;
  if (typeof dist !== 'object' || dist === null) return undefined;
  const integrity = (dist as Record<string, unknown>).integrity;
  return typeof integrity === 'string' && integrity !== '' ? integrity : undefined;
}

/** The stored `npm_metadata.signatures` text, read back; anything malformed counts as unsigned. */
export function parseSignatures(text: string | null | undefined): RegistrySignature[] | undefined {
  if (!text) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) return undefined;
    const out = parsed.filter((s): s is RegistrySignature => typeof s?.keyid === 'string' && typeof s?.sig === 'string').map((s) => ({ keyid: s.keyid, sig: s.sig }));
    return out.length ? out : undefined;
  } catch {
    return undefined;
  }
}

/** A new P-256 key pair as a `registry_signing_keys` row stores it: the SPKI DER in base64, the private key as PKCS#8 PEM. */
export function generateSigningKey(): { keyid: string; public_key: string; private_key: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return { keyid: keyIdOf(spki), public_key: spki.toString('base64'), private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

export const privateKeyOf = (pem: string): KeyObject => createPrivateKey(pem);

/** One version's signature: ECDSA-SHA256, DER-encoded (Node's default), as pacote's `crypto.createVerify('SHA256')` expects. */
export function signVersion(key: { keyid: string; privateKey: KeyObject }, name: string, version: string, integrity: string): RegistrySignature {
  return { keyid: key.keyid, sig: sign('sha256', Buffer.from(signedMessage(name, version, integrity)), key.privateKey).toString('base64') };
}
