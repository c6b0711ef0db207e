// GETs of small bodies (.mod, .info, list, @latest) straight on node:http(s).
//
// A module graph load asks for two of these per module, one after another, while the go
// command waits on the mount; got spends 0.4-1.1 ms of CPU on each (options, hooks, stream
// wrapping), node:http 0.15-0.3 ms. Zips, where that cost is nothing beside the body, stay
// on got. What got did here is done here too: keep-alive (Node's global agents), Basic auth
// from the URL's user:password, redirects (credentials dropped when they leave the origin),
// one deadline for the whole request, a cap on the body, and a short body is an error.
import http from 'node:http';
import https from 'node:https';
import { redactUrl } from './errors.js';

export interface SmallResponse {
  status: number;
  statusText: string;
  /** the body of a 200; empty for any other status (not read) */
  body: Buffer;
  /** ms from the start to the final response's headers */
  headersMs: number;
}

export interface SmallGetOptions {
  timeoutMs: number;
  /** a 200 body over this many bytes fails with TooLargeError */
  max: number;
  userAgent: string;
}

export class TooLargeError extends Error {}

const MAX_REDIRECTS = 10;
const REDIRECT = new Set([301, 302, 303, 307, 308]);

export function smallGet(url: string, opts: SmallGetOptions): Promise<SmallResponse> {
  const started = Date.now();
  let current: http.ClientRequest | null = null;
  let timedOut: Error | null = null;
  return new Promise<SmallResponse>((resolve, reject) => {
    const timer = setTimeout(() => {
      timedOut = Object.assign(new Error(`timed out after ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' });
      current?.destroy(timedOut);
    }, opts.timeoutMs);
    const done = (err: Error | null, r?: SmallResponse) => {
      clearTimeout(timer);
      // Whatever destroying the request raised, the cause was the deadline.
      if (err) reject(timedOut ?? err);
      else resolve(r!);
    };
    const first = new URL(url);
    const auth = first.username || first.password
      ? 'Basic ' + Buffer.from(`${decodeURIComponent(first.username)}:${decodeURIComponent(first.password)}`).toString('base64')
      : null;
    const attempt = (target: URL, hops: number): void => {
      if (timedOut) return;
      const headers: http.OutgoingHttpHeaders = { 'user-agent': opts.userAgent, accept: '*/*' };
      if (auth && target.origin === first.origin) headers.authorization = auth;
      const get = target.protocol === 'https:' ? https.get : target.protocol === 'http:' ? http.get : null;
      if (!get) return done(new Error(`redirected to an unsupported URL scheme (${target.protocol})`));
      const req = get(redactUrl(target.href), { headers }, (res) => {
        const status = res.statusCode ?? 0;
        if (REDIRECT.has(status) && res.headers.location) {
          res.resume();
          if (hops >= MAX_REDIRECTS) return done(new Error(`more than ${MAX_REDIRECTS} redirects`));
          let next: URL;
          try {
            next = new URL(res.headers.location, target);
          } catch {
            return done(new Error(`redirected to an invalid URL`));
          }
          return attempt(next, hops + 1);
        }
        const headersMs = Date.now() - started;
        if (status !== 200) {
          res.resume();
          return done(null, { status, statusText: res.statusMessage ?? '', body: Buffer.alloc(0), headersMs });
        }
        const len = Number(res.headers['content-length']);
        if (Number.isFinite(len) && len > opts.max) {
          req.destroy();
          return done(new TooLargeError());
        }
        const chunks: Buffer[] = [];
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > opts.max) {
            req.destroy();
            return done(new TooLargeError());
          }
          chunks.push(chunk);
        });
        res.on('error', (e) => done(e));
        res.on('end', () => {
          if (!res.complete) return done(new Error('the connection closed before the whole body arrived'));
          done(null, { status, statusText: res.statusMessage ?? '', body: Buffer.concat(chunks, received), headersMs });
        });
      });
      current = req;
      req.on('error', (e) => done(e));
    };
    attempt(first, 0);
  });
}
