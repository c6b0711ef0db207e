// Just enough go.mod parsing to learn which module a file declares.

function unquote(s: string): string | null {
  if (s.startsWith('"')) {
    try {
      const v = JSON.parse(s);
      return typeof v === 'string' ? v : null;
    } catch {
      return null;
    }
  }
  if (s.startsWith('`')) return s.endsWith('`') && s.length >= 2 ? s.slice(1, -1) : null;
  return s;
}

export function moduleLine(content: Buffer | string): string | null {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    const m = /^module\s+(\S.*)$/.exec(line);
    if (!m) continue;
    const arg = m[1].trim();
    if (arg === '(') return null;
    return unquote(arg);
  }
  return null;
}
