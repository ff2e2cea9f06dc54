/**
 * The in-repo OCI conformance suite (test/conformance/oci), run against two registries:
 * - the CNCF distribution reference registry (Debian's docker-registry) on loopback with Basic auth, which proves
 *   the suite itself: every case it implements passes there, and the ones it does not are skipped by name;
 * - Wharf (an app on loopback, SQLite, and PostgreSQL when WHARF_TEST_DATABASE_URL is set; blobs on S3 when
 *   WHARF_TEST_BLOB_STORE=s3), with a Maintainer's PAT as the Basic password. Wharf serves `/v2/`: a case that finds
 *   no API there fails, it does not skip.
 */
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { registerOciConformance, type OciTarget } from '../conformance/oci/index.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { basic } from '../helpers/helm.js';
import { addMember, createGroup, createProject, userWithToken } from '../helpers/management.js';
import { dockerRegistryMissing, freeLoopbackPort, startOciRegistry, type OciRegistry } from '../helpers/oci-registry.js';

const REF_CREDS = { username: 'conformance', password: 'conformance-password-1' };

describe('OCI conformance: reference registry (docker-registry)', { skip: dockerRegistryMissing() }, () => {
  let registry: OciRegistry | undefined;
  before(async () => {
    registry = await startOciRegistry({ credentials: REF_CREDS });
  });
  after(async () => {
    await registry?.stop();
  });
  registerOciConformance(() => ({
    base: registry!.url,
    repo: 'acme/platform/web/examplechart',
    otherRepo: 'acme/platform/web/otherchart',
    auth: basic(REF_CREDS.username, REF_CREDS.password),
    lacks: {
      // Each reason below was checked by running the case against docker-registry 2.8.2 (Debian 12).
      // distribution 2.8 predates spec v1.1: a subject is accepted but there is no OCI-Subject nor referrers API.
      referrers: 'docker-registry 2.8 does not implement the referrers API (distribution spec v1.1)',
      // Optional in the spec; 2.8 treats the tag as a digest and answers 400 DIGEST_INVALID.
      deleteManifestByTag: 'docker-registry 2.8 does not delete manifests by tag (optional in the spec)',
      // Optional in the spec; 2.8 ignores the body of a POST ?digest= and answers 202 with an upload session.
      monolithicPost: 'docker-registry 2.8 has no single-request monolithic upload (optional in the spec)',
      // The following are MUSTs of spec v1.1 that distribution 2.8 does not meet (fixed in distribution 3).
      outOfOrderChunk416: 'docker-registry 2.8 accepts a PATCH whose Content-Range leaves a gap (202, not 416)',
      nameInvalidError: 'docker-registry 2.8 routes names outside the grammar to a plain-text 404, not NAME_INVALID',
      sortedTags: 'docker-registry 2.8 lists tags in storage order, not lexical order',
      tagsPagination: 'docker-registry 2.8 ignores n/last on tags/list (no tag pagination before distribution 3)',
    },
  }));
});

const BLOB_STORE = process.env.WHARF_TEST_BLOB_STORE === 's3' ? 's3' : 'fs';

// Wharf on each database with Basic sent up front (skopeo, curl), and on SQLite once more the way docker and oras
// authenticate: challenged, then a Bearer token from /jwt/auth per scope (docs/design/helm-oci.md#access).
const WHARF_RUNS = [...DIALECTS.map((dialect) => ({ dialect, tokenFlow: false })), { dialect: 'sqlite' as const, tokenFlow: true }];

for (const { dialect, tokenFlow } of WHARF_RUNS) {
  describe(`OCI conformance: Wharf (${dialect}, blobs on ${BLOB_STORE}${tokenFlow ? ', Bearer token flow' : ''})`, () => {
    let t: TestApp | undefined;
    let target: OciTarget | undefined;
    before(async () => {
      // The external URL is the real listening address: Wharf writes it into Location and WWW-Authenticate, which
      // the suite follows.
      const port = await freeLoopbackPort();
      t = await startApp(dialect, { env: { WHARF_EXTERNAL_URL: `http://127.0.0.1:${port}` } });
      const group = await createGroup(t, 'acme');
      const project = await createProject(t, 'web', group.id);
      const { user, token } = await userWithToken(t, 'oci-maintainer');
      await addMember(t, 'projects', project.id, user.id, 40);
      const address = await t.app.listen({ port, host: '127.0.0.1' });
      target = {
        base: address,
        repo: 'acme/web/examplechart',
        otherRepo: 'acme/web/otherchart',
        auth: basic('oci-maintainer', token),
        ...(tokenFlow ? { tokenFlow: { tokens: new Map<string, string>() } } : {}),
      };
    });
    after(async () => {
      await t?.close();
    });
    registerOciConformance(() => {
      assert.ok(target, 'Wharf did not start (see the before hook\'s failure)');
      return target;
    });
  });
}
