/**
 * GitLab's offset pagination: `page` and `per_page` (default 20, at most 100) in, and `X-Total`, `X-Total-Pages`,
 * `X-Page`, `X-Per-Page`, `X-Next-Page`, `X-Prev-Page` and a `Link` header (prev, next, first, last) out.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Page } from '../storage/db/repositories/types.js';

export const PageQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1 })),
  per_page: Type.Optional(Type.Integer({ minimum: 1 })),
};

export function pageOf(query: { page?: number | undefined; per_page?: number | undefined }): Page {
  return { page: query.page ?? 1, perPage: Math.min(query.per_page ?? 20, 100) };
}

export function setPaginationHeaders(request: FastifyRequest, reply: FastifyReply, externalUrl: string, page: Page, total: number): void {
  const totalPages = Math.max(1, Math.ceil(total / page.perPage));
  const next = page.page < totalPages ? page.page + 1 : null;
  const prev = page.page > 1 ? Math.min(page.page - 1, totalPages) : null;
  const base = new URL(request.url, 'http://x');
  const linkTo = (p: number): string => {
    const u = new URL(externalUrl + base.pathname);
    for (const [k, v] of base.searchParams) if (k !== 'page' && k !== 'per_page') u.searchParams.append(k, v);
    u.searchParams.set('page', String(p));
    u.searchParams.set('per_page', String(page.perPage));
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
