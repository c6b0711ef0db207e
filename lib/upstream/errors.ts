// Errors from the module proxy, naming module, version, URL (credentials removed) and cause.

export type UpstreamErrorKind =
  | 'not-found'
  | 'gone'
  | 'http'
  | 'network'
  | 'timeout'
  | 'too-large'
  | 'off'
  | 'direct-unsupported'
  | 'invalid';

/** The URL without user:password@ — proxy credentials must never reach a message or a log. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/** Removes every spelling of a URL's credentials from free text (causes from the HTTP stack). */
export function scrubCredentials(text: string, url: string | undefined): string {
  if (!url) return text;
  let out = text.split(url).join(redactUrl(url));
  try {
    const u = new URL(url);
    // Short user names are left alone (they would mangle unrelated words); tokens are long.
    const secrets = [u.password, safeDecode(u.password)].filter((s) => s.length >= 4);
    secrets.push(...[u.username, safeDecode(u.username)].filter((s) => s.length >= 8));
    for (const s of secrets) out = out.split(s).join('***');
  } catch {
    // not a URL: nothing more to remove
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export class UpstreamError extends Error {
  readonly kind: UpstreamErrorKind;
  readonly module: string;
  readonly version?: string;
  /** the request URL with credentials removed */
  readonly url?: string;
  /** the HTTP status, for 'not-found', 'gone' and 'http' */
  readonly status?: number;

  constructor(
    kind: UpstreamErrorKind,
    module: string,
    version: string | undefined,
    url: string | undefined,
    cause: string,
    status?: number,
  ) {
    const safe = url ? redactUrl(url) : undefined;
    const what = version ? `${module}@${version}` : module;
    super(`${what}: ${safe ? `GET ${safe}: ` : ''}${scrubCredentials(cause, url)}`);
    this.name = 'UpstreamError';
    this.kind = kind;
    this.module = module;
    this.version = version;
    this.url = safe;
    this.status = status;
  }

  /** 404 and 410: the module or version is not at this proxy. */
  get notFound(): boolean {
    return this.kind === 'not-found' || this.kind === 'gone';
  }

  /** Worth another attempt at the same URL: the network, a timeout or a 5xx; never a 4xx. */
  get retryable(): boolean {
    return this.kind === 'network' || this.kind === 'timeout' || (this.kind === 'http' && (this.status ?? 0) >= 500);
  }
}
