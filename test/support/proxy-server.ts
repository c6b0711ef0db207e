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
) & { times?: number };

type Matcher = string | RegExp | ((p: string) => boolean);

export interface RequestRecord {
  method: string;
  path: string;
  status: number | 'reset' | 'stalled';
  time: number;
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
  if (typeof m === 'string') return p === m || p.endsWith(m);
  if (m instanceof RegExp) return m.test(p);
  return m(p);
}

export async function startProxyServer(opts: { root: string }): Promise<ProxyServer> {
  const root = path.resolve(opts.root);
  const requests: RequestRecord[] = [];
  let faults: Array<{ match: Matcher; fault: Fault; left: number }> = [];

  const server = http.createServer(async (req, res) => {
    const urlPath = decodeURIComponent((req.url ?? '/').split('?')[0]);
    const rec: RequestRecord = { method: req.method ?? 'GET', path: urlPath, status: 0, time: Date.now() };
    requests.push(rec);
    const f = faults.find((x) => matches(x.match, urlPath));
    if (f && --f.left <= 0) faults = faults.filter((x) => x !== f);
    const fault = f?.fault;

    if (fault && 'reset' in fault) {
      rec.status = 'reset';
      req.socket.destroy();
      return;
    }
    if (fault && 'status' in fault && !('body' in fault)) {
      rec.status = fault.status;
      res.writeHead(fault.status, { 'content-type': 'text/plain' });
      res.end(`fault ${fault.status}\n`);
      return;
    }
    let body: Buffer;
    if (fault && 'body' in fault) {
      body = Buffer.isBuffer(fault.body) ? fault.body : Buffer.from(fault.body);
    } else {
      const file = path.join(root, urlPath);
      if (!file.startsWith(root + path.sep) || urlPath.includes('..')) {
        rec.status = 404;
        res.writeHead(404).end('not found\n');
        return;
      }
      try {
        body = await fsp.readFile(file);
      } catch {
        rec.status = 404;
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
        return;
      }
    }
    const status = fault && 'body' in fault ? (fault.status ?? 200) : 200;
    rec.status = status;
    const type = urlPath.endsWith('.zip') ? 'application/zip' : urlPath.endsWith('.info') ? 'application/json' : 'text/plain; charset=utf-8';
    res.writeHead(status, { 'content-type': type, 'content-length': body.length });
    if (fault && 'resetAfterBytes' in fault) {
      res.write(body.subarray(0, fault.resetAfterBytes), () => req.socket.destroy());
      rec.status = 'reset';
      return;
    }
    if (fault && 'truncateTo' in fault) {
      res.write(body.subarray(0, fault.truncateTo), () => req.socket.end());
      return;
    }
    if (fault && 'stallMs' in fault) {
      rec.status = 'stalled';
      res.write(body.subarray(0, Math.floor(body.length / 2)));
      setTimeout(() => {
        if (!res.destroyed) res.end(body.subarray(Math.floor(body.length / 2)));
      }, fault.stallMs).unref();
      return;
    }
    res.end(body);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
        server.closeAllConnections();
      });
    },
  };
}
