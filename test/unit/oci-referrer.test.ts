/** What counts as an artifact attached to a chart (`src/domain/oci/referrer.ts`), and the referrers path. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOciPath } from '../../src/domain/oci/names.js';
import { annotationsOf, checkReferrer, MAX_REFERRER_BYTES } from '../../src/domain/oci/referrer.js';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const d = (mediaType: string, c = 'a') => ({ mediaType, digest: `sha256:${c.repeat(64)}`, size: 2 });
const subject = { mediaType: MANIFEST, digest: `sha256:${'c'.repeat(64)}`, size: 100 };
const base = { schemaVersion: 2, mediaType: MANIFEST, artifactType: 'application/spdx+json', config: d('application/vnd.oci.empty.v1+json'), layers: [d('application/spdx+json', 'b')], subject };
const check = (doc: object, contentType: string | undefined = MANIFEST) => checkReferrer(Buffer.from(JSON.stringify(doc)), contentType);
const reason = (doc: object, contentType?: string): string => {
  const r = check(doc, contentType);
  assert.ok(r && !r.ok, JSON.stringify(r));
  return r.reason;
};

describe('checkReferrer', () => {
  it('takes an artifact with a subject, its artifactType or else its config media type', () => {
    const r = check(base);
    assert.ok(r?.ok);
    assert.equal(r.manifest.artifactType, 'application/spdx+json');
    assert.equal(r.manifest.subjectSha256, 'c'.repeat(64));
    const sig = check({ ...base, artifactType: undefined, config: d('application/vnd.dev.cosign.artifact.sig.v1+json') });
    assert.ok(sig?.ok);
    assert.equal(sig.manifest.artifactType, 'application/vnd.dev.cosign.artifact.sig.v1+json');
  });

  it('leaves manifests without a subject, and what is no JSON, to the chart check', () => {
    assert.equal(check({ ...base, subject: undefined }), undefined);
    assert.equal(checkReferrer(Buffer.from('{nope'), MANIFEST), undefined);
  });

  it('refuses what is no image manifest, a chart with a subject, and what breaks the bounds', () => {
    assert.match(reason({ ...base, mediaType: 'application/vnd.oci.image.index.v1+json' }), /only Helm charts \(and artifacts attached to them\)/);
    assert.match(reason(base, 'application/vnd.oci.image.index.v1+json'), /only Helm charts/);
    assert.match(reason({ ...base, config: d('application/vnd.cncf.helm.config.v1+json') }), /takes no subject/);
    assert.match(reason({ ...base, layers: Array.from({ length: 65 }, () => d('x/y')) }), /at most 64 layers/);
    assert.match(reason({ ...base, annotations: { big: 'x'.repeat(MAX_REFERRER_BYTES) } }), /at most 262144 bytes/);
    assert.match(reason({ ...base, artifactType: undefined }), /must give its artifactType/);
    assert.match(reason({ ...base, artifactType: 'not a media type' }), /artifactType must be a media type/);
    assert.match(reason({ ...base, annotations: { n: 1 } }), /annotations must map strings to strings/);
    assert.match(reason({ ...base, subject: { ...subject, digest: `sha512:${'c'.repeat(128)}` } }), /not a sha256 digest/);
    assert.match(reason({ ...base, subject: { ...subject, mediaType: 'application/vnd.oci.image.index.v1+json' } }), /must be a chart's manifest/);
    assert.match(reason({ ...base, subject: 'x' }), /subject descriptor is malformed/);
    assert.match(reason({ ...base, layers: [{ digest: 'x' }] }), /layer descriptor is malformed/);
    assert.match(reason({ ...base, schemaVersion: 1 }), /schemaVersion/);
  });

  it('reads back the annotations of a stored referrer', () => {
    assert.deepEqual(annotationsOf(Buffer.from(JSON.stringify({ ...base, annotations: { a: 'b' } }))), { a: 'b' });
    assert.equal(annotationsOf(Buffer.from(JSON.stringify(base))), undefined);
  });
});

describe('parseOciPath: referrers', () => {
  it('finds <name>/referrers/<digest> from the end of the path', () => {
    assert.deepEqual(parseOciPath('acme/web/demo/referrers/sha256:abc'), { kind: 'referrers', name: 'acme/web/demo', digest: 'sha256:abc' });
    assert.equal(parseOciPath('referrers/sha256:abc'), undefined);
  });
});
