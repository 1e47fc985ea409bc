// The reader of test/cli/registry-sign-in-one-step.test.ts, in a worker thread so that it reads
// while the test's main thread writes: it reads the registry file in a tight loop until the
// shared stop flag is set, verifies each read against the operator's public key, and reports
// what it saw. Plain JS: it registers tsx, then loads the library.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { parseRegistry } = await import('../../src/registry/index.ts');

const { file, publicKey, stop } = workerData;
const stopFlag = new Int32Array(stop);
let reads = 0;
let last = -1;
const versions = [];
const failures = [];
parentPort.postMessage({ ready: true });
/** One read, verified against the operator's key. */
function check() {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    failures.push(`unreadable: ${err.code ?? err.message}`);
    return;
  }
  reads++;
  try {
    const registry = parseRegistry(text, { operatorPublicKey: publicKey });
    if (registry.version < last) failures.push(`version ${registry.version} after ${last}`);
    if (registry.version !== last) versions.push(registry.version);
    last = registry.version;
  } catch (err) {
    failures.push(`${err.code}: ${err.message} (${text.length} bytes read)`);
  }
}

while (Atomics.load(stopFlag, 0) === 0) check();
// Once more after the writer stopped: the last version is always among those seen.
check();
parentPort.postMessage({
  reads,
  versions,
  failures: failures.slice(0, 5),
  failed: failures.length,
});
