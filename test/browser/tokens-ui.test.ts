/** Signing in and managing personal access tokens in a real browser, keyboard and form controls only. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { ROOT_TOKEN } from '../helpers/app.js';
import { BROWSER_SKIP, launchBrowser, screenshot, serveApp, type ServedApp } from '../helpers/browser.js';

describe('web UI in Chromium: sign in, tokens', { skip: BROWSER_SKIP }, () => {
  let s: ServedApp;
  let browser: Browser;
  before(async () => {
    s = await serveApp();
    const r = await s.call('POST', '/api/v4/users', {
      token: ROOT_TOKEN,
      body: { username: 'erin', name: 'Erin Example', email: 'erin@example.com', password: 'erin-password' },
    });
    assert.equal(r.status, 201);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  it('signs in, creates a token that works, sees it listed, revokes it and signs out', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${s.baseUrl}/-/user_settings/personal_access_tokens`);
    assert.match(page.url(), /\/users\/sign_in\?redirect_to=/);
    await page.getByLabel('Username or e-mail').fill('erin');
    await page.getByLabel('Password').fill('erin-password');
    await screenshot(page, 'sign-in');
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.pathname === '/-/user_settings/personal_access_tokens');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Personal access tokens');

    await page.getByLabel('Name').fill('ci-pipeline');
    await page.getByRole('checkbox', { name: /read_api: read only/ }).check();
    await page.getByRole('checkbox', { name: /^\s*api: read and write/ }).uncheck();
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.getByRole('textbox', { name: 'Token', exact: true }).inputValue();
    assert.match(secret, /^whpat-/);
    await screenshot(page, 'token-created');
    const api = await fetch(`${s.baseUrl}/api/v4/user`, { headers: { 'private-token': secret } });
    assert.equal(((await api.json()) as { username: string }).username, 'erin');

    await page.getByRole('button', { name: 'Revoke ci-pipeline' }).click();
    await page.getByText('The token was revoked.').waitFor();
    assert.equal((await fetch(`${s.baseUrl}/api/v4/user`, { headers: { 'private-token': secret } })).status, 401);
    await screenshot(page, 'tokens-after-revoke');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('Signed out.').waitFor();
    await context.close();
  });

  it('is usable on a phone-sized screen', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = await context.newPage();
    await page.goto(`${s.baseUrl}/users/sign_in`);
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px`);
    await screenshot(page, 'sign-in-phone');
    await context.close();
  });
});
