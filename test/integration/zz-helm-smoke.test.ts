import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startApp, ROOT_TOKEN } from '../helpers/app.js';
import { createProject, createGroup } from '../helpers/management.js';
import { basic, fixture, upload, send, helmRepoUpdate, helmPull, cmPush, cmPushOutcome } from '../helpers/helm.js';
it('smoke', async () => {
  const t = await startApp(process.env.D as any ?? 'sqlite');
  try {
    const g = await createGroup(t, 'acme', { visibility: 'private' });
    const p = await createProject(t, 'charts', g.id, { visibility: 'private' });
    const auth = basic('root', ROOT_TOKEN);
    const r = await upload(t, `/api/v4/projects/${p.id}/packages/helm/api/stable/charts`, auth, [{ field: 'chart', content: fixture('charts/sprocket-1.1.0.tgz') }]);
    console.log(r.status, r.text);
    const idx = await send(t, 'GET', `/api/v4/projects/${p.id}/packages/helm/stable/index.yaml`, { headers: { authorization: auth } });
    console.log(idx.status, idx.headers, idx.text);
    const repo = { url: `http://wharf.test/api/v4/projects/${p.id}/packages/helm/stable`, username: 'x', password: ROOT_TOKEN };
    const { index } = await helmRepoUpdate(t, repo);
    const pulled = await helmPull(t, repo, index, 'sprocket');
    console.log(pulled.chartYaml);
    const pr = await cmPush(t, repo, fixture('charts/sprocket-1.2.0.tgz'));
    console.log(cmPushOutcome(pr));
    const bad = await upload(t, `/api/v4/projects/${p.id}/packages/helm/api/stable/charts`, auth, [{ field: 'chart', content: fixture('charts/empty-0.0.1.tgz') }]);
    console.log(bad.status, bad.text);
    const unauth = await send(t, 'GET', `/api/v4/projects/${p.id}/packages/helm/stable/index.yaml`);
    console.log(unauth.status, unauth.headers['www-authenticate'], unauth.text);
    const inv = await send(t, 'GET', `/api/v4/projects/${p.id}/packages/helm/st--able/index.yaml`);
    console.log(inv.status, inv.text);
    const head = await t.app.inject({ method: 'HEAD', url: `/api/v4/projects/${p.id}/packages/helm/stable/charts/sprocket-1.1.0.tgz`, headers: { authorization: auth } });
    console.log(head.statusCode, head.headers, head.body.length);
  } finally { await t.close(); }
});
