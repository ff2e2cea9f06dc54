/**
 * `Content-Disposition: attachment` for a stored file name, built so that no file name can change the header's
 * meaning or break the response. The names Wharf stores today (`<name>-<version>.tgz`) are already restricted by
 * the npm and Helm naming rules; this is the one place that does not rely on that.
 *
 * RFC 6266: `filename="…"` is a quoted-string, so `"` and `\` would end or escape it, and Node refuses (with a 500)
 * any header holding a control character or a character above U+00FF. So the quoted form keeps printable ASCII
 * only, `_` standing for anything else; a name that needed that also goes out exactly as `filename*=UTF-8''…`
 * (RFC 8187), which clients prefer when present.
 */

/** RFC 8187 `attr-char`s stay as they are; every other UTF-8 byte is percent-encoded. */
const encodeExtValue = (s: string): string =>
  encodeURIComponent(s.replace(/\p{Cs}/gu, '\ufffd')).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function attachmentDisposition(fileName: string): string {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  const quoted = base.replace(/[^\x20-\x7e]|["\\]/g, '_');
  if (quoted === base) return `attachment; filename="${base}"`;
  return `attachment; filename="${quoted}"; filename*=UTF-8''${encodeExtValue(base)}`;
}
