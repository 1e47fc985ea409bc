#!/usr/bin/env node
// `npm run build` (also run by `prepare`, so `npm install` in a clone builds): compiles src/ into
// dist/ with tsconfig.build.json (ESM JavaScript, declarations, source maps) and copies the
// files that are not TypeScript but are needed at run time (the daemon's status page). dist/ is
// emptied first, so a module deleted from src/ does not linger in the package.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ASSETS = ['daemon/status-page'];

rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
if (result.status !== 0) process.exit(result.status ?? 1);
for (const asset of ASSETS) {
  cpSync(join(root, 'src', asset), join(root, 'dist', asset), { recursive: true });
}
