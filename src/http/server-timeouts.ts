/**
 * How long a client may hold a connection without making progress (`WHARF_*_TIMEOUT`, docs/configuration.md).
 *
 * - headers: the whole header block must arrive within `headersTimeout` (a client trickling header bytes, the
 *   classic slowloris, is answered 408 and closed);
 * - the whole request, body included, within `requestTimeout`: the ceiling for an upload, sized from the largest
 *   upload and the slowest link to be served (500 MB in the default hour needs about 140 KB/s);
 * - no bytes moving for `idleTimeout` while a request is still arriving or a response is being sent closes the
 *   connection: a stalled upload or a client that stopped reading a download. A request whose body has arrived
 *   and whose answer is still being prepared (a big publish being stored) is never cut for being quiet;
 * - an idle keep-alive connection between requests is closed after `keepAliveTimeout` (above the usual 60 s of
 *   load balancers, so that they close first and never reuse a connection Wharf is closing).
 */
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config/config.js';

type Timeouts = Pick<Config, 'headersTimeoutSeconds' | 'requestTimeoutSeconds' | 'idleTimeoutSeconds' | 'keepAliveTimeoutSeconds'>;

/** Options for `createServer`: Node checks the header and request deadlines on this interval. */
export function serverOptions(config: Timeouts): ServerOptions {
  const deadlines = [config.headersTimeoutSeconds, config.requestTimeoutSeconds].filter((s) => s > 0);
  // A quarter of the shortest deadline, so a deadline is enforced within 25 % of its value (Node's default is 30 s).
  const interval = Math.min(30_000, Math.max(250, Math.floor((Math.min(...deadlines) * 1000) / 4)));
  return { connectionsCheckingInterval: interval, headersTimeout: config.headersTimeoutSeconds * 1000, requestTimeout: config.requestTimeoutSeconds * 1000 };
}

interface SocketWithExchange extends Socket {
  parser?: { incoming?: { complete: boolean } | null } | null;
  _httpMessage?: { headersSent: boolean; writableFinished: boolean } | null;
}

export function applyServerTimeouts(server: Server, config: Timeouts): void {
  server.headersTimeout = config.headersTimeoutSeconds * 1000;
  server.requestTimeout = config.requestTimeoutSeconds * 1000;
  server.keepAliveTimeout = config.keepAliveTimeoutSeconds * 1000;
  server.setTimeout(config.idleTimeoutSeconds * 1000);
  // With a listener, Node leaves each inactive socket to us instead of destroying it.
  server.on('timeout', (socket: SocketWithExchange) => {
    const incoming = socket.parser?.incoming;
    const response = socket._httpMessage;
    // Body received, answer not started: the server is working (storing a big upload), not the client stalling.
    if (incoming?.complete === true && response && !response.headersSent) return;
    socket.destroy();
  });
}
