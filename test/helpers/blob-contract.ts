/** The behaviour every BlobStore must have, run against each implementation. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { it } from 'node:test';
import { BlobDigestMismatchError, BlobTooLargeError, type BlobStore } from '../../src/services/blob-store.js';
import { readAll } from '../../src/storage/blobs/fs-blob-store.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export function blobStoreContract(store: () => BlobStore): void {
  it('stores a stream under its SHA-256 and returns the digests npm and helm need', async () => {
    const data = Buffer.from(`hello wharf ${randomBytes(4).toString('hex')}`);
    const r = await store().put(Readable.from([data.subarray(0, 5), data.subarray(5)]));
    assert.equal(r.sha256, sha256(data));
    assert.equal(r.sha1, createHash('sha1').update(data).digest('hex'));
    assert.equal(r.sha512, createHash('sha512').update(data).digest('base64'));
    assert.equal(r.size, data.length);
    assert.equal(r.created, true);
    const back = await store().get(r.sha256);
    assert.ok(back);
    assert.deepEqual(await readAll(back), data);
    const head = await store().head(r.sha256);
    assert.equal(head?.sha256, r.sha256);
    assert.equal(head?.size, data.length);
    assert.ok(head?.modifiedAt instanceof Date && Math.abs(head.modifiedAt.getTime() - Date.now()) < 120_000);
  });

  it('keeps large uploads intact (multi-chunk, past in-memory thresholds)', async () => {
    const data = randomBytes(9 * 1024 * 1024 + 123);
    const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
    const r = await store().put(Readable.from(chunks));
    assert.equal(r.sha256, sha256(data));
    assert.equal(r.size, data.length);
    assert.deepEqual(await readAll((await store().get(r.sha256))!), data);
  });

  it('deduplicates identical content', async () => {
    const data = Buffer.from(`same bytes ${randomBytes(4).toString('hex')}`);
    const a = await store().put(data);
    const b = await store().put(data);
    assert.equal(a.sha256, b.sha256);
    assert.equal(b.created, false);
  });

  it('refuses content over the size limit and keeps nothing', async () => {
    const data = randomBytes(1000);
    await assert.rejects(store().put(data, { maxBytes: 999 }), BlobTooLargeError);
    assert.equal(await store().head(sha256(data)), undefined);
  });

  it('refuses content whose digest is not the expected one and keeps nothing', async () => {
    const data = randomBytes(10);
    await assert.rejects(store().put(data, { expectedSha256: 'a'.repeat(64) }), BlobDigestMismatchError);
    assert.equal(await store().head(sha256(data)), undefined);
  });

  it('answers undefined for a missing blob, lists and deletes', async () => {
    assert.equal(await store().get('b'.repeat(64)), undefined);
    assert.equal(await store().head('b'.repeat(64)), undefined);
    const r = await store().put(randomBytes(32));
    const listed: string[] = [];
    for await (const d of store().list()) listed.push(d);
    assert.ok(listed.includes(r.sha256));
    await store().delete(r.sha256);
    assert.equal(await store().head(r.sha256), undefined);
  });

  it('refuses keys that are not digests, so no key can escape its namespace', async () => {
    await assert.rejects(store().get('../../etc/passwd'));
  });
}
