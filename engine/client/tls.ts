// TLS / mTLS towards a remote Temporal frontend: the server's root CA, this client's certificate and
// key, and an optional server name override, from EVOQUANT_TEMPORAL_TLS_* (or the CLI's --tls-*
// flags, which set those). Every file is read and parsed up front, so a wrong path is one line
// naming the variable or flag, not a handshake error deep inside the SDK.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { z } from 'zod';
import { EngineRequestError } from './errors.js';

export type TlsField = 'ca' | 'cert' | 'key' | 'serverName';
export type TlsLabels = Readonly<Record<TlsField, string>>;

export const TLS_ENV: TlsLabels = {
  ca: 'EVOQUANT_TEMPORAL_TLS_CA',
  cert: 'EVOQUANT_TEMPORAL_TLS_CERT',
  key: 'EVOQUANT_TEMPORAL_TLS_KEY',
  serverName: 'EVOQUANT_TEMPORAL_TLS_SERVER_NAME',
};

export const TLS_FLAGS: TlsLabels = {
  ca: '--tls-ca',
  cert: '--tls-cert',
  key: '--tls-key',
  serverName: '--tls-server-name',
};

const FIELDS: readonly TlsField[] = ['ca', 'cert', 'key', 'serverName'];

/** A PEM file is a few KiB; anything far larger is not one. */
const MAX_PEM_BYTES = 1 << 20;

const filePath = z
  .string()
  .min(1, 'empty path')
  .max(4096, 'path longer than 4096 characters')
  .refine((p) => !p.includes('\0'), 'path contains a NUL byte');

/** A DNS name as TLS checks it against the certificate (no IP literals with ports, no wildcards). */
const serverName = z
  .string()
  .min(1, 'empty server name')
  .max(253, 'server name longer than 253 characters')
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, 'not a DNS host name');

export const TlsSettings = z.strictObject({
  ca: filePath.optional(),
  cert: filePath.optional(),
  key: filePath.optional(),
  serverName: serverName.optional(),
});
export type TlsSettings = z.infer<typeof TlsSettings>;

/** Echo a user value in an error line: no control characters, bounded length. */
function shown(value: string): string {
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 117)}...` : clean;
}

function fail(label: string, message: string): never {
  throw new EngineRequestError(`${label}: ${message}`);
}

function readPem(file: string, label: string): Buffer {
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) fail(label, `${shown(file)} is not a regular file`);
    size = stat.size;
  } catch (err) {
    if (err instanceof EngineRequestError) throw err;
    fail(label, `cannot read ${shown(file)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (size > MAX_PEM_BYTES) fail(label, `${shown(file)} is ${size} bytes, more than a PEM file (limit ${MAX_PEM_BYTES})`);
  try {
    return readFileSync(file);
  } catch (err) {
    fail(label, `cannot read ${shown(file)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function checkCertificate(pem: Buffer, file: string, label: string): void {
  try {
    new X509Certificate(pem);
  } catch {
    fail(label, `${shown(file)} is not a PEM certificate`);
  }
}

function checkPrivateKey(pem: Buffer, file: string, label: string): void {
  try {
    createPrivateKey(pem);
  } catch {
    fail(label, `${shown(file)} is not a PEM private key (or it is encrypted)`);
  }
}

/**
 * The SDK's TLS options for `settings`, or null when none is set (plain gRPC). Labels name the
 * fields in errors: environment variables or flags.
 */
export function loadTemporalTls(input: unknown, labels: TlsLabels = TLS_ENV): TLSConfig | null {
  const parsed = TlsSettings.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path[0];
    const label = typeof field === 'string' && (FIELDS as readonly string[]).includes(field) ? labels[field as TlsField] : 'TLS settings';
    fail(label, issue?.message ?? 'invalid');
  }
  const s = parsed.data;
  if (FIELDS.every((f) => s[f] === undefined)) return null;
  if ((s.cert === undefined) !== (s.key === undefined)) {
    fail(s.cert === undefined ? labels.cert : labels.key, `required with ${s.cert === undefined ? labels.key : labels.cert} (a client certificate needs its key)`);
  }
  const tls: TLSConfig = {};
  if (s.ca !== undefined) {
    const ca = readPem(s.ca, labels.ca);
    checkCertificate(ca, s.ca, labels.ca);
    tls.serverRootCACertificate = ca;
  }
  if (s.cert !== undefined && s.key !== undefined) {
    const crt = readPem(s.cert, labels.cert);
    checkCertificate(crt, s.cert, labels.cert);
    const key = readPem(s.key, labels.key);
    checkPrivateKey(key, s.key, labels.key);
    tls.clientCertPair = { crt, key };
  }
  if (s.serverName !== undefined) tls.serverNameOverride = s.serverName;
  return tls;
}

/** The settings EVOQUANT_TEMPORAL_TLS_* hold (unset and empty variables are absent). */
export function tlsSettingsFromEnv(env: NodeJS.ProcessEnv): TlsSettings {
  const settings: Partial<Record<TlsField, string>> = {};
  for (const field of FIELDS) {
    const value = env[TLS_ENV[field]];
    if (value !== undefined && value !== '') settings[field] = value;
  }
  return settings;
}

/** TLS from the environment, or null. Throws EngineRequestError (exit 2) naming the variable. */
export function temporalTlsFromEnv(env: NodeJS.ProcessEnv = process.env): TLSConfig | null {
  return loadTemporalTls(tlsSettingsFromEnv(env), TLS_ENV);
}
