/** Content-Disposition for stored file names: never a broken or altered header, whatever the name holds. */
import assert from 'node:assert/strict';
import { validateHeaderValue } from 'node:http';
import { describe, it } from 'node:test';
import { attachmentDisposition } from '../../src/http/content-disposition.js';

describe('attachmentDisposition', () => {
  it('sends the names Wharf stores as they are', () => {
    assert.equal(attachmentDisposition('mychart-1.2.0.tgz'), 'attachment; filename="mychart-1.2.0.tgz"');
    assert.equal(attachmentDisposition('@acme/widget-1.0.0-rc.1+build.5.tgz'), 'attachment; filename="widget-1.0.0-rc.1+build.5.tgz"');
  });

  it('keeps quotes, backslashes, line breaks, controls and non-ASCII out of the quoted form, and gives the exact name as filename*', () => {
    const cases: Array<[string, string, string]> = [
      ['a"; filename="evil.sh', 'a_; filename=_evil.sh', "a%22%3B%20filename%3D%22evil.sh"],
      ['a\\b', 'a_b', 'a%5Cb'],
      ['a\r\nSet-Cookie: x=1', 'a__Set-Cookie: x=1', 'a%0D%0ASet-Cookie%3A%20x%3D1'],
      ['nul\u0000\u007f\u0085', 'nul___', 'nul%00%7F%C2%85'],
      ['日本.tgz', '__.tgz', '%E6%97%A5%E6%9C%AC.tgz'],
      ["it's (1)*.tgz", "it's (1)*.tgz", ''],
      ['lone\ud800.tgz', 'lone_.tgz', 'lone%EF%BF%BD.tgz'],
    ];
    for (const [name, quoted, ext] of cases) {
      const header = attachmentDisposition(name);
      assert.equal(header, ext ? `attachment; filename="${quoted}"; filename*=UTF-8''${ext}` : `attachment; filename="${quoted}"`, JSON.stringify(name));
      // Node would refuse to send it (a 500) otherwise.
      assert.doesNotThrow(() => validateHeaderValue('content-disposition', header));
      if (ext) assert.equal(decodeURIComponent(ext), name.replace('\ud800', '\ufffd'));
    }
  });
});
