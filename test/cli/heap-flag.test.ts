// The heap floor of a node process (src/util/v8-heap.ts): the `subnet-p2p` command starts node
// with NODE_V8_FLAGS (its first line), and this node accepts them (an unknown flag would stop
// every node from starting, e.g. after a Node upgrade that drops it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NODE_V8_FLAGS } from '../../src/util/v8-heap.ts';

const BIN = fileURLToPath(new URL('../../bin/subnet-p2p.js', import.meta.url));

test("the command's first line starts node with NODE_V8_FLAGS", () => {
  const first = readFileSync(BIN, 'utf8').split('\n', 1)[0];
  assert.equal(first, `#!/usr/bin/env -S node ${NODE_V8_FLAGS.join(' ')}`);
});

test('this node accepts NODE_V8_FLAGS', () => {
  const r = spawnSync(
    process.execPath,
    [...NODE_V8_FLAGS, '-e', 'console.log(JSON.stringify(process.execArgv))'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(JSON.parse(r.stdout).slice(0, NODE_V8_FLAGS.length), NODE_V8_FLAGS);
});

test('the command runs through its first line (env -S), as an installed command does', () => {
  const r = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
});
