/**
 * The install-relevant part of a version document, derived from the tarball's own `package.json` rather than
 * taken from the publish body ("manifest confusion": the two can disagree, and npm installs the tarball while
 * resolving from the registry's document). Pure; the tarball reader supplies the facts.
 *
 * The values are what `npm publish` itself would send for that `package.json` (the `@npmcli/package-json`
 * prepare steps that matter for installs): `bin` as an object with safe paths, `directories.bin` expanded,
 * `bundleDependencies` as a list, scripts cleaned and the implied `node-gyp rebuild` install script added. Fields
 * npm leaves alone are copied as they are: installers normalise a registry document and an installed
 * `package.json` with the same code, so a verbatim copy means the same thing in both places.
 */
import { posix } from 'node:path';
import { errors } from '../errors.js';

type Json = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What the tarball says about itself. */
export interface TarballFacts {
  /** `<top>/package.json` of the tarball, parsed: the one npm installs (the reader refuses any other). */
  readonly manifest: Json;
  /** A `*.gyp` file at the package root (npm then adds `scripts.install = "node-gyp rebuild"` when publishing). */
  readonly hasGypFile: boolean;
  /** `server.js` at the package root (npm then adds `scripts.start = "node server.js"`). */
  readonly hasServerJs: boolean;
  /** `npm-shrinkwrap.json` at the package root: npm installs the dependency tree it pins. */
  readonly hasShrinkwrap: boolean;
  /** The regular files, relative to the package root (for `directories.bin`). */
  readonly files: readonly string[];
}

/**
 * Every field of a version document that changes what an installer fetches, links or runs. All of them are
 * replaced by the tarball's values; a field the tarball's `package.json` lacks is removed from the document.
 */
export const INSTALL_FIELDS = [
  'dependencies',
  'devDependencies',
  'optionalDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'acceptDependencies',
  'bundleDependencies',
  'bundledDependencies',
  'scripts',
  'gypfile',
  'bin',
  'man',
  'directories',
  'engines',
  'os',
  'cpu',
  'libc',
  'hasInstallScript',
  '_hasShrinkwrap',
] as const;

/** Maps of package name → range; npm cannot install from any other shape, so one is refused rather than guessed. */
const DEPENDENCY_MAPS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'acceptDependencies', 'peerDependenciesMeta'];
const COPIED = ['directories', 'engines', 'os', 'cpu', 'libc', 'man'];
/** The lifecycle scripts npm runs when a package is installed as a dependency (what `hasInstallScript` means). */
export const INSTALL_SCRIPT_KEYS = ['preinstall', 'install', 'postinstall'];

const SCRIPT_PATH_PREFIX = /^(\.[/\\])?node_modules[/\\].bin[\\/]/;

/** npm's `secureAndUnixifyPath`: backslashes and colons become `/`, the path is kept inside the package. */
function securePath(ref: string): string {
  const unixify = (s: string) => s.replace(/\\|:/g, '/');
  const secured = unixify(posix.join('.', posix.join('/', unixify(ref))));
  return secured.startsWith('./') ? '' : secured;
}

/**
 * The `scripts` npm would send for this `package.json` (`@npmcli/package-json` prepare steps `gypfile`,
 * `serverjs`, `scriptpath`): the implied install and start scripts added, non-string entries dropped,
 * `node_modules/.bin/` prefixes removed. Undefined when there are none.
 */
export function scriptsAsNpmSendsThem(manifest: Json, facts: Pick<TarballFacts, 'hasGypFile' | 'hasServerJs'>): Json | undefined {
  const raw: Json = isPlainObject(manifest.scripts) ? { ...manifest.scripts } : {};
  // npm tests the raw entries (truthiness) before it cleans them; so does this.
  if (facts.hasGypFile && manifest.gypfile !== false && !raw.install && !raw.preinstall) raw.install = 'node-gyp rebuild';
  if (facts.hasServerJs && !raw.start) raw.start = 'node server.js';
  const scripts: Json = {};
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') scripts[k] = v.replace(SCRIPT_PATH_PREFIX, '');
  return Object.keys(scripts).length > 0 || isPlainObject(manifest.scripts) ? scripts : undefined;
}

/** npm's `normalizePackageBin`: a string or list becomes an object; unsafe names and targets are dropped. */
function binAsNpmSendsIt(bin: unknown, name: unknown): Json | undefined {
  let map: Json;
  if (typeof bin === 'string' && typeof name === 'string' && name !== '' && bin !== '') map = { [name]: bin };
  else if (Array.isArray(bin)) map = Object.fromEntries(bin.filter((b): b is string => typeof b === 'string').map((b) => [posix.basename(b), b]));
  else if (isPlainObject(bin)) map = bin;
  else return undefined;
  const out: Json = {};
  for (const [key, target] of Object.entries(map)) {
    if (typeof target !== 'string') continue;
    const base = posix.basename(securePath(key));
    const safeTarget = securePath(target);
    if (base && safeTarget) out[base] = safeTarget;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * npm's `binDir` step: without `bin`, everything below `directories.bin` (files, and directories too, as npm's
 * glob lists them) becomes a command named after its base name; dot-files and dot-directories are skipped.
 */
function binFromDirectory(directory: string, files: readonly string[]): Json | undefined {
  const dir = securePath(directory).replace(/\/+$/, '');
  if (!dir) return undefined;
  const prefix = `${dir}/`;
  const out: Json = {};
  for (const file of files) {
    if (!file.startsWith(prefix)) continue;
    const segments = file.slice(prefix.length).split('/');
    if (segments.some((s) => s === '' || s.startsWith('.'))) continue;
    for (let depth = 1; depth <= segments.length; depth++) {
      const below = segments.slice(0, depth);
      out[below[below.length - 1]!] = `${prefix}${below.join('/')}`;
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** npm's `bundledDependencies` and `bundleDependencies` steps: one spelling, and a list. */
function bundleAsNpmSendsIt(manifest: Json): unknown[] | undefined {
  const bd = manifest.bundleDependencies !== undefined ? manifest.bundleDependencies : manifest.bundledDependencies;
  if (bd === true) return Object.keys(isPlainObject(manifest.dependencies) ? manifest.dependencies : {});
  if (Array.isArray(bd)) return bd;
  if (isPlainObject(bd)) return Object.keys(bd);
  return undefined;
}

/**
 * The install-relevant fields of the tarball's `package.json`, as npm would publish them. A dependency field
 * that is not an object is refused: npm would rewrite a string or list on publish by rules of its own, and a
 * registry that guessed differently would resolve other packages than the tarball names.
 */
export function installFieldsOf(facts: TarballFacts): Json {
  const m = facts.manifest;
  const out: Json = {};
  for (const field of DEPENDENCY_MAPS) {
    const value = m[field];
    if (value === undefined || value === null) continue;
    if (!isPlainObject(value)) throw errors.npmPackageFileInvalid(`Invalid package file: "${field}" in the tarball's package.json must be an object.`);
    out[field] = value;
  }
  for (const field of COPIED) if (m[field] !== undefined && m[field] !== null) out[field] = m[field];

  const bundle = bundleAsNpmSendsIt(m);
  if (bundle !== undefined) out.bundleDependencies = bundle;

  const scripts = scriptsAsNpmSendsThem(m, facts);
  if (scripts !== undefined) out.scripts = scripts;
  if (m.gypfile !== undefined) out.gypfile = m.gypfile;
  const rawScripts = isPlainObject(m.scripts) ? m.scripts : {};
  if (facts.hasGypFile && m.gypfile !== false && !rawScripts.install && !rawScripts.preinstall) out.gypfile = true;

  const directories = isPlainObject(m.directories) ? m.directories : {};
  const bin =
    !m.bin && typeof directories.bin === 'string' && directories.bin !== '' ? binFromDirectory(directories.bin, facts.files) : binAsNpmSendsIt(m.bin, m.name);
  if (bin !== undefined) out.bin = bin;

  if (scripts && INSTALL_SCRIPT_KEYS.some((k) => typeof scripts[k] === 'string')) out.hasInstallScript = true;
  if (facts.hasShrinkwrap) out._hasShrinkwrap = true;
  return out;
}
