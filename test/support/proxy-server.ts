// A real module proxy over HTTP on 127.0.0.1, serving a GOPROXY tree from disk, with
// faults that can be switched on per path: status codes, resets, stalls, truncation.
import http from 'node:http';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

export type Fault = (
  | { status: number }
  | { reset: true }
  | { resetAfterBytes: number }
  | { stallMs: number }
  | { body: Buffer | string; status?: number }
  | { truncateTo: number }
) & { /** the fault clears itself after this many requests */ times?: number };

export type Matcher = string | RegExp | ((path: string) => boolean);

export interface RequestRecord {
  method: string;
  /** decoded URL path, without the query */
  path: string;
  /** the HTTP status sent; 0 when the socket was destroyed before any response */
  status: number;
  /** which fault shaped the response, if any (status, reset, resetAfterBytes, …) */
  fault?: string;
  /** Date.now() when the request arrived */
  time: number;
}

export interface ProxyServerOptions {
  root: string;
  /** when set, every request must carry these Basic credentials or gets 401 */
  auth?: { username: string; password: string };
}

export interface ProxyServer {
  url: string;
  port: number;
  requests: RequestRecord[];
  setFault(match: Matcher, fault: Fault | null): void;
  clearFaults(): void;
  close(): Promise<void>;
}

function matches(m: Matcher, p: string): boolean {
  // A string matches the whole path or its tail, so '/@v/v1.0.0.zip' needs no module prefix.
  if (typeof m === 'string') return p === m || p.endsWith(m);
  if (m instanceof RegExp) return m.test(p);
  return m(p);
}

function faultName(f: Fault): string {
  for (const k of ['reset', 'resetAfterBytes', 'stallMs', 'truncateTo', 'body', 'status']) if (k in f) return k;
  return 'unknown';
}

export async function startProxyServer(opts: ProxyServerOptions): Promise<ProxyServer> {
  const root = path.resolve(opts.root);
  const requests: RequestRecord[] = [];
  let faults: Array<{ match: Matcher; fault: Fault; left: number }> = [];
  const expectedAuth = opts.auth
    ? 'Basic ' + Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')
    : null;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    let urlPath = (req.url ?? '/').split('?')[0];
    try {
      urlPath = decodeURIComponent(urlPath);
    } catch {
      // keep the raw path; it cannot name a file below and gets 404
    }
    // Logged before anything else, so faulted and failed requests are counted too.
    const rec: RequestRecord = { method: req.method ?? 'GET', path: urlPath, status: 0, time: Date.now() };
    requests.push(rec);
    const send = (status: number, body: string | Buffer, type = 'text/plain; charset=utf-8') => {
      rec.status = status;
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };

    if (expectedAuth && req.headers.authorization !== expectedAuth) {
      res.setHeader('www-authenticate', 'Basic realm="modfs-test"');
      return send(401, 'unauthorized\n');
    }
    const f = faults.find((x) => matches(x.match, urlPath));
    if (f && --f.left <= 0) faults = faults.filter((x) => x !== f);
    const fault = f?.fault;
    if (fault) rec.fault = faultName(fault);

    if (fault && 'reset' in fault) {
      req.socket.destroy();
      return;
    }
    if (fault && 'status' in fault && !('body' in fault)) return send(fault.status, `fault ${fault.status}\n`);

    let body: Buffer;
    let status = 200;
    if (fault && 'body' in fault) {
      body = Buffer.isBuffer(fault.body) ? fault.body : Buffer.from(fault.body);
      status = fault.status ?? 200;
    } else {
      const file = path.join(root, urlPath);
      if (!file.startsWith(root + path.sep) || urlPath.includes('\0')) return send(404, 'not found\n');
      try {
        body = await fsp.readFile(file);
      } catch {
        return send(404, 'not found\n');
      }
    }
    const type = urlPath.endsWith('.zip')
      ? 'application/zip'
      : urlPath.endsWith('.info') || urlPath.endsWith('/@latest')
        ? 'application/json'
        : 'text/plain; charset=utf-8';
    if (!fault || 'body' in fault) return send(status, body, type);

    // The remaining faults all announce the full length and then misbehave mid-body.
    rec.status = status;
    res.writeHead(status, { 'content-type': type, 'content-length': body.length });
    if ('resetAfterBytes' in fault) {
      res.write(body.subarray(0, fault.resetAfterBytes), () => req.socket.destroy());
    } else if ('truncateTo' in fault) {
      res.write(body.subarray(0, fault.truncateTo), () => req.socket.end());
    } else if ('stallMs' in fault) {
      const half = Math.floor(body.length / 2);
      res.write(body.subarray(0, half));
      setTimeout(() => {
        if (!res.destroyed) res.end(body.subarray(half));
      }, fault.stallMs).unref();
    } else {
      res.end(body);
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setFault(match, fault) {
      faults = faults.filter((x) => x.match !== match);
      if (fault) faults.push({ match, fault, left: fault.times ?? Infinity });
    },
    clearFaults() {
      faults = [];
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive and stalled connections would otherwise hold close() open.
        server.closeAllConnections();
      });
    },
  };
}
