/** The npm registry routes (GitLab's npm API), mounted under `/api/v4`. */
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { errors, isAppError } from '../../../domain/errors.js';
import { bodyLimitOf } from '../../plugins/body-guard.js';
import { collectBody, isBlank, MAX_JSON_DEPTH, parseJsonBuffer } from '../../plugins/json-body.js';
import type { Deps } from '../../../app-deps.js';
import { npmGroupRoutes, npmInstanceRoutes } from './namespace.routes.js';
import { npmProjectRoutes } from './project.routes.js';

/**
 * npm bodies are JSON of any kind: a publish document, or a bare string for `dist-tag add` (docs/design/client-protocols.md#npm-dist-tag), and
 * an empty body must reach the handler so it can answer GitLab's `"Version" not given`. Bodies sent with another
 * content type are read as JSON when they parse, else as text. Registered inside this plugin only.
 *
 * Bodies are collected as bytes within the request's own limit (`setBodyLimit`, decided per path before parsing)
 * and parsed with the nesting bound; a publish document's Base64 tarball is lifted out before `JSON.parse`.
 */
function registerNpmBodyParsers(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const parseText = (request: FastifyRequest) => (text: string) => {
    let result: unknown;
    let failure: unknown;
    // Fastify's parser calls back synchronously.
    parseJson(request, text, (err, value) => {
      failure = err;
      result = value;
    });
    if (failure) throw failure;
    return result;
  };
  const read = async (request: FastifyRequest, payload: Readable, lenient: boolean): Promise<unknown> => {
    const body = await collectBody(request, payload, bodyLimitOf(request));
    if (isBlank(body)) return undefined;
    const tooDeep = () => errors.npmJsonTooDeep(MAX_JSON_DEPTH);
    if (!lenient) return parseJsonBuffer(body, parseText(request), { attachments: true, tooDeep });
    try {
      return parseJsonBuffer(body, parseText(request), { attachments: true, tooDeep });
    } catch (err) {
      if (isAppError(err)) throw err;
      return body.toString('utf8');
    }
  };
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', (request: FastifyRequest, payload: Readable) => read(request, payload, false));
  app.addContentTypeParser('*', (request: FastifyRequest, payload: Readable) => read(request, payload, true));
}

export const npmRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    // What the access check of an npm request found (`access.ts`), for its handler.
    app.decorateRequest('npm', null);
    registerNpmBodyParsers(app);
    await app.register(npmProjectRoutes(deps));
    await app.register(npmGroupRoutes(deps));
    await app.register(npmInstanceRoutes(deps));
  };
