/**
 * The in-repo OCI conformance suite, in the distribution spec's four categories. A test file registers it for a
 * target with `registerOciConformance` (node:test `describe`/`it`), so the same cases run against the reference
 * registry and against Wharf.
 */
import { describe, it } from 'node:test';
import type { OciCase, OciTarget } from './client.js';
import { discoveryCases } from './discovery.js';
import { managementCases } from './management.js';
import { pullCases } from './pull.js';
import { pushCases } from './push.js';

export { type OciCase, type OciFeature, type OciTarget } from './client.js';

export const OCI_CONFORMANCE: Readonly<Record<'push' | 'pull' | 'content discovery' | 'content management', readonly OciCase[]>> = {
  push: pushCases,
  pull: pullCases,
  'content discovery': discoveryCases,
  'content management': managementCases,
};

/**
 * One `describe` per category, one `it` per case. `target()` is read when each case runs (after `before`), and may
 * instead give the reason the whole target is unavailable, which skips every case with that message.
 */
export function registerOciConformance(target: () => OciTarget | { unavailable: string }): void {
  for (const [category, cases] of Object.entries(OCI_CONFORMANCE)) {
    describe(category, () => {
      for (const c of cases) {
        it(c.name, async (ctx) => {
          const t = target();
          if ('unavailable' in t) {
            ctx.skip(t.unavailable);
            return;
          }
          const reason = c.needs ? t.lacks?.[c.needs] : undefined;
          if (reason) {
            ctx.skip(reason);
            return;
          }
          await c.run(t);
        });
      }
    });
  }
}
