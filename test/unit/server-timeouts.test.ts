import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { serverOptions } from '../../src/http/server-timeouts.js';

describe('connection timeouts', () => {
  it('default to 30 s of headers, an hour per request, 60 s idle and 72 s keep-alive', () => {
    const c = loadConfig({ env: {} });
    assert.deepEqual(
      [c.headersTimeoutSeconds, c.requestTimeoutSeconds, c.idleTimeoutSeconds, c.keepAliveTimeoutSeconds],
      [30, 3600, 60, 72],
    );
    assert.equal(serverOptions(c).connectionsCheckingInterval, 7500);
  });

  it('are read from WHARF_* and refused when malformed or inconsistent, all at once', () => {
    const c = loadConfig({ env: { WHARF_HEADERS_TIMEOUT: '2', WHARF_REQUEST_TIMEOUT: '0', WHARF_IDLE_TIMEOUT: '5', WHARF_KEEP_ALIVE_TIMEOUT: '3' } });
    assert.deepEqual([c.headersTimeoutSeconds, c.requestTimeoutSeconds, c.idleTimeoutSeconds, c.keepAliveTimeoutSeconds], [2, 0, 5, 3]);
    assert.equal(serverOptions(c).connectionsCheckingInterval, 500);
    assert.throws(
      () => loadConfig({ env: { WHARF_HEADERS_TIMEOUT: '0', WHARF_IDLE_TIMEOUT: 'soon', WHARF_KEEP_ALIVE_TIMEOUT: '-1' } }),
      (err: unknown) => err instanceof ConfigError && ['WHARF_HEADERS_TIMEOUT', 'WHARF_IDLE_TIMEOUT', 'WHARF_KEEP_ALIVE_TIMEOUT'].every((n) => err.problems.some((p) => p.startsWith(n))),
    );
    assert.throws(() => loadConfig({ env: { WHARF_HEADERS_TIMEOUT: '60', WHARF_REQUEST_TIMEOUT: '30' } }), /must not be longer than WHARF_REQUEST_TIMEOUT/);
  });
});
