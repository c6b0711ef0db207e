// How much of a module's file the go command reads when it loads packages (Go 1.19).
//
// Its module index reads every Go, C and assembly file of a module from the top to the end of
// the import block (build constraints, package clause, imports) through a 4 KiB buffered
// reader: one or two pages of most files. The compiler, assembler and cgo then read the files
// of the packages they build whole: never _test.go files (go test and go vet aside), nor
// files named for another platform (_windows.go, _arm64.s). Other files are read whole or not
// at all (go:embed).
import { GoModError } from './errors.js';

/** File kinds whose heads the package loader reads (go/build's source kinds). */
const SOURCE = new Set(['.go', '.c', '.cc', '.cpp', '.cxx', '.h', '.hh', '.hpp', '.hxx', '.s', '.S', '.sx', '.m', '.f', '.F', '.for', '.f90', '.swig', '.swigcxx']);

/** go/build's known GOOS and GOARCH values (Go 1.19 syslist.go): only these name a platform in a file name. */
const KNOWN_OS = new Set('aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris windows zos'.split(' '));
const KNOWN_ARCH = new Set(
  '386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm'.split(' '),
);

/** Bytes of a source file's head worth having at hand: what the module index reads of 9 files in 10. */
export const SOURCE_HEAD = 8192;

export interface Platform {
  goos: string;
  goarch: string;
}

/** A "GOOS/GOARCH" pair of known names (as `go tool dist list` prints them). */
export function parsePlatform(s: string): Platform {
  const [goos, goarch, more] = s.split('/');
  if (more !== undefined || !KNOWN_OS.has(goos) || !KNOWN_ARCH.has(goarch ?? '')) {
    throw new GoModError('platform-invalid', `${JSON.stringify(s)} is not GOOS/GOARCH (such as linux/amd64)`);
  }
  return { goos, goarch };
}

function osMatches(name: string, goos: string): boolean {
  return name === goos || (goos === 'android' && name === 'linux') || (goos === 'illumos' && name === 'solaris') || (goos === 'ios' && name === 'darwin');
}

/**
 * Whether a file's name lets it be built for `p` (go/build goodOSArchFile): _GOOS, _GOARCH or
 * _GOOS_GOARCH before the extension (and before _test) restrict it; the part before the first
 * underscore never does.
 */
export function nameBuildsFor(name: string, p: Platform): boolean {
  const dot = name.indexOf('.');
  const stem = dot >= 0 ? name.slice(0, dot) : name;
  const under = stem.indexOf('_');
  if (under < 0) return true;
  const l = stem.slice(under).split('_');
  if (l.at(-1) === 'test') l.pop();
  const n = l.length;
  if (n >= 2 && KNOWN_OS.has(l[n - 2]) && KNOWN_ARCH.has(l[n - 1])) return osMatches(l[n - 2], p.goos) && l[n - 1] === p.goarch;
  if (n >= 1 && KNOWN_OS.has(l[n - 1])) return osMatches(l[n - 1], p.goos);
  if (n >= 1 && KNOWN_ARCH.has(l[n - 1])) return l[n - 1] === p.goarch;
  return true;
}

/**
 * How many bytes from the start of file `name` (its last path element) of `size` bytes are
 * worth having in memory before the go command asks: all of a file it may build, or of any
 * other file, up to `wholeMax`; only the head of a test file, of a source file named for
 * another platform than `platform` (when known), or of a larger source file; none of a larger
 * other file.
 */
export function readAheadBytes(name: string, size: number, wholeMax: number, platform?: Platform): number {
  const dot = name.lastIndexOf('.');
  const source = dot > 0 && SOURCE.has(name.slice(dot));
  if (source && (size > wholeMax || name.endsWith('_test.go') || (platform && !nameBuildsFor(name, platform)))) {
    return Math.min(size, SOURCE_HEAD);
  }
  return size <= wholeMax ? size : 0;
}
