/**
 * Wharf's configuration: defaults ← optional YAML file ← `WHARF_*` environment.
 *
 * Every value is validated up front and every problem is reported at once, naming the variable the user has to
 * fix, so a misconfigured deployment fails at start-up rather than on the first request that touches the value.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** Base of every absolute URL Wharf returns, without a trailing slash. */
  readonly externalUrl: string;
  /** `undefined` = SQLite file `<dataDir>/wharf.db`. */
  readonly databaseUrl: string | undefined;
  readonly rootToken: string | undefined;
  readonly rootPassword: string | undefined;
  readonly logLevel: LogLevel;
  /** Trust X-Forwarded-* from a reverse proxy. */
  readonly trustProxy: boolean;
  readonly blobStore: BlobStoreConfig;
  /** Seconds between automatic garbage collections in `serve`; 0 turns them off (run `wharf gc` instead). */
  readonly gcIntervalSeconds: number;
  /** How long a client may take to send a request's headers (slowloris protection). */
  readonly headersTimeoutSeconds: number;
  /** How long a client may take to send a whole request, body included; 0 = no limit. */
  readonly requestTimeoutSeconds: number;
  /** A connection on which nothing moves for this long while a request or response is in transit is closed. */
  readonly idleTimeoutSeconds: number;
  /** How long an idle keep-alive connection is kept open between requests. */
  readonly keepAliveTimeoutSeconds: number;
}

export type BlobStoreConfig =
  | { readonly kind: 'fs' }
  | {
      readonly kind: 's3';
      readonly bucket: string;
      readonly prefix: string;
      readonly endpoint: string | undefined;
      readonly region: string;
      readonly accessKeyId: string | undefined;
      readonly secretAccessKey: string | undefined;
      readonly forcePathStyle: boolean;
      readonly checksums: 'when_required' | 'when_supported';
      /** Answer downloads with a 302 to a pre-signed URL instead of streaming them through Wharf. */
      readonly directDownload: boolean;
      readonly directDownloadExpirySeconds: number;
    };

/** One setting: its env name, its YAML key and how to read it. */
interface Setting {
  readonly env: string;
  readonly key: string;
  readonly parse: (raw: string) => unknown;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

class Invalid extends Error {}

const str = (raw: string): string => raw;
const nonEmpty = (raw: string): string => {
  if (raw.trim() === '') throw new Invalid('must not be empty');
  return raw;
};
const port = (raw: string): number => {
  if (!/^\d+$/.test(raw.trim())) throw new Invalid(`must be an integer between 0 and 65535, got "${raw}"`);
  const n = Number(raw);
  if (n > 65535) throw new Invalid(`must be an integer between 0 and 65535, got "${raw}"`);
  return n;
};
const bool = (raw: string): boolean => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new Invalid(`must be true or false, got "${raw}"`);
};
const httpUrl = (raw: string): string => {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Invalid(`must be an absolute http(s) URL, got "${raw}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Invalid(`must use http or https, got "${raw}"`);
  if (u.search || u.hash) throw new Invalid('must not contain a query or fragment');
  return u.toString().replace(/\/+$/, '');
};
const databaseUrl = (raw: string): string | undefined => {
  if (raw.trim() === '') return undefined;
  if (/^postgres(ql)?:\/\//.test(raw)) {
    try {
      new URL(raw);
    } catch {
      throw new Invalid('is not a valid postgres:// URL');
    }
    return raw;
  }
  if (/^sqlite:/.test(raw)) return raw;
  throw new Invalid('must be a postgres:// (or postgresql://) URL, or sqlite:<path>; leave it unset for the embedded SQLite');
};
const logLevel = (raw: string): LogLevel => {
  const v = raw.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new Invalid(`must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
};
const rootToken = (raw: string): string | undefined => {
  if (raw === '') return undefined;
  if (raw.length < 20) throw new Invalid('must be at least 20 characters long');
  if (!/^[\x21-\x7e]+$/.test(raw)) throw new Invalid('must be printable ASCII without spaces');
  return raw;
};
const rootPassword = (raw: string): string | undefined => {
  if (raw === '') return undefined;
  if (raw.length < 8) throw new Invalid('must be at least 8 characters long');
  return raw;
};

const oneOf =
  (choices: readonly string[]) =>
  (raw: string): string => {
    const v = raw.trim().toLowerCase();
    if (choices.includes(v)) return v;
    throw new Invalid(`must be one of ${choices.join(', ')}, got "${raw}"`);
  };
const s3Prefix = (raw: string): string => {
  const v = raw.replace(/^\/+/, '');
  return v === '' || v.endsWith('/') ? v : `${v}/`;
};
const seconds = (raw: string): number => {
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1 || Number(raw) > 604800) {
    throw new Invalid(`must be a number of seconds between 1 and 604800, got "${raw}"`);
  }
  return Number(raw);
};

const interval = (raw: string): number => {
  if (!/^\d+$/.test(raw.trim())) throw new Invalid(`must be a number of seconds (0 to turn it off), got "${raw}"`);
  return Number(raw);
};

/** A timeout in whole seconds, at least `min` (0 allowed only where it means "no limit"), at most a day. */
const timeout =
  (min: number) =>
  (raw: string): number => {
    const v = raw.trim();
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > 86400) {
      throw new Invalid(`must be a number of seconds between ${min} and 86400${min === 0 ? ' (0 for no limit)' : ''}, got "${raw}"`);
    }
    return Number(v);
  };

const SETTINGS: readonly Setting[] = [
  { env: 'WHARF_HOST', key: 'host', parse: nonEmpty },
  { env: 'WHARF_PORT', key: 'port', parse: port },
  { env: 'WHARF_DATA_DIR', key: 'dataDir', parse: nonEmpty },
  { env: 'WHARF_EXTERNAL_URL', key: 'externalUrl', parse: httpUrl },
  { env: 'WHARF_DATABASE_URL', key: 'databaseUrl', parse: databaseUrl },
  { env: 'WHARF_ROOT_TOKEN', key: 'rootToken', parse: rootToken },
  { env: 'WHARF_ROOT_PASSWORD', key: 'rootPassword', parse: rootPassword },
  { env: 'WHARF_LOG_LEVEL', key: 'logLevel', parse: logLevel },
  { env: 'WHARF_TRUST_PROXY', key: 'trustProxy', parse: bool },
  { env: 'WHARF_BLOB_STORE', key: 'blobStore', parse: oneOf(['fs', 's3']) },
  { env: 'WHARF_S3_BUCKET', key: 's3Bucket', parse: nonEmpty },
  { env: 'WHARF_S3_PREFIX', key: 's3Prefix', parse: s3Prefix },
  { env: 'WHARF_S3_ENDPOINT', key: 's3Endpoint', parse: httpUrl },
  { env: 'WHARF_S3_REGION', key: 's3Region', parse: nonEmpty },
  { env: 'WHARF_S3_ACCESS_KEY_ID', key: 's3AccessKeyId', parse: str },
  { env: 'WHARF_S3_SECRET_ACCESS_KEY', key: 's3SecretAccessKey', parse: str },
  { env: 'WHARF_S3_FORCE_PATH_STYLE', key: 's3ForcePathStyle', parse: bool },
  { env: 'WHARF_S3_CHECKSUMS', key: 's3Checksums', parse: oneOf(['when_required', 'when_supported']) },
  { env: 'WHARF_S3_DIRECT_DOWNLOAD', key: 's3DirectDownload', parse: bool },
  { env: 'WHARF_S3_DIRECT_DOWNLOAD_EXPIRY', key: 's3DirectDownloadExpiry', parse: seconds },
  { env: 'WHARF_GC_INTERVAL', key: 'gcInterval', parse: interval },
  { env: 'WHARF_HEADERS_TIMEOUT', key: 'headersTimeout', parse: timeout(1) },
  { env: 'WHARF_REQUEST_TIMEOUT', key: 'requestTimeout', parse: timeout(0) },
  { env: 'WHARF_IDLE_TIMEOUT', key: 'idleTimeout', parse: timeout(1) },
  { env: 'WHARF_KEEP_ALIVE_TIMEOUT', key: 'keepAliveTimeout', parse: timeout(1) },
];

/** YAML keys may be written camelCase or snake_case (`data_dir`). */
const yamlAliases = (key: string): string[] => [key, key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Path of a YAML config file; falls back to `WHARF_CONFIG`. */
  file?: string | undefined;
  cwd?: string;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const problems: string[] = [];
  const values: Record<string, unknown> = {
    host: '0.0.0.0',
    port: 5080,
    dataDir: './data',
    externalUrl: undefined,
    databaseUrl: undefined,
    rootToken: undefined,
    rootPassword: undefined,
    logLevel: 'info',
    trustProxy: false,
    blobStore: 'fs',
    s3Bucket: undefined,
    s3Prefix: '',
    s3Endpoint: undefined,
    s3Region: 'us-east-1',
    s3AccessKeyId: undefined,
    s3SecretAccessKey: undefined,
    s3ForcePathStyle: false,
    s3Checksums: 'when_required',
    s3DirectDownload: false,
    s3DirectDownloadExpiry: 300,
    gcInterval: 6 * 3600,
    headersTimeout: 30,
    requestTimeout: 3600,
    idleTimeout: 60,
    keepAliveTimeout: 72,
  };

  const file = options.file ?? env.WHARF_CONFIG;
  if (file) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(path.resolve(cwd, file), 'utf8'), { maxAliasCount: 10 });
    } catch (err) {
      problems.push(`config file ${file}: ${(err as Error).message.split('\n')[0]}`);
    }
    if (doc !== undefined && doc !== null) {
      if (typeof doc !== 'object' || Array.isArray(doc)) {
        problems.push(`config file ${file}: must be a YAML mapping`);
      } else {
        const known = new Set(SETTINGS.flatMap((s) => yamlAliases(s.key)));
        for (const k of Object.keys(doc)) {
          if (!known.has(k)) problems.push(`config file ${file}: unknown key "${k}"`);
        }
        for (const s of SETTINGS) {
          for (const alias of yamlAliases(s.key)) {
            const raw = (doc as Record<string, unknown>)[alias];
            if (raw === undefined || raw === null) continue;
            try {
              values[s.key] = s.parse(String(raw));
            } catch (err) {
              if (!(err instanceof Invalid)) throw err;
              problems.push(`${alias} (config file ${file}) ${err.message}`);
            }
          }
        }
      }
    }
  }

  for (const s of SETTINGS) {
    const raw = env[s.env];
    if (raw === undefined) continue;
    try {
      values[s.key] = s.parse(raw);
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      problems.push(`${s.env} ${err.message}`);
    }
  }

  if (values.blobStore === 's3' && !values.s3Bucket) {
    problems.push('WHARF_S3_BUCKET must be set when WHARF_BLOB_STORE is s3');
  }
  if (Boolean(values.s3AccessKeyId) !== Boolean(values.s3SecretAccessKey)) {
    problems.push('WHARF_S3_ACCESS_KEY_ID and WHARF_S3_SECRET_ACCESS_KEY must be set together (or neither, to use the AWS default credential chain)');
  }
  const requestTimeout = values.requestTimeout as number;
  if (requestTimeout !== 0 && (values.headersTimeout as number) > requestTimeout) {
    problems.push('WHARF_HEADERS_TIMEOUT must not be longer than WHARF_REQUEST_TIMEOUT (the headers are part of the request)');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const blobStore: BlobStoreConfig =
    values.blobStore === 's3'
      ? Object.freeze({
          kind: 's3',
          bucket: values.s3Bucket as string,
          prefix: values.s3Prefix as string,
          endpoint: values.s3Endpoint as string | undefined,
          region: values.s3Region as string,
          accessKeyId: (values.s3AccessKeyId as string | undefined) || undefined,
          secretAccessKey: (values.s3SecretAccessKey as string | undefined) || undefined,
          forcePathStyle: values.s3ForcePathStyle as boolean,
          checksums: values.s3Checksums as 'when_required' | 'when_supported',
          directDownload: values.s3DirectDownload as boolean,
          directDownloadExpirySeconds: values.s3DirectDownloadExpiry as number,
        })
      : Object.freeze({ kind: 'fs' });

  const portValue = values.port as number;
  const externalUrl = (values.externalUrl as string | undefined) ?? `http://localhost:${portValue}`;
  return Object.freeze({
    host: values.host as string,
    port: portValue,
    dataDir: path.resolve(cwd, values.dataDir as string),
    externalUrl,
    databaseUrl: values.databaseUrl as string | undefined,
    rootToken: values.rootToken as string | undefined,
    rootPassword: values.rootPassword as string | undefined,
    logLevel: values.logLevel as LogLevel,
    trustProxy: values.trustProxy as boolean,
    blobStore,
    gcIntervalSeconds: values.gcInterval as number,
    headersTimeoutSeconds: values.headersTimeout as number,
    requestTimeoutSeconds: values.requestTimeout as number,
    idleTimeoutSeconds: values.idleTimeout as number,
    keepAliveTimeoutSeconds: values.keepAliveTimeout as number,
  });
}
