/**
 * The issuer of a Helm provenance file's OpenPGP signature (src/domain/helm/provenance-signer.ts): the key id of a
 * `helm package --sign` file (new-format packet, issuer key id subpacket), the fingerprint and key id of a modern
 * GnuPG signature (old-format packet, issuer fingerprint subpacket), compared with what `gpg --list-packets`
 * reports; and nothing, without throwing, for what is not a readable signature.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { provenanceSigner, signerOfPackets } from '../../src/domain/helm/provenance-signer.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/helm/signed/${name}`, import.meta.url), 'utf8');

/** `gpg --clearsign` with an ed25519 key 35589EAEACF573C90D9384BFAC7D894703AFD444 (GnuPG 2.2). */
const GPG_ED25519 = `-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

name: x
version: 1.0.0

...
files:
  x-1.0.0.tgz: sha256:00
-----BEGIN PGP SIGNATURE-----

iHUEARYIAB0WIQQ1WJ6urPVzyQ2ThL+sfYlHA6/URAUCaxcOowAKCRCsfYlHA6/U
RJQdAP9XaSx2nXR7qHkwoeY+K1Ir0tRI7SBBWr4jWYmIaXisdQEAk2cK8BBmwed+
vNDSpiu1TDRWJGnAnH6nYVJ0yDxxLAw=
=JFR2
-----END PGP SIGNATURE-----
`;

describe('provenance signer', () => {
  it("reads the issuer key id of helm's own signed charts (gpg: keyid 843BBF981FC18762)", () => {
    assert.deepEqual(provenanceSigner(fixture('signtest-0.1.0.tgz.prov')), { keyId: '843BBF981FC18762' });
    assert.deepEqual(provenanceSigner(fixture('hashtest-1.2.3.tgz.prov')), { keyId: '843BBF981FC18762' });
  });

  it('reads the issuer fingerprint and key id of a GnuPG ed25519 signature', () => {
    assert.deepEqual(provenanceSigner(GPG_ED25519), { fingerprint: '35589EAEACF573C90D9384BFAC7D894703AFD444', keyId: 'AC7D894703AFD444' });
    // With armor headers and CRLF line ends too.
    const withHeaders = GPG_ED25519.replace('-----BEGIN PGP SIGNATURE-----\n', '-----BEGIN PGP SIGNATURE-----\nVersion: GnuPG v2\nComment: x\n').replace(/\n/g, '\r\n');
    assert.equal(provenanceSigner(withHeaders)?.keyId, 'AC7D894703AFD444');
  });

  it('answers nothing for what is not a readable signature, and never throws', () => {
    assert.equal(provenanceSigner('no signature here'), undefined);
    assert.equal(provenanceSigner('-----BEGIN PGP SIGNATURE-----\n\n!!!\n-----END PGP SIGNATURE-----'), undefined);
    const packet = Buffer.from('iHUEARYIAB0WIQQ1WJ6urPVzyQ2ThL+sfYlHA6/URAUCaxcOowAKCRCsfYlHA6/URJQdAP9XaSx2nXR7qHkwoeY+K1Ir0tRI7SBBWr4jWYmIaXisdQEAk2cK8BBmwed+vNDSpiu1TDRWJGnAnH6nYVJ0yDxxLAw=', 'base64');
    // Every truncation of a real packet: its declared length no longer fits.
    for (let n = 0; n < packet.length; n++) assert.equal(signerOfPackets(packet.subarray(0, n)), undefined, `${n} bytes`);
    // Another packet type (a public key, tag 6) is not a signature.
    assert.equal(signerOfPackets(Buffer.from([0x98, 0x01, 0x04])), undefined);
    // A subpacket area claiming more than the packet holds.
    assert.equal(signerOfPackets(Buffer.from([0xc2, 0x06, 0x04, 0x00, 0x16, 0x08, 0xff, 0xff])), undefined);
    // A four-octet packet length of 4 GB.
    assert.equal(signerOfPackets(Buffer.from([0xc2, 0xff, 0xff, 0xff, 0xff, 0xff, 0x04])), undefined);
    // Random bytes.
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(Array.from({ length: 64 }, (_, j) => (i * 131 + j * 17) & 0xff));
      assert.doesNotThrow(() => signerOfPackets(junk));
    }
  });
});
