/**
 * Which key signed a Helm provenance file (docs/design/registry-signatures.md#helm-provenance): the issuer of the
 * OpenPGP signature packet in its `-----BEGIN PGP SIGNATURE-----` block (RFC 4880 §4–5.2, RFC 9580 for v6).
 *
 * Wharf does not verify the signature (that needs the user's keyring: `helm verify`); it only reads who claims to
 * have signed, for the chart page. Every length is checked against the bytes actually there, and the parse stops at
 * the first signature packet, so a hostile file costs at most one pass over its (bounded) armor.
 */

export interface ProvenanceSigner {
  /** The issuer key id, 16 upper-case hex digits (subpacket 16, or the v3 header; else the fingerprint's tail). */
  readonly keyId?: string;
  /** The issuer fingerprint (subpacket 33), upper-case hex: 40 digits for a v4 key, 64 for v5/v6. */
  readonly fingerprint?: string;
}

const BEGIN = '-----BEGIN PGP SIGNATURE-----';
const END = '-----END PGP SIGNATURE-----';
const SIGNATURE_TAG = 2;
const SUBPACKET_ISSUER_KEY_ID = 16;
const SUBPACKET_ISSUER_FINGERPRINT = 33;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

/** The signer named by the provenance text's signature block, or undefined when there is none to read. */
export function provenanceSigner(text: string): ProvenanceSigner | undefined {
  const start = text.indexOf(BEGIN);
  const end = start < 0 ? -1 : text.indexOf(END, start);
  if (start < 0 || end < 0) return undefined;
  const lines = text.slice(start + BEGIN.length, end).replace(/\r\n/g, '\n').split('\n');
  // Armor headers (`Version: …`) end at the first empty line, if there are any; the CRC line starts with `=`.
  const blank = lines.findIndex((l, i) => i > 0 && l.trim() === '');
  const hasHeaders = lines.slice(1, blank).some((l) => l.includes(':'));
  const body = (hasHeaders && blank > 0 ? lines.slice(blank + 1) : lines).filter((l) => l.trim() !== '' && !l.startsWith('='));
  const base64 = body.join('').trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return undefined;
  return signerOfPackets(Buffer.from(base64, 'base64'));
}

/** The first signature packet's issuer. */
export function signerOfPackets(bytes: Uint8Array): ProvenanceSigner | undefined {
  const header = packetHeader(bytes, 0);
  if (!header || header.tag !== SIGNATURE_TAG) return undefined;
  if (header.bodyStart + header.length > bytes.length) return undefined;
  return signatureIssuer(bytes.subarray(header.bodyStart, header.bodyStart + header.length));
}

function packetHeader(b: Uint8Array, at: number): { tag: number; bodyStart: number; length: number } | undefined {
  const first = b[at];
  if (first === undefined || (first & 0x80) === 0) return undefined;
  if (first & 0x40) {
    // New format: the length's first octet says how many follow; partial lengths are not used for signatures.
    const tag = first & 0x3f;
    const o1 = b[at + 1];
    if (o1 === undefined) return undefined;
    if (o1 < 192) return { tag, bodyStart: at + 2, length: o1 };
    if (o1 < 224) {
      const o2 = b[at + 2];
      return o2 === undefined ? undefined : { tag, bodyStart: at + 3, length: ((o1 - 192) << 8) + o2 + 192 };
    }
    if (o1 === 255) return at + 6 <= b.length ? { tag, bodyStart: at + 6, length: readUint32(b, at + 2) } : undefined;
    return undefined;
  }
  const tag = (first >> 2) & 0x0f;
  const lengthType = first & 0x03;
  const size = [1, 2, 4][lengthType];
  if (size === undefined || at + 1 + size > b.length) return undefined;
  const length = size === 1 ? b[at + 1]! : size === 2 ? (b[at + 1]! << 8) | b[at + 2]! : readUint32(b, at + 1);
  return { tag, bodyStart: at + 1 + size, length };
}

const readUint32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) >>> 0) + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!;

function signatureIssuer(sig: Uint8Array): ProvenanceSigner | undefined {
  const version = sig[0];
  if (version === 3) {
    // v3: version, hashed length (5), type, creation time (4), key id (8), ….
    return sig.length >= 15 ? { keyId: hex(sig.subarray(7, 15)) } : undefined;
  }
  if (version !== 4 && version !== 5 && version !== 6) return undefined;
  // v4/v5/v6: version, type, public-key algorithm, hash algorithm, then the hashed and unhashed subpacket areas
  // (two-octet lengths, four-octet in v6).
  const countSize = version === 6 ? 4 : 2;
  let at = 4;
  const found: { keyId?: string; fingerprint?: string } = {};
  for (let area = 0; area < 2; area++) {
    if (at + countSize > sig.length) return undefined;
    const areaLength = countSize === 4 ? readUint32(sig, at) : (sig[at]! << 8) | sig[at + 1]!;
    at += countSize;
    const areaEnd = at + areaLength;
    if (areaEnd > sig.length) return undefined;
    readSubpackets(sig.subarray(at, areaEnd), found);
    at = areaEnd;
  }
  if (!found.keyId && found.fingerprint) {
    // A v4 key's id is the fingerprint's last 8 octets; a v5/v6 key's its first 8.
    found.keyId = found.fingerprint.length === 40 ? found.fingerprint.slice(-16) : found.fingerprint.slice(0, 16);
  }
  return found.keyId || found.fingerprint ? found : undefined;
}

function readSubpackets(area: Uint8Array, found: { keyId?: string; fingerprint?: string }): void {
  let at = 0;
  while (at < area.length) {
    const o1 = area[at]!;
    let length: number;
    let start: number;
    if (o1 < 192) {
      length = o1;
      start = at + 1;
    } else if (o1 < 255) {
      if (at + 1 >= area.length) return;
      length = ((o1 - 192) << 8) + area[at + 1]! + 192;
      start = at + 2;
    } else {
      if (at + 5 > area.length) return;
      length = readUint32(area, at + 1);
      start = at + 5;
    }
    // The length counts the type octet; a subpacket must fit inside its area.
    if (length < 1 || start + length > area.length) return;
    const type = area[start]! & 0x7f;
    const data = area.subarray(start + 1, start + length);
    if (type === SUBPACKET_ISSUER_KEY_ID && data.length === 8 && !found.keyId) found.keyId = hex(data);
    if (type === SUBPACKET_ISSUER_FINGERPRINT && (data.length === 21 || data.length === 33) && !found.fingerprint) found.fingerprint = hex(data.subarray(1));
    at = start + length;
  }
}
