/**
 * Writing files safely: exclusively (never overwrite a key) and atomically (a reader sees the
 * old content or the new, never half a file).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Creates `path` with `data` and `mode`; fails with the `EEXIST` error of `open` if the file
 * exists (O_EXCL, so no race between a check and the write).
 */
export async function writeFileExclusive(path: string, data: string, mode: number): Promise<void> {
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces (or creates) `path` atomically: writes a temporary file in the same directory,
 * flushes it (fsync), then renames it over `path`, and flushes the directory so that the rename
 * survives a crash. A reader sees the old content or the new, never part of one. With
 * `exclusive`, the temporary file is hard-linked to `path` instead, which fails with `EEXIST`
 * if `path` exists.
 */
export async function writeFileAtomic(
  path: string,
  data: string,
  options: { mode?: number; exclusive?: boolean } = {},
): Promise<void> {
  const temp = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  await writeFileExclusive(temp, data, options.mode ?? 0o644);
  try {
    if (options.exclusive) {
      await link(temp, path);
    } else {
      await rename(temp, path);
      await syncDirectory(dirname(path));
      return;
    }
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await unlink(temp);
  await syncDirectory(dirname(path));
}

/**
 * Flushes a directory's entries (a rename or link in it) to disk. Where a directory cannot be
 * opened or flushed (some platforms and file systems refuse: EISDIR, EINVAL, EPERM), it is
 * skipped: the write is atomic all the same, only its durability across a crash is not ensured.
 */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!['EISDIR', 'EINVAL', 'EPERM', 'EACCES'].includes(errnoCode(err) ?? '')) throw err;
  } finally {
    await handle?.close();
  }
}

/** The `code` of a Node.js system error (`ENOENT`, `EEXIST`...), if it has one. */
export function errnoCode(err: unknown): string | undefined {
  return err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
}
