// A Go program that imports packages from many corpus modules: the client workload of the
// end-to-end tests and the benchmarks.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { versionsIn } from './corpus.js';

interface Import {
  module: string;
  pkg: string;
  alias: string;
  use: string;
}

// Module → a package of it, and an expression that uses it (printed by main).
export const CORPUS_IMPORTS: Import[] = [
  { module: 'github.com/BurntSushi/toml', pkg: 'github.com/BurntSushi/toml', alias: 'toml', use: 'func() string { var v struct{ A int }; _, err := toml.Decode("A = 7", &v); if err != nil { panic(err) }; return fmt.Sprint(v.A) }()' },
  { module: 'github.com/Masterminds/semver/v3', pkg: 'github.com/Masterminds/semver/v3', alias: 'semver', use: 'semver.MustParse("1.2.3").String()' },
  { module: 'github.com/snapcore/snapd', pkg: 'github.com/snapcore/snapd/strutil', alias: 'strutil', use: 'fmt.Sprint(strutil.VersionCompare("1.0", "1.1"))' },
  { module: 'github.com/spf13/pflag', pkg: 'github.com/spf13/pflag', alias: 'pflag', use: 'pflag.NewFlagSet("x", pflag.ContinueOnError).Name()' },
  { module: 'github.com/google/uuid', pkg: 'github.com/google/uuid', alias: 'uuid', use: 'uuid.NewSHA1(uuid.NameSpaceURL, []byte("modfs")).String()' },
  { module: 'github.com/pkg/errors', pkg: 'github.com/pkg/errors', alias: 'errors', use: 'errors.New("e").Error()' },
  { module: 'github.com/dustin/go-humanize', pkg: 'github.com/dustin/go-humanize', alias: 'humanize', use: 'humanize.Bytes(2048)' },
  { module: 'github.com/cespare/xxhash/v2', pkg: 'github.com/cespare/xxhash/v2', alias: 'xxhash', use: 'fmt.Sprint(xxhash.Sum64String("modfs"))' },
  { module: 'gopkg.in/yaml.v3', pkg: 'gopkg.in/yaml.v3', alias: 'yaml', use: 'func() string { b, _ := yaml.Marshal(map[string]int{"a": 1}); return string(b) }()' },
  { module: 'github.com/mattn/go-isatty', pkg: 'github.com/mattn/go-isatty', alias: 'isatty', use: 'fmt.Sprint(isatty.IsTerminal(0) || true)' },
  { module: 'golang.org/x/text', pkg: 'golang.org/x/text/cases', alias: 'cases', use: 'cases.Title(language.English).String("modfs")' },
  { module: 'github.com/spf13/cobra', pkg: 'github.com/spf13/cobra', alias: 'cobra', use: '(&cobra.Command{Use: "modfs"}).Name()' },
  { module: 'github.com/sirupsen/logrus', pkg: 'github.com/sirupsen/logrus', alias: 'logrus', use: 'logrus.InfoLevel.String()' },
  { module: 'github.com/google/go-cmp', pkg: 'github.com/google/go-cmp/cmp', alias: 'cmp', use: 'fmt.Sprint(cmp.Equal(1, 1))' },
];

export const FIXTURE_IMPORTS: Import[] = [
  { module: 'example.com/Upper/Case', pkg: 'example.com/Upper/Case', alias: 'upper', use: 'upper.Hello()' },
  { module: 'example.com/unicode', pkg: 'example.com/unicode', alias: 'unicode', use: 'unicode.Hello()' },
  { module: 'example.com/pseudo', pkg: 'example.com/pseudo', alias: 'pseudo', use: 'pseudo.Hello()' },
];

/** Writes go.mod and main.go; requirements at the versions the proxy trees hold. */
export async function writeProgram(dir: string, corpusDir: string, fixturesDir?: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const requires: string[] = [];
  for (const m of CORPUS_IMPORTS) requires.push(`\t${m.module} ${(await versionsIn(corpusDir, m.module)).at(-1)}`);
  const fixtures = fixturesDir ? FIXTURE_IMPORTS : [];
  for (const m of fixtures) requires.push(`\t${m.module} ${(await versionsIn(fixturesDir!, m.module)).at(-1)}`);
  await fsp.writeFile(path.join(dir, 'go.mod'), `module example.org/prog\n\ngo 1.19\n\nrequire (\n${requires.join('\n')}\n)\n`);
  const all = [...CORPUS_IMPORTS, ...fixtures];
  const imports = ['"fmt"', '"golang.org/x/text/language"', ...all.map((m) => `${m.alias} "${m.pkg}"`)];
  await fsp.writeFile(
    path.join(dir, 'main.go'),
    `package main\n\nimport (\n\t${imports.join('\n\t')}\n)\n\nfunc main() {\n${all.map((m) => `\tfmt.Println(${m.use})`).join('\n')}\n\tfmt.Println("modfs-ok")\n}\n`,
  );
}

/** The go command's environment for builds against a module cache. */
export function goEnvFor(work: string, modcache: string, proxy = 'off', gocache = path.join(work, 'gocache')): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: work,
    GOMODCACHE: modcache,
    GOPROXY: proxy,
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    GOSUMDB: 'off',
    GO111MODULE: 'on',
    GOCACHE: gocache,
    GOPATH: path.join(work, 'gopath'),
    CGO_ENABLED: '0',
  };
}
