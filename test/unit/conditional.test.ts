import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ifNoneMatchMatches } from '../../src/domain/conditional.js';

describe('If-None-Match (RFC 9110 §13.1.2 weak comparison), one test for npm, Helm and the web UI', () => {
  const etag = '"abc123"';

  it('a weak tag matches the strong ETag of the same representation', () => {
    // The web UI's stylesheet compared the header with `===`, so a cache that had weakened the tag (as
    // compressing proxies do) always got the whole file again.
    assert.equal(ifNoneMatchMatches('W/"abc123"', etag), true);
    assert.equal(ifNoneMatchMatches('"abc123"', 'W/"abc123"'), true);
    assert.equal(ifNoneMatchMatches('W/"abc123"', 'W/"abc123"'), true);
  });

  it('exact tags, lists with spaces, and `*` match', () => {
    assert.equal(ifNoneMatchMatches('"abc123"', etag), true);
    assert.equal(ifNoneMatchMatches('"x", W/"y",  "abc123" ', etag), true);
    assert.equal(ifNoneMatchMatches('*', etag), true);
    assert.equal(ifNoneMatchMatches(' * ', etag), true);
  });

  it('other tags, a missing header and partial tags do not', () => {
    assert.equal(ifNoneMatchMatches(undefined, etag), false);
    assert.equal(ifNoneMatchMatches('', etag), false);
    assert.equal(ifNoneMatchMatches('"nope"', etag), false);
    assert.equal(ifNoneMatchMatches('"x", W/"y"', etag), false);
    assert.equal(ifNoneMatchMatches('abc123', etag), false, 'an unquoted value is not the tag');
    assert.equal(ifNoneMatchMatches('"abc"', etag), false);
    assert.equal(ifNoneMatchMatches('w/"abc123"', etag), false, 'the weakness indicator is case-sensitive');
  });
});
