#!/usr/bin/env node
// `npm run build` (also run by `prepare`, so `npm install` in a clone builds): compiles src/ into
// dist/ with tsconfig.build.json (ESM JavaScript and declarations) and copies the files that are
// not TypeScript but are needed at run time (the daemon's status page). It builds into a fresh
// folder and then swaps it in: a module deleted from src/ does not linger in dist/, and a process
// that runs dist/ meanwhile (a test's daemon) never sees it half-written.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ASSETS = ['daemon/status-page'];
const dist = join(root, 'dist');
const fresh = join(root, `dist.build-${process.pid}`);
const old = join(root, `dist.old-${process.pid}`);

rmSync(fresh, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(
  process.execPath,
  [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', fresh],
  { stdio: 'inherit' },
);
if (result.status !== 0) {
  rmSync(fresh, { recursive: true, force: true });
  process.exit(result.status ?? 1);
}
for (const asset of ASSETS) {
  cpSync(join(root, 'src', asset), join(fresh, asset), { recursive: true });
}
if (existsSync(dist)) renameSync(dist, old);
renameSync(fresh, dist);
rmSync(old, { recursive: true, force: true });
