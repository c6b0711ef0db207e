// Minimal typings for fuse-native 2.2.6 (it ships none).
declare module 'fuse-native' {
  type Cb = (...args: any[]) => void;
  class Fuse {
    constructor(mnt: string, ops: Record<string, (...args: any[]) => void>, opts?: Record<string, unknown>);
    mnt: string;
    opts: Record<string, unknown>;
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
    _fuseOptions(): string;
    static unmount(mnt: string, cb: Cb): void;
    static isConfigured(cb: Cb): void;
    static ENOENT: number;
    static EIO: number;
    static EROFS: number;
    static EBADF: number;
    static EISDIR: number;
    static ENOTDIR: number;
    static ENOSYS: number;
  }
  export = Fuse;
}
