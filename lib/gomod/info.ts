// The .info file. The go command re-marshals every .info it reads and rewrites the file when
// the bytes differ (modfetch.readDiskStat), which fails on a read-only mount, so modfs serves
// exactly what encoding/json produces for RevInfo{Version, Time} with the time in UTC.
import { GoModError } from './errors.js';

const HEX = '0123456789abcdef';

/** encoding/json's string encoding (Go 1.19): HTML-safe, \u00XX for other control characters. */
export function goJSONString(s: string): string {
  let out = '"';
  for (const c of s) {
    const cp = c.codePointAt(0)!;
    if (c === '"' || c === '\\') out += '\\' + c;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (cp < 0x20 || c === '<' || c === '>' || c === '&') out += '\\u00' + HEX[cp >> 4] + HEX[cp & 15];
    else if (cp === 0x2028 || cp === 0x2029) out += '\\u202' + HEX[cp & 15];
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd'; // lone surrogate: Go's invalid UTF-8 replacement
    else out += c;
  }
  return out + '"';
}

/** A UTC instant with nanosecond precision: whole seconds as a Date, plus nanoseconds. */
interface Instant {
  seconds: Date;
  nanos: number;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

function utcDate(year: number, month: number, day: number, hour: number, min: number, sec: number): Date {
  const d = new Date(Date.UTC(2000, month - 1, day, hour, min, sec));
  d.setUTCFullYear(year, month - 1, day); // Date.UTC would map years 0-99 to 1900-1999
  return d;
}

// time.Parse(time.RFC3339, s) as Go 1.19 accepts it: fractional seconds of any length after a
// '.' or ',' (digits past the ninth ignored), "Z" or a ±hh:mm offset, no leap second.
const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

function parseRFC3339(s: string): Instant | null {
  const m = RFC3339_RE.exec(s);
  if (!m) return null;
  const [year, month, day, hour, min, sec] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || hour > 23 || min > 59 || sec > 59) return null;
  if (day < 1 || day > (month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1])) return null;
  const nanos = Number((m[7] ?? '').slice(0, 9).padEnd(9, '0'));
  let seconds = utcDate(year, month, day, hour, min, sec);
  if (!m[8]) {
    const offset = (Number(m[10]) * 60 + Number(m[11])) * 60_000;
    seconds = new Date(seconds.getTime() - (m[9] === '-' ? -offset : offset));
  }
  return { seconds, nanos };
}

function toInstant(t: Date | string): Instant {
  if (typeof t === 'string') {
    const i = parseRFC3339(t);
    if (!i) throw new GoModError('info-time', `invalid time ${JSON.stringify(t)}: not RFC 3339`);
    return i;
  }
  const ms = t.getTime();
  if (Number.isNaN(ms)) throw new GoModError('info-time', 'invalid time: invalid Date');
  const rem = ((ms % 1000) + 1000) % 1000;
  return { seconds: new Date(ms - rem), nanos: rem * 1e6 };
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/** Time.MarshalJSON's text for a UTC time: RFC3339Nano, so a fraction only when non-zero, trailing zeros trimmed. */
export function formatGoTime(t: Date | string): string {
  const { seconds: d, nanos } = toInstant(t);
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) throw new GoModError('info-time', `invalid time: year ${year} outside of range [0,9999]`);
  const frac = nanos === 0 ? '' : '.' + pad(nanos, 9).replace(/0+$/, '');
  return (
    `${pad(year, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}` +
    `T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}${frac}Z`
  );
}

/** The exact .info bytes the go command keeps: {"Version":"…","Time":"…"} without a newline. */
export function canonicalInfo(version: string, time: Date | string): Buffer {
  return Buffer.from(`{"Version":${goJSONString(version)},"Time":${goJSONString(formatGoTime(time))}}`);
}

// encoding/json matches object keys to struct fields case-insensitively (with Unicode simple
// folding, under which U+017F long s is an 's'); the last matching key wins.
const fieldKey = (k: string): string => k.replace(/\u017f/g, 's').replace(/[A-Z]/g, (c) => c.toLowerCase());

/**
 * Reads an .info file as json.Unmarshal into RevInfo would, and additionally requires a
 * non-empty Version. Time comes back in canonical UTC form (formatGoTime), or '' when the
 * file has none (Go's zero time, which marshals as "0001-01-01T00:00:00Z").
 */
export function parseInfo(bytes: Buffer): { Version: string; Time: string } {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new GoModError('info-json', `not JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new GoModError('info-json', 'not a JSON object');
  let version: unknown = null;
  let time: unknown = null;
  for (const [k, val] of Object.entries(v)) {
    const f = fieldKey(k);
    if (f === 'version') version = val;
    else if (f === 'time') time = val;
  }
  if (version !== null && typeof version !== 'string') throw new GoModError('info-json', 'Version is not a string');
  if (!version) throw new GoModError('info-json', 'no Version');
  if (time === null) return { Version: version, Time: '' };
  if (typeof time !== 'string') throw new GoModError('info-json', 'Time is not a string');
  if (!parseRFC3339(time)) throw new GoModError('info-time', `Time ${JSON.stringify(time)} is not RFC 3339`);
  return { Version: version, Time: formatGoTime(time) };
}
