/**
 * The CPU-time stage breakdown of bench:compare rounds (bench/compare/perf-stages.ts): perf's
 * sample lines, with and without call graphs, and the stage of each kind of symbol.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countStages, perfSamples, perfStage } from '../../bench/compare/perf-stages.ts';

const DIST = 'file:///work/main/dist';

test('JavaScript functions go to the stage of their URL, marked JS', () => {
  assert.equal(
    perfStage(`JS:*advertise ${DIST}/broadcast/core/adverts.js:65:14`, '/tmp/perf-4401.map'),
    'JS: adverts / slots',
  );
  assert.equal(
    perfStage(`JS:~#takeBatch ${DIST}/transport/send-scheduler.js:285:15`, '/tmp/perf-1.map'),
    'JS: scheduler',
  );
  assert.equal(
    perfStage(`JS:*emit node:events:471:43`, '/tmp/perf-1.map'),
    'JS: other (driver, node internals, the benchmark)',
  );
});

test('native symbols are grouped by what they do', () => {
  const node = '/usr/bin/node';
  assert.equal(perfStage('sha256_block_data_order_shaext', node), 'hashing');
  assert.equal(perfStage('_aesni_ctr32_ghash_6x', node), 'TLS (OpenSSL)');
  assert.equal(
    perfStage('__memmove_avx512_unaligned_erms', '/usr/lib/libc.so.6'),
    'copies (memmove, memset)',
  );
  assert.equal(perfStage('_int_malloc', '/usr/lib/libc.so.6'), 'malloc / free');
  assert.equal(
    perfStage('v8::internal::ConcurrentMarking::RunMajor', node),
    'GC (V8 collector, all threads)',
  );
  assert.equal(
    perfStage('v8::internal::compiler::GraphReducer::ReduceTop', node),
    'JIT compilers, parser',
  );
  assert.equal(
    perfStage('Builtins_LoadIC', node),
    'V8 builtins (ICs, Map/Set, calls, interpreter)',
  );
  assert.equal(
    perfStage('node::StreamBase::CallJSOnreadMethod', node),
    'node and V8 runtime (other)',
  );
  assert.equal(perfStage('clear_page_erms', '[kernel.kallsyms]'), 'kernel: page faults');
  assert.equal(
    perfStage('tcp_sendmsg_locked', '[kernel.kallsyms]'),
    'kernel: TCP, system calls, scheduling',
  );
  // A kernel symbol never matches a user-space rule (memcpy in the kernel is the kernel's).
  assert.equal(
    perfStage('memcpy_orig', '[kernel.kallsyms]'),
    'kernel: TCP, system calls, scheduling',
  );
  assert.equal(perfStage('[unknown]', '[JIT] tid 4401'), 'JS: unnamed JIT code');
});

test('samples are read with and without call graphs, and only the round’s processes count', () => {
  const flat = [
    ' 4401      7f0c5c643a46 sha256_block_data_order_shaext (/usr/bin/node)',
    ' 4402  ffffffff815fa6bb clear_page_erms ([kernel.kallsyms])',
    ' 9999           1bd4395 _int_malloc (/usr/lib/x86_64-linux-gnu/libc.so.6)',
  ];
  const graph = [
    ' 4401 ',
    '\t         194d1f3 sha256_block_data_order_shaext (/usr/bin/node)',
    '',
    ' 4402 ',
    '\t  ffffffff815fa6bb clear_page_erms ([kernel.kallsyms])',
    '',
  ];
  assert.deepEqual(
    [...perfSamples(graph)].map((s) => s.pid),
    [4401, 4402],
  );
  for (const lines of [flat, graph]) {
    assert.deepEqual(
      countStages(lines, new Set([4401, 4402])),
      new Map([
        ['hashing', 1],
        ['kernel: page faults', 1],
      ]),
    );
  }
});
