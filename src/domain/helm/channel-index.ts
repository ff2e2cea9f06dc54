/**
 * A channel's `index.yaml` held as per-chart byte blocks, so that a change to one chart re-renders that chart's
 * block only: the document is the list of blocks that already exist, sent one after the other. A channel of 10,000
 * versions under steady uploads costs a sort of one chart's versions per change, not a query of every version, a
 * sort of all of them and a string of 4 MB to encode — nor 4 MB of garbage per revision.
 *
 * The bytes are exactly `assembleIndexYaml`'s (see `index-yaml.ts`), and the ETag is a digest of what the bytes are
 * made of — the listed file ids chart by chart in document order, `generated` and the context path — so any instance that builds
 * the same revision, from scratch or step by step, sends the same bytes under the same ETag.
 */
import { createHash } from 'node:crypto';
import { compareParsedDescending } from './rules.js';
import { helmTimestamp, type IndexFragment } from './index-yaml.js';
import { keyLine, scalar } from './yaml-emit.js';

interface ChartBlock {
  /** Newest version first; equal versions, the latest upload first. */
  readonly versions: readonly IndexFragment[];
  /** `  <name>:\n` and every version's entry. */
  readonly bytes: Buffer;
  /** The versions' file ids, in order, for the ETag. */
  readonly ids: string;
}

const byVersionDescending = (a: IndexFragment, b: IndexFragment): number =>
  compareParsedDescending(a.version, a.parsed, b.version, b.parsed) || b.fileId - a.fileId;

function block(name: string, versions: IndexFragment[]): ChartBlock {
  versions.sort(byVersionDescending);
  return { versions, bytes: Buffer.from(`${keyLine(name, '  ')}${versions.map((v) => v.text).join('')}`), ids: versions.map((v) => v.fileId).join(',') };
}

export interface RenderedIndex {
  /**
   * The document's bytes in order: a head, the chart blocks (shared with the index they came from) and a tail.
   * Sent as they are, a new revision allocates one chart's block, not a copy of the whole document.
   */
  parts: readonly Buffer[];
  /** Total bytes. */
  length: number;
  /** Quoted strong ETag. */
  etag: string;
}

export class ChannelIndex {
  /** Chart name → its block, names in sorted order. */
  readonly #charts: ReadonlyMap<string, ChartBlock>;

  private constructor(charts: ReadonlyMap<string, ChartBlock>) {
    this.#charts = charts;
  }

  static of(fragments: readonly IndexFragment[]): ChannelIndex {
    const byName = new Map<string, IndexFragment[]>();
    for (const f of fragments) {
      const list = byName.get(f.name);
      if (list) list.push(f);
      else byName.set(f.name, [f]);
    }
    const sorted = new Map<string, ChartBlock>();
    for (const name of [...byName.keys()].sort()) sorted.set(name, block(name, byName.get(name)!));
    return new ChannelIndex(sorted);
  }

  get versionCount(): number {
    let n = 0;
    for (const b of this.#charts.values()) n += b.versions.length;
    return n;
  }

  /**
   * This index after one chart's change: `removed` file ids leave, `added` (if any) joins. Every removed id must be
   * a version of `chart`, as a replaced upload's are; other charts' blocks are shared, not copied.
   */
  withChange(chart: string, added: IndexFragment | undefined, removed: ReadonlySet<number>): ChannelIndex {
    const old = this.#charts.get(chart);
    const versions = (old?.versions ?? []).filter((v) => !removed.has(v.fileId));
    if (added) versions.push(added);
    if (old === undefined && versions.length === 0) return this;
    const names = old === undefined ? [...this.#charts.keys(), chart].sort() : [...this.#charts.keys()];
    const charts = new Map<string, ChartBlock>();
    for (const name of names) {
      if (name !== chart) charts.set(name, this.#charts.get(name)!);
      else if (versions.length > 0) charts.set(name, block(name, versions));
    }
    return new ChannelIndex(charts);
  }

  render(generated: string, contextPath: string): RenderedIndex {
    const head = this.#charts.size === 0 ? '---\napiVersion: v1\nentries: {}\n' : '---\napiVersion: v1\nentries:\n';
    const tail = `generated: ${scalar(helmTimestamp(generated))}\nserverInfo:\n  contextPath: ${scalar(contextPath)}\n`;
    const parts: Buffer[] = [Buffer.from(head)];
    const hash = createHash('sha256');
    let length = parts[0]!.length;
    for (const b of this.#charts.values()) {
      parts.push(b.bytes);
      length += b.bytes.length;
      hash.update(`${b.ids};`);
    }
    const end = Buffer.from(tail);
    parts.push(end);
    length += end.length;
    const etag = hash.update(`\n${generated}\n${contextPath}`).digest('hex').slice(0, 40);
    return { parts, length, etag: `"${etag}"` };
  }
}
