/** The registry token flow's pure rules (src/domain/oci/token-access.ts): scopes, grants, coverage, challenges. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Identity } from '../../src/domain/access/identity.js';
import {
  accessCovers,
  actionOf,
  bearerChallenge,
  challengeScope,
  grantedActions,
  MAX_SCOPES,
  parseScopes,
} from '../../src/domain/oci/token-access.js';

const user = (scopes: ('api' | 'read_api')[]): Identity => ({ kind: 'user', userId: 1, username: 'u', isAdmin: false, scopes, tokenId: 1 });

describe('registry token rules', () => {
  it('parses repeated and space-separated scopes, merging actions per repository', () => {
    const r = parseScopes(['repository:a/b/c:pull', 'repository:a/b/c:push repository:x/y:*', 'registry:catalog:*', 'garbage', 'repository:a/b/c:frob']);
    assert.ok(r.ok);
    assert.deepEqual(
      r.scopes.map((s) => [s.name, [...s.actions].sort()]),
      [
        ['a/b/c', ['pull', 'push']],
        ['x/y', ['delete', 'pull', 'push']],
      ],
    );
    // A host:port prefix stays part of the name; a resource class is still a repository.
    const h = parseScopes(['repository(plugin):host:5000/a/b:pull']);
    assert.ok(h.ok);
    assert.equal(h.scopes[0]?.name, 'host:5000/a/b');
  });

  it('refuses too many or too long scopes', () => {
    const many = Array.from({ length: MAX_SCOPES + 1 }, (_, i) => `repository:a/c${i}:pull`);
    assert.equal(parseScopes(many).ok, false);
    assert.equal(parseScopes([many.slice(0, MAX_SCOPES).join(' ')]).ok, true);
    assert.equal(parseScopes([`repository:a/${'b'.repeat(600)}:pull`]).ok, false);
  });

  it('grants the intersection of what was asked, what the role allows and what the PAT scope allows', () => {
    const asked = new Set(['pull', 'push', 'delete'] as const);
    const developer = (a: string) => a !== 'destroy_package';
    assert.deepEqual(grantedActions(user(['api']), asked, developer), ['pull', 'push']);
    assert.deepEqual(grantedActions(user(['read_api']), asked, developer), ['pull']);
    assert.deepEqual(grantedActions(user(['api']), new Set(['push'] as const), developer), ['push']);
    assert.deepEqual(grantedActions({ kind: 'anonymous' }, asked, (a) => a === 'read_package'), ['pull']);
    assert.deepEqual(grantedActions(user(['api']), asked, () => false), []);
  });

  it('names the action a request needs and checks a grant covers it', () => {
    assert.equal(actionOf('GET', { kind: 'blob', name: 'a/b', digest: 'd' }), 'pull');
    assert.equal(actionOf('HEAD', { kind: 'manifest', name: 'a/b', reference: '1' }), 'pull');
    assert.equal(actionOf('PATCH', { kind: 'upload', name: 'a/b', uuid: 'u' }), 'push');
    assert.equal(actionOf('DELETE', { kind: 'upload', name: 'a/b', uuid: 'u' }), 'push');
    assert.equal(actionOf('DELETE', { kind: 'manifest', name: 'a/b', reference: '1' }), 'delete');
    const access = [{ type: 'repository' as const, name: 'a/b', actions: ['pull' as const] }];
    assert.equal(accessCovers(access, 'a/b', 'pull'), true);
    assert.equal(accessCovers(access, 'a/b', 'push'), false);
    assert.equal(accessCovers(access, 'a/bc', 'pull'), false);
  });

  it('writes the challenge as the distribution spec does', () => {
    assert.equal(bearerChallenge('https://w/jwt/auth'), 'Bearer realm="https://w/jwt/auth",service="container_registry"');
    assert.equal(
      bearerChallenge('https://w/jwt/auth', challengeScope('a/b', 'push'), 'insufficient_scope'),
      'Bearer realm="https://w/jwt/auth",service="container_registry",scope="repository:a/b:pull,push",error="insufficient_scope"',
    );
  });
});
