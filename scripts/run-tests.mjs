#!/usr/bin/env node
// Runs every test file under test/ with node's test runner (via tsx). Node 20 does not find
// .ts test files by itself, so they are listed here explicitly. Extra arguments are passed
// through (e.g. `node scripts/run-tests.mjs test/transport/frames.test.ts`). test/hosts (root,
// network namespaces; `npm run test:hosts`) runs only when named.
//
// A file gets 6 minutes on an idle machine (the steady-rate test, the slowest, takes 150-210 s),
// times the machine-speed factor of test/helpers/slowdown.ts (SUBNET_P2P_TEST_SLOWDOWN); it only
// guards against a hang, and each suite has a shorter bound of its own. The runner ends a file
// past it with SIGTERM: test/helpers/leftovers.ts then kills the file's child processes and
// removes its temporary folders.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tsImport } from 'tsx/esm/api';

const { slow } = await tsImport('../test/helpers/slowdown.ts', import.meta.url);
const FILE_TIMEOUT_MS = slow(360_000);

function find(dir) {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (path === join('test', 'hosts')) return [];
      if (statSync(path).isDirectory()) return find(path);
      return name.endsWith('.test.ts') ? [path] : [];
    })
    .sort();
}

/**
 * The longest files (idle 2 cores: 190 s, 37 s, 28 s), started first: the runner takes files in
 * order, two at a time, and the steady-rate test started halfway through the list ended the
 * whole run a minute after everything else (337 s; the work over two lanes needs about 280 s).
 */
const LONGEST_FIRST = [
  join('test', 'daemon', 'steady-rate-retention.test.ts'),
  join('test', 'adversarial', 'flood-share.test.ts'),
  join('test', 'package', 'installed-package.test.ts'),
];

function longestFirst(paths) {
  const first = LONGEST_FIRST.filter((p) => paths.includes(p));
  return [...first, ...paths.filter((p) => !first.includes(p))];
}

const args = process.argv.slice(2);
const files = args.some((a) => a.endsWith('.ts')) ? [] : longestFirst(find('test'));
if (files.length === 0 && args.length === 0) {
  console.error('no test files found under test/');
  process.exit(1);
}
const runner = spawn(
  process.execPath,
  [
    ...['--import', 'tsx', '--test', '--test-concurrency=2'],
    `--test-timeout=${FILE_TIMEOUT_MS}`,
    ...args,
    ...files,
  ],
  { stdio: 'inherit' },
);
// Ended from outside (a CI limit, Ctrl-C), this script passes the signal on to the test runner,
// which ends its test files (and they their children: test/helpers/leftovers.ts).
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(signal, () => runner.kill(signal));
}
runner.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
