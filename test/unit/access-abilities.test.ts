/** The rules of docs/design/gitlab-compatibility.md#abilities (abilities) and docs/design/gitlab-compatibility.md#npm-decision-procedure (decision order), one assertion per rule. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  authorizeProject,
  can,
  canReadProject,
  checkTokenScope,
  type ProjectAccessContext,
  type RegistryAccessLevel,
  type Visibility,
} from '../../src/domain/access/abilities.js';
import { ANONYMOUS, type AccessLevel, type DeployTokenIdentity, type Identity, type UserIdentity } from '../../src/domain/access/identity.js';
import { AppError } from '../../src/domain/errors.js';

const user = (over: Partial<UserIdentity> = {}): UserIdentity => ({
  kind: 'user', userId: 7, username: 'u', isAdmin: false, scopes: ['api'], tokenId: 1, ...over,
});
const deploy = (over: Partial<DeployTokenIdentity> = {}): DeployTokenIdentity => ({
  kind: 'deploy_token', tokenId: 9, username: 'gitlab+deploy-token-9', scopes: ['read_package_registry'], projectId: 100, groupId: null, ...over,
});
const project = (visibility: Visibility, memberLevel: AccessLevel | null = null, registry: RegistryAccessLevel = 'enabled'): ProjectAccessContext => ({
  projectId: 100, visibility, registryAccessLevel: registry, namespaceIds: [1, 2], memberLevel,
});

const statusOf = (fn: () => void): number | 'ok' => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err.status;
  }
};

describe('read_package (docs/design/gitlab-compatibility.md#abilities)', () => {
  it('anyone, anonymous included, on a public project with the registry enabled', () => {
    assert.equal(can(ANONYMOUS, 'read_package', project('public')), true);
    assert.equal(can(user(), 'read_package', project('public')), true);
  });
  it('any signed-in user on an internal project, but not anonymous callers', () => {
    assert.equal(can(user(), 'read_package', project('internal')), true);
    assert.equal(can(ANONYMOUS, 'read_package', project('internal')), false);
  });
  it('members from Guest up on a private project, nobody else', () => {
    for (const level of [10, 20, 30, 40, 50] as const) assert.equal(can(user(), 'read_package', project('private', level)), true);
    assert.equal(can(user(), 'read_package', project('private')), false);
    assert.equal(can(ANONYMOUS, 'read_package', project('private')), false);
  });
  it('everyone when the registry is "Everyone" (public), even on a private project', () => {
    assert.equal(can(ANONYMOUS, 'read_package', project('private', null, 'public')), true);
  });
  it('members only when the registry is "Only project members" (private), even on a public project', () => {
    assert.equal(can(ANONYMOUS, 'read_package', project('public', null, 'private')), false);
    assert.equal(can(user(), 'read_package', project('public', null, 'private')), false);
    assert.equal(can(user(), 'read_package', project('public', 10, 'private')), true);
  });
  it('nobody, admins included, when the registry is disabled', () => {
    assert.equal(can(user({ isAdmin: true }), 'read_package', project('public', 50, 'disabled')), false);
  });
  it('deploy tokens with either package scope, for their own project or any project of their group tree', () => {
    assert.equal(can(deploy(), 'read_package', project('private')), true);
    assert.equal(can(deploy({ scopes: ['write_package_registry'] }), 'read_package', project('private')), true);
    assert.equal(can(deploy({ projectId: null, groupId: 1 }), 'read_package', project('private')), true);
    assert.equal(can(deploy({ projectId: 555 }), 'read_package', project('private')), false);
    assert.equal(can(deploy({ projectId: null, groupId: 99 }), 'read_package', project('private')), false);
  });
  it('a deploy token outside its scope reads only what anonymous callers may', () => {
    assert.equal(can(deploy({ projectId: 555 }), 'read_package', project('public')), true);
    assert.equal(can(deploy({ projectId: 555 }), 'read_package', project('internal')), false);
  });
  it('instance administrators everywhere', () => {
    assert.equal(can(user({ isAdmin: true }), 'read_package', project('private')), true);
  });
});

describe('create_package and destroy_package (docs/design/gitlab-compatibility.md#abilities)', () => {
  it('Developer and above create; Reporter and Guest do not', () => {
    assert.equal(can(user(), 'create_package', project('private', 30)), true);
    assert.equal(can(user(), 'create_package', project('private', 20)), false);
    assert.equal(can(user(), 'create_package', project('public', 10)), false);
  });
  it('Maintainer and above destroy; Developer does not', () => {
    assert.equal(can(user(), 'destroy_package', project('private', 40)), true);
    assert.equal(can(user(), 'destroy_package', project('private', 30)), false);
  });
  it('deploy tokens need write_package_registry to create and to destroy', () => {
    const write = deploy({ scopes: ['write_package_registry'] });
    assert.equal(can(write, 'create_package', project('private')), true);
    assert.equal(can(write, 'destroy_package', project('private')), true);
    assert.equal(can(deploy(), 'create_package', project('private')), false);
    assert.equal(can(deploy(), 'destroy_package', project('private')), false);
  });
  it('a signed-in non-member of a public project may not publish', () => {
    assert.equal(can(user(), 'create_package', project('public')), false);
  });
});

describe('decision order (docs/design/gitlab-compatibility.md#npm-decision-procedure)', () => {
  it('missing project: 401 for anonymous on authenticate_non_public routes, else 404', () => {
    assert.equal(statusOf(() => authorizeProject(ANONYMOUS, null, 'read_package', 'authenticate-non-public')), 401);
    assert.equal(statusOf(() => authorizeProject(ANONYMOUS, null, 'read_package', 'plain')), 404);
    assert.equal(statusOf(() => authorizeProject(user(), null, 'read_package', 'authenticate-non-public')), 404);
  });
  it('read_project without read_package answers 403, not 404', () => {
    assert.equal(canReadProject(user(), project('public', null, 'private')), true);
    assert.equal(statusOf(() => authorizeProject(user(), project('public', null, 'private'), 'read_package', 'plain')), 403);
  });
  it('an invisible private project: 401 for anonymous on metadata routes, 404 on the tarball route and for others', () => {
    assert.equal(statusOf(() => authorizeProject(ANONYMOUS, project('private'), 'read_package', 'authenticate-non-public')), 401);
    assert.equal(statusOf(() => authorizeProject(ANONYMOUS, project('private'), 'read_package', 'plain')), 404);
    assert.equal(statusOf(() => authorizeProject(user(), project('private'), 'read_package', 'authenticate-non-public')), 404);
  });
  it('writes: anonymous 401, readers without the ability 403, Developers through', () => {
    assert.equal(statusOf(() => authorizeProject(ANONYMOUS, project('public'), 'create_package', 'plain')), 401);
    assert.equal(statusOf(() => authorizeProject(user(), project('public', 20), 'create_package', 'plain')), 403);
    assert.equal(statusOf(() => authorizeProject(user(), project('public', 30), 'create_package', 'plain')), 'ok');
    assert.equal(statusOf(() => authorizeProject(user(), project('public', 30), 'destroy_package', 'plain')), 403);
  });
});

describe('token scopes (docs/design/gitlab-compatibility.md#npm-credential-lookup)', () => {
  it('read_api tokens read and may not write; api tokens do both', () => {
    const reader: Identity = user({ scopes: ['read_api'] });
    assert.equal(statusOf(() => checkTokenScope(reader, 'GET')), 'ok');
    assert.equal(statusOf(() => checkTokenScope(reader, 'HEAD')), 'ok');
    for (const m of ['PUT', 'POST', 'DELETE']) assert.equal(statusOf(() => checkTokenScope(reader, m)), 403);
    assert.equal(statusOf(() => checkTokenScope(user(), 'PUT')), 'ok');
  });
  it('deploy tokens and anonymous callers are not subject to PAT scopes', () => {
    assert.equal(statusOf(() => checkTokenScope(deploy(), 'PUT')), 'ok');
    assert.equal(statusOf(() => checkTokenScope(ANONYMOUS, 'PUT')), 'ok');
  });
});
