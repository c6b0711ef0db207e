// Ref names per module version. Escaped module paths and versions are almost valid ref
// components; what git forbids (`~`, `..`, a component ending in `.lock`, `%` itself) is
// percent-encoded so that every name round-trips.

export type RefKind = 'zip' | 'mod' | 'info';

export const REF_ROOT = 'refs/modfs';

function encodeComponent(c: string): string {
  let s = c.replace(/%/g, '%25').replace(/~/g, '%7E').replace(/\.\./g, '.%2E');
  if (s.endsWith('.lock')) s = s.slice(0, -5) + '%2Elock';
  if (s.startsWith('.')) s = '%2E' + s.slice(1);
  return s;
}

function decodeComponent(c: string): string {
  return decodeURIComponent(c);
}

export function refName(kind: RefKind, escapedModule: string, escapedVersion: string): string {
  const mod = escapedModule.split('/').map(encodeComponent).join('/');
  return `${REF_ROOT}/${kind}/${mod}/@v/${encodeComponent(escapedVersion)}`;
}

export function parseRefName(ref: string): { kind: RefKind; escapedModule: string; escapedVersion: string } | null {
  const m = /^refs\/modfs\/(zip|mod|info)\/(.+)\/@v\/([^/]+)$/.exec(ref);
  if (!m) return null;
  try {
    return {
      kind: m[1] as RefKind,
      escapedModule: m[2].split('/').map(decodeComponent).join('/'),
      escapedVersion: decodeComponent(m[3]),
    };
  } catch {
    return null;
  }
}
