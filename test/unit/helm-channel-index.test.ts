/** ChannelIndex: the document held as per-chart blocks gives `assembleIndexYaml`'s bytes, built at once or change by change. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChannelIndex } from '../../src/domain/helm/channel-index.js';
import type { ChartMetadata } from '../../src/domain/helm/chart-yaml.js';
import { assembleIndexYaml, renderIndexFragment, type IndexFragment } from '../../src/domain/helm/index-yaml.js';

const GENERATED = '2026-11-22T10:00:00.000Z';
const CONTEXT = '/api/v4/projects/7/packages/helm';

let nextId = 1;
function fragment(name: string, version: string, fileId = nextId++): IndexFragment {
  const metadata = { apiVersion: 'v2', name, version, appVersion: version, description: `${name} chart` } as ChartMetadata;
  return renderIndexFragment({ metadata, created: '2026-11-01T00:00:00.000Z', sha256: 'ab'.repeat(32), fileId });
}

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

describe('ChannelIndex', () => {
  it('renders exactly what assembleIndexYaml renders, empty included', () => {
    assert.equal(ChannelIndex.of([]).render(GENERATED, CONTEXT).parts.join(''), assembleIndexYaml([], GENERATED, CONTEXT));
    const fragments = [fragment('zeta', '1.0.0'), fragment('alpha', '0.2.0'), fragment('alpha', '0.10.0'), fragment('alpha', '0.10.0-rc.1'), fragment('mid', '2.0.0')];
    const rendered = ChannelIndex.of(fragments).render(GENERATED, CONTEXT);
    assert.equal(rendered.parts.join(''), assembleIndexYaml(fragments, GENERATED, CONTEXT));
    assert.match(rendered.etag, /^"[0-9a-f]{40}"$/);
  });

  it('gives the same bytes and ETag change by change as built at once, over many random changes', () => {
    const rnd = random(42);
    const names = ['alpha', 'beta', 'gamma', 'delta', 'omega'];
    let live: IndexFragment[] = [];
    let index = ChannelIndex.of([]);
    for (let step = 0; step < 300; step++) {
      const chart = names[Math.floor(rnd() * names.length)]!;
      const version = `${Math.floor(rnd() * 3)}.${Math.floor(rnd() * 4)}.0`;
      const replaced = live.filter((f) => f.name === chart && f.version === version);
      const removeAll = rnd() < 0.15;
      const removed = new Set((removeAll ? live.filter((f) => f.name === chart) : replaced).map((f) => f.fileId));
      const added = removeAll ? undefined : fragment(chart, version);
      live = live.filter((f) => !removed.has(f.fileId));
      if (added) live.push(added);
      index = index.withChange(chart, added, removed);
      const stepwise = index.render(GENERATED, CONTEXT);
      const atOnce = ChannelIndex.of([...live].reverse()).render(GENERATED, CONTEXT);
      assert.equal(stepwise.parts.join(''), atOnce.parts.join(''), `step ${step}`);
      assert.equal(stepwise.etag, atOnce.etag, `step ${step}`);
      assert.equal(index.versionCount, live.length);
    }
  });

  it('shares the blocks of charts a change does not touch, and changes the ETag with the content', () => {
    const a = fragment('a', '1.0.0');
    const before = ChannelIndex.of([a, fragment('b', '1.0.0')]);
    const after = before.withChange('a', fragment('a', '1.1.0'), new Set());
    assert.notEqual(before.render(GENERATED, CONTEXT).etag, after.render(GENERATED, CONTEXT).etag);
    assert.equal(before.withChange('nothing', undefined, new Set()), before);
    assert.notEqual(before.render(GENERATED, CONTEXT).etag, before.render('2026-11-23T00:00:00.000Z', CONTEXT).etag);
  });
});
