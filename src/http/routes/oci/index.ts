/**
 * The OCI distribution API (spec v1.1) at `/v2/`, for Helm charts on the one store (docs/design/helm-oci.md).
 *
 * What `helm push`/`helm pull oci://` and other OCI clients (skopeo, oras) do here:
 * - `GET /v2/`: is this a registry, and do my credentials work? A 401 with `WWW-Authenticate` makes
 *   `helm registry login` and `docker login` send them.
 * - push: `HEAD` each blob, upload the missing ones (`POST …/blobs/uploads/` then `PATCH` chunks and
 *   `PUT ?digest=`, or one `POST ?digest=`), then `PUT` the manifest.
 * - pull: `GET` the manifest by tag, then `GET` its config and layers by digest (with `Range` to resume).
 *
 * - discovery: `GET …/referrers/<digest>` lists the signatures and SBOMs attached to a chart (`oras discover`,
 *   `cosign verify`, `notation verify`); a push mounts a blob another repository the caller can read has.
 *
 * A repository name holds slashes, so one wildcard route per method takes every path and `parseOciPath` finds the
 * endpoint from its end. Errors are rendered in the spec's body shape (`config.ociErrors`). A manifest DELETE deletes
 * the Helm package version (docs/design/helm-oci.md#deletion).
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../../../app-deps.js';
import { errors } from '../../../domain/errors.js';
import { ociDigest, parseRange } from '../../../domain/oci/names.js';
import { OCI_INDEX } from '../../../domain/oci/referrer.js';
import type { OciRepositoryRef } from '../../../services/oci/blobs.service.js';
import { replayable } from '../../hot-lane.js';
import { hasBody } from '../../plugins/body-guard.js';
import { auditContext } from '../../audit-context.js';
import { ociBaseConfig, ociRouteConfig, resolveTarget } from './access.js';
import { mountSource } from './mount.js';

const API_VERSION = 'registry/2.0';

export const ociRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    const { services } = deps;
    // Blob bodies are bytes of any content type, streamed to the service unread.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    app.addHook('onSend', async (_request, reply) => {
      reply.header('docker-distribution-api-version', API_VERSION);
    });

    const config = ociRouteConfig(services);

    // Any valid caller; an anonymous one is asked to log in (the way clients find out that they should).
    app.get('/v2/', { config: ociBaseConfig(services) }, async () => ({}));

    const refOf = (request: FastifyRequest, name: string): OciRepositoryRef => ({ projectId: request.projectAccess!.project.id, repository: name });

    const read = async (request: FastifyRequest, reply: FastifyReply) => {
      // Also set before sending: the hot lane keeps an answer's headers as its own onSend hook (the app's, which
      // runs before this plugin's) sees them.
      reply.header('docker-distribution-api-version', API_VERSION);
      const { target } = resolveTarget(request);
      const ref = refOf(request, target.name);
      switch (target.kind) {
        case 'blob': {
          if (request.method === 'HEAD') {
            const { sha256, size } = await services.oci.blobs.stat(ref, target.digest);
            return reply.header('docker-content-digest', ociDigest(sha256)).header('content-length', size).type('application/octet-stream').send();
          }
          const blob = await services.oci.blobs.read(ref, target.digest, (size) => parseRange(request.headers.range, size));
          reply.header('docker-content-digest', ociDigest(blob.sha256)).header('accept-ranges', 'bytes').type('application/octet-stream');
          if (blob.range) {
            const { start, end } = blob.range;
            reply.code(206).header('content-range', `bytes ${start}-${end}/${blob.size}`).header('content-length', end - start + 1);
          } else {
            reply.header('content-length', blob.size);
            // An anonymous pull's whole blob depends on the URL and the database only (docs/performance.md#oci-pulls).
            replayable(request);
          }
          return reply.send(blob.body);
        }
        case 'upload': {
          if (!target.uuid) throw errors.routeNotFound();
          const state = await services.oci.blobs.uploadState(ref, target.uuid);
          return uploadAnswer(reply.code(204), target.name, state.uuid, state.size).send();
        }
        case 'manifest': {
          const manifest = await services.oci.manifests.read(ref, target.reference, request.method === 'GET');
          reply.header('docker-content-digest', ociDigest(manifest.sha256)).header('content-length', manifest.size).type(manifest.mediaType);
          if (request.method === 'GET') replayable(request);
          return reply.send(manifest.body);
        }
        case 'tags': {
          const { n, last } = request.query as { n?: string; last?: string };
          const count = n === undefined ? undefined : Number(n);
          if (count !== undefined && (!Number.isSafeInteger(count) || count < 0)) throw errors.oci('UNSUPPORTED', 'n must be a non-negative integer');
          const page = await services.oci.manifests.tags(ref, count, last);
          if (page.more) {
            const next = page.tags[page.tags.length - 1]!;
            reply.header('link', `</v2/${target.name}/tags/list?n=${count ?? page.tags.length}&last=${encodeURIComponent(next)}>; rel="next"`);
          }
          return { name: target.name, tags: page.tags };
        }
        case 'referrers': {
          const { artifactType, last } = request.query as { artifactType?: unknown; last?: unknown };
          const filter = typeof artifactType === 'string' ? artifactType : undefined;
          const page = await services.oci.referrers.list(ref, target.digest, filter, typeof last === 'string' ? last : undefined);
          if (filter !== undefined) reply.header('oci-filters-applied', 'artifactType');
          if (page.next) {
            const query = `last=${encodeURIComponent(page.next)}${filter !== undefined ? `&artifactType=${encodeURIComponent(filter)}` : ''}`;
            reply.header('link', `</v2/${target.name}/referrers/${target.digest}?${query}>; rel="next"`);
          }
          const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: page.manifests };
          // A Buffer, so that Fastify adds no charset to the media type.
          return reply.type(OCI_INDEX).send(Buffer.from(JSON.stringify(index)));
        }
      }
    };
    // HEAD is its own route: the automatic one would read the whole blob to throw it away.
    app.get('/v2/*', { config, exposeHeadRoute: false }, read);
    app.head('/v2/*', { config }, read);

    app.post('/v2/*', { config }, async (request, reply) => {
      const { target } = resolveTarget(request);
      if (target.kind !== 'upload' || target.uuid) throw errors.oci('UNSUPPORTED', 'only uploads are started with POST');
      const ref = refOf(request, target.name);
      const { digest, mount, from } = request.query as { digest?: string; mount?: unknown; from?: unknown };
      if (digest !== undefined) {
        const sha256 = await services.oci.blobs.uploadWhole(ref, digest, bodyOf(request));
        return reply.code(201).header('location', `/v2/${target.name}/blobs/${ociDigest(sha256)}`).header('docker-content-digest', ociDigest(sha256)).send();
      }
      // A cross-repository mount; when it cannot be done (no readable source, no such blob there) a new session.
      const source = typeof mount === 'string' ? await mountSource(services, request, from) : undefined;
      const mounted = source && (await services.oci.blobs.mount(ref, mount as string, source));
      if (mounted) {
        return reply.code(201).header('location', `/v2/${target.name}/blobs/${ociDigest(mounted)}`).header('docker-content-digest', ociDigest(mounted)).send();
      }
      const state = await services.oci.blobs.startUpload(ref);
      return uploadAnswer(reply.code(202), target.name, state.uuid, state.size).send();
    });

    app.patch('/v2/*', { config }, async (request, reply) => {
      const { target } = resolveTarget(request);
      if (target.kind !== 'upload' || !target.uuid) throw errors.oci('UNSUPPORTED', 'only uploads take PATCH');
      const range = request.headers['content-range'];
      const state = await services.oci.blobs.appendChunk(refOf(request, target.name), target.uuid, bodyOf(request), range);
      return uploadAnswer(reply.code(202), target.name, state.uuid, state.size).send();
    });

    app.put('/v2/*', { config }, async (request, reply) => {
      const { target, name } = resolveTarget(request);
      if (target.kind === 'manifest') {
        const access = request.projectAccess!;
        const { sha256, subject } = await services.oci.manifests.push(
          { ...refOf(request, target.name), access, chart: name.chart },
          target.reference,
          request.headers['content-type'],
          bodyOf(request),
        );
        // The spec's sign that this registry keeps referrers: clients then need not maintain a referrers tag.
        if (subject) reply.header('oci-subject', subject);
        return reply.code(201).header('location', `/v2/${target.name}/manifests/${ociDigest(sha256)}`).header('docker-content-digest', ociDigest(sha256)).send();
      }
      if (target.kind !== 'upload' || !target.uuid) throw errors.oci('UNSUPPORTED', 'only uploads and manifests take PUT');
      const { digest } = request.query as { digest?: string };
      if (digest === undefined) throw errors.oci('DIGEST_INVALID', 'the digest query parameter is required to complete an upload');
      const body = hasBody(request) ? bodyOf(request) : undefined;
      const sha256 = await services.oci.blobs.completeUpload(refOf(request, target.name), target.uuid, digest, body);
      return reply.code(201).header('location', `/v2/${target.name}/blobs/${ociDigest(sha256)}`).header('docker-content-digest', ociDigest(sha256)).send();
    });

    // Deleting a manifest or blob takes `destroy_package` (Maintainer); cancelling an upload is part of pushing.
    app.delete('/v2/*', { config }, async (request, reply) => {
      const { target, name } = resolveTarget(request);
      const ref = refOf(request, target.name);
      switch (target.kind) {
        case 'manifest': {
          const access = request.projectAccess!;
          await services.oci.manifests.delete({ ...ref, access, chart: name.chart }, target.reference, auditContext(request, access.identity));
          return reply.code(202).header('content-length', 0).send();
        }
        case 'blob':
          await services.oci.blobs.deleteBlob(ref, target.digest);
          return reply.code(202).header('content-length', 0).send();
        case 'upload':
          if (!target.uuid) break;
          await services.oci.blobs.cancelUpload(ref, target.uuid);
          return reply.code(204).send();
      }
      throw errors.oci('UNSUPPORTED', 'only manifests, blobs and uploads are deleted');
    });
  };

/** Where the upload goes on, and how much of it the registry has (`Range: 0-<last byte>`). */
function uploadAnswer(reply: FastifyReply, name: string, uuid: string, size: number): FastifyReply {
  return reply
    .header('location', `/v2/${name}/blobs/uploads/${uuid}`)
    .header('docker-upload-uuid', uuid)
    .header('range', `0-${Math.max(0, size - 1)}`)
    .header('content-length', 0);
}

/** The body as a stream: the catch-all parser's, or the raw request when no content type made Fastify skip parsing. */
function bodyOf(request: FastifyRequest): Readable {
  return request.body instanceof Readable ? request.body : request.raw;
}
