/**
 * The bodies of Helm uploads, as the upload service reads them: the file parts of a `multipart/form-data` body
 * (what `helm cm-push` and `curl --form chart=@x.tgz` send), or a raw body taken as one part (ChartMuseum's
 * `curl --data-binary @x.tgz` and `POST /api/prov`). Parts stream; nothing is buffered here.
 */
import { finished, PassThrough, Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { errors, isAppError } from '../../../domain/errors.js';
import type { OpenParts, UploadPart } from '../../../services/helm/upload.service.js';

/**
 * Inside the Helm plugin only: multipart parts are handed over as streams, and any other body (whatever its
 * content type, curl's default `application/x-www-form-urlencoded` included) reaches the handler unread.
 */
export async function registerHelmBodyParsers(app: FastifyInstance): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  // The plugin's own defaults are replaced per request with the instance's `helm_max_file_size`.
  await app.register(multipart, { throwFileSizeLimit: true });
}

const TOO_LARGE = () => errors.helmFileTooLarge();

/** Multipart failures in the transport, answered as the 400s they are. */
function uploadError(err: unknown): Error {
  if (isAppError(err)) return err;
  const code = (err as { code?: string } | null)?.code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return TOO_LARGE();
  if (code === 'FST_PARTS_LIMIT' || code === 'FST_FILES_LIMIT' || code === 'FST_FIELDS_LIMIT') {
    return errors.helmMultipartInvalid('Too many parts in the multipart body');
  }
  const message = err instanceof Error ? err.message : String(err);
  return errors.helmMultipartInvalid(`The multipart body is malformed (${message})`);
}

/**
 * The part's bytes through a pass-through that turns transport errors into 400s and a part cut at the size limit
 * into "File is too large", so the service never mistakes a truncated archive for a complete one.
 *
 * Busboy may have failed the part before the service gets to it (a truncated body is parsed in one go), so the
 * outcome is taken from `finished`, which also reports a stream that errored earlier, and the pass-through keeps a
 * listener of its own: whoever reads it later learns of the failure from its errored state.
 */
function guarded(source: Readable & { truncated?: boolean }): Readable {
  const out = new PassThrough();
  out.on('error', () => undefined);
  finished(source, { writable: false }, (err) => {
    if (err) out.destroy(uploadError(err));
  });
  // Registered before `pipe`, so it runs before the pass-through is ended.
  source.on('end', () => {
    if (source.truncated) out.destroy(TOO_LARGE());
  });
  out.on('close', () => {
    // The consumer gave up (a refused upload): keep the multipart parser moving past this part.
    if (!source.readableEnded && !source.destroyed) source.resume();
  });
  source.pipe(out);
  return out;
}

/** `rawField` names the single part a non-multipart body stands for. */
export function openUploadParts(request: FastifyRequest, rawField: string): OpenParts {
  return (limits) =>
    (async function* (): AsyncGenerator<UploadPart> {
      if (!request.isMultipart()) {
        const body = request.body;
        if (body instanceof Readable) yield { field: rawField, stream: guarded(body) };
        return;
      }
      // One byte more than the limit reaches the service, which then refuses with GitLab's message.
      const parts = request.parts({ limits: { fileSize: limits.maxFileBytes + 1, files: 8, fields: 16, parts: 24, fieldSize: 64 * 1024 } });
      try {
        for await (const part of parts) {
          // Only file parts count, as in GitLab (`chart` is a file parameter); plain fields are skipped.
          if (part.type === 'file') yield { field: part.fieldname, stream: guarded(part.file) };
        }
      } catch (err) {
        throw uploadError(err);
      }
    })();
}
