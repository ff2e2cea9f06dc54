/** Log text reaches the destination in batches, in order, and all of it on flush. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchedLogStream } from '../../src/http/plugins/batched-log-stream.js';

function destination() {
  const writes: string[] = [];
  const calls: string[] = [];
  return {
    writes,
    calls,
    write: (text: string) => void writes.push(text),
    flush: () => void calls.push('flush'),
    flushSync: () => void calls.push('flushSync'),
  };
}

describe('batched log stream', () => {
  it('holds lines until a batch is full, then hands the whole batch over in one write', () => {
    const d = destination();
    const s = new BatchedLogStream(d, 30);
    s.write('{"a":1}\n');
    s.write('{"b":2}\n');
    assert.deepEqual(d.writes, []);
    s.write('{"c":3}\n{"d":4}\n');
    assert.deepEqual(d.writes, ['{"a":1}\n{"b":2}\n{"c":3}\n{"d":4}\n']);
    s.write('{"e":5}\n');
    assert.equal(d.writes.length, 1);
  });

  it('flush and flushSync pass on what is pending, then flush the destination', () => {
    const d = destination();
    const s = new BatchedLogStream(d, 4096);
    s.write('one\n');
    s.flush();
    s.write('two\n');
    s.write('three\n');
    s.flushSync();
    s.flush();
    assert.deepEqual(d.writes, ['one\n', 'two\nthree\n'], 'nothing empty is written');
    assert.deepEqual(d.calls, ['flush', 'flushSync', 'flush']);
  });
});
