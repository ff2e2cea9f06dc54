/**
 * The manifest of a classic upload (docs/design/helm-oci.md#one-store): Helm's config encoding (Go's
 * `encoding/json` of `chart.Metadata`) and a manifest whose bytes depend only on the chart's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classicManifest, helmConfig } from '../../src/domain/oci/classic-manifest.js';

describe('classic manifest', () => {
  it('encodes Chart.yaml as helm push does: struct field order, empty fields omitted, map keys sorted, <>& escaped', () => {
    const config = helmConfig({
      apiVersion: 'v2',
      version: '1.0.0',
      name: 'demo',
      description: 'a <b> & c',
      keywords: [],
      deprecated: false,
      annotations: { zeta: '1', alpha: '2' },
      dependencies: [{ name: 'dep', version: '^1' }],
      type: 'application',
    });
    assert.equal(
      config.toString(),
      '{"name":"demo","version":"1.0.0","description":"a \\u003cb\\u003e \\u0026 c","apiVersion":"v2",' +
        '"annotations":{"alpha":"2","zeta":"1"},"dependencies":[{"name":"dep","version":"^1","repository":""}],"type":"application"}',
    );
  });

  it('lists the chart then the provenance layer, with no time annotation, the same bytes every time', () => {
    const meta = { apiVersion: 'v2', name: 'demo', version: '1.0.0+b.1' };
    const cfg = { sha256: 'c'.repeat(64), size: 10 };
    const chart = { sha256: 'a'.repeat(64), size: 100 };
    const prov = { sha256: 'b'.repeat(64), size: 20 };
    const one = classicManifest(meta, cfg, chart, prov);
    assert.deepEqual(one, classicManifest(meta, cfg, chart, prov));
    const doc = JSON.parse(one.toString());
    assert.deepEqual(Object.keys(doc), ['schemaVersion', 'mediaType', 'config', 'layers', 'annotations']);
    assert.deepEqual(
      doc.layers.map((l: { mediaType: string }) => l.mediaType),
      ['application/vnd.cncf.helm.chart.content.v1.tar+gzip', 'application/vnd.cncf.helm.chart.provenance.v1.prov'],
    );
    assert.deepEqual(doc.annotations, { 'org.opencontainers.image.title': 'demo', 'org.opencontainers.image.version': '1.0.0+b.1' });
    assert.equal(JSON.parse(classicManifest(meta, cfg, chart, undefined).toString()).layers.length, 1);
  });
});
