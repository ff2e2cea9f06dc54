/** Templates of the package pages: lists, the package page with install snippets, and the delete confirmation. */
import type { PackageDetails } from '../services/package-pages.service.js';
import type { PackageSummary, PageOf } from '../domain/records.js';
import { html, type SafeHtml } from './html.js';
import type { RenderMarkdown } from './markdown.js';

export const packagePath = (projectPath: string, id: number): string => `/${projectPath}/-/packages/${id}`;

const size = (bytes: number): string =>
  bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const day = (isoTime: string): string => isoTime.slice(0, 10);

export interface ListFilter {
  q: string;
  type: '' | 'npm' | 'helm';
  page: number;
}

export function filterForm(action: string, f: ListFilter): SafeHtml {
  return html`<form method="get" action="${action}" class="filters" role="search">
  <div><label for="q">Search by name</label><input id="q" name="q" type="search" value="${f.q}" placeholder="e.g. @acme/ui or nginx"></div>
  <div><label for="type">Type</label><select id="type" name="type">
    <option value=""${f.type === '' ? html` selected` : ''}>All</option>
    <option value="npm"${f.type === 'npm' ? html` selected` : ''}>npm</option>
    <option value="helm"${f.type === 'helm' ? html` selected` : ''}>Helm</option>
  </select></div>
  <div><button type="submit">Search</button></div>
</form>`;
}

export function summaryList(result: PageOf<PackageSummary>, f: ListFilter, action: string, perPage: number): SafeHtml {
  if (result.items.length === 0) return html`<p class="muted">No packages found.</p>`;
  const pages = Math.max(1, Math.ceil(result.total / perPage));
  const link = (p: number) => `${action}?${new URLSearchParams({ ...(f.q ? { q: f.q } : {}), ...(f.type ? { type: f.type } : {}), page: String(p) })}`;
  return html`<p class="muted">${result.total} package${result.total === 1 ? '' : 's'}</p>
<ul class="cards">${result.items.map(
    (s) => html`<li><span class="badge ${s.package_type}">${s.package_type}</span>
  <a href="${packagePath(s.project_path, s.latest_id)}"><strong>${s.name}</strong></a><br>
  <span class="muted">${s.latest_version} · ${s.versions} version${s.versions === 1 ? '' : 's'} · updated ${day(s.updated_at)}</span><br>
  <span class="muted">${s.project_path}</span></li>`,
  )}</ul>
${
  pages > 1
    ? html`<nav class="pager" aria-label="Pages">${f.page > 1 ? html`<a href="${link(f.page - 1)}" rel="prev">← Previous</a>` : ''}<span>Page ${f.page} of ${pages}</span>${
        f.page < pages ? html`<a href="${link(f.page + 1)}" rel="next">Next →</a>` : ''
      }</nav>`
    : ''
}`;
}

/** Copy-paste snippets with the exact URLs of this Wharf. */
function installSnippets(d: PackageDetails, externalUrl: string, ociChannel: string | undefined): SafeHtml {
  const { project, pkg } = d;
  const snippet = (label: string, text: string) => html`<h3>${label}</h3><pre data-copy="${label}"><code>${text}</code></pre>`;
  if (pkg.package_type === 'helm') {
    const channel = d.chart?.channels[0] ?? 'stable';
    const repoUrl = `${externalUrl}/api/v4/projects/${project.id}/packages/helm/${channel}`;
    const repoName = project.path;
    return html`${snippet('Helm', `helm repo add --username <your username> --password <your token> ${repoName} ${repoUrl}\nhelm repo update\nhelm install ${pkg.name} ${repoName}/${pkg.name} --version ${pkg.version}`)}
${snippet('helm cm-push', `helm cm-push ${pkg.name}-${pkg.version}.tgz ${repoName}`)}${
      // Over OCI only when the channel OCI maps to holds it (docs/design/helm-oci.md#one-store).
      ociChannel !== undefined && d.chart?.channels.includes(ociChannel) ? ociSnippet(snippet, externalUrl, `${project.full_path}/${pkg.name}`, pkg.version) : ''
    }`;
  }
  const registry = `${externalUrl}/api/v4/projects/${project.id}/packages/npm/`;
  const nerf = registry.replace(/^https?:/, '');
  const scope = pkg.name.startsWith('@') ? pkg.name.slice(0, pkg.name.indexOf('/')) : undefined;
  const npmrc = scope ? `${scope}:registry=${registry}\n${nerf}:_authToken=\${WHARF_TOKEN}` : `registry=${registry}\n${nerf}:_authToken=\${WHARF_TOKEN}`;
  const spec = `${pkg.name}@${pkg.version}`;
  return html`${snippet('.npmrc', npmrc)}
${snippet('npm', `npm install ${spec}`)}
${snippet('pnpm', `pnpm add ${spec}`)}
${snippet('yarn', `yarn add ${spec}`)}`;
}

function ociSnippet(snippet: (label: string, text: string) => SafeHtml, externalUrl: string, repository: string, version: string): SafeHtml {
  const host = new URL(externalUrl).host;
  // An OCI tag cannot hold `+`; helm finds `1.0.0+build.5` under `1.0.0_build.5` by itself, so the version stays as is.
  // Plain HTTP needs a flag, which helm 3's `registry login` spells differently (docs/helm-oci.md).
  const http = externalUrl.startsWith('http:');
  const plain = http ? ' --plain-http' : '';
  const name = repository.slice(repository.lastIndexOf('/') + 1);
  return snippet(
    'Helm over OCI',
    `helm registry login ${host} --username <your username> --password <your token>${plain}${http ? '  # helm 3: --insecure' : ''}\nhelm install ${name} oci://${host}/${repository} --version ${version}${plain}`,
  );
}

/** A claim from a provenance statement: a link when it is an http(s) URL, else text (both escaped by `html`). */
const claimed = (value: string): SafeHtml => (/^https?:\/\//i.test(value) ? html`<a href="${value}" rel="nofollow noopener">${value}</a>` : html`<code>${value}</code>`);

/**
 * "provenance attached" and, when the statement names it, "published from <pipeline>" (docs/design/npm-provenance.md#package-page).
 * What the statement says about the build is the publisher's signed claim; Wharf checked its subject, not its signer.
 */
function provenanceFacts(d: PackageDetails): SafeHtml {
  const p = d.npm?.provenance;
  if (!p) return html``;
  const from = p.run ?? p.source;
  return html`<h2>Provenance</h2>
  <p class="provenance">provenance attached <span class="muted">(${p.predicateType})</span></p>${
    from ? html`
  <p class="provenance">published from ${claimed(from)}${p.run && p.source ? html` <span class="muted">in ${claimed(p.source)}</span>` : ''}</p>` : ''
  }`;
}

const dependencyList = (deps: unknown): SafeHtml => {
  if (!deps || typeof deps !== 'object' || Object.keys(deps).length === 0) return html`<p class="muted">None.</p>`;
  return html`<ul>${Object.entries(deps as Record<string, unknown>).map(([n, v]) => html`<li><code>${n}</code> ${String(v)}</li>`)}</ul>`;
};

/**
 * Whether the chart version has a `.prov` file and which key its signature names. Wharf does not check the
 * signature (users do, with `helm verify` and their keyring), so the page says "names", not "verified".
 */
function provenanceFact(prov: NonNullable<PackageDetails['chart']>['provenance']): SafeHtml {
  if (!prov) return html`<dt>provenance</dt><dd class="muted">none (no .prov file)</dd>`;
  const { keyId, fingerprint } = prov.signer ?? {};
  const signer = fingerprint
    ? html`signed by key <code title="fingerprint">${fingerprint}</code>`
    : keyId
      ? html`signed by key <code title="key id">${keyId}</code>`
      : html`<span class="muted">its signer could not be read</span>`;
  return html`<dt>provenance</dt><dd><code>${prov.fileName}</code>: ${signer} <span class="muted">(check it with helm verify)</span></dd>`;
}

/** `ociChannel`: the `helm_oci_channel` setting, for a chart's OCI snippet. */
export function packagePage(d: PackageDetails, externalUrl: string, renderMarkdown: RenderMarkdown, ociChannel?: string): SafeHtml {
  const { project, pkg, versions } = d;
  const current = versions.find((v) => v.id === pkg.id);
  const manifest = d.npm?.manifest ?? {};
  const chart = d.chart?.metadata ?? {};
  const description = String((pkg.package_type === 'npm' ? manifest.description : chart.description) ?? '');
  const readme = d.npm?.readme;
  return html`<div class="pkg-head"><h1>${pkg.name}</h1><span class="badge ${pkg.package_type}">${pkg.package_type}</span><span>${pkg.version}</span>${
    pkg.status === 'deprecated' ? html`<span class="badge">deprecated</span>` : ''
  }</div>
<p class="muted">in <a href="/${project.full_path}/-/packages">${project.full_path}</a>${description ? html` — ${description}` : ''}</p>
<div class="pkg-grid">
<section aria-labelledby="readme-h">
  ${
    pkg.package_type === 'npm'
      ? html`<h2 id="readme-h">README</h2>${readme ? html`<div class="readme">${renderMarkdown(readme)}</div>` : html`<p class="muted">This version has no README.</p>`}
  <h2>Dependencies</h2>${dependencyList(manifest.dependencies)}
  ${manifest.peerDependencies ? html`<h2>Peer dependencies</h2>${dependencyList(manifest.peerDependencies)}` : ''}`
      : html`<h2 id="readme-h">Chart</h2><dl class="facts">${(['apiVersion', 'name', 'version', 'appVersion', 'type', 'kubeVersion', 'home'] as const).map((k) =>
          chart[k] !== undefined ? html`<dt>${k}</dt><dd>${String(chart[k])}</dd>` : '',
        )}<dt>channels</dt><dd>${(d.chart?.channels ?? []).join(', ') || '–'}</dd>${provenanceFact(d.chart?.provenance)}</dl>
  ${Array.isArray(chart.dependencies) && chart.dependencies.length ? html`<h2>Dependencies</h2><ul>${(chart.dependencies as Record<string, unknown>[]).map((dep) => html`<li><code>${String(dep.name)}</code> ${String(dep.version ?? '')} ${dep.repository ? html`<span class="muted">${String(dep.repository)}</span>` : ''}</li>`)}</ul>` : ''}
  ${Array.isArray(chart.maintainers) && chart.maintainers.length ? html`<h2>Maintainers</h2><ul>${(chart.maintainers as Record<string, unknown>[]).map((m) => html`<li>${String(m.name ?? '')} ${m.email ? html`<span class="muted">${String(m.email)}</span>` : ''}</li>`)}</ul>` : ''}`
  }
  <h2>Versions (${versions.length})</h2>
  <table><thead><tr><th scope="col">Version</th><th scope="col">Published</th><th scope="col" class="optional">Size</th></tr></thead><tbody>
  ${versions.map(
    (v) => html`<tr${v.id === pkg.id ? html` aria-current="true"` : ''}><td><a href="${packagePath(project.full_path, v.id)}">${v.version}</a>${v.status === 'deprecated' ? html` <span class="badge">deprecated</span>` : ''}</td><td>${day(v.created_at)}</td><td class="optional">${size(v.files.reduce((n, f) => n + f.size, 0))}</td></tr>`,
  )}
  </tbody></table>
</section>
<aside aria-labelledby="install-h">
  <h2 id="install-h">Install</h2>
  ${installSnippets(d, externalUrl, ociChannel)}
  ${provenanceFacts(d)}
  ${d.tags.length ? html`<h2>Dist-tags</h2><dl class="facts">${d.tags.map((t) => html`<dt>${t.tag}</dt><dd>${t.version}</dd>`)}</dl>` : ''}
  <h2>Files</h2>
  ${(current?.files ?? []).map(
    (f) => html`<p><a href="/api/v4/projects/${project.id}/packages/${pkg.id}/package_files/${f.id}/download">${f.file_name.replace(/^.*\//, '')}</a> <span class="muted">${size(f.size)}${f.channel ? ` · channel ${f.channel}` : ''}</span><br>
  <span class="digest">sha256 ${f.sha256}</span></p>`,
  )}
  ${d.canDestroy ? html`<h2>Danger zone</h2><p><a class="button danger" href="${packagePath(project.full_path, pkg.id)}/delete">Delete version ${pkg.version}</a></p>` : ''}
</aside>
</div>
<script src="/-/assets/copy.js" defer></script>`;
}

export function deleteConfirmation(d: PackageDetails, csrfToken: string): SafeHtml {
  const { project, pkg } = d;
  return html`<h1>Delete ${pkg.name} ${pkg.version}?</h1>
<p>This removes version <strong>${pkg.version}</strong> of <strong>${pkg.name}</strong> from <strong>${project.full_path}</strong>: it disappears from ${
    pkg.package_type === 'npm' ? 'the packument and its dist-tags' : 'every channel’s index.yaml'
  } at once, and installs of it will fail. This cannot be undone.</p>
<form method="post" action="${packagePath(project.full_path, pkg.id)}/delete">
  <input type="hidden" name="authenticity_token" value="${csrfToken}">
  <button type="submit" class="danger">Delete version ${pkg.version}</button>
  <a href="${packagePath(project.full_path, pkg.id)}">Cancel</a>
</form>`;
}
