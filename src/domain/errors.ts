/**
 * The one error catalogue. Every error Wharf answers with has a stable code, an HTTP status and a body in the shape
 * GitLab uses for the same situation, because clients (npm, helm, scripts written for GitLab) print those bodies.
 *
 * The domain and services throw `AppError`s built by the factories below; only the HTTP error handler turns them
 * into responses. Anything that is not an `AppError` becomes a logged, generic 500.
 */

/**
 * Every code: its HTTP status and what it means. A code names one kind of answer, so operators can count refusals by
 * kind (the access log carries it) and tests can tell two 403s apart; the body stays the one GitLab sends. A few
 * codes are shared by factories on purpose: the same refusal in the shape of another route family (`not_found`,
 * `json_too_deep`, `file_too_large`, `unauthorized`). The generic codes named after their status (`bad_request`,
 * `forbidden`, `conflict`, …) are what Fastify's or a plugin's own errors become (`errors.fromStatus`); Wharf's own
 * refusals each have a code of their own. docs/design/errors.md lists them (generated from this table).
 */
export const ERROR_CODES = {
  // 400
  bad_request: { status: 400, meaning: "a 400 raised by Fastify or a plugin, not by Wharf's own checks" },
  registry_service_unknown: { status: 400, meaning: "`/jwt/auth` asked for a service other than Wharf's registry (`container_registry`)" },
  registry_scope_invalid: { status: 400, meaning: '`/jwt/auth` asked for too many scopes, or too long a scope' },
  param_invalid: { status: 400, meaning: 'a request parameter is missing or invalid (Grape\'s `{"error":"…"}`)' },
  validation_failed: { status: 400, meaning: "a model validation failed (ActiveRecord's `{\"message\":{field: [...]}}`)" },
  attribute_missing: { status: 400, meaning: 'an npm request lacks a required attribute (`"Tag" not given`)' },
  json_empty: { status: 400, meaning: 'a JSON body that is empty' },
  json_invalid: { status: 400, meaning: 'a body that is not valid JSON' },
  json_too_deep: { status: 400, meaning: 'a JSON body nested deeper than Wharf reads' },
  content_length_mismatch: { status: 400, meaning: 'Content-Length does not match the body received' },
  body_encoding_invalid: { status: 400, meaning: 'a gzip-encoded npm body that does not inflate' },
  revoke_not_permitted: { status: 400, meaning: "revoking another user's personal access token without being an administrator" },
  token_expiry_too_late: { status: 400, meaning: 'a personal access token asked to expire after the instance maximum' },
  group_save_failed: { status: 400, meaning: "a group create failed GitLab's model validation" },
  publish_document_invalid: { status: 400, meaning: 'an npm publish document that is malformed or inconsistent' },
  package_file_invalid: { status: 400, meaning: "an npm tarball or its package.json that Wharf will not serve" },
  package_exists_in_namespace: { status: 400, meaning: 'an npm name and version another project of the top-level namespace has' },
  file_too_large: { status: 400, meaning: 'a package file larger than the instance allows (npm or Helm)' },
  unpublish_body_invalid: { status: 400, meaning: 'an npm unpublish body that is not a packument with versions' },
  login_name_mismatch: { status: 400, meaning: '`npm login` with a user name in the body other than the one in the URL' },
  multipart_invalid: { status: 400, meaning: 'a Helm upload whose multipart body is malformed or has too many parts' },
  chart_invalid: { status: 400, meaning: 'a Helm chart archive or its Chart.yaml that Wharf will not store' },
  provenance_invalid: { status: 400, meaning: 'a Helm provenance file that is malformed, too large or names an invalid chart' },
  provenance_mismatch: { status: 400, meaning: 'a provenance file that does not sign the chart it comes with or is stored for' },
  npm_provenance_invalid: { status: 400, meaning: 'an npm provenance (sigstore bundle) attachment that is malformed, misnamed or larger than Wharf stores' },
  npm_provenance_subject_mismatch: { status: 400, meaning: "an npm provenance bundle whose subject is not the package name and version being published" },
  npm_provenance_digest_mismatch: { status: 400, meaning: "an npm provenance bundle whose subject digest is not the published tarball's SHA-512" },
  // 401
  unauthorized: { status: 401, meaning: 'no credentials where they are needed, or a caller this request does not accept (GitLab answers some refusals so)' },
  token_unknown: { status: 401, meaning: 'a token that matches no personal or deploy token' },
  token_expired: { status: 401, meaning: 'an expired token' },
  token_revoked: { status: 401, meaning: 'a revoked token' },
  user_inactive: { status: 401, meaning: "a personal access token whose user is blocked or gone" },
  login_failed: { status: 401, meaning: '`npm login` with a wrong user name or password' },
  registry_token_invalid: { status: 401, meaning: 'a registry Bearer token (from `/jwt/auth`) that is malformed, tampered with, expired or issued for another service' },
  oidc_token_refused: { status: 401, meaning: 'a trusted publishing exchange whose ID token is malformed, from an issuer not allowed, badly signed, for another audience or outside its lifetime' },
  trusted_publish_token_invalid: { status: 401, meaning: 'a trusted publishing token (`whtp-`) that is tampered with, expired, or whose publisher was removed' },
  registry_token_scope: { status: 401, meaning: "a registry Bearer token whose grant does not cover this repository and action (the client asks `/jwt/auth` for a new one)" },
  // 403
  forbidden: { status: 403, meaning: "a 403 raised by Fastify or a plugin, not by Wharf's own checks" },
  insufficient_scope: { status: 403, meaning: "the token's scopes do not allow this request (a `read_api` token on a write)" },
  insufficient_access: { status: 403, meaning: "the caller's role (or lack of administrator rights) does not allow this action" },
  users_listing_forbidden: { status: 403, meaning: 'an anonymous caller listing users without a `username` filter' },
  registry_access_forbidden: { status: 403, meaning: '`/jwt/auth` asked anonymously for no scope: there is nothing to grant (GitLab answers so)' },
  package_protected: { status: 403, meaning: 'a package protection rule refuses this push' },
  package_deletion_protected: { status: 403, meaning: 'a package protection rule refuses this delete' },
  package_exists: { status: 403, meaning: 'an npm publish of a version that exists with other contents' },
  oidc_no_publisher: { status: 403, meaning: "a valid ID token that no trusted publisher's claims and package name pattern match (or that several projects' do)" },
  trusted_publish_out_of_scope: { status: 403, meaning: 'a trusted publishing token used for anything but publishing its one package' },
  package_name_owned: { status: 403, meaning: 'an npm publish of a name another project of the top-level namespace owns' },
  // 404
  not_found: { status: 404, meaning: 'the resource does not exist or the caller may not see it' },
  route_not_found: { status: 404, meaning: 'no route matches the path' },
  provenance_without_chart: { status: 404, meaning: 'a provenance file alone for a chart version the channel does not hold' },
  npm_proxy_offline: { status: 404, meaning: 'the npm proxy is offline and the package or tarball asked for is not cached' },
  // 405
  method_not_allowed: { status: 405, meaning: "a 405 raised by Fastify or a plugin, not by Wharf's own checks" },
  unpublish_unsupported: { status: 405, meaning: 'an npm unpublish through a group or instance endpoint' },
  // 409
  conflict: { status: 409, meaning: "a 409 raised by Fastify or a plugin, not by Wharf's own checks" },
  member_exists: { status: 409, meaning: 'adding a member who already is one' },
  email_taken: { status: 409, meaning: 'creating a user with an e-mail address another user has' },
  username_taken: { status: 409, meaning: 'creating a user with a user name another user has' },
  chart_exists: { status: 409, meaning: "a Helm chart or provenance file the overwrite policy keeps" },
  revision_conflict: { status: 409, meaning: "an npm write whose `-rev` is not the package's current revision" },
  transfer_refused: { status: 409, meaning: '`wharf transfer` into a target it must not write (same database, not empty, another transfer)' },
  // 412 – 422
  precondition_failed: { status: 412, meaning: "a 412 raised by Fastify or a plugin, not by Wharf's own checks" },
  body_too_large: { status: 413, meaning: 'a request body larger than the route accepts' },
  unsupported_media_type: { status: 415, meaning: 'a body of a content type the route does not accept' },
  unsupported_content_encoding: { status: 415, meaning: 'an npm body in a Content-Encoding other than gzip' },
  unprocessable: { status: 422, meaning: "a 422 raised by Fastify or a plugin, not by Wharf's own checks" },
  transfer_data_broken: { status: 422, meaning: '`wharf transfer` found a blob missing or corrupt' },
  // 429
  too_many_requests: { status: 429, meaning: "a 429 raised by Fastify or a plugin, not by Wharf's own checks" },
  sign_in_throttled: { status: 429, meaning: 'too many failed sign-in attempts for the account or from the address' },
  rate_limited: { status: 429, meaning: 'a package API rate limit' },
  // 5xx
  internal: { status: 500, meaning: 'an unexpected failure (logged with the request id; the body says nothing more)' },
  npm_upstream_failed: { status: 502, meaning: 'the npm proxy could not get a usable answer from the upstream registry, and has nothing cached to serve' },
  npm_upstream_integrity: { status: 502, meaning: 'the upstream registry sent a tarball whose bytes do not match the integrity its packument lists (nothing was cached)' },
  unavailable: { status: 503, meaning: "a 503 raised by Fastify or a plugin, not by Wharf's own checks" },
  blob_missing: { status: 503, meaning: "a package file's bytes are missing from the blob store" },
  audit_upstream_failed: { status: 502, meaning: 'a forwarded npm audit the upstream registry refused, failed or answered with something other than JSON' },
  audit_upstream_timeout: { status: 504, meaning: 'a forwarded npm audit the upstream registry did not answer in time' },
  // The OCI distribution API (`/v2/`, docs/design/helm-oci.md#errors): the spec's codes, in its body shape.
  oci_blob_unknown: { status: 404, meaning: 'OCI `BLOB_UNKNOWN`: no such blob in this repository' },
  oci_blob_upload_invalid: { status: 400, meaning: 'OCI `BLOB_UPLOAD_INVALID`: an upload chunk or completion that does not fit the session' },
  oci_blob_upload_unknown: { status: 404, meaning: 'OCI `BLOB_UPLOAD_UNKNOWN`: no such upload session in this repository' },
  oci_digest_invalid: { status: 400, meaning: 'OCI `DIGEST_INVALID`: a malformed or unsupported digest, or content that does not match it' },
  oci_manifest_invalid: { status: 400, meaning: 'OCI `MANIFEST_INVALID`: a manifest that is malformed or no Helm chart (only Helm charts are stored)' },
  oci_manifest_unknown: { status: 404, meaning: 'OCI `MANIFEST_UNKNOWN`: no such manifest or tag in this repository' },
  oci_manifest_blob_unknown: { status: 404, meaning: "OCI `MANIFEST_BLOB_UNKNOWN`: a manifest naming a blob the repository does not have" },
  oci_name_invalid: { status: 400, meaning: 'OCI `NAME_INVALID`: a repository name that is not `<project path>/<chart name>`' },
  oci_name_unknown: { status: 404, meaning: 'OCI `NAME_UNKNOWN`: no project for the repository name, or one the caller may not see' },
  oci_size_invalid: { status: 400, meaning: 'OCI `SIZE_INVALID`: content larger than the instance allows or than announced' },
  oci_range_invalid: { status: 416, meaning: 'OCI: an upload chunk out of order, or a blob range outside the blob' },
  oci_unsupported: { status: 405, meaning: 'OCI `UNSUPPORTED`: an operation Wharf does not offer (yet) on this path' },
  oci_blob_in_use: { status: 405, meaning: 'OCI `UNSUPPORTED`: a blob DELETE while a manifest of the repository references the blob' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Code → status, as a flat table: the `AppError` constructor reads it for every error, 404s on hot paths included. */
export const ERROR_STATUS = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status])) as {
  readonly [C in ErrorCode]: (typeof ERROR_CODES)[C]['status'];
};

export type ErrorBody = Record<string, unknown>;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, body: ErrorBody, headers: Record<string, string> = {}) {
    // The OCI body has neither field: its first error's message is the error's.
    const msg = body.message ?? body.error ?? (body.errors as { message?: unknown }[] | undefined)?.[0]?.message;
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

/** npm's `{message, error}`: npm prints the `error` field of a failed request. */
const npmShape = (message: string) => ({ message, error: message });

/** GitLab's `{"message":"400 Bad request - <reason>"}` plus `error`, the field npm and `helm cm-push` print. */
const badRequestShape = (reason: string) => ({ message: `400 Bad request - ${reason}`, error: reason });

/**
 * The codes Fastify's or a plugin's own errors become, by their status. A status missing here is not answered as
 * such: the error handler treats the error as unknown (a logged 500).
 */
const CODE_BY_STATUS: Readonly<Partial<Record<number, ErrorCode>>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  412: 'precondition_failed',
  413: 'body_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable',
  429: 'too_many_requests',
  500: 'internal',
  503: 'unavailable',
};

export const errors = {
  // ---- 401: who is calling

  /**
   * `{"message":"401 Unauthorized"}` (no WWW-Authenticate, as GitLab's npm and management routes). Some refusals
   * GitLab answers with a 401 too (another user's token, a deploy token where only users may act).
   */
  unauthorized: (headers: Record<string, string> = {}) =>
    new AppError('unauthorized', { message: '401 Unauthorized' }, headers),

  /** A token that matches nothing: answered as a missing credential, so tokens cannot be probed. */
  tokenUnknown: () => new AppError('token_unknown', { message: '401 Unauthorized' }),

  /** A personal access token whose user is blocked or deleted: answered as an unknown token. */
  userInactive: () => new AppError('user_inactive', { message: '401 Unauthorized' }),

  /** An expired token: 401 with the OAuth-style `WWW-Authenticate` GitLab sends. */
  tokenExpired: () => invalidToken('token_expired', 'Token is expired. You can either do re-authorization or token refresh.'),

  /** A revoked token, answered like an expired one with GitLab's own description. */
  tokenRevoked: () => invalidToken('token_revoked', 'Token was revoked. You have to re-authorize from the user profile.'),

  /** `npm login` with a wrong user name or password: npm prints `error`, so it says what failed. */
  npmLoginFailed: () => new AppError('login_failed', { message: '401 Unauthorized', error: 'Incorrect username or password.' }),

  /**
   * Helm routes' 401 (GitLab's `BasicAuthHelpers#unauthorized!`): the Basic challenge makes helm and browsers send
   * credentials, and every credential failure on a Helm route answers this way, whatever the token's problem was.
   * The code stays the cause's (`token_expired`, …), so the log still tells the failures apart.
   */
  helmUnauthorized: (cause?: AppError) =>
    new AppError(
      cause?.status === 401 ? cause.code : 'unauthorized',
      { message: '401 Unauthorized' },
      { 'www-authenticate': 'Basic realm="GitLab Packages Registry"' },
    ),

  // ---- 403: who may do what

  /** A `read_api` token on a write, for example. */
  insufficientScope: (required = 'api') =>
    new AppError('insufficient_scope', {
      error: 'insufficient_scope',
      error_description: 'The request requires higher privileges than provided by the access token.',
      scope: required,
    }),

  /** The caller's role does not allow the action (or it needs an administrator): `{"message":"403 Forbidden"}`. */
  insufficientAccess: () => new AppError('insufficient_access', { message: '403 Forbidden' }),

  /** GitLab lets anonymous callers look users up by `username` only. */
  usersListingForbidden: () =>
    new AppError('users_listing_forbidden', { message: '403 Forbidden - Not authorized to access /api/v4/users' }),

  /**
   * A package protection rule refuses this push or delete, in GitLab's words (`Package protected.`, `Package is
   * deletion protected.`) and in the shape of the route family: npm's `{message, error}`, the API's
   * `{"message":"403 Forbidden - …"}`, and for Helm the API shape plus `error`, the field `helm cm-push` prints.
   * Push and delete are two codes (`package_protected`, `package_deletion_protected`).
   */
  packageProtected: (action: 'push' | 'delete', surface: 'npm' | 'helm' | 'api') => {
    const code = action === 'push' ? 'package_protected' : 'package_deletion_protected';
    const reason = action === 'push' ? 'Package protected.' : 'Package is deletion protected.';
    if (surface === 'npm') return new AppError(code, npmShape(reason));
    return new AppError(code, { message: `403 Forbidden - ${reason}`, ...(surface === 'helm' ? { error: reason } : {}) });
  },

  /** A trusted publishing exchange refused for the ID token itself (npm logs `message`). */
  oidcTokenRefused: (reason: string) => new AppError('oidc_token_refused', { message: `401 Unauthorized - ${reason}` }),

  /** A valid ID token that no trusted publisher accepts for this package. */
  oidcNoPublisher: (reason: string) => new AppError('oidc_no_publisher', { message: `403 Forbidden - ${reason}` }),

  /** A trusted publishing token that is no longer, or never was, valid. */
  trustedPublishTokenInvalid: (reason: string) => new AppError('trusted_publish_token_invalid', { message: `401 Unauthorized - ${reason}` }),

  /** A trusted publishing token used beyond its one package's publish. */
  trustedPublishOutOfScope: (name: string) =>
    new AppError('trusted_publish_out_of_scope', npmShape(`This trusted publishing token may only publish ${name}.`)),

  /** An npm publish of a version the package has with other contents (GitLab's publish service refusal). */
  npmPackageExists: () => new AppError('package_exists', npmShape('Package already exists.')),

  /**
   * An npm publish of a name another project of the same top-level namespace owns (Wharf's rule, stricter than
   * GitLab's). `owner` is the owning project's full path, or null when the caller may not see that project.
   */
  packageNameOwned: (name: string, owner: string | null, rootPath: string) => {
    const message = owner
      ? `Package name ${name} belongs to the project ${owner}: publish new versions of it there.`
      : `Package name ${name} belongs to another project of the ${rootPath} namespace: publish new versions of it there.`;
    return new AppError('package_name_owned', npmShape(message));
  },

  // ---- 404

  /** `{"message":"404 Project Not Found"}`; without a resource `{"message":"404 Not Found"}`. */
  notFound: (resource?: string) =>
    new AppError('not_found', { message: resource ? `404 ${resource} Not Found` : '404 Not Found' }),

  /** A record looked up by id that does not exist: GitLab's `ActiveRecord::RecordNotFound`, lower-case "found". */
  recordNotFound: () => new AppError('not_found', { message: '404 Not found' }),

  /** The npm routes' variant: `{"message":"404 Packages Not Found","error":"Packages not found"}`. */
  npmNotFound: (resource: string) =>
    new AppError('not_found', { message: titleize(`404 ${resource} not found`), error: `${resource} not found` }),

  /**
   * A missing record on an npm route (GitLab's `RecordNotFound`, `{"message":"404 Not found"}`), plus the `error`
   * field npm prints so users see what was missing.
   */
  npmRecordNotFound: (what: string) => new AppError('not_found', { message: '404 Not found', error: `${what} not found` }),

  /** npm prints `message`: it must say why an install fails while the instance is cut off. */
  npmProxyOffline: (name: string) =>
    new AppError('npm_proxy_offline', { message: `404 Not Found - the npm proxy is offline and ${name} is not cached`, error: `${name} is not cached (offline)` }),

  /** A chart or provenance file that is not there: GitLab's `RecordNotFound` body, with `error` for ChartMuseum scripts. */
  helmNotFound: (what: string) => new AppError('not_found', { message: '404 Not found', error: `${what} not found` }),

  /** No route matched: `{"error":"404 Not Found"}`. */
  routeNotFound: () => new AppError('route_not_found', { error: '404 Not Found' }),

  /** A provenance file on its own for a chart version the channel does not hold (it would sign nothing). */
  helmProvenanceWithoutChart: (fileName: string, channel: string) =>
    new AppError('provenance_without_chart', {
      message: '404 Not found',
      error: `Chart ${fileName} not found in channel ${channel}: upload the chart first, or send the provenance file with it (multipart field prov)`,
    }),

  // ---- 400: parameters and bodies

  /** Parameter problems in Grape's shape: `{"error":"name is missing, path is invalid"}`. */
  params: (messages: string[]) => new AppError('param_invalid', { error: messages.join(', ') }),

  /** Model validation in ActiveRecord's shape: `{"message":{"path":["has already been taken"]}}`. */
  validation: (fields: FieldErrors) => new AppError('validation_failed', { message: fields }),

  /** GitLab's npm `bad_request_missing_attribute!`: `{"message":"400 Bad request - \"Tag\" not given","error":"\"Tag\" not given"}`. */
  npmMissingAttribute: (attribute: string) => new AppError('attribute_missing', badRequestShape(`"${attribute}" not given`)),

  jsonEmpty: () => new AppError('json_empty', { message: '400 Bad request - the JSON body is empty' }),

  jsonInvalid: () => new AppError('json_invalid', { message: '400 Bad request - the body is not valid JSON' }),

  /** A JSON body nested deeper than Wharf reads (recursive walks of it would exhaust the stack). */
  jsonTooDeep: (maxDepth: number) => new AppError('json_too_deep', badRequestShape(`the JSON body is nested deeper than ${maxDepth} levels`)),

  /** The npm routes' variant, in npm's `{message, error}` shape. */
  npmJsonTooDeep: (maxDepth: number) =>
    new AppError('json_too_deep', npmShape(`Invalid json: the body is nested deeper than ${maxDepth} levels.`)),

  contentLengthMismatch: () =>
    new AppError('content_length_mismatch', { message: '400 Bad request - Content-Length does not match the body' }),

  npmGzipInvalid: () => new AppError('body_encoding_invalid', npmShape('The request body is not valid gzip data (Content-Encoding: gzip).')),

  /** GitLab answers a non-administrator revoking someone else's token with a 400, not a 403. */
  revokeNotPermitted: () => new AppError('revoke_not_permitted', { message: '400 Bad request - Not permitted to revoke' }),

  /**
   * A personal access token asked to live longer than the instance allows (GitLab's
   * `expires_at_before_instance_max_expiry_date` validation, rendered by `render_api_error!`).
   */
  tokenExpiryTooLate: (maxDate: string) => new AppError('token_expiry_too_late', { message: `Expiration date must be before ${maxDate}` }),

  /** GitLab's group-create failure is a string with the Ruby hash inside: `Failed to save group {:path=>["…"]}`. */
  groupSaveFailed: (fields: FieldErrors) =>
    new AppError('group_save_failed', {
      message: `Failed to save group {${Object.entries(fields)
        .map(([k, v]) => `:${k}=>${JSON.stringify(v)}`)
        .join(', ')}}`,
    }),

  // ---- 400: npm packages

  /** A publish document npm should not have sent (or a forged one): npm prints `error`, so it says what is wrong. */
  npmPublishInvalid: (message: string) => new AppError('publish_document_invalid', npmShape(message)),

  /** A tarball (or its package.json) that Wharf will not serve, in npm's `{message, error}` shape. */
  npmPackageFileInvalid: (message: string) => new AppError('package_file_invalid', npmShape(message)),

  /** GitLab's model validation: the name and version exist in another project of the top-level namespace. */
  npmPackageExistsInNamespace: () => new AppError('package_exists_in_namespace', npmShape('Validation failed: Package already exists')),

  /** A tarball larger than `npm_max_file_size`, in GitLab's words. */
  npmFileTooLarge: () => new AppError('file_too_large', npmShape('File is too large.')),

  npmUnpublishBodyInvalid: () =>
    new AppError(
      'unpublish_body_invalid',
      npmShape('Only unpublishing is supported on this route: the body must be the packument with a "versions" object.'),
    ),

  npmLoginNameMismatch: (bodyName: string, pathName: string) =>
    new AppError('login_name_mismatch', npmShape(`The user name in the body ("${bodyName}") is not the one in the URL ("${pathName}").`)),

  // ---- 400: Helm uploads (GitLab's 400 body plus `error`, the only field `helm cm-push` prints of a failed push)

  /** A chart or provenance part larger than the instance allows (`helm_max_file_size`, or the provenance limit). */
  helmFileTooLarge: () => new AppError('file_too_large', badRequestShape('File is too large')),

  helmMultipartInvalid: (reason: string) => new AppError('multipart_invalid', badRequestShape(reason)),

  helmChartInvalid: (reason: string) => new AppError('chart_invalid', badRequestShape(reason)),

  helmProvenanceInvalid: (reason: string) => new AppError('provenance_invalid', badRequestShape(reason)),

  helmProvenanceMismatch: (reason: string) => new AppError('provenance_mismatch', badRequestShape(reason)),

  // ---- 400: npm provenance attestations (docs/design/npm-provenance.md)

  npmProvenanceInvalid: (message: string) => new AppError('npm_provenance_invalid', npmShape(message)),

  npmProvenanceSubjectMismatch: (message: string) => new AppError('npm_provenance_subject_mismatch', npmShape(message)),

  npmProvenanceDigestMismatch: (message: string) => new AppError('npm_provenance_digest_mismatch', npmShape(message)),

  // ---- 405, 409

  /** An npm request this endpoint exists for but cannot serve (unpublish through a group endpoint). */
  npmMethodNotAllowed: (message: string) =>
    new AppError('unpublish_unsupported', { message: `405 Method Not Allowed - ${message}`, error: message }),

  memberExists: () => new AppError('member_exists', { message: 'Member already exists' }),

  emailTaken: () => new AppError('email_taken', { message: 'Email has already been taken' }),

  usernameTaken: () => new AppError('username_taken', { message: 'Username has already been taken' }),

  /** A chart version the instance's overwrite policy keeps (ChartMuseum answers 409 the same way). */
  helmChartExists: (fileName: string, channel: string, hint: string) =>
    new AppError('chart_exists', {
      message: `409 Conflict - ${fileName} already exists in channel ${channel}`,
      error: `${fileName} already exists in channel ${channel}${hint ? `; ${hint}` : ''}`,
    }),

  /**
   * An npm write whose `-rev` is not the package's current revision (CouchDB's optimistic locking, which
   * `npm unpublish` relies on): the client re-reads the packument and tries again.
   */
  npmConflict: (message: string) => new AppError('revision_conflict', { message: `409 Conflict - ${message}`, error: message }),

  /** `wharf transfer` will not write into this target. */
  transferRefused: (message: string) => new AppError('transfer_refused', { message }),

  /** The data itself is at fault (a blob missing or corrupt); the operator must repair it before a re-run can finish. */
  transferDataBroken: (message: string) => new AppError('transfer_data_broken', { message }),

  // ---- 413, 415

  bodyTooLarge: (reason: string) =>
    new AppError('body_too_large', { message: `413 Request Entity Too Large - ${reason}`, error: reason }),

  unsupportedMediaType: (reason: string) =>
    new AppError('unsupported_media_type', { message: `415 Unsupported Media Type - ${reason}`, error: reason }),

  npmUnsupportedContentEncoding: (encoding: string) => {
    const reason = `Content-Encoding ${encoding} is not supported; send gzip or nothing.`;
    return new AppError('unsupported_content_encoding', { message: `415 Unsupported Media Type - ${reason}`, error: reason });
  },

  // ---- 429

  /**
   * Too many wrong passwords for this account or from this address. `error` is what npm prints; `Retry-After` says
   * when to try again. Known and unknown accounts are answered alike.
   */
  signInThrottled: (retryAfterSeconds: number) =>
    new AppError(
      'sign_in_throttled',
      { message: '429 Too Many Requests', error: `Too many failed sign-in attempts. Try again in ${retryAfterSeconds} seconds.` },
      { 'retry-after': String(retryAfterSeconds) },
    ),

  /** A package API rate limit (GitLab's Rack::Attack throttles answer `Retry later` with these headers). */
  rateLimited: (headers: Record<string, string>) =>
    new AppError('rate_limited', { message: 'Retry later', error: 'Retry later' }, headers),

  // ---- 5xx

  internal: () => new AppError('internal', { message: '500 Internal Server Error' }),

  /** The npm proxy failed upstream (unreachable, an error status, a document or tarball that fails the checks). */
  npmUpstreamFailed: (name: string, reason: string) =>
    new AppError('npm_upstream_failed', { message: `502 Bad Gateway - the npm upstream failed for ${name}: ${reason}`, error: `upstream failed for ${name}` }),

  /** A proxied tarball that failed verification before any byte reached the client; npm prints the `error` field. */
  npmUpstreamIntegrity: (name: string, expected: string, actual: string) =>
    new AppError('npm_upstream_integrity', {
      message: `502 Bad Gateway - the upstream tarball of ${name} does not match its integrity: expected ${expected}, got ${actual}`,
      error: `integrity check failed for ${name}: the upstream sent different bytes than its packument lists`,
    }),

  blobMissing: (fileName: string) =>
    new AppError('blob_missing', { message: `503 Service Unavailable - the stored file ${fileName} is missing from the blob store` }),

  /** A forwarded `npm audit` that got no usable answer: `npm audit` prints the `error` field and exits non-zero. */
  npmAuditUpstreamFailed: (reason: string) =>
    new AppError('audit_upstream_failed', npmShape(`502 Bad Gateway - the upstream registry's audit failed: ${reason}`)),

  npmAuditUpstreamTimeout: (seconds: number) =>
    new AppError('audit_upstream_timeout', npmShape(`504 Gateway Timeout - the upstream registry's audit did not answer within ${seconds} s`)),

  // ---- the OCI distribution API (`/v2/`): the spec's body `{"errors":[{code, message, detail}]}`

  /** One of the spec's refusals; `detail` is free-form, as the spec allows. */
  oci: (code: OciErrorCode, message: string, detail: unknown = null) =>
    new AppError(OCI_CODES[code], ociShape(code, message, detail)),

  /** A blob a live manifest of the repository needs is not unlinked: delete the manifest (the chart version) first. */
  ociBlobInUse: (digest: string, manifest: string) =>
    new AppError(
      'oci_blob_in_use',
      ociShape('UNSUPPORTED', `the blob is referenced by manifest ${manifest} of this repository: delete that manifest (the chart version) first`, {
        digest,
        manifest,
      }),
    ),

  /**
   * A refusal raised by shared code on a `/v2/` route (the access check, a protection rule, the chart reader),
   * re-rendered in the spec's shape: 401 → `UNAUTHORIZED` with `challenge` (the Bearer challenge that sends the
   * client to `/jwt/auth`; also added to a 401 already in the OCI shape), 403 and 409 (a version the overwrite policy
   * keeps) → `DENIED`, 404 → `NAME_UNKNOWN`, 413 → `SIZE_INVALID`, 429 → `TOO_MANY_REQUESTS`, a 400 →
   * `MANIFEST_INVALID` with the original reason. The code stays the cause's, so the log tells them apart.
   */
  ociFrom: (cause: AppError, challenge: string = OCI_CHALLENGE): AppError => {
    if (cause.body.errors !== undefined) {
      return cause.status === 401 ? new AppError(cause.code, cause.body, { ...cause.headers, 'www-authenticate': challenge }) : cause;
    }
    const reason = typeof cause.body.error === 'string' ? cause.body.error : cause.message;
    const headers: Record<string, string> = { ...cause.headers };
    let code: string;
    if (cause.status === 401) {
      code = 'UNAUTHORIZED';
      headers['www-authenticate'] = challenge;
    } else if (cause.status === 403 || cause.status === 409) code = 'DENIED';
    else if (cause.status === 413) code = 'SIZE_INVALID';
    else if (cause.status === 404) code = 'NAME_UNKNOWN';
    else if (cause.status === 429) code = 'TOO_MANY_REQUESTS';
    else if (cause.status === 400) code = 'MANIFEST_INVALID';
    else return cause;
    return new AppError(cause.code, ociShape(code, cause.status === 401 ? (OCI_401_MESSAGES[cause.code] ?? 'authentication required') : reason, null), headers);
  },

  // ---- the registry token flow (`/jwt/auth`, Bearer on `/v2/`): the OCI body shape, which docker clients print

  /** A Bearer token Wharf will not accept; `reason` says why (expired, another service, not a token at all). */
  registryTokenInvalid: (reason: string) => new AppError('registry_token_invalid', ociShape('UNAUTHORIZED', reason, null)),

  /** The token is valid but grants nothing here: the client is challenged for the scope it needs. */
  registryTokenScope: (name: string, action: string) =>
    new AppError('registry_token_scope', ociShape('UNAUTHORIZED', `the registry token does not grant ${action} on ${name}`, [{ Type: 'repository', Name: name, Action: action }])),

  registryServiceUnknown: (service: string | undefined) =>
    new AppError(
      'registry_service_unknown',
      ociShape('UNSUPPORTED', service ? `unknown service ${JSON.stringify(service.slice(0, 100))}: this registry's service is container_registry` : 'the service parameter is required (container_registry)', null),
    ),

  registryScopeInvalid: (reason: string) => new AppError('registry_scope_invalid', ociShape('UNSUPPORTED', reason, null)),

  registryAccessForbidden: () => new AppError('registry_access_forbidden', ociShape('DENIED', 'access forbidden: ask for a scope, or log in', null)),

  // ---- errors Wharf did not raise

  /**
   * Fastify's or a plugin's own error with an HTTP status (a 406, a multipart limit, …), answered with its status
   * and message under the generic code for that status; undefined when the catalogue has no code for it.
   */
  fromStatus: (status: number, message: string): AppError | undefined => {
    const code = CODE_BY_STATUS[status];
    return code ? new AppError(code, { message: `${status} ${message}` }) : undefined;
  },
} as const;

/** The OCI codes Wharf raises itself, and their catalogue entries. */
const OCI_CODES = {
  BLOB_UNKNOWN: 'oci_blob_unknown',
  BLOB_UPLOAD_INVALID: 'oci_blob_upload_invalid',
  BLOB_UPLOAD_UNKNOWN: 'oci_blob_upload_unknown',
  DIGEST_INVALID: 'oci_digest_invalid',
  MANIFEST_INVALID: 'oci_manifest_invalid',
  MANIFEST_UNKNOWN: 'oci_manifest_unknown',
  MANIFEST_BLOB_UNKNOWN: 'oci_manifest_blob_unknown',
  NAME_INVALID: 'oci_name_invalid',
  NAME_UNKNOWN: 'oci_name_unknown',
  SIZE_INVALID: 'oci_size_invalid',
  RANGE_INVALID: 'oci_range_invalid',
  UNSUPPORTED: 'oci_unsupported',
} as const satisfies Record<string, ErrorCode>;

export type OciErrorCode = keyof typeof OCI_CODES;

/**
 * The Basic challenge: what `/jwt/auth` answers a 401 with (it takes HTTP Basic only), and the default of
 * `ociFrom`. `/v2/` routes pass their Bearer challenge instead (docs/design/helm-oci.md#access).
 */
export const OCI_CHALLENGE = 'Basic realm="Wharf registry"';

/**
 * What a 401 under `/v2/` or `/jwt/auth` says, by its cause: clients print it (`helm registry login`, docker). An
 * unknown token and a blocked user's token read alike, so the message says nothing about which tokens exist.
 */
const OCI_401_MESSAGES: Partial<Record<ErrorCode, string>> = {
  token_unknown: 'invalid credentials: the password must be a personal access token or a deploy token',
  user_inactive: 'invalid credentials: the password must be a personal access token or a deploy token',
  token_expired: 'the token has expired',
  token_revoked: 'the token was revoked',
};

/** The spec's error body. `RANGE_INVALID` is not one of its codes: a 416 says it, the body names the nearest code. */
const ociShape = (code: string, message: string, detail: unknown) => ({
  errors: [{ code: code === 'RANGE_INVALID' ? 'BLOB_UPLOAD_INVALID' : code, message, detail }],
});

/** GitLab's OAuth-style 401 for a token it knows but will not accept. */
function invalidToken(code: 'token_expired' | 'token_revoked', description: string): AppError {
  return new AppError(
    code,
    { message: '401 Unauthorized', error: 'invalid_token', error_description: description },
    { 'www-authenticate': `Bearer realm="Wharf", error="invalid_token", error_description="${description}"` },
  );
}
