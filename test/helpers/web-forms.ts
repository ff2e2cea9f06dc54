/** What a browser does with the web UI's forms, for integration tests that drive them through `inject()`. */

/** A form body as the browser encodes it; an array value repeats its field. */
export const form = (fields: Record<string, string | string[]>): string => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) p.append(k, one);
  return p.toString();
};

/** The value of cookie `name` among a response's `Set-Cookie` headers. */
export const cookieOf = (setCookie: unknown, name: string): string | undefined => {
  const all = Array.isArray(setCookie) ? setCookie : setCookie ? [String(setCookie)] : [];
  const hit = all.find((c: string) => c.startsWith(`${name}=`));
  return hit ? hit.slice(name.length + 1).split(';')[0] : undefined;
};

/** The value of the hidden input `name` in a page (the CSRF token, for example). */
export const hidden = (page: string, name: string): string | undefined =>
  new RegExp(`name="${name}" value="([^"]+)"`).exec(page)?.[1];
