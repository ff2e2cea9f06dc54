import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptsGzip, publishBodyLimit, wantsAbbreviated } from '../../src/http/routes/npm/project.routes.js';

describe('npm content negotiation', () => {
  it('serves the abbreviated packument to npm and pnpm installs, the full one otherwise', () => {
    assert.ok(wantsAbbreviated('application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*'));
    assert.ok(wantsAbbreviated('application/vnd.npm.install-v1+json'));
    assert.ok(!wantsAbbreviated('application/json; q=1.0, */*'));
    assert.ok(!wantsAbbreviated('application/json'));
    assert.ok(!wantsAbbreviated('*/*'));
    assert.ok(!wantsAbbreviated(undefined));
    assert.ok(!wantsAbbreviated('application/vnd.npm.install-v1+json; q=0, application/json'));
    assert.ok(!wantsAbbreviated('application/vnd.npm.install-v1+json; q=0.5, application/json; q=0.9'));
  });
  it('gzips only for clients that accept gzip with a non-zero q', () => {
    assert.ok(acceptsGzip('gzip,deflate'));
    assert.ok(acceptsGzip('deflate, gzip'));
    assert.ok(acceptsGzip('gzip;q=0.5'));
    assert.ok(!acceptsGzip('gzip;q=0'));
    assert.ok(!acceptsGzip('deflate, gzip; q=0.0'));
    assert.ok(!acceptsGzip('x-gzip'));
    assert.ok(!acceptsGzip('br'));
    assert.ok(!acceptsGzip(undefined));
  });
  it('allows a publish body of about 1.37 × the largest package, plus room for the manifest', () => {
    assert.equal(publishBodyLimit(1000), 1336 + 1024 * 1024);
    assert.ok(publishBodyLimit(500 * 1024 * 1024) > (500 * 1024 * 1024 * 4) / 3);
  });
});
