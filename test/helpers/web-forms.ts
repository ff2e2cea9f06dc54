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

/**
 * Signs `login` in through the sign-in form, as a browser does (CSRF cookie, then the form), and returns the
 * session cookie to send with later requests (`_wharf_session=…`).
 */
export async function signInCookie(
  app: { inject(opts: { method: string; url: string; payload?: string; headers?: Record<string, string> }): Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }> },
  login: string,
  password: string,
): Promise<string> {
  const page = await app.inject({ method: 'GET', url: '/users/sign_in' });
  const csrf = cookieOf(page.headers['set-cookie'], '_wharf_csrf');
  if (!csrf) throw new Error('the sign-in page set no CSRF cookie');
  const r = await app.inject({
    method: 'POST',
    url: '/users/sign_in',
    payload: form({ authenticity_token: csrf, login, password }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `_wharf_csrf=${csrf}` },
  });
  const session = cookieOf(r.headers['set-cookie'], '_wharf_session');
  if (r.statusCode !== 303 || !session) throw new Error(`sign in ${login}: ${r.statusCode} ${r.body}`);
  return `_wharf_session=${session}`;
}
