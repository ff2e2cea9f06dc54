/** The document engine: built once per version, served only for exactly that version, bounded by bytes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RevisionedDocuments, validatorTag, type BuiltDocument } from '../../src/services/documents/revisioned-documents.js';

interface Doc extends BuiltDocument {
  body: string;
}

const doc = (revision: number, body: string, builtFor = 'u'): Doc => ({ revision, builtFor, body, bytes: body.length });

/** A builder that counts its calls and can be held open to let readers pile up. */
function builder() {
  const calls: { previous: Doc | undefined }[] = [];
  let release: () => void = () => undefined;
  let gate: Promise<void> = Promise.resolve();
  return {
    calls,
    hold() {
      gate = new Promise((r) => (release = r));
    },
    release: () => release(),
    build: (revision: number, body: string, builtFor = 'u') => async (previous: Doc | undefined) => {
      calls.push({ previous });
      await gate;
      return doc(revision, body, builtFor);
    },
  };
}

describe('revisioned documents', () => {
  it('builds once per revision and serves the held document until the revision moves', async () => {
    const docs = new RevisionedDocuments<Doc>({ maxBytes: 1000 });
    const b = builder();
    assert.equal((await docs.get('k', { revision: 1, builtFor: 'u' }, b.build(1, 'one'))).body, 'one');
    assert.equal((await docs.get('k', { revision: 1, builtFor: 'u' }, b.build(1, 'other'))).body, 'one');
    assert.equal(b.calls.length, 1);
    const moved = await docs.get('k', { revision: 2, builtFor: 'u' }, b.build(2, 'two'));
    assert.equal(moved.body, 'two');
    assert.equal(b.calls.length, 2);
    assert.equal(b.calls[1]!.previous?.body, 'one', 'the builder gets the older document as a base');
    // What else the bytes depend on is part of the version too.
    assert.equal((await docs.get('k', { revision: 2, builtFor: 'v' }, b.build(2, 'two-v', 'v'))).body, 'two-v');
    assert.equal(b.calls.length, 3);
  });

  it('lets readers arriving together share one build (single flight), and builds again after a failure', async () => {
    const docs = new RevisionedDocuments<Doc>({ maxBytes: 1000 });
    const b = builder();
    b.hold();
    const reads = Array.from({ length: 20 }, () => docs.get('k', { revision: 3, builtFor: 'u' }, b.build(3, 'three')));
    b.release();
    const served = await Promise.all(reads);
    assert.equal(b.calls.length, 1);
    assert.ok(served.every((d) => d === served[0]));

    let attempts = 0;
    const failing = async (): Promise<Doc> => {
      attempts++;
      throw new Error('database gone');
    };
    await assert.rejects(Promise.resolve(docs.get('f', { revision: 1, builtFor: 'u' }, failing)), /database gone/);
    assert.equal((await docs.get('f', { revision: 1, builtFor: 'u' }, b.build(1, 'recovered'))).body, 'recovered');
    assert.equal(attempts, 1);
  });

  it('never lets a slow build of an older revision replace a newer one', async () => {
    const docs = new RevisionedDocuments<Doc>({ maxBytes: 1000 });
    const slow = builder();
    slow.hold();
    const old = docs.get('k', { revision: 1, builtFor: 'u' }, slow.build(1, 'old'));
    await docs.get('k', { revision: 2, builtFor: 'u' }, builder().build(2, 'new'));
    slow.release();
    assert.equal((await old).body, 'old', 'the slow reader still gets what it asked for');
    const b = builder();
    assert.equal((await docs.get('k', { revision: 2, builtFor: 'u' }, b.build(2, 'rebuilt'))).body, 'new');
    assert.equal(b.calls.length, 0);
  });

  it('evicts least recently used documents by bytes, and counts bytes a document gains later', async () => {
    const evicted: string[] = [];
    const docs = new RevisionedDocuments<Doc>({ maxBytes: 10, onEvict: (k) => evicted.push(k) });
    const at = { revision: 1, builtFor: 'u' };
    await docs.get('a', at, () => doc(1, 'aaaa'));
    await docs.get('b', at, () => doc(1, 'bbbb'));
    await docs.get('a', at, () => doc(1, 'never'));
    assert.equal(docs.bytes, 8);
    await docs.get('c', at, () => doc(1, 'cccc'));
    assert.deepEqual(evicted, ['b'], '"a" was used more recently than "b"');
    assert.equal(docs.bytes, 8);
    assert.ok(docs.has('a') && docs.has('c') && !docs.has('b'));

    // A representation compressed on demand makes "c" bigger: the bound still holds.
    const c = await docs.get('c', at, () => doc(1, 'never'));
    (c as { bytes: number }).bytes = 7;
    docs.grown('c', c);
    assert.deepEqual(evicted, ['b', 'a']);
    assert.equal(docs.bytes, 7);
  });

  it('serves but does not keep a document larger than its per-document bound', async () => {
    const docs = new RevisionedDocuments<Doc>({ maxBytes: 100, maxDocumentBytes: 25 });
    const b = builder();
    const at = { revision: 1, builtFor: 'u' };
    assert.equal((await docs.get('big', at, b.build(1, 'x'.repeat(30)))).body.length, 30);
    await docs.get('big', at, b.build(1, 'x'.repeat(30)));
    assert.equal(b.calls.length, 2);
    assert.equal(docs.bytes, 0);
  });

  it('derives strong validators from what the bytes are made of', () => {
    const tag = validatorTag('1\0pkg\x003\0http://x');
    assert.match(tag, /^[A-Za-z0-9_-]{27}$/);
    assert.equal(validatorTag('1\0pkg\x003\0http://x'), tag);
    assert.notEqual(validatorTag('1\0pkg\x004\0http://x'), tag);
  });
});
