/**
 * GitLab's offset pagination: `page` and `per_page` (default 20, at most 100) in, and `X-Total`, `X-Total-Pages`,
 * `X-Page`, `X-Per-Page`, `X-Next-Page`, `X-Prev-Page` and a `Link` header (prev, next, first, last) out.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Page } from '../domain/records.js';

/** Keeps `(page - 1) * per_page` a safe integer for the SQL OFFSET; a larger page could never hold a row anyway. */
const MAX_PAGE = Math.floor(Number.MAX_SAFE_INTEGER / 100);

export const PageQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
  per_page: Type.Optional(Type.Integer({ minimum: 1 })),
};

export function pageOf(query: { page?: number | undefined; per_page?: number | undefined }): Page {
  return { page: query.page ?? 1, perPage: Math.min(query.per_page ?? 20, 100) };
}

/** Never echoed into `Link`: a token in the query string must not come back in a response header. */
const CREDENTIAL_PARAMS = new Set(['private_token', 'access_token', 'bearer_token', 'job_token']);

export function setPaginationHeaders(request: FastifyRequest, reply: FastifyReply, externalUrl: string, page: Page, total: number): void {
  const totalPages = Math.max(1, Math.ceil(total / page.perPage));
  // Kaminari: no next or previous page from a page past the end.
  const inRange = page.page <= totalPages;
  const next = inRange && page.page < totalPages ? page.page + 1 : null;
  const prev = inRange && page.page > 1 ? page.page - 1 : null;
  const base = new URL(request.url, 'http://x');
  const kept = [...base.searchParams].filter(([k]) => k !== 'page' && k !== 'per_page' && !CREDENTIAL_PARAMS.has(k));
  const linkTo = (p: number): string => {
    const u = new URL(externalUrl.replace(/\/+$/, '') + base.pathname);
    // Rails' `to_query` orders the parameters by name.
    const params: [string, string][] = [...kept, ['page', String(p)], ['per_page', String(page.perPage)]];
    params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [k, v] of params) u.searchParams.append(k, v);
    return u.toString();
  };
  const links: string[] = [];
  if (prev !== null) links.push(`<${linkTo(prev)}>; rel="prev"`);
  if (next !== null) links.push(`<${linkTo(next)}>; rel="next"`);
  links.push(`<${linkTo(1)}>; rel="first"`, `<${linkTo(totalPages)}>; rel="last"`);
  reply.headers({
    'x-page': String(page.page),
    'x-per-page': String(page.perPage),
    'x-total': String(total),
    'x-total-pages': String(totalPages),
    'x-next-page': next === null ? '' : String(next),
    'x-prev-page': prev === null ? '' : String(prev),
    link: links.join(', '),
  });
}
