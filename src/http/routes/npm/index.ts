/** The npm registry routes (GitLab's npm API), mounted under `/api/v4`. */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Deps } from '../../../compose.js';
import { npmGroupRoutes, npmInstanceRoutes } from './namespace.routes.js';
import { npmProjectRoutes } from './project.routes.js';

/**
 * npm bodies are JSON of any kind: a publish document, or a bare string for `dist-tag add` (clients.md A.7), and
 * an empty body must reach the handler so it can answer GitLab's `"Version" not given`. Bodies sent with another
 * content type are read as JSON when they parse, else as text. Registered inside this plugin only.
 */
function registerNpmBodyParsers(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).trim() === '') return done(null, undefined);
    parseJson(request, body as string, done);
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, (err, value) => done(null, err ? text : value));
  });
}

export const npmRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    registerNpmBodyParsers(app);
    await app.register(npmProjectRoutes(deps));
    await app.register(npmGroupRoutes(deps));
    await app.register(npmInstanceRoutes(deps));
  };
