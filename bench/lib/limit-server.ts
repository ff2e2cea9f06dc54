/**
 * The "limit": a bare node:http server answering the same bytes as Wharf with no logic at all: one map lookup per
 * request. Run as its own process: `node --import tsx bench/lib/limit-server.ts <port> <responses.json>`.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

interface Canned {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const [portArg, file] = process.argv.slice(2);
const table = JSON.parse(readFileSync(file!, 'utf8')) as Record<string, Canned>;
const responses = new Map(Object.entries(table).map(([k, v]) => [k, { ...v, bytes: Buffer.from(v.body, 'base64') }]));

createServer((req, res) => {
  if (req.url === '/-/limit-ready') {
    res.writeHead(200).end();
    return;
  }
  const hit = responses.get(req.url ?? '');
  if (!hit) {
    res.writeHead(404).end();
    return;
  }
  if (hit.headers.etag && req.headers['if-none-match'] === hit.headers.etag) {
    res.writeHead(304, { etag: hit.headers.etag ?? '' }).end();
    return;
  }
  res.writeHead(hit.status, { ...hit.headers, 'content-length': hit.bytes.length });
  res.end(hit.bytes);
}).listen(Number(portArg), '127.0.0.1', () => process.stdout.write('limit server ready\n'));
