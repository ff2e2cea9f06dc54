/**
 * Conditional requests: the one `If-None-Match` test of everything that answers 304 (npm packuments and tarballs,
 * Helm indexes, the web UI's assets). Pure, so the Helm index service can make its 304 decision with it too.
 */

/** An entity-tag without its weakness indicator: `W/"x"` → `"x"`. */
const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

/**
 * Whether `If-None-Match` names the current representation, by RFC 9110 §13.1.2's weak comparison (the one it
 * prescribes for `If-None-Match`): `*`, or a comma-separated list holding a tag whose opaque part equals the
 * ETag's, `W/` or not on either side.
 */
export function ifNoneMatchMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const current = opaque(etag);
  for (const part of header.split(',')) {
    const tag = part.trim();
    if (tag === '*' || opaque(tag) === current) return true;
  }
  return false;
}
