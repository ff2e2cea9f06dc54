/** Distribution spec "Content management": deleting manifests (by digest, by tag) and blobs. */
import assert from 'node:assert/strict';
import { digestOf, expectOciError, expectStatus, MEDIA, pushArtifact, req, uniqueVersion, v2, type OciCase } from './client.js';

export const managementCases: readonly OciCase[] = [
  {
    name: 'manifest DELETE by digest → 202; GET by digest and tag → 404 MANIFEST_UNKNOWN; tag no longer listed',
    async run(t) {
      const a = await pushArtifact(t, uniqueVersion());
      expectStatus(await req(t, 'DELETE', v2(t, `manifests/${a.digest}`)), 202, 'DELETE manifest by digest');
      expectOciError(await req(t, 'GET', v2(t, `manifests/${a.digest}`), { headers: { accept: MEDIA.manifest } }), 404, 'MANIFEST_UNKNOWN', 'GET deleted digest');
      expectOciError(await req(t, 'GET', v2(t, `manifests/${a.tag}`), { headers: { accept: MEDIA.manifest } }), 404, 'MANIFEST_UNKNOWN', 'GET deleted tag');
      const tags = await req(t, 'GET', v2(t, 'tags/list'));
      // A repository left without tags may answer 404 NAME_UNKNOWN or an empty/null list.
      if (tags.status === 200) assert.ok(!(tags.json.tags ?? []).includes(a.tag));
      else expectOciError(tags, 404, 'NAME_UNKNOWN', 'tags/list after the delete');
    },
  },
  {
    name: 'manifest DELETE by tag → 202; the tag is gone',
    needs: 'deleteManifestByTag',
    async run(t) {
      const a = await pushArtifact(t, uniqueVersion());
      expectStatus(await req(t, 'DELETE', v2(t, `manifests/${a.tag}`)), 202, 'DELETE manifest by tag');
      expectOciError(await req(t, 'GET', v2(t, `manifests/${a.tag}`)), 404, 'MANIFEST_UNKNOWN', 'GET deleted tag');
    },
  },
  {
    name: 'manifest DELETE of an unknown digest → 404 MANIFEST_UNKNOWN',
    async run(t) {
      await pushArtifact(t, uniqueVersion());
      expectOciError(await req(t, 'DELETE', v2(t, `manifests/${digestOf(`absent-${Math.random()}`)}`)), 404, 'MANIFEST_UNKNOWN', 'DELETE unknown manifest');
    },
  },
  {
    name: 'blob DELETE → 202; HEAD and GET then 404 (BLOB_UNKNOWN); a second DELETE → 404 BLOB_UNKNOWN',
    async run(t) {
      const a = await pushArtifact(t, uniqueVersion());
      // The manifest goes first: a registry may refuse to drop a blob a live manifest still needs.
      expectStatus(await req(t, 'DELETE', v2(t, `manifests/${a.digest}`)), 202, 'DELETE manifest');
      const d = digestOf(a.layer);
      expectStatus(await req(t, 'DELETE', v2(t, `blobs/${d}`)), 202, 'DELETE blob');
      expectStatus(await req(t, 'HEAD', v2(t, `blobs/${d}`)), 404, 'HEAD deleted blob');
      expectOciError(await req(t, 'GET', v2(t, `blobs/${d}`)), 404, 'BLOB_UNKNOWN', 'GET deleted blob');
      expectOciError(await req(t, 'DELETE', v2(t, `blobs/${d}`)), 404, 'BLOB_UNKNOWN', 'second DELETE');
    },
  },
];
