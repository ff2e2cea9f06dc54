import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FsBlobStore } from '../../src/storage/blobs/fs-blob-store.js';
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
