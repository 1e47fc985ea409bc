// Entry of a demo worker thread. On Node 20, `--import tsx` in a worker's execArgv does not
// apply to the worker's own entry module, so this plain-JS entry registers tsx in the worker,
// then imports the TypeScript module named by `workerData.entry` (a file URL).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
