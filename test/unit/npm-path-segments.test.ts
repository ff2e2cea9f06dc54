import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/domain/errors.js';
import { decodeFileName, decodePackageName, decodeTag, isSafeFilePath } from '../../src/domain/npm/path-segments.js';

const refusal = (fn: () => unknown): { status: number; body: unknown } => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError);
    return { status: err.status, body: err.body };
  }
  assert.fail('expected a refusal');
};

describe('npm path segments (docs/design/gitlab-compatibility.md#path-segments)', () => {
  it('decodes the three spellings of a scoped name to one name', () => {
    assert.equal(decodePackageName('@acme%2fwidget'), '@acme/widget');
    assert.equal(decodePackageName('@acme%2Fwidget'), '@acme/widget');
    assert.equal(decodePackageName('@acme/widget'), '@acme/widget');
    assert.equal(decodePackageName('left-pad'), 'left-pad');
  });
  it('decodes exactly once: %252f stays a literal %2f', () => {
    assert.equal(decodePackageName('@acme%252fwidget'), '@acme%2fwidget');
  });
  it('refuses traversal, also encoded and double-encoded, CR/LF, NUL and absolute paths', () => {
    for (const raw of ['..', '..%2fetc', '%2e%2e%2f1.2.3', '%252e%252e%252fx', 'a/../b', 'a%5c..%5cb', '%0d%0ahttp:/%2fexample.com', 'a%00b', '%2fetc%2fpasswd', '/etc', '.', '%E0%A4%A']) {
      assert.deepEqual(refusal(() => decodePackageName(raw)), { status: 400, body: { error: 'package_name should be a valid file path' } }, raw);
    }
  });
  it('keeps names that merely contain dots', () => {
    for (const ok of ['a..b', '...', 'my.lib', '@a/..b', '.hidden']) assert.ok(isSafeFilePath(ok), ok);
  });
  it('a blank name is "Package Name" not given; a blank tag "Tag" not given', () => {
    assert.deepEqual(refusal(() => decodePackageName('%20')), {
      status: 400,
      body: { message: '400 Bad request - "Package Name" not given', error: '"Package Name" not given' },
    });
    assert.deepEqual(refusal(() => decodeTag('%20%20')), { status: 400, body: { message: '400 Bad request - "Tag" not given', error: '"Tag" not given' } });
    assert.equal(decodeTag('next'), 'next');
    assert.equal(decodeTag('release%2F1'), 'release/1');
  });
  it('file names follow the same file-path rule', () => {
    assert.equal(decodeFileName('@acme%2fwidget-1.0.0.tgz'), '@acme/widget-1.0.0.tgz');
    assert.equal(refusal(() => decodeFileName('..%2fsecret.tgz')).status, 400);
  });
});
