/** A module-resolution hook for a child process, to see or refuse what an entry point loads. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Writes `hook` (the source of a module exporting `resolve(specifier, context, next)`) and a
 * module that registers it into `dir`; returns the file URL to pass to the child as
 * `--import <url>`.
 */
export function writeModuleHook(dir: string, hook: string): string {
  writeFileSync(join(dir, 'hook.mjs'), hook);
  const register = join(dir, 'register-hook.mjs');
  writeFileSync(
    register,
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)});\n`,
  );
  return pathToFileURL(register).href;
}
