/**
 * Who may read which packages is decided once (the access service, docs/design/access-model.md "Who may read what:
 * one service"), so every way of looking must agree. One instance holds projects of every visibility and registry
 * access level, one npm package and one Helm chart each; for each caller (anonymous, a user outside everything,
 * group members direct and inherited, a project member, an expired member, an administrator, group and project
 * deploy tokens) the packages API (project and group listings), the web pages (explore, group, project), the npm
 * instance and group endpoints and the Helm index must each show exactly the hand-written expectation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, TestClock, type TestApp } from '../helpers/app.js';
import { signInCookie } from '../helpers/web-forms.js';
import { DIALECTS } from '../helpers/databases.js';
import { API, createGroup, createPat, createProject, createUser } from '../helpers/management.js';
import { basic, buildChart, loadIndexStrict, send, upload } from '../helpers/helm.js';
import { esc, published } from '../helpers/npm.js';

type Key = 'open' | 'closed' | 'off' | 'intlib' | 'lib' | 'everyone' | 'nested' | 'lapsed';
type GroupPath = 'pubg' | 'intg' | 'privg' | 'privg/team';

/** Each project: its group, visibility and package registry access level (`off` is disabled after publishing). */
const PROJECTS: Record<Key, { group: GroupPath; visibility: string; registry: string }> = {
  open: { group: 'pubg', visibility: 'public', registry: 'enabled' },
  closed: { group: 'pubg', visibility: 'public', registry: 'private' },
  off: { group: 'pubg', visibility: 'public', registry: 'disabled' },
  intlib: { group: 'intg', visibility: 'internal', registry: 'enabled' },
  lib: { group: 'privg', visibility: 'private', registry: 'enabled' },
  everyone: { group: 'privg', visibility: 'private', registry: 'public' },
  nested: { group: 'privg/team', visibility: 'private', registry: 'enabled' },
  lapsed: { group: 'privg', visibility: 'private', registry: 'enabled' },
};
const KEYS = Object.keys(PROJECTS) as Key[];
const GROUPS: Record<GroupPath, string> = { pubg: 'public', intg: 'internal', privg: 'private', 'privg/team': 'private' };
const GROUP_PATHS = Object.keys(GROUPS) as GroupPath[];
/** A project's group and that group's ancestors: the groups whose trees hold it. */
const groupsHolding = (key: Key): GroupPath[] => GROUP_PATHS.filter((g) => PROJECTS[key].group === g || PROJECTS[key].group.startsWith(`${g}/`));

const npmName = (key: Key) => `@${PROJECTS[key].group.split('/')[0]}/${key}`;
const chartName = (key: Key) => `chart-${key}`;

type Caller = 'anonymous' | 'outsider' | 'privgGuest' | 'teamReporter' | 'closedGuest' | 'lapsed' | 'admin' | 'deployTeam' | 'deployLib';
const USERS = ['outsider', 'privgGuest', 'teamReporter', 'closedGuest', 'lapsed', 'admin'] as const;
/** `admin` is a reserved username. */
const username = (caller: (typeof USERS)[number]) => (caller === 'admin' ? 'boss' : caller.toLowerCase());

/** Whose packages each caller may read (`read_package`), written out by hand from GitLab's rules. */
const READABLE: Record<Caller, Key[]> = {
  anonymous: ['open', 'everyone'],
  // Internal projects with the registry enabled are readable by every signed-in user.
  outsider: ['open', 'intlib', 'everyone'],
  // A Guest of a group reads every project below it, subgroups included.
  privgGuest: ['open', 'intlib', 'lib', 'everyone', 'nested', 'lapsed'],
  teamReporter: ['open', 'intlib', 'everyone', 'nested'],
  // A registry open to members only (`private`) on a public project: its members, not the public.
  closedGuest: ['open', 'closed', 'intlib', 'everyone'],
  // An expired membership counts for nothing.
  lapsed: ['open', 'intlib', 'everyone'],
  // Administrators read everything, except where the registry is disabled.
  admin: ['open', 'closed', 'intlib', 'lib', 'everyone', 'nested', 'lapsed'],
  // A deploy token reads its own project or group tree, and elsewhere only what anyone may.
  deployTeam: ['open', 'everyone', 'nested'],
  deployLib: ['open', 'everyone', 'lib'],
};

/** The groups each caller may see (`read_group`): group-scoped endpoints show readable packages of these trees. */
const VISIBLE_GROUPS: Record<Caller, GroupPath[]> = {
  anonymous: ['pubg'],
  outsider: ['pubg', 'intg'],
  privgGuest: ['pubg', 'intg', 'privg', 'privg/team'],
  // A member below a group sees the group.
  teamReporter: ['pubg', 'intg', 'privg', 'privg/team'],
  closedGuest: ['pubg', 'intg'],
  lapsed: ['pubg', 'intg'],
  admin: GROUP_PATHS,
  deployTeam: ['pubg', 'privg/team'],
  deployLib: ['pubg'],
};

/** The projects each user or anonymous caller may see at all (`read_project`), whatever their registry. */
const VISIBLE_PROJECTS: Record<'anonymous' | (typeof USERS)[number], Key[]> = {
  anonymous: ['open', 'closed', 'off'],
  outsider: ['open', 'closed', 'off', 'intlib'],
  privgGuest: [...KEYS],
  teamReporter: ['open', 'closed', 'off', 'intlib', 'nested'],
  closedGuest: ['open', 'closed', 'off', 'intlib'],
  lapsed: ['open', 'closed', 'off', 'intlib'],
  admin: [...KEYS],
};

const viaGroups = (caller: Caller): Key[] => READABLE[caller].filter((k) => groupsHolding(k).some((g) => VISIBLE_GROUPS[caller].includes(g)));
const sorted = (keys: Iterable<Key>): Key[] => [...new Set(keys)].sort();
const mentions = (html: string, name: string): boolean => new RegExp(`${name.replace(/[/.]/g, '\\$&')}(?![\\w.-])`).test(html);

for (const dialect of DIALECTS) {
  describe(`who may read which packages: every endpoint agrees [${dialect}]`, () => {
    let t: TestApp;
    const clock = new TestClock();
    const projectId = {} as Record<Key, number>;
    const groupId = {} as Record<GroupPath, number>;
    /** The Basic credentials of each caller (none for anonymous), accepted by every API route and by Helm. */
    const auth = {} as Record<Caller, string | undefined>;
    const cookie = {} as Record<(typeof USERS)[number] | 'anonymous', string | undefined>;

    const api = async (method: string, url: string, body: unknown): Promise<any> => {
      const r = await t.call(method, `${API}${url}`, { token: ROOT_TOKEN, body });
      assert.ok(r.status === 200 || r.status === 201, `${method} ${url}: ${r.status} ${r.text}`);
      return r.body;
    };
    const signIn = (username: string): Promise<string> => signInCookie(t.app, username, 'correct-horse-1');
    const get = (url: string, caller: Caller) => send(t, 'GET', url, { headers: auth[caller] ? { authorization: auth[caller]! } : {} });
    const page = async (url: string, caller: (typeof USERS)[number] | 'anonymous') => {
      const c = cookie[caller];
      return t.app.inject({ method: 'GET', url, headers: c ? { cookie: c } : {} });
    };

    before(async () => {
      t = await startApp(dialect, { clock });
      groupId.pubg = (await createGroup(t, 'pubg', { visibility: 'public' })).id;
      groupId.intg = (await createGroup(t, 'intg', { visibility: 'internal' })).id;
      groupId.privg = (await createGroup(t, 'privg', { visibility: 'private' })).id;
      groupId['privg/team'] = (await createGroup(t, 'team', { visibility: 'private', parent_id: groupId.privg })).id;
      const root = basic('root', ROOT_TOKEN);
      for (const key of KEYS) {
        const p = PROJECTS[key];
        const registry = p.registry === 'disabled' ? 'enabled' : p.registry;
        projectId[key] = (await createProject(t, key, groupId[p.group], { visibility: p.visibility, package_registry_access_level: registry })).id;
        await published(t, projectId[key], npmName(key), '1.0.0');
        const r = await upload(t, `${API}/projects/${projectId[key]}/packages/helm/api/stable/charts`, root, [{ field: 'chart', content: buildChart(chartName(key), '1.0.0') }]);
        assert.equal(r.status, 201, r.text);
      }
      // Packages published before the registry was disabled stay stored, and unreadable.
      await api('PUT', `/projects/${projectId.off}`, { package_registry_access_level: 'disabled' });

      const user = {} as Record<(typeof USERS)[number], number>;
      for (const name of USERS) {
        user[name] = (await createUser(t, username(name), name === 'admin' ? { admin: true } : {})).id;
        auth[name] = basic(username(name), await createPat(t, user[name]));
      }
      await api('POST', `/groups/${groupId.privg}/members`, { user_id: user.privgGuest, access_level: 10 });
      await api('POST', `/groups/${groupId['privg/team']}/members`, { user_id: user.teamReporter, access_level: 20 });
      await api('POST', `/projects/${projectId.closed}/members`, { user_id: user.closedGuest, access_level: 10 });
      await api('POST', `/projects/${projectId.lapsed}/members`, { user_id: user.lapsed, access_level: 30, expires_at: '2026-06-03' });
      const deploy = async (kind: 'groups' | 'projects', id: number) =>
        (await api('POST', `/${kind}/${id}/deploy_tokens`, { name: 'read', scopes: ['read_package_registry'] })).token as string;
      auth.deployTeam = basic('deployer', await deploy('groups', groupId['privg/team']));
      auth.deployLib = basic('deployer', await deploy('projects', projectId.lib));
      for (const name of USERS) cookie[name] = await signIn(username(name));

      // Until it expires, the membership does give access: what the `lapsed` rows check is the expiry.
      const before = await get(`${API}/projects/${projectId.lapsed}/packages`, 'lapsed');
      assert.equal(before.status, 200, before.text);
      clock.advance(3 * 24 * 60 * 60 * 1000);
    });
    after(async () => t.close());

    const CALLERS = Object.keys(READABLE) as Caller[];
    const WEB_CALLERS = ['anonymous', ...USERS] as const;

    it('the packages API: project listings show exactly the readable projects', async () => {
      for (const caller of CALLERS) {
        const seen: Key[] = [];
        for (const key of KEYS) {
          const r = await get(`${API}/projects/${projectId[key]}/packages`, caller);
          if (r.status === 200 && r.body.some((p: { name: string }) => p.name === npmName(key))) seen.push(key);
          else assert.ok([401, 403, 404].includes(r.status), `${caller} ${key}: ${r.status} ${r.text}`);
        }
        assert.deepEqual(sorted(seen), sorted(READABLE[caller]), caller);
      }
    });

    it('the packages API: group listings show the readable projects of the visible groups’ trees', async () => {
      for (const caller of CALLERS) {
        const seen: Key[] = [];
        const groups: GroupPath[] = [];
        for (const g of GROUP_PATHS) {
          const r = await get(`${API}/groups/${encodeURIComponent(g)}/packages?per_page=100`, caller);
          if (r.status !== 200) {
            assert.equal(r.status, 404, `${caller} ${g}: ${r.status} ${r.text}`);
            continue;
          }
          groups.push(g);
          for (const p of r.body as Array<{ name: string; package_type: string }>) {
            const key = KEYS.find((k) => (p.package_type === 'npm' ? npmName(k) : chartName(k)) === p.name);
            assert.ok(key, `${caller} ${g}: unexpected ${p.name}`);
            seen.push(key);
          }
        }
        assert.deepEqual(groups, VISIBLE_GROUPS[caller], `${caller}: visible groups`);
        assert.deepEqual(sorted(seen), sorted(viaGroups(caller)), caller);
      }
    });

    it('the npm instance endpoint serves exactly the readable packages; the group endpoint those of visible groups', async () => {
      for (const caller of CALLERS) {
        const instance: Key[] = [];
        const group: Key[] = [];
        for (const key of KEYS) {
          const r = await get(`${API}/packages/npm/${esc(npmName(key))}`, caller);
          if (r.status === 200) instance.push(key);
          for (const g of groupsHolding(key)) {
            const rg = await get(`${API}/groups/${groupId[g]}/-/packages/npm/${esc(npmName(key))}`, caller);
            if (rg.status === 200) group.push(key);
          }
        }
        assert.deepEqual(sorted(instance), sorted(READABLE[caller]), `${caller}: instance endpoint`);
        assert.deepEqual(sorted(group), sorted(viaGroups(caller)), `${caller}: group endpoint`);
      }
    });

    it('Helm: each project’s index is served exactly to those who may read its packages', async () => {
      for (const caller of CALLERS) {
        const seen: Key[] = [];
        for (const key of KEYS) {
          const r = await get(`${API}/projects/${projectId[key]}/packages/helm/stable/index.yaml`, caller);
          if (r.status === 200) {
            assert.deepEqual(Object.keys(loadIndexStrict(r.text).entries), [chartName(key)], `${caller} ${key}: the index lists the chart`);
            seen.push(key);
          }
        }
        assert.deepEqual(sorted(seen), sorted(READABLE[caller]), caller);
      }
    });

    it('the project and group listings show exactly what fetching each one by id shows', async () => {
      // Deploy tokens are left out: listings show them public rows only, while by id they reach their own project
      // or group (listingScope in domain/access/abilities.ts).
      for (const caller of WEB_CALLERS) {
        const byId: Key[] = [];
        for (const key of KEYS) if ((await get(`${API}/projects/${projectId[key]}`, caller)).status === 200) byId.push(key);
        const listed = (await get(`${API}/projects?per_page=100`, caller)).body as Array<{ id: number }>;
        const inList = KEYS.filter((k) => listed.some((p) => p.id === projectId[k]));
        assert.deepEqual(sorted(byId), sorted(VISIBLE_PROJECTS[caller]), `${caller}: projects by id`);
        assert.deepEqual(sorted(inList), sorted(VISIBLE_PROJECTS[caller]), `${caller}: project listing`);

        const seenById: GroupPath[] = [];
        for (const g of GROUP_PATHS) if ((await get(`${API}/groups/${groupId[g]}`, caller)).status === 200) seenById.push(g);
        const groups = (await get(`${API}/groups?per_page=100`, caller)).body as Array<{ full_path: string }>;
        assert.deepEqual(seenById, VISIBLE_GROUPS[caller], `${caller}: groups by id`);
        assert.deepEqual(GROUP_PATHS.filter((g) => groups.some((x) => x.full_path === g)), VISIBLE_GROUPS[caller], `${caller}: group listing`);
      }
    });

    it('the web pages: explore, group and project pages show the same packages', async () => {
      for (const caller of WEB_CALLERS) {
        const explore = await page('/explore', caller);
        assert.equal(explore.statusCode, 200);
        const explored = KEYS.filter((k) => mentions(explore.body, npmName(k)));
        assert.deepEqual(sorted(explored), sorted(READABLE[caller]), `${caller}: /explore (npm)`);
        assert.deepEqual(sorted(KEYS.filter((k) => mentions(explore.body, chartName(k)))), sorted(READABLE[caller]), `${caller}: /explore (Helm)`);

        const grouped: Key[] = [];
        for (const g of GROUP_PATHS) {
          const r = await page(`/${g}/-/packages`, caller);
          assert.equal(r.statusCode, VISIBLE_GROUPS[caller].includes(g) ? 200 : 404, `${caller} /${g}/-/packages`);
          if (r.statusCode === 200) grouped.push(...KEYS.filter((k) => mentions(r.body, npmName(k))));
        }
        assert.deepEqual(sorted(grouped), sorted(viaGroups(caller)), `${caller}: group pages`);

        const projects: Key[] = [];
        for (const key of KEYS) {
          const r = await page(`/${PROJECTS[key].group}/${key}/-/packages`, caller);
          if (r.statusCode === 200 && mentions(r.body, npmName(key))) projects.push(key);
          else assert.equal(r.statusCode, 404, `${caller} ${key}`);
        }
        assert.deepEqual(sorted(projects), sorted(READABLE[caller]), `${caller}: project pages`);
      }
    });
  });
}
