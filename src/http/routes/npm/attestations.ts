/**
 * `GET {P,G,I}/-/npm/v1/attestations/<name>@<version>` (docs/design/npm-provenance.md#serving): the provenance bundle
 * published with a version, in the public registry's shape, `{"attestations":[{"predicateType", "bundle"}]}`.
 * pacote fetches it when the packument's `dist.attestations` points here (`npm audit signatures`). Read access is the
 * packument's, checked before the handler (`access.ts`); the handler only names the projects to look in.
 */
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../../app-deps.js';
import { errors } from '../../../domain/errors.js';
import type { NpmHandler } from './commands.js';

/** Longer than any semver npm publishes; a longer one names no version. */
const MAX_VERSION_CHARS = 256;

export function attestationsHandler(
  services: Services,
  projectIds: (request: FastifyRequest, name: string) => Promise<readonly number[]>,
): NpmHandler<'attestations'> {
  return async (request, reply, { name, command }) => {
    let version: string | undefined;
    try {
      version = decodeURIComponent(command.rawVersion);
    } catch {
      version = undefined;
    }
    if (version === undefined || version.length > MAX_VERSION_CHARS) throw errors.npmNotFound('Attestations');
    const body = await services.npm.attestations.document(await projectIds(request, name!), name!, version);
    return reply.header('content-type', 'application/json').header('cache-control', 'no-cache').send(body);
  };
}
