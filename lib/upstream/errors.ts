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

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

export class UpstreamError extends Error {
  readonly url?: string;
  constructor(
    readonly kind: UpstreamErrorKind,
    readonly module: string,
    readonly version: string | undefined,
    url: string | undefined,
    cause: string,
    readonly status?: number,
  ) {
    const safe = url ? redactUrl(url) : undefined;
    const what = version ? `${module}@${version}` : module;
    super(`${what}: ${safe ? `GET ${safe}: ` : ''}${cause}`);
    this.name = 'UpstreamError';
    this.url = safe;
  }

  /** 404 and 410: the module or version is not at this proxy. */
  get notFound(): boolean {
    return this.kind === 'not-found' || this.kind === 'gone';
  }

  get retryable(): boolean {
    return this.kind === 'network' || this.kind === 'timeout' || (this.kind === 'http' && (this.status ?? 0) >= 500);
  }
}
