import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { BlobDigestMismatchError, BlobTooLargeError } from '../../src/storage/blobs/blob-store.js';
import { FsBlobStore, readAll } from '../../src/storage/blobs/fs-blob-store.js';

const root = mkdtempSync(path.join(tmpdir(), 'wharf-blobs-'));
after(() => rmSync(root, { recursive: true, force: true }));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('FsBlobStore', () => {
  const store = new FsBlobStore(root);

  it('stores a stream under its SHA-256 and returns every digest npm and helm need', async () => {
    const data = Buffer.from('hello wharf');
    const r = await store.put(Readable.from([data.subarray(0, 5), data.subarray(5)]));
    assert.equal(r.sha256, sha256(data));
    assert.equal(r.sha1, createHash('sha1').update(data).digest('hex'));
    assert.equal(r.sha512, createHash('sha512').update(data).digest('base64'));
    assert.equal(r.size, data.length);
    assert.equal(r.created, true);
    const back = await store.get(r.sha256);
    assert.ok(back);
    assert.deepEqual(await readAll(back), data);
    assert.deepEqual(await store.head(r.sha256), { sha256: r.sha256, size: data.length });
  });

  it('deduplicates identical content', async () => {
    const data = Buffer.from('same bytes');
    const a = await store.put(data);
    const b = await store.put(data);
    assert.equal(a.sha256, b.sha256);
    assert.equal(b.created, false);
  });

  it('refuses content over the size limit and leaves nothing behind', async () => {
    await assert.rejects(store.put(Buffer.alloc(1000), { maxBytes: 999 }), BlobTooLargeError);
    assert.equal(await store.head(sha256(Buffer.alloc(1000))), undefined);
    assert.deepEqual(readdirSync(path.join(root, 'tmp')), []);
  });

  it('refuses content whose digest is not the expected one', async () => {
    await assert.rejects(store.put(Buffer.from('x'), { expectedSha256: 'a'.repeat(64) }), BlobDigestMismatchError);
    assert.equal(await store.head(sha256(Buffer.from('x'))), undefined);
  });

  it('answers undefined for a missing blob, lists and deletes', async () => {
    assert.equal(await store.get('b'.repeat(64)), undefined);
    const r = await store.put(Buffer.from('to delete'));
    const listed: string[] = [];
    for await (const d of store.list()) listed.push(d);
    assert.ok(listed.includes(r.sha256));
    await store.delete(r.sha256);
    assert.equal(await store.head(r.sha256), undefined);
  });

  it('rejects keys that are not digests, so no path can escape the store', async () => {
    await assert.rejects(store.get('../../etc/passwd'));
  });
});
