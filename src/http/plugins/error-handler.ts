/**
 * The single place errors become responses. `AppError`s carry their GitLab-shaped body; schema validation failures
 * are answered the way Grape words them (`{"error":"name is missing"}`); anything unknown is logged with the request
 * id and answered with a bare 500, so internals never leak.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, errors } from '../../domain/errors.js';
import { noteErrorCode } from './access-log.js';

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** `/scopes/0` → `scopes`, `/name` → `name`. */
const fieldOf = (e: AjvError): string => {
  const missing = e.params.missingProperty;
  if (e.keyword === 'required' && typeof missing === 'string') {
    return [e.instancePath.split('/').filter(Boolean)[0], missing].filter(Boolean).join('.') || missing;
  }
  const parts = e.instancePath.split('/').filter(Boolean).filter((p) => !/^\d+$/.test(p));
  return parts.join('.') || 'body';
};

export function validationMessage(validation: readonly AjvError[]): string[] {
  // A failed `anyOf` (unions such as `visibility` or `scopes`) also reports why each branch failed; Grape names the
  // parameter once, so the branch errors at or below that path are dropped.
  const unions = validation.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath);
  const relevant = validation.filter(
    (e) => e.keyword === 'anyOf' || !unions.some((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`)),
  );
  const messages = relevant.map((e) => {
    const field = fieldOf(e);
    switch (e.keyword) {
      case 'required':
        return `${field} is missing`;
      case 'enum':
      case 'const':
      case 'anyOf':
        return `${field} does not have a valid value`;
      case 'minLength':
        return e.params.limit === 1 ? `${field} is empty` : `${field} is too short (minimum is ${String(e.params.limit)} characters)`;
      case 'maxLength':
        return `${field} is too long (maximum is ${String(e.params.limit)} characters)`;
      case 'minimum':
      case 'maximum':
        return `${field} does not have a valid value`;
      case 'minItems':
        return `${field} is empty`;
      case 'additionalProperties':
        return `${String(e.params.additionalProperty)} is not allowed`;
      default:
        return `${field} is invalid`;
    }
  });
  return [...new Set(messages)];
}

function toAppError(err: FastifyError): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err.validation) return errors.params(validationMessage(err.validation as unknown as AjvError[]));
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.bodyTooLarge('request body is larger than this route accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.unsupportedMediaType('this content type is not accepted here');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.jsonEmpty();
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errors.jsonInvalid();
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errors.contentLengthMismatch();
    default:
      break;
  }
  // JSON.parse failures from the content-type parser arrive as SyntaxErrors with status 400.
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return errors.jsonInvalid();
  }
  // Fastify's own 4xx errors (for example a multipart limit) keep their status and message.
  return err.statusCode ? errors.fromStatus(err.statusCode, err.message) : undefined;
}

/**
 * A route that accepts HTTP Basic only (Helm) answers every 401 with the Basic challenge (GitLab's
 * `BasicAuthHelpers#unauthorized!`), whichever layer refused: the credential, or the access check.
 */
const challenged = (request: FastifyRequest, err: AppError | undefined): AppError | undefined =>
  err?.status === 401 && request.routeOptions.config?.access?.credentials === 'basic-only' ? errors.helmUnauthorized(err) : err;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route answers in the OCI distribution spec's error shape (`/v2/`, docs/design/helm-oci.md#errors). */
    ociErrors?: boolean;
    /**
     * The `WWW-Authenticate` challenge of the route's 401s, from the request and the refusal (`/v2/`: the Bearer
     * challenge naming the scope the request needs); without it, the Basic challenge.
     */
    ociChallenge?: (request: FastifyRequest, err: AppError) => string;
  }
}

/** On an OCI route every refusal, whoever raised it, is rendered in the spec's body shape. */
const shaped = (request: FastifyRequest, err: AppError | undefined): AppError | undefined => {
  const config = request.routeOptions.config;
  if (!err || !config?.ociErrors) return challenged(request, err);
  return err.status === 401 && config.ociChallenge ? errors.ociFrom(err, config.ociChallenge(request, err)) : errors.ociFrom(err);
};

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const known = shaped(request, toAppError(err));
    if (known) {
      noteErrorCode(reply, known.code);
      request.log.debug({ code: known.code, status: known.status }, known.message);
      return reply.code(known.status).headers(known.headers).type('application/json').send(known.body);
    }
    request.log.error({ err }, 'unhandled error');
    const e = errors.internal();
    noteErrorCode(reply, e.code);
    return reply.code(e.status).type('application/json').send(e.body);
  });

  app.setNotFoundHandler((_request, reply) => {
    const e = errors.routeNotFound();
    noteErrorCode(reply, e.code);
    return reply.code(e.status).type('application/json').send(e.body);
  });
}
