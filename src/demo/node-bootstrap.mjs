// Entry of a demo node, in a worker thread or a child process (plain JS: nothing loads
// TypeScript yet). It registers tsx, resolved from this package whatever the working directory,
// then imports the TypeScript module to run (a file URL): `workerData.entry` in a worker thread,
// the first argument in a child process. On Node 20, `--import tsx` in a worker's execArgv does
// not apply to the worker's own entry module; a child started with `--import tsx` would resolve
// tsx from its working directory.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData?.entry ?? process.argv[2]);
