/** The pure rules of trusted publishing (`domain/npm/trusted-publishing.ts`). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  claimsMatch,
  claimsProblems,
  globMatches,
  issuerProblem,
  patternProblem,
  pipelineClaims,
  providerOf,
  trustedPublisherRecord,
} from '../../src/domain/npm/trusted-publishing.js';

describe('trusted publishing rules', () => {
  it('globs: * is any run of characters, everything else literal', () => {
    assert.ok(globMatches('@acme/*', '@acme/x'));
    assert.ok(globMatches('*', '@acme/x'));
    assert.ok(globMatches('@acme/ci-*-lib', '@acme/ci-core-lib'));
    assert.ok(globMatches('exact', 'exact'));
    assert.ok(!globMatches('exact', 'exactly'));
    assert.ok(!globMatches('@acme/*', '@other/x'));
    assert.ok(!globMatches('a.b', 'axb'), 'a dot is a dot');
    assert.ok(globMatches('@acme/*', '@acme/'));
  });

  it('a worst-case glob stays fast', () => {
    const started = process.hrtime.bigint();
    assert.ok(!globMatches('*a*a*a*b', 'a'.repeat(234)));
    assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 50);
  });

  it('patterns are names with at most four *', () => {
    assert.equal(patternProblem('@acme/*'), undefined);
    assert.equal(patternProblem('*'), undefined);
    assert.match(patternProblem('*a*b*c*d*')!, /at most 4/);
    assert.match(patternProblem('has space')!, /npm package name/);
    assert.match(patternProblem('')!, /characters/);
    assert.match(patternProblem(42)!, /characters/);
  });

  it('issuers are http(s) URLs without credentials, query or fragment', () => {
    assert.equal(issuerProblem('https://gitlab.com'), undefined);
    assert.equal(issuerProblem('http://127.0.0.1:8080'), undefined);
    assert.match(issuerProblem('ftp://x')!, /https/);
    assert.match(issuerProblem('https://x/?a=1')!, /query/);
    assert.match(issuerProblem('https://u:p@x')!, /credentials/);
  });

  it('claims must pin the project, by provider, and may not pin registered claims', () => {
    assert.deepEqual(claimsProblems('https://gitlab.com', { project_path: 'a/b' }), []);
    assert.deepEqual(claimsProblems('https://token.actions.githubusercontent.com', { repository: 'a/b' }), []);
    assert.match(claimsProblems('https://token.actions.githubusercontent.com', { project_path: 'a/b' }).join(), /repository is required/);
    assert.match(claimsProblems('https://gitlab.com', { ref: 'main' }).join(), /project_path is required/);
    assert.deepEqual(claimsProblems('https://other.example', { sub: 'x' }), []);
    assert.match(claimsProblems('https://gitlab.com', { project_path: 'a/b', exp: '1' }).join(), /exp is checked/);
    assert.match(claimsProblems('https://gitlab.com', { project_path: 'a\nb' }).join(), /non-empty string/);
    assert.match(claimsProblems('https://gitlab.com', null).join(), /must be an object/);
  });

  it('claims match exactly, as strings', () => {
    assert.ok(claimsMatch({ project_path: 'a/b', ref: 'main' }, { project_path: 'a/b', ref: 'main', other: 1 }));
    assert.ok(!claimsMatch({ project_path: 'a/b' }, { project_path: 'a/B' }));
    assert.ok(!claimsMatch({ project_id: '42' }, { project_id: 42 }));
    assert.ok(!claimsMatch({ ref: 'main' }, {}));
  });

  it('the provider and the record are those the public registry shows', () => {
    assert.equal(providerOf('https://token.actions.githubusercontent.com/', { repository: 'a/b' }), 'github');
    assert.equal(providerOf('https://gitlab.com', { project_path: 'a/b' }), 'gitlab');
    assert.equal(providerOf('https://idp.example', { sub: 'x' }), 'oidc');
    assert.deepEqual(trustedPublisherRecord('gitlab', 7), { id: 'gitlab', oidcConfigId: 'oidc:7' });
  });

  it('the audit log keeps only the pipeline claims, bounded', () => {
    const kept = pipelineClaims({ project_path: 'a/b', pipeline_id: 12, secret: 'x', ref: 'r'.repeat(500) });
    assert.deepEqual(Object.keys(kept).sort(), ['pipeline_id', 'project_path', 'ref']);
    assert.equal(kept.ref!.length, 200);
  });
});
