/**
 * The one error catalogue. Every error Wharf answers with has a stable code, an HTTP status and a body in the shape
 * GitLab uses for the same situation, because clients (npm, helm, scripts written for GitLab) print those bodies.
 *
 * The domain and services throw `AppError`s built by the factories below; only the HTTP error handler turns them
 * into responses. Anything that is not an `AppError` becomes a logged, generic 500.
 */

export const ERROR_STATUS = {
  bad_request: 400,
  param_invalid: 400,
  validation_failed: 400,
  unauthorized: 401,
  invalid_token: 401,
  forbidden: 403,
  insufficient_scope: 403,
  not_found: 404,
  route_not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  too_many_requests: 429,
  internal: 500,
  unavailable: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;
export type ErrorBody = Record<string, unknown>;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, body: ErrorBody, headers: Record<string, string> = {}) {
    const msg = body.message ?? body.error;
    // A 4xx is an answer, not a fault: its stack is never looked at, and capturing one was the largest single cost
    // of a packument 404 (npm asks for many names a registry does not have).
    const stackTraceLimit = Error.stackTraceLimit;
    if (ERROR_STATUS[code] < 500) Error.stackTraceLimit = 0;
    try {
      super(typeof msg === 'string' ? msg : JSON.stringify(msg));
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.body = body;
    this.headers = headers;
  }
}

export const isAppError = (err: unknown): err is AppError => err instanceof AppError;

/** Field → messages, as ActiveRecord validation errors render in GitLab: `{"message":{"path":["is too long"]}}`. */
export type FieldErrors = Record<string, string[]>;

/** GitLab's `titleize` for the npm error shape: "Package tag" → "Package Tag". */
const titleize = (s: string): string => s.replace(/\b\w/g, (c) => c.toUpperCase());

export const errors = {
  /** `{"message":"401 Unauthorized"}` (no WWW-Authenticate, as GitLab's npm and management routes). */
  unauthorized: (headers: Record<string, string> = {}) =>
    new AppError('unauthorized', { message: '401 Unauthorized' }, headers),

  /** An expired, revoked or unknown token: 401 with the OAuth-style `WWW-Authenticate` GitLab sends. */
  invalidToken: (description: string) =>
    new AppError(
      'invalid_token',
      { message: '401 Unauthorized', error: 'invalid_token', error_description: description },
      { 'www-authenticate': `Bearer realm="Wharf", error="invalid_token", error_description="${description}"` },
    ),

  /** A `read_api` token on a write, for example. */
  insufficientScope: (required = 'api') =>
    new AppError('insufficient_scope', {
      error: 'insufficient_scope',
      error_description: 'The request requires higher privileges than provided by the access token.',
      scope: required,
    }),

  forbidden: (reason?: string) =>
    new AppError('forbidden', { message: reason ? `403 Forbidden - ${reason}` : '403 Forbidden' }),

  /** `{"message":"404 Project Not Found"}`; without a resource `{"message":"404 Not Found"}`. */
  notFound: (resource?: string) =>
    new AppError('not_found', { message: resource ? `404 ${resource} Not Found` : '404 Not Found' }),

  /** A record looked up by id that does not exist: GitLab's `ActiveRecord::RecordNotFound`, lower-case "found". */
  recordNotFound: () => new AppError('not_found', { message: '404 Not found' }),

  /** The npm routes' variant: `{"message":"404 Packages Not Found","error":"Packages not found"}`. */
  npmNotFound: (resource: string) =>
    new AppError('not_found', { message: titleize(`404 ${resource} not found`), error: `${resource} not found` }),

  /** No route matched: `{"error":"404 Not Found"}`. */
  routeNotFound: () => new AppError('route_not_found', { error: '404 Not Found' }),

  methodNotAllowed: () => new AppError('method_not_allowed', { error: '405 Method Not Allowed' }),

  /** `{"message":"400 Bad request - <reason>"}`. */
  badRequest: (reason: string) => new AppError('bad_request', { message: `400 Bad request - ${reason}` }),

  /** The npm variant carries `error` too, because npm prints that field. */
  npmBadRequest: (message: string) => new AppError('bad_request', { message, error: message }),

  /** A JSON body nested deeper than Wharf reads (recursive walks of it would exhaust the stack). */
  jsonTooDeep: (maxDepth: number) => {
    const reason = `the JSON body is nested deeper than ${maxDepth} levels`;
    return new AppError('bad_request', { message: `400 Bad request - ${reason}`, error: reason });
  },

  /** Parameter problems in Grape's shape: `{"error":"name is missing, path is invalid"}`. */
  params: (messages: string[]) => new AppError('param_invalid', { error: messages.join(', ') }),

  /** Model validation in ActiveRecord's shape: `{"message":{"path":["has already been taken"]}}`. */
  validation: (fields: FieldErrors) => new AppError('validation_failed', { message: fields }),

  conflict: (message: string) => new AppError('conflict', { message }),

  preconditionFailed: () => new AppError('precondition_failed', { message: '412 Precondition Failed' }),

  payloadTooLarge: (reason: string) =>
    new AppError('payload_too_large', { message: `413 Request Entity Too Large - ${reason}`, error: reason }),

  unsupportedMediaType: (reason: string) =>
    new AppError('unsupported_media_type', { message: `415 Unsupported Media Type - ${reason}`, error: reason }),

  unavailable: (reason: string) => new AppError('unavailable', { message: `503 Service Unavailable - ${reason}` }),

  internal: () => new AppError('internal', { message: '500 Internal Server Error' }),

  /** GitLab's npm `bad_request_missing_attribute!`: `{"message":"400 Bad request - \"Tag\" not given","error":"\"Tag\" not given"}`. */
  npmMissingAttribute: (attribute: string) =>
    new AppError('bad_request', { message: `400 Bad request - "${attribute}" not given`, error: `"${attribute}" not given` }),

  /** npm publish service refusals answered with 403 (`Package already exists.`), in the `{message, error}` shape. */
  npmForbidden: (message: string) => new AppError('forbidden', { message, error: message }),

  /**
   * A missing record on an npm route (GitLab's `RecordNotFound`, `{"message":"404 Not found"}`), plus the `error`
   * field npm prints so users see what was missing.
   */
  npmRecordNotFound: (what: string) => new AppError('not_found', { message: '404 Not found', error: `${what} not found` }),

  /**
   * Helm routes' 401 (GitLab's `BasicAuthHelpers#unauthorized!`): the Basic challenge makes helm and browsers send
   * credentials, and every credential failure on a Helm route answers this way, whatever the token's problem was.
   */
  helmUnauthorized: () =>
    new AppError('unauthorized', { message: '401 Unauthorized' }, { 'www-authenticate': 'Basic realm="GitLab Packages Registry"' }),

  /**
   * A refused Helm upload: GitLab's `{"message":"400 Bad request - <reason>"}` plus `error`, because `helm cm-push`
   * prints only the `error` field of a failed push (clients.md C.6).
   */
  helmBadRequest: (reason: string) => new AppError('bad_request', { message: `400 Bad request - ${reason}`, error: reason }),

  /** A chart version the instance's overwrite policy keeps (ChartMuseum answers 409 the same way). */
  helmChartExists: (fileName: string, channel: string, hint: string) =>
    new AppError('conflict', {
      message: `409 Conflict - ${fileName} already exists in channel ${channel}`,
      error: `${fileName} already exists in channel ${channel}${hint ? `; ${hint}` : ''}`,
    }),

  /**
   * An npm write whose `-rev` is not the package's current revision (CouchDB's optimistic locking, which
   * `npm unpublish` relies on): the client re-reads the packument and tries again.
   */
  npmConflict: (message: string) => new AppError('conflict', { message: `409 Conflict - ${message}`, error: message }),

  /** An npm request this endpoint exists for but cannot serve (e.g. unpublish through a group endpoint). */
  npmMethodNotAllowed: (message: string) => new AppError('method_not_allowed', { message: `405 Method Not Allowed - ${message}`, error: message }),

  /** `npm login` with a wrong user name or password: npm prints `error`, so it says what failed. */
  npmLoginFailed: () =>
    new AppError('unauthorized', { message: '401 Unauthorized', error: 'Incorrect username or password.' }),

  /**
   * A personal access token asked to live longer than the instance allows (GitLab's
   * `expires_at_before_instance_max_expiry_date` validation, rendered by `render_api_error!`).
   */
  tokenExpiryTooLate: (maxDate: string) => new AppError('bad_request', { message: `Expiration date must be before ${maxDate}` }),

  /**
   * Too many wrong passwords for this account or from this address. `error` is what npm prints; `Retry-After` says
   * when to try again. Known and unknown accounts are answered alike.
   */
  signInThrottled: (retryAfterSeconds: number) =>
    new AppError(
      'too_many_requests',
      { message: '429 Too Many Requests', error: `Too many failed sign-in attempts. Try again in ${retryAfterSeconds} seconds.` },
      { 'retry-after': String(retryAfterSeconds) },
    ),

  /** A package API rate limit (GitLab's Rack::Attack throttles answer `Retry later` with these headers). */
  rateLimited: (headers: Record<string, string>) =>
    new AppError('too_many_requests', { message: 'Retry later', error: 'Retry later' }, headers),

  /** A chart or provenance file that is not there: GitLab's `RecordNotFound` body, with `error` for ChartMuseum scripts. */
  helmNotFound: (what: string) => new AppError('not_found', { message: '404 Not found', error: `${what} not found` }),

  /**
   * A package protection rule refuses this push or delete, in GitLab's words (`Package protected.`, `Package is
   * deletion protected.`) and in the shape of the route family: npm's `{message, error}`, the API's
   * `{"message":"403 Forbidden - …"}`, and for Helm the API shape plus `error`, the field `helm cm-push` prints.
   */
  packageProtected: (action: 'push' | 'delete', surface: 'npm' | 'helm' | 'api') => {
    const reason = action === 'push' ? 'Package protected.' : 'Package is deletion protected.';
    if (surface === 'npm') return new AppError('forbidden', { message: reason, error: reason });
    return new AppError('forbidden', { message: `403 Forbidden - ${reason}`, ...(surface === 'helm' ? { error: reason } : {}) });
  },

  /**
   * An npm publish of a name another project of the same top-level namespace owns (Wharf's rule, stricter than
   * GitLab's). `owner` is the owning project's full path, or null when the caller may not see that project.
   */
  packageNameOwned: (name: string, owner: string | null, rootPath: string) => {
    const message = owner
      ? `Package name ${name} belongs to the project ${owner}: publish new versions of it there.`
      : `Package name ${name} belongs to another project of the ${rootPath} namespace: publish new versions of it there.`;
    return new AppError('forbidden', { message, error: message });
  },

  /** A provenance file on its own for a chart version the channel does not hold (it would sign nothing). */
  helmProvenanceWithoutChart: (fileName: string, channel: string) =>
    new AppError('not_found', {
      message: '404 Not found',
      error: `Chart ${fileName} not found in channel ${channel}: upload the chart first, or send the provenance file with it (multipart field prov)`,
    }),
} as const;
