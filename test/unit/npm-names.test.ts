import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { followsNamingConvention, isStrictSemver, isValidNpmName, scopeOf, tarballFileName } from '../../src/domain/npm/names.js';
import { compareVersionsDesc, highestVersion } from '../../src/domain/npm/versions.js';

describe('npm package names (GitLab npm_package_name_regex)', () => {
  it('accepts what GitLab accepts, uppercase included', () => {
    for (const ok of ['left-pad', 'a', '@acme/widget', '@Acme/Widget', '@my.group/pkg', '@a_b/c+d', 'x.y_z-1', '@9/0']) {
      assert.ok(isValidNpmName(ok), ok);
    }
  });
  it('refuses what GitLab refuses', () => {
    for (const bad of ['', '@acme', '@acme/', '@/x', '@-acme/x', '@acme./x', '@acme.git/x', '@acme.atom/x', 'wid get', '~tilde', 'a!b', 'a(b)', "a'b", '@a/b/c', 'café', 'a/b']) {
      assert.ok(!isValidNpmName(bad), bad);
    }
  });
  it('caps names at 255 characters', () => {
    assert.ok(isValidNpmName('a'.repeat(255)));
    assert.ok(!isValidNpmName('a'.repeat(256)));
  });
  it('scope_of: the scope without @, or null', () => {
    assert.equal(scopeOf('@acme/widget'), 'acme');
    assert.equal(scopeOf('@my.group/pkg'), 'my.group');
    assert.equal(scopeOf('widget'), null);
    assert.equal(scopeOf('@acme'), null);
    assert.equal(scopeOf('@bad scope/x'), null);
  });
  it('the naming convention compares the scope with the root namespace path exactly', () => {
    assert.ok(followsNamingConvention('@acme/widget', 'acme'));
    assert.ok(!followsNamingConvention('@Acme/widget', 'acme'));
    assert.ok(!followsNamingConvention('widget', 'acme'));
    assert.ok(!followsNamingConvention('@other/widget', 'acme'));
  });
  it('tarball file names keep the scope, as GitLab stores them', () => {
    assert.equal(tarballFileName('@acme/widget', '1.0.0'), '@acme/widget-1.0.0.tgz');
    assert.equal(tarballFileName('left-pad', '1.3.0'), 'left-pad-1.3.0.tgz');
  });
});

describe('npm versions (GitLab semver_regex)', () => {
  it('accepts strict SemVer 2.0', () => {
    for (const ok of ['0.0.0', '1.2.3', '10.20.30', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-0.3.7', '1.0.0-x.7.z.92', '1.0.0+20130313144700', '1.0.0-beta+exp.sha.5114f85', '1.0.0-rc.1+build.1']) {
      assert.ok(isStrictSemver(ok), ok);
    }
  });
  it('refuses the versions GitLab’s spec refuses, and other near misses', () => {
    for (const bad of ['1', '1.2', '1./2.3', '../../../../../1.2.3', '%2e%2e%2f1.2.3', 'v1.2.3', '01.2.3', '1.02.3', '1.2.3-01', '1.2.3-', '1.2.3+', '1.2.3 ', '']) {
      assert.ok(!isStrictSemver(bad), bad);
    }
  });
  it('orders by SemVer precedence, pre-releases below their release', () => {
    assert.deepEqual(['1.0.0', '1.10.0', '1.2.0', '2.0.0-rc.1', '2.0.0', '1.0.0-beta'].sort(compareVersionsDesc), ['2.0.0', '2.0.0-rc.1', '1.10.0', '1.2.0', '1.0.0', '1.0.0-beta']);
    assert.equal(highestVersion(['1.2.0', '3.0.0-rc.1', '2.9.0']), '3.0.0-rc.1');
    assert.equal(highestVersion([]), undefined);
  });
});
