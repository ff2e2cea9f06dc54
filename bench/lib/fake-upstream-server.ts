/**
 * The proxy scenarios' upstream registry: the tests' fake upstream (test/helpers/fake-upstream.ts, the generated
 * 16-package tree plus `bench-probe`) as a process of its own, so it competes with neither Wharf nor Verdaccio for
 * the load generator's CPU. `node --import tsx bench/lib/fake-upstream-server.ts <port> [latencyMs]`.
 */
import { startFakeUpstream } from '../../test/helpers/fake-upstream.js';
import { PROBE } from './proxy.js';

const [portArg, latencyArg] = process.argv.slice(2);
const up = await startFakeUpstream({ port: Number(portArg), latencyMs: Number(latencyArg ?? 0), extra: [{ name: PROBE, versions: [{ version: '1.0.0' }] }] });
process.stdout.write(`fake upstream ready at ${up.url} (latency ${up.latencyMs} ms)\n`);
const stop = () => void up.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
