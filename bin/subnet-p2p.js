#!/usr/bin/env -S node --initial-heap-size=96
// The flag: the heap floor of a node process (src/util/v8-heap.ts says why; a test keeps the two
// equal).
// The subnet-p2p command: runs the compiled CLI in dist/. In a clone, `npm install` builds dist/
// (the `prepare` script); after changing src/, `npm run build` (or `npm test`) builds it again.
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist')) throw err;
  process.stderr.write('error: subnet-p2p is not built: run `npm run build` in its folder\n');
  process.exit(1);
}
process.exitCode = await cli.main(process.argv);
