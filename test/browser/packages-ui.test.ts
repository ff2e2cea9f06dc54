/** The package pages in Chromium: find, read, copy an install command, delete a version. Screenshots for review. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { BROWSER_SKIP, launchBrowser, screenshot, serveApp, type ServedApp } from '../helpers/browser.js';
import { createNpmWorld, published, type NpmWorld } from '../helpers/npm.js';

const README = '# Rocket\n\nA tiny package that **launches** things.\n\n```js\nrequire("@pubgrp/rocket").launch();\n```\n';

describe('package pages in Chromium', { skip: BROWSER_SKIP }, () => {
  let s: ServedApp;
  let w: NpmWorld;
  let browser: Browser;
  before(async () => {
    s = await serveApp();
    w = await createNpmWorld(s);
    await published(s, w.project.public, '@pubgrp/rocket', '1.0.0', { readme: README, extra: { dependencies: { 'left-pad': '^1.3.0' } } });
    await published(s, w.project.public, '@pubgrp/rocket', '1.1.0', { readme: README });
    await published(s, w.project.public, '@pubgrp/other', '0.0.1');
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  it('finds a package by search, reads its README, copies the install command, deletes a version', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.baseUrl });
    const page = await context.newPage();
    await page.goto(`${s.baseUrl}/users/sign_in?redirect_to=/explore`);
    await page.getByLabel('Username or e-mail').fill('maintainer');
    await page.getByLabel('Password').fill('password123');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/explore');

    await page.getByLabel('Search by name').fill('rocket');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=rocket/);
    assert.equal(await page.getByRole('link', { name: '@pubgrp/other' }).count(), 0);
    await screenshot(page, 'explore-search');
    await page.getByRole('link', { name: '@pubgrp/rocket' }).click();

    await page.getByRole('heading', { name: 'Rocket', exact: true, level: 3 }).waitFor();
    assert.match((await page.locator('.readme').textContent()) ?? '', /launches things/);
    assert.equal(await page.getByRole('heading', { level: 1 }).count(), 1, 'one h1 per page');
    await screenshot(page, 'package-page');

    await page.getByRole('button', { name: 'Copy: npm' }).click();
    await page.getByRole('button', { name: 'Copy: npm' }).getByText('Copied').waitFor();
    const copied = (await page.evaluate('navigator.clipboard.readText()')) as string;
    assert.equal(copied, 'npm install @pubgrp/rocket@1.1.0');

    await page.getByRole('link', { name: 'Delete version 1.1.0' }).click();
    await page.getByRole('heading', { name: 'Delete @pubgrp/rocket 1.1.0?' }).waitFor();
    await screenshot(page, 'delete-confirmation');
    await page.getByRole('button', { name: 'Delete version 1.1.0' }).click();
    await page.getByRole('heading', { name: '@pubgrp/rocket' }).waitFor();
    assert.equal(await page.getByRole('link', { name: '1.1.0' }).count(), 0, 'the deleted version is gone from the page');

    const doc = (await (await fetch(`${s.baseUrl}/api/v4/projects/${w.project.public}/packages/npm/@pubgrp%2frocket`, { headers: { accept: 'application/json' } })).json()) as { versions: object; 'dist-tags': { latest: string } };
    assert.deepEqual(Object.keys(doc.versions), ['1.0.0']);
    assert.equal(doc['dist-tags'].latest, '1.0.0');
    await context.close();
  });

  it('reads well on a phone, without JavaScript', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${s.baseUrl}/explore`);
    await page.getByRole('link', { name: '@pubgrp/other' }).click();
    await page.getByRole('heading', { name: '@pubgrp/other' }).waitFor();
    assert.match((await page.locator('pre[data-copy="npm"]').textContent()) ?? '', /npm install @pubgrp\/other@0\.0\.1/);
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px`);
    await screenshot(page, 'package-page-phone');
    await context.close();
  });
});
