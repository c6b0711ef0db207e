// Serves a GOPROXY tree over HTTP on 127.0.0.1 until killed; prints the URL on stdout.
import { startProxyServer } from '../test/support/proxy-server.js';

const root = process.argv[2];
if (!root) {
  process.stderr.write('usage: serve-proxy <proxy-tree-dir>\n');
  process.exit(2);
}
const server = await startProxyServer({ root });
process.stdout.write(`${server.url}\n`);
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
