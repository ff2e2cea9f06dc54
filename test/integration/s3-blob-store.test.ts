/** The S3 blob store against a real S3-protocol server on loopback, with the checksum settings S3-compatible stores need. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/config.js';
import { openBlobStore } from '../../src/compose.js';
import { S3BlobStore } from '../../src/storage/blobs/s3-blob-store.js';
import { blobStoreContract } from '../helpers/blob-contract.js';
import { startS3, type TestS3 } from '../helpers/s3.js';

describe('S3BlobStore on s3rver', () => {
  let s3: TestS3;
  let store: S3BlobStore;
  before(async () => {
    s3 = await startS3();
    const config = loadConfig({ env: { ...s3.env, WHARF_S3_PREFIX: 'wharf/blobs' } });
    const opened = await openBlobStore(config);
    assert.ok(opened instanceof S3BlobStore, 'WHARF_BLOB_STORE=s3 selects the S3 store');
    store = opened;
  });
  after(async () => {
    store.destroy();
    await s3.close();
  });

  blobStoreContract(() => store);

  it('signs a short-lived direct-download URL that serves the bytes', async () => {
    const data = randomBytes(64);
    const r = await store.put(data);
    const url = await store.downloadUrl(r.sha256, { expiresInSeconds: 60, fileName: 'pkg-1.0.0.tgz' });
    assert.match(url, /X-Amz-Signature=/);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), data);
  });
});
