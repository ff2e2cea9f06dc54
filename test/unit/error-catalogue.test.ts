/**
 * The error catalogue: every code has a status and a meaning, every factory builds the code, status, body and
 * headers documented here, two factories share a code only where the list below says so, no `AppError` is built
 * outside the catalogue, and docs/design/errors.md lists every code.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AppError, ERROR_CODES, ERROR_STATUS, errors, type ErrorBody, type ErrorCode } from '../../src/domain/errors.js';
import { ERRORS_DOC, withCurrentTable } from '../../scripts/error-codes.js';

type Factory = keyof typeof errors;

interface Row {
  factory: Factory;
  build: () => AppError | undefined;
  code: ErrorCode;
  status: number;
  body: ErrorBody;
  headers?: Record<string, string>;
}

const npm = (message: string) => ({ message, error: message });
const bad = (reason: string) => ({ message: `400 Bad request - ${reason}`, error: reason });
const UNAUTHORIZED = { message: '401 Unauthorized' };
const HELM_CHALLENGE = { 'www-authenticate': 'Basic realm="GitLab Packages Registry"' };
const EXPIRED = 'Token is expired. You can either do re-authorization or token refresh.';
const REVOKED = 'Token was revoked. You have to re-authorize from the user profile.';
const bearer = (description: string) => ({
  'www-authenticate': `Bearer realm="Wharf", error="invalid_token", error_description="${description}"`,
});

const ROWS: Row[] = [
  // 401
  { factory: 'unauthorized', build: () => errors.unauthorized(), code: 'unauthorized', status: 401, body: UNAUTHORIZED },
  { factory: 'tokenUnknown', build: () => errors.tokenUnknown(), code: 'token_unknown', status: 401, body: UNAUTHORIZED },
  { factory: 'userInactive', build: () => errors.userInactive(), code: 'user_inactive', status: 401, body: UNAUTHORIZED },
  {
    factory: 'tokenExpired',
    build: () => errors.tokenExpired(),
    code: 'token_expired',
    status: 401,
    body: { message: '401 Unauthorized', error: 'invalid_token', error_description: EXPIRED },
    headers: bearer(EXPIRED),
  },
  {
    factory: 'tokenRevoked',
    build: () => errors.tokenRevoked(),
    code: 'token_revoked',
    status: 401,
    body: { message: '401 Unauthorized', error: 'invalid_token', error_description: REVOKED },
    headers: bearer(REVOKED),
  },
  {
    factory: 'npmLoginFailed',
    build: () => errors.npmLoginFailed(),
    code: 'login_failed',
    status: 401,
    body: { message: '401 Unauthorized', error: 'Incorrect username or password.' },
  },
  { factory: 'helmUnauthorized', build: () => errors.helmUnauthorized(), code: 'unauthorized', status: 401, body: UNAUTHORIZED, headers: HELM_CHALLENGE },
  // The cause's code survives the Helm 401; its body and headers do not.
  { factory: 'helmUnauthorized', build: () => errors.helmUnauthorized(errors.tokenExpired()), code: 'token_expired', status: 401, body: UNAUTHORIZED, headers: HELM_CHALLENGE },
  { factory: 'helmUnauthorized', build: () => errors.helmUnauthorized(errors.insufficientAccess()), code: 'unauthorized', status: 401, body: UNAUTHORIZED, headers: HELM_CHALLENGE },
  // 403
  {
    factory: 'insufficientScope',
    build: () => errors.insufficientScope(),
    code: 'insufficient_scope',
    status: 403,
    body: { error: 'insufficient_scope', error_description: 'The request requires higher privileges than provided by the access token.', scope: 'api' },
  },
  { factory: 'insufficientAccess', build: () => errors.insufficientAccess(), code: 'insufficient_access', status: 403, body: { message: '403 Forbidden' } },
  {
    factory: 'usersListingForbidden',
    build: () => errors.usersListingForbidden(),
    code: 'users_listing_forbidden',
    status: 403,
    body: { message: '403 Forbidden - Not authorized to access /api/v4/users' },
  },
  { factory: 'packageProtected', build: () => errors.packageProtected('push', 'npm'), code: 'package_protected', status: 403, body: npm('Package protected.') },
  { factory: 'packageProtected', build: () => errors.packageProtected('push', 'api'), code: 'package_protected', status: 403, body: { message: '403 Forbidden - Package protected.' } },
  {
    factory: 'packageProtected',
    build: () => errors.packageProtected('push', 'helm'),
    code: 'package_protected',
    status: 403,
    body: { message: '403 Forbidden - Package protected.', error: 'Package protected.' },
  },
  { factory: 'packageProtected', build: () => errors.packageProtected('delete', 'npm'), code: 'package_deletion_protected', status: 403, body: npm('Package is deletion protected.') },
  {
    factory: 'packageProtected',
    build: () => errors.packageProtected('delete', 'api'),
    code: 'package_deletion_protected',
    status: 403,
    body: { message: '403 Forbidden - Package is deletion protected.' },
  },
  {
    factory: 'packageProtected',
    build: () => errors.packageProtected('delete', 'helm'),
    code: 'package_deletion_protected',
    status: 403,
    body: { message: '403 Forbidden - Package is deletion protected.', error: 'Package is deletion protected.' },
  },
  { factory: 'npmPackageExists', build: () => errors.npmPackageExists(), code: 'package_exists', status: 403, body: npm('Package already exists.') },
  {
    factory: 'packageNameOwned',
    build: () => errors.packageNameOwned('@acme/x', 'acme/web', 'acme'),
    code: 'package_name_owned',
    status: 403,
    body: npm('Package name @acme/x belongs to the project acme/web: publish new versions of it there.'),
  },
  {
    factory: 'packageNameOwned',
    build: () => errors.packageNameOwned('@acme/x', null, 'acme'),
    code: 'package_name_owned',
    status: 403,
    body: npm('Package name @acme/x belongs to another project of the acme namespace: publish new versions of it there.'),
  },
  // 404
  { factory: 'notFound', build: () => errors.notFound('Project'), code: 'not_found', status: 404, body: { message: '404 Project Not Found' } },
  { factory: 'notFound', build: () => errors.notFound(), code: 'not_found', status: 404, body: { message: '404 Not Found' } },
  { factory: 'recordNotFound', build: () => errors.recordNotFound(), code: 'not_found', status: 404, body: { message: '404 Not found' } },
  {
    factory: 'npmNotFound',
    build: () => errors.npmNotFound('Package tag'),
    code: 'not_found',
    status: 404,
    body: { message: '404 Package Tag Not Found', error: 'Package tag not found' },
  },
  {
    factory: 'npmRecordNotFound',
    build: () => errors.npmRecordNotFound('Package file'),
    code: 'not_found',
    status: 404,
    body: { message: '404 Not found', error: 'Package file not found' },
  },
  { factory: 'helmNotFound', build: () => errors.helmNotFound('Chart'), code: 'not_found', status: 404, body: { message: '404 Not found', error: 'Chart not found' } },
  { factory: 'routeNotFound', build: () => errors.routeNotFound(), code: 'route_not_found', status: 404, body: { error: '404 Not Found' } },
  {
    factory: 'helmProvenanceWithoutChart',
    build: () => errors.helmProvenanceWithoutChart('app-1.0.0.tgz', 'stable'),
    code: 'provenance_without_chart',
    status: 404,
    body: {
      message: '404 Not found',
      error: 'Chart app-1.0.0.tgz not found in channel stable: upload the chart first, or send the provenance file with it (multipart field prov)',
    },
  },
  // 400
  { factory: 'params', build: () => errors.params(['name is missing', 'path is invalid']), code: 'param_invalid', status: 400, body: { error: 'name is missing, path is invalid' } },
  {
    factory: 'validation',
    build: () => errors.validation({ path: ['has already been taken'] }),
    code: 'validation_failed',
    status: 400,
    body: { message: { path: ['has already been taken'] } },
  },
  { factory: 'npmMissingAttribute', build: () => errors.npmMissingAttribute('Tag'), code: 'attribute_missing', status: 400, body: bad('"Tag" not given') },
  { factory: 'jsonEmpty', build: () => errors.jsonEmpty(), code: 'json_empty', status: 400, body: { message: '400 Bad request - the JSON body is empty' } },
  { factory: 'jsonInvalid', build: () => errors.jsonInvalid(), code: 'json_invalid', status: 400, body: { message: '400 Bad request - the body is not valid JSON' } },
  { factory: 'jsonTooDeep', build: () => errors.jsonTooDeep(64), code: 'json_too_deep', status: 400, body: bad('the JSON body is nested deeper than 64 levels') },
  { factory: 'npmJsonTooDeep', build: () => errors.npmJsonTooDeep(64), code: 'json_too_deep', status: 400, body: npm('Invalid json: the body is nested deeper than 64 levels.') },
  {
    factory: 'contentLengthMismatch',
    build: () => errors.contentLengthMismatch(),
    code: 'content_length_mismatch',
    status: 400,
    body: { message: '400 Bad request - Content-Length does not match the body' },
  },
  {
    factory: 'npmGzipInvalid',
    build: () => errors.npmGzipInvalid(),
    code: 'body_encoding_invalid',
    status: 400,
    body: npm('The request body is not valid gzip data (Content-Encoding: gzip).'),
  },
  { factory: 'revokeNotPermitted', build: () => errors.revokeNotPermitted(), code: 'revoke_not_permitted', status: 400, body: { message: '400 Bad request - Not permitted to revoke' } },
  {
    factory: 'tokenExpiryTooLate',
    build: () => errors.tokenExpiryTooLate('2027-01-01'),
    code: 'token_expiry_too_late',
    status: 400,
    body: { message: 'Expiration date must be before 2027-01-01' },
  },
  {
    factory: 'groupSaveFailed',
    build: () => errors.groupSaveFailed({ path: ['has already been taken'], name: ["can't be blank"] }),
    code: 'group_save_failed',
    status: 400,
    body: { message: `Failed to save group {:path=>["has already been taken"], :name=>["can't be blank"]}` },
  },
  { factory: 'npmPublishInvalid', build: () => errors.npmPublishInvalid('Version is empty.'), code: 'publish_document_invalid', status: 400, body: npm('Version is empty.') },
  {
    factory: 'npmPackageFileInvalid',
    build: () => errors.npmPackageFileInvalid('Invalid package file: x'),
    code: 'package_file_invalid',
    status: 400,
    body: npm('Invalid package file: x'),
  },
  {
    factory: 'npmPackageExistsInNamespace',
    build: () => errors.npmPackageExistsInNamespace(),
    code: 'package_exists_in_namespace',
    status: 400,
    body: npm('Validation failed: Package already exists'),
  },
  { factory: 'npmFileTooLarge', build: () => errors.npmFileTooLarge(), code: 'file_too_large', status: 400, body: npm('File is too large.') },
  {
    factory: 'npmUnpublishBodyInvalid',
    build: () => errors.npmUnpublishBodyInvalid(),
    code: 'unpublish_body_invalid',
    status: 400,
    body: npm('Only unpublishing is supported on this route: the body must be the packument with a "versions" object.'),
  },
  {
    factory: 'npmLoginNameMismatch',
    build: () => errors.npmLoginNameMismatch('alice', 'bob'),
    code: 'login_name_mismatch',
    status: 400,
    body: npm('The user name in the body ("alice") is not the one in the URL ("bob").'),
  },
  { factory: 'helmFileTooLarge', build: () => errors.helmFileTooLarge(), code: 'file_too_large', status: 400, body: bad('File is too large') },
  {
    factory: 'helmMultipartInvalid',
    build: () => errors.helmMultipartInvalid('Too many parts in the multipart body'),
    code: 'multipart_invalid',
    status: 400,
    body: bad('Too many parts in the multipart body'),
  },
  { factory: 'helmChartInvalid', build: () => errors.helmChartInvalid('Chart.yaml too big'), code: 'chart_invalid', status: 400, body: bad('Chart.yaml too big') },
  {
    factory: 'helmProvenanceInvalid',
    build: () => errors.helmProvenanceInvalid('Provenance file is too large'),
    code: 'provenance_invalid',
    status: 400,
    body: bad('Provenance file is too large'),
  },
  {
    factory: 'helmProvenanceMismatch',
    build: () => errors.helmProvenanceMismatch('The provenance file is for a 1.0.0, not for b 1.0.0'),
    code: 'provenance_mismatch',
    status: 400,
    body: bad('The provenance file is for a 1.0.0, not for b 1.0.0'),
  },
  {
    factory: 'npmProvenanceInvalid',
    build: () => errors.npmProvenanceInvalid('The provenance bundle is malformed: it is not JSON.'),
    code: 'npm_provenance_invalid',
    status: 400,
    body: npm('The provenance bundle is malformed: it is not JSON.'),
  },
  {
    factory: 'npmProvenanceSubjectMismatch',
    build: () => errors.npmProvenanceSubjectMismatch('The provenance bundle\'s subject is "pkg:npm/a@1.0.0", but this publish is pkg:npm/b@1.0.0.'),
    code: 'npm_provenance_subject_mismatch',
    status: 400,
    body: npm('The provenance bundle\'s subject is "pkg:npm/a@1.0.0", but this publish is pkg:npm/b@1.0.0.'),
  },
  {
    factory: 'npmProvenanceDigestMismatch',
    build: () => errors.npmProvenanceDigestMismatch('The provenance bundle\'s subject digest does not match the tarball.'),
    code: 'npm_provenance_digest_mismatch',
    status: 400,
    body: npm('The provenance bundle\'s subject digest does not match the tarball.'),
  },
  // 405, 409
  {
    factory: 'npmMethodNotAllowed',
    build: () => errors.npmMethodNotAllowed('Unpublish here'),
    code: 'unpublish_unsupported',
    status: 405,
    body: { message: '405 Method Not Allowed - Unpublish here', error: 'Unpublish here' },
  },
  { factory: 'memberExists', build: () => errors.memberExists(), code: 'member_exists', status: 409, body: { message: 'Member already exists' } },
  { factory: 'emailTaken', build: () => errors.emailTaken(), code: 'email_taken', status: 409, body: { message: 'Email has already been taken' } },
  { factory: 'usernameTaken', build: () => errors.usernameTaken(), code: 'username_taken', status: 409, body: { message: 'Username has already been taken' } },
  {
    factory: 'helmChartExists',
    build: () => errors.helmChartExists('app-1.0.0.tgz', 'stable', 'send force=true to replace it'),
    code: 'chart_exists',
    status: 409,
    body: {
      message: '409 Conflict - app-1.0.0.tgz already exists in channel stable',
      error: 'app-1.0.0.tgz already exists in channel stable; send force=true to replace it',
    },
  },
  {
    factory: 'helmChartExists',
    build: () => errors.helmChartExists('app-1.0.0.tgz', 'stable', ''),
    code: 'chart_exists',
    status: 409,
    body: { message: '409 Conflict - app-1.0.0.tgz already exists in channel stable', error: 'app-1.0.0.tgz already exists in channel stable' },
  },
  {
    factory: 'npmConflict',
    build: () => errors.npmConflict('Document update conflict'),
    code: 'revision_conflict',
    status: 409,
    body: { message: '409 Conflict - Document update conflict', error: 'Document update conflict' },
  },
  { factory: 'transferRefused', build: () => errors.transferRefused('not empty'), code: 'transfer_refused', status: 409, body: { message: 'not empty' } },
  // 413 – 422
  {
    factory: 'bodyTooLarge',
    build: () => errors.bodyTooLarge('too big'),
    code: 'body_too_large',
    status: 413,
    body: { message: '413 Request Entity Too Large - too big', error: 'too big' },
  },
  {
    factory: 'unsupportedMediaType',
    build: () => errors.unsupportedMediaType('this content type is not accepted here'),
    code: 'unsupported_media_type',
    status: 415,
    body: { message: '415 Unsupported Media Type - this content type is not accepted here', error: 'this content type is not accepted here' },
  },
  {
    factory: 'npmUnsupportedContentEncoding',
    build: () => errors.npmUnsupportedContentEncoding('br'),
    code: 'unsupported_content_encoding',
    status: 415,
    body: {
      message: '415 Unsupported Media Type - Content-Encoding br is not supported; send gzip or nothing.',
      error: 'Content-Encoding br is not supported; send gzip or nothing.',
    },
  },
  { factory: 'transferDataBroken', build: () => errors.transferDataBroken('blob x is missing'), code: 'transfer_data_broken', status: 422, body: { message: 'blob x is missing' } },
  // 429
  {
    factory: 'signInThrottled',
    build: () => errors.signInThrottled(30),
    code: 'sign_in_throttled',
    status: 429,
    body: { message: '429 Too Many Requests', error: 'Too many failed sign-in attempts. Try again in 30 seconds.' },
    headers: { 'retry-after': '30' },
  },
  {
    factory: 'rateLimited',
    build: () => errors.rateLimited({ 'retry-after': '60' }),
    code: 'rate_limited',
    status: 429,
    body: { message: 'Retry later', error: 'Retry later' },
    headers: { 'retry-after': '60' },
  },
  // 5xx
  { factory: 'internal', build: () => errors.internal(), code: 'internal', status: 500, body: { message: '500 Internal Server Error' } },
  {
    factory: 'npmProxyOffline',
    build: () => errors.npmProxyOffline('left-pad'),
    code: 'npm_proxy_offline',
    status: 404,
    body: { message: '404 Not Found - the npm proxy is offline and left-pad is not cached', error: 'left-pad is not cached (offline)' },
  },
  {
    factory: 'npmUpstreamFailed',
    build: () => errors.npmUpstreamFailed('left-pad', 'the upstream answered 500'),
    code: 'npm_upstream_failed',
    status: 502,
    body: { message: '502 Bad Gateway - the npm upstream failed for left-pad: the upstream answered 500', error: 'upstream failed for left-pad' },
  },
  {
    factory: 'npmUpstreamIntegrity',
    build: () => errors.npmUpstreamIntegrity('left-pad', 'sha512-AAAA', 'sha512-BBBB'),
    code: 'npm_upstream_integrity',
    status: 502,
    body: {
      message: '502 Bad Gateway - the upstream tarball of left-pad does not match its integrity: expected sha512-AAAA, got sha512-BBBB',
      error: 'integrity check failed for left-pad: the upstream sent different bytes than its packument lists',
    },
  },
  {
    factory: 'blobMissing',
    build: () => errors.blobMissing('a-1.0.0.tgz'),
    code: 'blob_missing',
    status: 503,
    body: { message: '503 Service Unavailable - the stored file a-1.0.0.tgz is missing from the blob store' },
  },
  {
    factory: 'npmAuditUpstreamFailed',
    build: () => errors.npmAuditUpstreamFailed('it answered 500'),
    code: 'audit_upstream_failed',
    status: 502,
    body: npm("502 Bad Gateway - the upstream registry's audit failed: it answered 500"),
  },
  {
    factory: 'npmAuditUpstreamTimeout',
    build: () => errors.npmAuditUpstreamTimeout(30),
    code: 'audit_upstream_timeout',
    status: 504,
    body: npm("504 Gateway Timeout - the upstream registry's audit did not answer within 30 s"),
  },
  // The OCI distribution API: the spec's body shape.
  ...(
    [
      ['BLOB_UNKNOWN', 'oci_blob_unknown', 404],
      ['BLOB_UPLOAD_INVALID', 'oci_blob_upload_invalid', 400],
      ['BLOB_UPLOAD_UNKNOWN', 'oci_blob_upload_unknown', 404],
      ['DIGEST_INVALID', 'oci_digest_invalid', 400],
      ['MANIFEST_INVALID', 'oci_manifest_invalid', 400],
      ['MANIFEST_UNKNOWN', 'oci_manifest_unknown', 404],
      ['MANIFEST_BLOB_UNKNOWN', 'oci_manifest_blob_unknown', 404],
      ['NAME_INVALID', 'oci_name_invalid', 400],
      ['NAME_UNKNOWN', 'oci_name_unknown', 404],
      ['SIZE_INVALID', 'oci_size_invalid', 400],
      ['UNSUPPORTED', 'oci_unsupported', 405],
    ] as const
  ).map(([oci, code, status]): Row => ({
    factory: 'oci',
    build: () => errors.oci(oci, 'why', { d: 1 }),
    code,
    status,
    body: { errors: [{ code: oci, message: 'why', detail: { d: 1 } }] },
  })),
  {
    factory: 'oci',
    build: () => errors.oci('RANGE_INVALID', 'out of order'),
    code: 'oci_range_invalid',
    status: 416,
    body: { errors: [{ code: 'BLOB_UPLOAD_INVALID', message: 'out of order', detail: null }] },
  },
  {
    factory: 'ociBlobInUse',
    build: () => errors.ociBlobInUse('sha256:aa', 'sha256:bb'),
    code: 'oci_blob_in_use',
    status: 405,
    body: {
      errors: [
        {
          code: 'UNSUPPORTED',
          message: 'the blob is referenced by manifest sha256:bb of this repository: delete that manifest (the chart version) first',
          detail: { digest: 'sha256:aa', manifest: 'sha256:bb' },
        },
      ],
    },
  },
  {
    factory: 'ociFrom',
    build: () => errors.ociFrom(errors.unauthorized()),
    code: 'unauthorized',
    status: 401,
    body: { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] },
    headers: { 'www-authenticate': 'Basic realm="Wharf registry"' },
  },
  {
    factory: 'ociFrom',
    build: () => errors.ociFrom(errors.tokenRevoked(), 'Bearer realm="https://wharf.example/jwt/auth",service="container_registry"'),
    code: 'token_revoked',
    status: 401,
    body: { errors: [{ code: 'UNAUTHORIZED', message: 'the token was revoked', detail: null }] },
    headers: { 'www-authenticate': 'Bearer realm="https://wharf.example/jwt/auth",service="container_registry"' },
  },
  {
    factory: 'ociFrom',
    build: () => errors.ociFrom(errors.registryTokenInvalid('invalid registry token'), 'Bearer realm="r",service="s",error="invalid_token"'),
    code: 'registry_token_invalid',
    status: 401,
    body: { errors: [{ code: 'UNAUTHORIZED', message: 'invalid registry token', detail: null }] },
    headers: { 'www-authenticate': 'Bearer realm="r",service="s",error="invalid_token"' },
  },
  {
    factory: 'registryTokenInvalid',
    build: () => errors.registryTokenInvalid('the registry token has expired: get a new one from /jwt/auth'),
    code: 'registry_token_invalid',
    status: 401,
    body: { errors: [{ code: 'UNAUTHORIZED', message: 'the registry token has expired: get a new one from /jwt/auth', detail: null }] },
  },
  {
    factory: 'registryTokenScope',
    build: () => errors.registryTokenScope('acme/web/chart', 'push'),
    code: 'registry_token_scope',
    status: 401,
    body: { errors: [{ code: 'UNAUTHORIZED', message: 'the registry token does not grant push on acme/web/chart', detail: [{ Type: 'repository', Name: 'acme/web/chart', Action: 'push' }] }] },
  },
  {
    factory: 'oidcTokenRefused',
    build: () => errors.oidcTokenRefused('the ID token has expired'),
    code: 'oidc_token_refused',
    status: 401,
    body: { message: '401 Unauthorized - the ID token has expired' },
  },
  {
    factory: 'oidcNoPublisher',
    build: () => errors.oidcNoPublisher('no trusted publisher of this pipeline may publish x'),
    code: 'oidc_no_publisher',
    status: 403,
    body: { message: '403 Forbidden - no trusted publisher of this pipeline may publish x' },
  },
  {
    factory: 'trustedPublishTokenInvalid',
    build: () => errors.trustedPublishTokenInvalid('invalid trusted publishing token'),
    code: 'trusted_publish_token_invalid',
    status: 401,
    body: { message: '401 Unauthorized - invalid trusted publishing token' },
  },
  {
    factory: 'trustedPublishOutOfScope',
    build: () => errors.trustedPublishOutOfScope('@acme/x'),
    code: 'trusted_publish_out_of_scope',
    status: 403,
    body: { message: 'This trusted publishing token may only publish @acme/x.', error: 'This trusted publishing token may only publish @acme/x.' },
  },
  {
    factory: 'registryServiceUnknown',
    build: () => errors.registryServiceUnknown('docker_hub'),
    code: 'registry_service_unknown',
    status: 400,
    body: { errors: [{ code: 'UNSUPPORTED', message: 'unknown service "docker_hub": this registry\'s service is container_registry', detail: null }] },
  },
  {
    factory: 'registryScopeInvalid',
    build: () => errors.registryScopeInvalid('at most 16 scopes may be asked for at once'),
    code: 'registry_scope_invalid',
    status: 400,
    body: { errors: [{ code: 'UNSUPPORTED', message: 'at most 16 scopes may be asked for at once', detail: null }] },
  },
  {
    factory: 'registryAccessForbidden',
    build: () => errors.registryAccessForbidden(),
    code: 'registry_access_forbidden',
    status: 403,
    body: { errors: [{ code: 'DENIED', message: 'access forbidden: ask for a scope, or log in', detail: null }] },
  },
  {
    factory: 'ociFrom',
    build: () => errors.ociFrom(errors.insufficientAccess()),
    code: 'insufficient_access',
    status: 403,
    body: { errors: [{ code: 'DENIED', message: '403 Forbidden', detail: null }] },
  },
  {
    factory: 'ociFrom',
    build: () => errors.ociFrom(errors.helmChartExists('demo-1.0.0.tgz', 'stable', '')),
    code: 'chart_exists',
    status: 409,
    body: { errors: [{ code: 'DENIED', message: 'demo-1.0.0.tgz already exists in channel stable', detail: null }] },
  },
  // Fastify's and plugins' own errors, by status.
  ...(
    [
      [400, 'bad_request'],
      [401, 'unauthorized'],
      [403, 'forbidden'],
      [404, 'not_found'],
      [405, 'method_not_allowed'],
      [409, 'conflict'],
      [412, 'precondition_failed'],
      [413, 'body_too_large'],
      [415, 'unsupported_media_type'],
      [422, 'unprocessable'],
      [429, 'too_many_requests'],
      [500, 'internal'],
      [503, 'unavailable'],
    ] as const
  ).map(([status, code]): Row => ({ factory: 'fromStatus', build: () => errors.fromStatus(status, 'Whatever'), code, status, body: { message: `${status} Whatever` } })),
];

/**
 * Codes more than one factory builds, on purpose: the same refusal in another route family's body shape, and the
 * generic codes Fastify's own errors share with Wharf's nearest refusal. Anything else sharing a code is a mistake.
 */
const SHARED_CODES: Record<string, Factory[]> = {
  unauthorized: ['fromStatus', 'helmUnauthorized', 'ociFrom', 'unauthorized'],
  insufficient_access: ['insufficientAccess', 'ociFrom'],
  chart_exists: ['helmChartExists', 'ociFrom'],
  token_expired: ['helmUnauthorized', 'tokenExpired'],
  token_revoked: ['ociFrom', 'tokenRevoked'],
  registry_token_invalid: ['ociFrom', 'registryTokenInvalid'],
  not_found: ['fromStatus', 'helmNotFound', 'notFound', 'npmNotFound', 'npmRecordNotFound', 'recordNotFound'],
  json_too_deep: ['jsonTooDeep', 'npmJsonTooDeep'],
  file_too_large: ['helmFileTooLarge', 'npmFileTooLarge'],
  body_too_large: ['bodyTooLarge', 'fromStatus'],
  unsupported_media_type: ['fromStatus', 'unsupportedMediaType'],
  internal: ['fromStatus', 'internal'],
};

describe('error catalogue', () => {
  it('gives every code an error status and a meaning', () => {
    for (const [code, { status, meaning }] of Object.entries(ERROR_CODES)) {
      assert.match(code, /^[a-z]+(?:_[a-z]+)*$/, code);
      assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
      assert.ok(meaning.length > 10, `${code} needs a meaning`);
      assert.equal(ERROR_STATUS[code as ErrorCode], status, code);
    }
    assert.deepEqual(Object.keys(ERROR_STATUS), Object.keys(ERROR_CODES));
  });

  for (const row of ROWS) {
    it(`${row.factory} → ${row.code} (${row.status})`, () => {
      const e = row.build();
      assert.ok(e instanceof AppError, `${row.factory} built no AppError`);
      assert.equal(e.code, row.code);
      assert.equal(e.status, row.status);
      assert.deepEqual(e.body, row.body);
      assert.deepEqual(e.headers, row.headers ?? {});
      const text = e.body.message ?? e.body.error ?? (e.body.errors as { message?: unknown }[] | undefined)?.[0]?.message;
      assert.equal(e.message, typeof text === 'string' ? text : JSON.stringify(text));
      // A 4xx is an answer: no stack is captured for it (the packument-404 cost); a 5xx keeps one.
      assert.equal(e.stack?.includes('\n    at ') ?? false, row.status >= 500, 'stack trace only for 5xx');
    });
  }

  it('covers every factory and every code in the table above', () => {
    assert.deepEqual([...new Set(ROWS.map((r) => r.factory))].sort(), Object.keys(errors).sort());
    assert.deepEqual([...new Set(ROWS.map((r) => r.code))].sort(), Object.keys(ERROR_CODES).sort());
  });

  it('lets two factories share a code only where that is intended', () => {
    const byCode = new Map<string, Set<Factory>>();
    for (const r of ROWS) byCode.set(r.code, (byCode.get(r.code) ?? new Set()).add(r.factory));
    const shared = Object.fromEntries([...byCode].filter(([, fs]) => fs.size > 1).map(([code, fs]) => [code, [...fs].sort()]));
    assert.deepEqual(shared, SHARED_CODES);
  });

  it('answers a status it has no code for as unknown', () => {
    assert.equal(errors.fromStatus(406, 'Not Acceptable'), undefined);
    assert.equal(errors.fromStatus(414, 'URI Too Long'), undefined);
  });

  it('is the only place an AppError is built', () => {
    const root = fileURLToPath(new URL('../../src/', import.meta.url));
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (/\.ts$/.test(entry.name) && path.relative(root, full) !== path.join('domain', 'errors.ts')) {
          if (/new\s+AppError\s*\(/.test(readFileSync(full, 'utf8'))) offenders.push(path.relative(root, full));
        }
      }
    };
    walk(root);
    assert.deepEqual(offenders, [], 'build errors with a factory of src/domain/errors.ts');
  });

  it('is listed in full in docs/design/errors.md', () => {
    const doc = readFileSync(ERRORS_DOC, 'utf8');
    assert.equal(doc, withCurrentTable(doc), 'the code table is stale: run `node --import tsx scripts/error-codes.ts`');
    for (const code of Object.keys(ERROR_CODES)) assert.ok(doc.includes(`| \`${code}\` |`), `${code} is not in the note`);
  });
});
