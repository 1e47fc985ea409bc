/**
 * The bearer token of the daemon's local HTTP API. By default the daemon makes a new random
 * token at every start and writes it to `<dataDir>/api-token` (mode 0600, atomically: a
 * temporary file renamed over the old one) before it listens: whoever can read that file (the
 * node's user, root) can use the API, as with bitcoind's cookie file. With `apiTokenFile` the
 * operator manages the token (e.g. one shared with Prometheus) and the daemon only reads it.
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { writeFileAtomic } from '../registry/index.ts';

/** Name of the token file the daemon writes in its `dataDir`. */
export const API_TOKEN_FILE_NAME = 'api-token';

/** Random bytes of a generated token (written as hex: 64 characters). */
export const API_TOKEN_BYTES = 32;

/** Shortest token an `apiTokenFile` may hold, characters. */
export const MIN_API_TOKEN_LENGTH = 16;

/** Largest `apiTokenFile` read, bytes. */
const MAX_TOKEN_FILE_BYTES = 4096;

/** The token in force and the file it is in. */
export interface ApiToken {
  token: string;
  file: string;
}

/**
 * Makes the API token: a new one written to `<dataDir>/api-token`, or the one in `tokenFile`.
 * Throws {@link ConfigError} on `dataDir` when the file cannot be written, on `apiTokenFile`
 * when it cannot be read or holds a token shorter than {@link MIN_API_TOKEN_LENGTH}. Warns when
 * an `apiTokenFile` can be read by other users.
 */
export async function prepareApiToken(
  dataDir: string,
  tokenFile: string | undefined,
  logger: Logger,
): Promise<ApiToken> {
  if (tokenFile === undefined) {
    const file = join(dataDir, API_TOKEN_FILE_NAME);
    const token = randomBytes(API_TOKEN_BYTES).toString('hex');
    try {
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      // 0600 exactly, whatever the umask; fsynced and renamed over the old token.
      await writeFileAtomic(file, `${token}\n`, { mode: 0o600 });
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
      throw new ConfigError('dataDir', `cannot write the API token file ${file} (${code})`, {
        cause,
      });
    }
    return { token, file };
  }
  let text: string;
  try {
    const info = await stat(tokenFile);
    if (info.size > MAX_TOKEN_FILE_BYTES) {
      throw new ConfigError('apiTokenFile', `${tokenFile} is over ${MAX_TOKEN_FILE_BYTES} bytes`);
    }
    if ((info.mode & 0o077) !== 0) {
      logger.warn(
        { file: tokenFile, mode: (info.mode & 0o777).toString(8) },
        'the API token file can be read by other users (chmod 600 it)',
      );
    }
    text = await readFile(tokenFile, 'utf8');
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new ConfigError('apiTokenFile', `cannot read ${tokenFile} (${code})`, { cause });
  }
  const token = text.trim();
  if (token.length < MIN_API_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ConfigError(
      'apiTokenFile',
      `${tokenFile} must hold one token of at least ${MIN_API_TOKEN_LENGTH} characters, no spaces`,
    );
  }
  return { token, file: tokenFile };
}

/**
 * A constant-time check of `Authorization: Bearer <token>` headers against one token: both are
 * hashed (SHA-256) and the digests compared with `timingSafeEqual`, so that neither the
 * content nor the length of the expected token leaks through timing.
 */
export class TokenCheck {
  readonly #digest: Buffer;

  constructor(token: string) {
    this.#digest = createHash('sha256').update(token).digest();
  }

  /** Whether `authorization` (the header's value) carries the token. */
  matches(authorization: string | undefined): boolean {
    if (authorization === undefined) return false;
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (m === null) return false;
    const digest = createHash('sha256').update(m[1]!).digest();
    return timingSafeEqual(digest, this.#digest);
  }
}
