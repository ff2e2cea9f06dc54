/** A real S3-protocol server (s3rver) on loopback with a fresh bucket, for the S3 blob store's tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
// s3rver ships no types; the subset used here is declared below.
import S3rverModule from 's3rver';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = S3rverModule as unknown as new (options: Record<string, unknown>) => S3rverInstance;

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** Environment for a Wharf process using this store. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** `address` lets a test put the store on another loopback host than Wharf, as a real object store would be. */
export async function startS3(address = '127.0.0.1'): Promise<TestS3> {
  const directory = mkdtempSync(path.join(tmpdir(), 'wharf-s3rver-'));
  const bucket = 'wharf-test';
  const server = new S3rver({ address, port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const listening = await server.run();
  const endpoint = `http://${address}:${listening.port}`;
  return {
    endpoint,
    bucket,
    env: {
      WHARF_BLOB_STORE: 's3',
      WHARF_S3_BUCKET: bucket,
      WHARF_S3_ENDPOINT: endpoint,
      WHARF_S3_REGION: 'us-east-1',
      WHARF_S3_ACCESS_KEY_ID: 'S3RVER',
      WHARF_S3_SECRET_ACCESS_KEY: 'S3RVER',
      WHARF_S3_FORCE_PATH_STYLE: 'true',
    },
    async close() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
