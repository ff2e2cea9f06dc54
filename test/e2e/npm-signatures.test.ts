/**
 * npm's own signature verification against a running Wharf (docs/design/registry-signatures.md).
 *
 * `npm audit signatures` first refreshes the public sigstore TUF root, which this network cannot reach; after
 * that it fetches `<registry>/-/npm/v1/keys` and hands the keys to its bundled pacote as `//<host><path>:_keys`
 * with `verifySignatures: true` (npm's lib/utils/verify-signatures.js). This test does exactly that part with npm's
 * own pacote, at the project, group and instance endpoints: every Wharf version verifies; through a small proxy that
 * tampers with the packument (another version's signature, or another integrity) pacote throws EINTEGRITYSIGNATURE.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { published } from '../helpers/npm.js';
import { LEVELS, nerfDart, startRegistry, type Registry } from '../helpers/npm-e2e.js';

const NPM_ROOT = '/usr/lib/node_modules/npm';
const pacote = createRequire(path.join(NPM_ROOT, 'package.json'))('pacote') as {
  manifest(spec: string, opts: Record<string, unknown>): Promise<Record<string, unknown> & { _signatures?: unknown[]; _integrity?: string }>;
};

const NAME = '@acme/signed';

type Tamper = (doc: { versions: Record<string, { dist: { integrity: string; signatures?: Array<{ keyid: string; sig: string }> } }> }) => void;

/** A proxy in front of `target` that rewrites JSON packuments with `tamper` (everything else passes through). */
async function tamperingProxy(target: string, tamper: Tamper): Promise<{ base: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const upstream = httpRequest(`${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(target).host, 'accept-encoding': 'identity' } }, (up) => {
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        let body = Buffer.concat(chunks);
        const headers = { ...up.headers };
        if (up.statusCode === 200 && String(up.headers['content-type']).includes('json') && !req.url!.includes('/-/npm/v1/keys')) {
          const doc = JSON.parse(body.toString('utf8'));
          if (doc.versions) {
            tamper(doc);
            body = Buffer.from(JSON.stringify(doc));
            delete headers.etag;
          }
        }
        headers['content-length'] = String(body.length);
        res.writeHead(up.statusCode ?? 502, headers);
        res.end(body);
      });
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('npm registry signatures with npm\'s own pacote', () => {
  let r: Registry;
  before(async () => {
    r = await startRegistry('wharf-signatures-');
    await published(r.t, r.projectId, NAME, '1.0.0');
    await published(r.t, r.projectId, NAME, '1.0.1');
  });
  after(() => r.close());

  /** What verify-signatures.js does: the keys from `<registry>/-/npm/v1/keys`, then pacote with them. */
  async function verifyWithPacote(registry: string, version: string, cacheDir: string) {
    const res = await fetch(new URL('-/npm/v1/keys', registry), { headers: { authorization: `Bearer ${r.token}` } });
    assert.equal(res.status, 200);
    const { keys } = (await res.json()) as { keys: Array<{ key: string }> };
    const registryKeys = keys.map((key) => ({ ...key, pemkey: `-----BEGIN PUBLIC KEY-----\n${key.key}\n-----END PUBLIC KEY-----` }));
    const parsed = new URL(registry);
    return pacote.manifest(`${NAME}@${version}`, {
      registry,
      '@acme:registry': registry,
      [`${nerfDart(registry)}:_authToken`]: r.token,
      [`//${parsed.host}${parsed.pathname}:_keys`]: registryKeys,
      verifySignatures: true,
      cache: cacheDir,
      preferOnline: true,
    });
  }

  for (const level of LEVELS) {
    it(`accepts every version at the ${level} endpoint`, async () => {
      for (const version of ['1.0.0', '1.0.1']) {
        const mani = await verifyWithPacote(r.urls[level], version, path.join(r.work, `cache-${level}-${version}`));
        assert.equal(mani.version, version);
        assert.equal(mani._signatures?.length, 1, 'pacote verified one registry signature');
      }
    });
  }

  const tampers: Record<string, Tamper> = {
    'another version\'s signature': (doc) => {
      doc.versions['1.0.0']!.dist.signatures = doc.versions['1.0.1']!.dist.signatures;
    },
    'another integrity': (doc) => {
      const dist = doc.versions['1.0.0']!.dist;
      dist.integrity = doc.versions['1.0.1']!.dist.integrity;
    },
  };
  for (const [what, tamper] of Object.entries(tampers)) {
    for (const level of LEVELS) {
      it(`rejects ${what} at the ${level} endpoint with EINTEGRITYSIGNATURE`, async () => {
        const proxy = await tamperingProxy(r.base, tamper);
        try {
          const registry = r.urls[level].replace(r.base, proxy.base);
          await assert.rejects(
            () => verifyWithPacote(registry, '1.0.0', path.join(r.work, `cache-tampered-${level}-${what.length}`)),
            (err: NodeJS.ErrnoException) => {
              assert.equal(err.code, 'EINTEGRITYSIGNATURE', String(err));
              return true;
            },
          );
        } finally {
          await proxy.close();
        }
      });
    }
  }
});
