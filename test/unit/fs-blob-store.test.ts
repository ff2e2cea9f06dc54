import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FsBlobStore, readAll } from '../../src/storage/blobs/fs-blob-store.js';
import { CachingBlobStore } from '../../src/storage/blobs/caching-blob-store.js';
import { blobStoreContract } from '../helpers/blob-contract.js';

const root = mkdtempSync(path.join(tmpdir(), 'wharf-blobs-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('FsBlobStore', () => {
  const store = new FsBlobStore(root);
  blobStoreContract(() => store);

  it('leaves no temporary file behind after a refused upload', async () => {
    await assert.rejects(store.put(Buffer.alloc(10), { maxBytes: 5 }));
    assert.deepEqual(readdirSync(path.join(root, 'tmp')), []);
  });
});

describe('CachingBlobStore over FsBlobStore', () => {
  const cacheRoot = mkdtempSync(path.join(tmpdir(), 'wharf-blobs-cache-'));
  after(() => rmSync(cacheRoot, { recursive: true, force: true }));
  const inner = new FsBlobStore(cacheRoot);
  const store = new CachingBlobStore(inner, { maxBlobBytes: 1024, maxTotalBytes: 4096 });
  blobStoreContract(() => store);

  it('serves a small blob from memory after its first read, and never keeps large ones', async () => {
    const small = await store.put(Buffer.from('small and hot'));
    assert.equal((await readAll((await store.get(small.sha256))!)).toString(), 'small and hot');
    // Remove the file behind the cache's back: a cached blob still reads, an uncached one does not.
    const big = await store.put(Buffer.alloc(2048, 7));
    await readAll((await store.get(big.sha256))!);
    await inner.delete(small.sha256);
    await inner.delete(big.sha256);
    assert.equal((await readAll((await store.get(small.sha256))!)).toString(), 'small and hot');
    assert.equal(await store.get(big.sha256), undefined);
  });
});
