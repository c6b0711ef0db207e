// The .info file: the go command rewrites any byte form but its own, so we serve exactly
// what encoding/json produces for {Version, Time}.
import { GoModError } from './errors.js';

/** RFC 3339 in UTC with fractional seconds only when non-zero, trailing zeros trimmed. */
function goTime(t: Date | string): string {
  if (typeof t === 'string') {
    const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(t);
    if (!m) throw new GoModError('info-time', `invalid time ${JSON.stringify(t)}`);
    if (m[3] === 'Z') {
      const frac = (m[2] ?? '').replace(/0+$/, '');
      return m[1] + (frac === '.' ? '' : frac) + 'Z';
    }
    const d = new Date(t);
    if (Number.isNaN(d.getTime())) throw new GoModError('info-time', `invalid time ${JSON.stringify(t)}`);
    const frac = (m[2] ?? '').replace(/0+$/, '');
    return d.toISOString().slice(0, 19) + (frac === '.' ? '' : frac) + 'Z';
  }
  if (Number.isNaN(t.getTime())) throw new GoModError('info-time', 'invalid time');
  const iso = t.toISOString();
  const ms = iso.slice(19, 23).replace(/\.?0+$/, '');
  return iso.slice(0, 19) + ms + 'Z';
}

export function canonicalInfo(version: string, time: Date | string): Buffer {
  return Buffer.from(`{"Version":${JSON.stringify(version)},"Time":${JSON.stringify(goTime(time))}}`);
}

export function parseInfo(bytes: Buffer): { Version: string; Time: string } {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new GoModError('info-json', `not JSON: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object') throw new GoModError('info-json', 'not a JSON object');
  const o = v as Record<string, unknown>;
  if (typeof o.Version !== 'string' || !o.Version) throw new GoModError('info-json', 'no Version');
  if (o.Time !== undefined && typeof o.Time !== 'string') throw new GoModError('info-json', 'Time is not a string');
  const Time = (o.Time as string | undefined) ?? '';
  if (Time) goTime(Time);
  return { Version: o.Version, Time };
}
