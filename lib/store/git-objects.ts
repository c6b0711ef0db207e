// Git object encoding, pure: the store writes its objects itself (packs, or loose) so that ingest
// never starts a process per file.
import { createHash } from 'node:crypto';
import { sortByUtf8 } from '../util/utf8-order.js';

export type ObjectType = 'blob' | 'tree';

export interface TreeEntry {
  name: string;
  /** '100644' for files, '40000' for directories */
  mode: '100644' | '40000';
  id: string;
}

export function objectBytes(type: ObjectType, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
}

export function objectId(type: ObjectType, content: Buffer): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
}

// Git orders tree entries by name bytes, comparing a directory as if its name ended in '/'.
function sortKey(e: TreeEntry): string {
  return e.mode === '40000' ? e.name + '/' : e.name;
}

export function encodeTree(entries: TreeEntry[]): Buffer {
  const sorted = sortByUtf8(entries.map((e) => ({ e, key: sortKey(e) })), (k) => k.key).map((k) => k.e);
  const parts: Buffer[] = [];
  for (const e of sorted) {
    parts.push(Buffer.from(`${e.mode} ${e.name}\0`, 'utf8'), Buffer.from(e.id, 'hex'));
  }
  return Buffer.concat(parts);
}

export function decodeTree(data: Buffer): TreeEntry[] {
  const out: TreeEntry[] = [];
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    const nul = data.indexOf(0, sp);
    if (sp < 0 || nul < 0 || nul + 21 > data.length) throw new Error('corrupt tree object');
    const mode = data.toString('latin1', i, sp);
    out.push({
      mode: mode === '40000' ? '40000' : '100644',
      name: data.toString('utf8', sp + 1, nul),
      id: data.toString('hex', nul + 1, nul + 21),
    });
    i = nul + 21;
  }
  return out;
}

/** Nested directory structure built from flat file paths, written bottom-up. */
export interface DirNode {
  files: Map<string, string>; // name -> blob id
  dirs: Map<string, DirNode>;
}

export function buildDirTree(files: Array<{ path: string; id: string }>): DirNode {
  const root: DirNode = { files: new Map(), dirs: new Map() };
  for (const f of files) {
    const parts = f.path.split('/');
    let node = root;
    for (const p of parts.slice(0, -1)) {
      let next = node.dirs.get(p);
      if (!next) {
        next = { files: new Map(), dirs: new Map() };
        node.dirs.set(p, next);
      }
      node = next;
    }
    node.files.set(parts[parts.length - 1], f.id);
  }
  return root;
}

/** Encodes every tree of a DirNode, children first; calls emit for each and returns the root id. */
export function encodeDirTree(node: DirNode, emit: (id: string, content: Buffer) => void): string {
  const entries: TreeEntry[] = [];
  for (const [name, child] of node.dirs) entries.push({ name, mode: '40000', id: encodeDirTree(child, emit) });
  for (const [name, id] of node.files) entries.push({ name, mode: '100644', id });
  const content = encodeTree(entries);
  const id = objectId('tree', content);
  emit(id, content);
  return id;
}
