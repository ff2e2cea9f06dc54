/** For the service tier: a call a service must refuse, and the refusal's code. */
import assert from 'node:assert/strict';
import { AppError } from '../../src/domain/errors.js';

/** Awaits `p`, which must fail with the catalogue's `code`; returns the refusal's body for further checks. */
export async function refused(p: Promise<unknown>, code: string): Promise<AppError['body']> {
  const err = await p.then(
    () => assert.fail(`expected ${code}, got success`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
  assert.equal(err.code, code, JSON.stringify(err.body));
  return err.body;
}
