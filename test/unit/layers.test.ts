import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { analyse, SERVICES_ON_STORAGE } from '../../scripts/import-graph.mjs';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/** Writes `files` (path under src/ → text) into a temporary src/ and analyses it. */
function analyseFixture(files: Record<string, string>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'wharf-layers-'));
  try {
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), text);
    }
    return analyse(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('layer rules (scripts/import-graph.mjs)', () => {
  it('the code base breaks none of them', () => {
    const { forbidden } = analyse(SRC);
    assert.deepEqual(
      forbidden.map((f) => `${f.fromFile} → ${f.toFile} [${f.rule}]`),
      [],
    );
  });

  it('lists only services that still import storage, so the list can only shrink', () => {
    const { servicesOnStorage } = analyse(SRC);
    const stale = SERVICES_ON_STORAGE.filter((f) => !servicesOnStorage.includes(f));
    assert.deepEqual(stale, [], 'remove these from SERVICES_ON_STORAGE: they no longer import storage');
  });

  it('catches http or web importing storage or the composition root, type-only or not', () => {
    const { forbidden } = analyseFixture({
      'storage/db/schema.ts': 'export interface UserRow { id: number }\n',
      'compose.ts': 'export interface Deps { x: number }\n',
      'http/routes/a.ts': "import type { UserRow } from '../../storage/db/schema.js';\n",
      'web/b.ts': "import type { Deps } from '../compose.js';\nexport const x = await import('../storage/db/schema.js');\n",
    });
    assert.deepEqual(forbidden.map((f) => `${f.fromFile} → ${f.toFile}`).sort(), [
      'http/routes/a.ts → storage/db/schema.ts',
      'web/b.ts → compose.ts',
      'web/b.ts → storage/db/schema.ts',
    ]);
  });

  it('catches an impure domain, a service newly on storage and storage reaching up for values', () => {
    const { forbidden } = analyseFixture({
      'domain/rule.ts': "import { x } from '../services/ports.js';\n",
      'services/ports.ts': 'export const x = 1;\nexport interface Port { a(): void }\n',
      'services/new.service.ts': "import type { Db } from '../storage/db/repositories/types.js';\n",
      'storage/db/repositories/types.ts': "import type { Port } from '../../../services/ports.js';\nimport { x } from '../../../services/ports.js';\nexport type Db = object;\n",
    });
    assert.deepEqual(forbidden.map((f) => `${f.fromFile} → ${f.toFile}`).sort(), [
      'domain/rule.ts → services/ports.ts',
      'services/new.service.ts → storage/db/repositories/types.ts',
      'storage/db/repositories/types.ts → services/ports.ts',
    ]);
  });

  it('allows what the layers are for', () => {
    const { forbidden } = analyseFixture({
      'domain/records.ts': 'export interface UserRow { id: number }\n',
      'services/users.service.ts': "import type { UserRow } from '../domain/records.js';\nexport interface UsersPort { find(id: number): Promise<UserRow> }\n",
      'storage/db/repositories/users.repository.ts': "import type { UsersPort } from '../../../services/users.service.js';\n",
      'http/routes/users.ts': "import type { UserRow } from '../../domain/records.js';\nimport { x } from '../../services/users.service.js';\n",
      'compose.ts': "import { UsersRepository } from './storage/db/repositories/users.repository.js';\n",
    });
    assert.deepEqual(forbidden, []);
  });
});
