import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBlank, MAX_JSON_DEPTH, parseJsonBuffer, scanJson } from '../../src/http/plugins/json-body.js';

const parse = (text: string) => JSON.parse(text) as unknown;

describe('scanJson', () => {
  it('counts nesting outside strings only, escaped quotes included', () => {
    assert.equal(scanJson(Buffer.from(`{"a":"${'['.repeat(500)}\\"${'{'.repeat(500)}"}`)).tooDeep, false);
    assert.equal(scanJson(Buffer.from('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH))).tooDeep, false);
    assert.equal(scanJson(Buffer.from('['.repeat(MAX_JSON_DEPTH + 1))).tooDeep, true);
    assert.equal(scanJson(Buffer.from(`{"k\\\\":${'['.repeat(MAX_JSON_DEPTH + 1)}`)).tooDeep, true);
  });

  it('finds _attachments.<file>.data strings and nothing else', () => {
    const text = '{"data":"no","_attachments":{"a.tgz":{"length":3,"data":"QUJD","x":{"data":"no"}},"b":{"data":"RA=="}},"z":{"_attachments":{"c":{"data":"no"}}}}';
    const spans = scanJson(Buffer.from(text)).attachmentSpans.map(([s, e]) => text.slice(s, e));
    assert.deepEqual(spans, ['QUJD', 'RA==']);
  });
});

describe('parseJsonBuffer', () => {
  it('gives what JSON.parse gives, with or without lifting attachments', () => {
    for (const text of [
      '{"_attachments":{"a.tgz":{"data":"QU\\/C","length":3}},"name":"x"}',
      '{"_attachments":{"a":{"data":"A"}},"_attachments":{"b":{"data":"B"}}}',
      '{"_attachments":{"a":{"data":"\\u00e9t\\u00e9"}}}',
      '["_attachments",{"data":"x"}]',
      '"1.0.0"',
    ]) {
      assert.deepEqual(parseJsonBuffer(Buffer.from(text), parse, { attachments: true }), JSON.parse(text), text);
    }
  });

  it('refuses deep nesting with the given error, and bad JSON as JSON.parse does', () => {
    assert.throws(() => parseJsonBuffer(Buffer.from('['.repeat(10_000)), parse), /nested deeper than 128 levels/);
    assert.throws(() => parseJsonBuffer(Buffer.from('{"_attachments":{"a":{"data":"x"}}'), parse, { attachments: true }), SyntaxError);
  });

  it('isBlank', () => {
    assert.equal(isBlank(Buffer.from(' \r\n\t')), true);
    assert.equal(isBlank(Buffer.from(' x')), false);
  });
});
