/** The page frame: header with navigation, main content, footer. Works without JavaScript. */
import type { UserRow } from '../domain/records.js';
import { html, type SafeHtml } from './html.js';

export interface PageContext {
  user: UserRow | undefined;
  csrfToken: string;
  /** Path of the current page, to mark the active navigation entry. */
  path: string;
}

export interface Flash {
  kind: 'notice' | 'alert';
  message: string;
}

export function layout(title: string, ctx: PageContext, body: SafeHtml, flash?: Flash): SafeHtml {
  const nav = (href: string, label: string) =>
    html`<a href="${href}"${ctx.path === href ? html` aria-current="page"` : ''}>${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Wharf</title>
<link rel="stylesheet" href="/-/assets/style.css">
<link rel="icon" href="data:,">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">⚓ Wharf</a>
  <nav aria-label="Main">${nav('/', 'Home')}${nav('/explore', 'Explore')}${ctx.user ? nav('/-/user_settings/personal_access_tokens', 'Access tokens') : ''}</nav>
  <div class="account">${
    ctx.user
      ? html`<span class="who">${ctx.user.username}</span>
    <form method="post" action="/users/sign_out" class="inline">
      <input type="hidden" name="authenticity_token" value="${ctx.csrfToken}">
      <button type="submit" class="link">Sign out</button>
    </form>`
      : html`<a href="/users/sign_in">Sign in</a>`
  }</div>
</header>
<main id="main">
${flash ? html`<p class="flash ${flash.kind}" role="${flash.kind === 'alert' ? 'alert' : 'status'}">${flash.message}</p>` : ''}
${body}
</main>
<footer class="foot">Wharf — npm packages and Helm charts, GitLab Package Registry API compatible.</footer>
</body>
</html>`;
}
