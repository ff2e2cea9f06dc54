/** The access line: pino's JSON shape, every field escaped, secrets in the URL masked, the log level honoured. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { AccessLog, redactUrl, type AccessLine } from '../../src/http/plugins/access-log.js';

function capture(level: string): { log: AccessLog; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { log: new AccessLog(stream as never, level), lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

const line = (over: Partial<AccessLine> = {}): AccessLine => ({
  reqId: 'id-1',
  method: 'GET',
  url: '/api/v4/projects/1/packages/npm/@a%2fb',
  route: '/api/v4/projects/:id/packages/npm/*',
  status: 200,
  durationMs: 1.23456,
  remoteAddress: '127.0.0.1',
  ...over,
});

describe('access log', () => {
  it('writes one JSON line per request in the shape pino writes', () => {
    const { log, lines } = capture('info');
    log.write(line());
    log.write(line({ status: 304, hot: true, route: null, remoteAddress: undefined }));
    const [a, b] = lines();
    assert.deepEqual(Object.keys(a!), ['level', 'time', 'pid', 'hostname', 'reqId', 'method', 'url', 'route', 'status', 'durationMs', 'remoteAddress', 'msg']);
    assert.equal(a!.level, 30);
    assert.equal(a!.pid, process.pid);
    assert.equal(a!.durationMs, 1.23);
    assert.equal(a!.msg, 'request');
    assert.equal(b!.hot, true);
    assert.equal(b!.route, null);
    assert.equal('remoteAddress' in b!, false);
  });

  it('escapes whatever a client sends and masks token-like query parameters', () => {
    const { log, lines } = capture('info');
    log.write(line({ reqId: 'evil"\n{"level":60}', url: '/api/v4/user?private_token=s3cret&page=1&password=hunter2' }));
    const all = lines();
    assert.equal(all.length, 1, 'a request id cannot forge a second line');
    assert.equal(all[0]!.reqId, 'evil"\n{"level":60}');
    assert.equal(all[0]!.url, '/api/v4/user?private_token=[REDACTED]&page=1&password=[REDACTED]');
  });

  it('masks secret parameters whatever their percent-encoding, case or array suffix, and nothing else', () => {
    const cases: [string, string][] = [
      ['/u?private%5Ftoken=s3cret', '/u?private%5Ftoken=[REDACTED]'],
      ['/u?%70rivate_token=s3cret&a=1', '/u?%70rivate_token=[REDACTED]&a=1'],
      ['/u?PRIVATE_TOKEN=s3cret', '/u?PRIVATE_TOKEN=[REDACTED]'],
      ['/u?Job%5FToken=s3cret', '/u?Job%5FToken=[REDACTED]'],
      ['/u?access_token%5B%5D=s3cret', '/u?access_token%5B%5D=[REDACTED]'],
      ['/u?a=1&bearer_token=s3cret#frag', '/u?a=1&bearer_token=[REDACTED]#frag'],
      ['/u?pass%77ord=s3cret', '/u?pass%77ord=[REDACTED]'],
      ['/u?%zz=1&token=s3cret', '/u?%zz=1&token=[REDACTED]'],
      ['/u?tokens=1&search=token&my_token=x', '/u?tokens=1&search=token&my_token=x'],
      ['/a/-/user/token/s3cret?x=1', '/a/-/user/token/[REDACTED]?x=1'],
    ];
    for (const [url, expected] of cases) assert.equal(redactUrl(url), expected, url);
  });

  it('names the error code after the status when the answer is an error, and only then', () => {
    const { log, lines } = capture('info');
    log.write(line({ status: 403, code: 'package_protected' }));
    log.write(line());
    const [refused, ok] = lines();
    assert.deepEqual(Object.keys(refused!), ['level', 'time', 'pid', 'hostname', 'reqId', 'method', 'url', 'route', 'status', 'code', 'durationMs', 'remoteAddress', 'msg']);
    assert.equal(refused!.code, 'package_protected');
    assert.equal('code' in ok!, false);
  });

  it('honours the log level: 5xx at error, everything else at info', () => {
    const warn = capture('warn');
    warn.log.write(line());
    warn.log.write(line({ status: 503 }));
    assert.deepEqual(warn.lines().map((l) => [l.status, l.level]), [[503, 50]]);
    const silent = capture('silent');
    silent.log.write(line({ status: 500 }));
    assert.equal(silent.lines().length, 0);
  });
});
