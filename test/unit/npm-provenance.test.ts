/**
 * The provenance bundle checks (`domain/npm/provenance.ts`, docs/design/npm-provenance.md) on their own: what is
 * kept from a good bundle, and where the build came from as npm's GitHub and GitLab predicates say. The refusals
 * are exercised through HTTP in integration/npm-provenance.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { AppError } from '../../src/domain/errors.js';
import { buildOrigin, checkProvenanceBundle, npmPurl, provenanceAttachment } from '../../src/domain/npm/provenance.js';
import { provenanceText, statementFor } from '../helpers/npm-provenance.js';

const tgz = Buffer.from('not really a tarball, only bytes to digest');
const sha512Hex = createHash('sha512').update(tgz).digest('hex');
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return err instanceof AppError ? err.code : 'not an AppError';
  }
  return undefined;
};

describe('npm provenance bundles', () => {
  it('spells the subject as npm-package-arg’s toPurl does', () => {
    assert.equal(npmPurl('@acme/widget', '1.0.0'), 'pkg:npm/%40acme/widget@1.0.0');
    assert.equal(npmPurl('left-pad', '1.3.0'), 'pkg:npm/left-pad@1.3.0');
  });

  it('keeps the exact text, the predicate type and the build origin of a good bundle', () => {
    const data = provenanceText('@acme/widget', '1.0.0', tgz);
    const checked = checkProvenanceBundle({ data, length: data.length }, { name: '@acme/widget', version: '1.0.0', sha512Hex });
    assert.equal(checked.bytes.toString('utf8'), data);
    assert.equal(checked.predicateType, 'https://slsa.dev/provenance/v1');
    assert.deepEqual(checked.origin, { source: 'https://github.com/acme/widget', run: 'https://github.com/acme/widget/actions/runs/123/attempts/1' });
  });

  it('reads GitLab CI’s SLSA v0.2 predicate, and nothing from an unknown one', () => {
    const gitlab = statementFor('x', '1.0.0', tgz, { ci: 'gitlab' }) as { predicate: unknown };
    assert.deepEqual(buildOrigin(gitlab.predicate), { source: 'https://gitlab.example.com/acme/widget', run: 'https://gitlab.example.com/acme/widget/-/jobs/4242' });
    assert.deepEqual(buildOrigin({ something: 'else' }), { source: undefined, run: undefined });
    assert.deepEqual(buildOrigin('text'), { source: undefined, run: undefined });
    // A workflow without a run id names the workflow file; over-long claims are dropped, not cut.
    assert.deepEqual(buildOrigin({ buildDefinition: { externalParameters: { workflow: { repository: 'https://github.com/o/r', path: '.github/w.yml', ref: 'v1' } } } }), {
      source: 'https://github.com/o/r',
      run: 'https://github.com/o/r/.github/w.yml@v1',
    });
    assert.deepEqual(buildOrigin({ runDetails: { metadata: { invocationId: `https://x/${'a'.repeat(600)}` } } }), { source: undefined, run: undefined });
  });

  it('tells the three refusals apart', () => {
    const check = (data: string, sha = sha512Hex) => () => checkProvenanceBundle({ data, length: undefined }, { name: '@acme/widget', version: '1.0.0', sha512Hex: sha });
    assert.equal(codeOf(check('{')), 'npm_provenance_invalid');
    assert.equal(codeOf(check(provenanceText('@acme/other', '1.0.0', tgz))), 'npm_provenance_subject_mismatch');
    assert.equal(codeOf(check(provenanceText('@acme/widget', '1.0.0', tgz), 'ff'.repeat(64))), 'npm_provenance_digest_mismatch');
    // An upper-case hex digest is the same digest.
    assert.equal(codeOf(check(provenanceText('@acme/widget', '1.0.0', tgz, { sha512: sha512Hex.toUpperCase() }))), undefined);
  });

  it('finds the attachment npm names, and refuses a .sigstore attachment under another name', () => {
    assert.equal(provenanceAttachment({ _attachments: { 'a-1.0.0.tgz': { data: 'x' } } }, 'a', '1.0.0'), undefined);
    assert.equal(provenanceAttachment({}, 'a', '1.0.0'), undefined);
    assert.deepEqual(provenanceAttachment({ _attachments: { 'a-1.0.0.sigstore': { data: '{}', length: 2 } } }, 'a', '1.0.0'), { data: '{}', length: 2 });
    assert.equal(codeOf(() => provenanceAttachment({ _attachments: { 'b-1.0.0.sigstore': { data: '{}' } } }, 'a', '1.0.0')), 'npm_provenance_invalid');
    assert.equal(codeOf(() => provenanceAttachment({ _attachments: { 'a-1.0.0.sigstore': { data: 42 } } }, 'a', '1.0.0')), 'npm_provenance_invalid');
  });
});
