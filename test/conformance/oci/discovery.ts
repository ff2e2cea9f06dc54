/** Distribution spec "Content discovery": tags/list with n/last pagination and Link; referrers of a chart. */
import assert from 'node:assert/strict';
import { digestOf, expectStatus, MEDIA, pushArtifact, pushBlob, putManifest, req, uniqueVersion, v2, type OciCase, type OciTarget } from './client.js';

async function allTags(t: OciTarget): Promise<string[]> {
  const r = await req(t, 'GET', v2(t, 'tags/list'));
  expectStatus(r, 200, 'GET tags/list');
  assert.equal(r.json.name, t.repo);
  assert.ok(Array.isArray(r.json.tags));
  return r.json.tags as string[];
}

/** `<url>; rel="next"` → url. */
function nextLink(link: string | null): string | undefined {
  const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
  return m?.[1];
}

const ARTIFACT_TYPE_SBOM = 'application/spdx+json';

export const discoveryCases: readonly OciCase[] = [
  {
    name: 'tags/list names every pushed tag (a `+` version as `_`)',
    async run(t) {
      const v = uniqueVersion();
      const pushed = [await pushArtifact(t, v), await pushArtifact(t, `${v}+build.5`)];
      const tags = await allTags(t);
      for (const a of pushed) assert.ok(tags.includes(a.tag), `${a.tag} listed in ${tags.join(',')}`);
      assert.ok(tags.includes(`${v}_build.5`));
    },
  },
  {
    name: 'tags/list is in lexical order',
    needs: 'sortedTags',
    async run(t) {
      await pushArtifact(t, uniqueVersion());
      await pushArtifact(t, uniqueVersion());
      const tags = await allTags(t);
      assert.deepEqual(tags, [...tags].sort(), 'lexical order');
    },
  },
  {
    name: 'tags/list?n= pages with a Link rel="next" until the whole list; ?last= starts after that tag',
    needs: 'tagsPagination',
    async run(t) {
      for (let i = 0; i < 3; i++) await pushArtifact(t, uniqueVersion());
      const tags = await allTags(t);
      assert.ok(tags.length >= 3);
      const seen: string[] = [];
      let url: string | undefined = v2(t, 'tags/list?n=2');
      for (let pages = 0; url; pages++) {
        assert.ok(pages <= tags.length, 'pagination ends');
        const r = await req(t, 'GET', url);
        expectStatus(r, 200, `GET ${url}`);
        const page = r.json.tags as string[];
        assert.ok(page.length <= 2, 'at most n tags per page');
        seen.push(...page);
        url = nextLink(r.headers.get('link'));
        if (url) assert.equal(page.length, 2, 'only a full page has a next link');
      }
      assert.deepEqual(seen, tags, 'the pages add up to the whole list, in order, without repeats');
      const after = await req(t, 'GET', v2(t, `tags/list?last=${encodeURIComponent(tags[0]!)}`));
      expectStatus(after, 200, 'GET tags/list?last=');
      assert.deepEqual(after.json.tags, tags.slice(1));
      const one = await req(t, 'GET', v2(t, `tags/list?n=1&last=${encodeURIComponent(tags[0]!)}`));
      assert.deepEqual(one.json.tags, tags.slice(1, 2));
    },
  },
  {
    name: 'referrers: a manifest with a subject gets OCI-Subject on PUT and is listed, filterable by artifactType',
    needs: 'referrers',
    async run(t) {
      const chart = await pushArtifact(t, uniqueVersion());
      const empty = Buffer.from('{}');
      const sbom = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'chart sbom' }));
      await pushBlob(t, empty);
      await pushBlob(t, sbom);
      const referrer = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MEDIA.manifest,
          artifactType: ARTIFACT_TYPE_SBOM,
          config: { mediaType: MEDIA.empty, digest: digestOf(empty), size: empty.length },
          layers: [{ mediaType: ARTIFACT_TYPE_SBOM, digest: digestOf(sbom), size: sbom.length }],
          subject: { mediaType: MEDIA.manifest, digest: chart.digest, size: chart.manifest.length },
          annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
        }),
      );
      const put = await putManifest(t, digestOf(referrer), referrer);
      expectStatus(put, 201, 'PUT referrer manifest');
      assert.equal(put.headers.get('oci-subject'), chart.digest);

      const list = await req(t, 'GET', v2(t, `referrers/${chart.digest}`));
      expectStatus(list, 200, 'GET referrers');
      assert.equal(list.headers.get('content-type'), MEDIA.index);
      assert.equal(list.json.mediaType, MEDIA.index);
      const d = (list.json.manifests as any[]).find((m) => m.digest === digestOf(referrer));
      assert.ok(d, 'the referrer is listed');
      assert.equal(d.artifactType, ARTIFACT_TYPE_SBOM);
      assert.equal(d.size, referrer.length);
      assert.equal(d.annotations?.['org.opencontainers.image.created'], '2026-01-01T00:00:00Z');

      const filtered = await req(t, 'GET', v2(t, `referrers/${chart.digest}?artifactType=${encodeURIComponent('application/x-other')}`));
      expectStatus(filtered, 200, 'GET referrers filtered');
      assert.deepEqual(filtered.json.manifests, []);
      assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');

      const none = await req(t, 'GET', v2(t, `referrers/${digestOf(`no-subject-${Math.random()}`)}`));
      expectStatus(none, 200, 'referrers of a digest nothing refers to');
      assert.deepEqual(none.json.manifests, []);
    },
  },
];
