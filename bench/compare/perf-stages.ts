/**
 * Where the CPU of a bench:compare round goes, from `perf` samples: the CPU-time counterpart of
 * profile-stages.ts.
 *
 * The inspector profiles of `bench:compare --profile` sample wall time. With 13 busy processes
 * on 2 cores, a process waiting for a core is charged to the frame it was in when it lost it,
 * and the kernel takes a core away most often inside system calls and page faults: socket
 * writes, and copies into fresh memory, come out several times larger than they are (the 1 MiB
 * round's reassembly copy: 44 % of the inspector's samples, 0.8-1.1 CPU ms per MiB measured
 * around the copy, against 7-11 ms of wall time). perf's cpu-clock samples count only time on a
 * core, in every thread (GC helpers included) and in the kernel.
 *
 * perf names JavaScript functions from the map files node writes with --perf-basic-prof
 * (`JS:*name file:///...:line:col`); those go to the stage profile-stages.ts gives their URL,
 * marked "JS:". Native symbols are grouped by what they do (OpenSSL, SHA-256, memmove, malloc,
 * V8's collector and compilers, V8's builtins, the kernel).
 */
import { frameStage } from './profile-stages.ts';

/** A native or kernel symbol's stage; JavaScript goes by URL (see perfStage). */
const NATIVE_RULES: [RegExp, string][] = [
  [
    /clear_page|page_fault|do_anonymous_page|handle_mm_fault|__handle_mm_fault/,
    'kernel: page faults',
  ],
  [/sha256|sha512|blake2/i, 'hashing'],
  [
    /aesni|ghash|gcm_|chacha|poly1305|\bssl|SSL_|EVP_|ossl_|OPENSSL_|tls1_|node::crypto::|BIO_/,
    'TLS (OpenSSL)',
  ],
  [/memmove|memcpy|memset/, 'copies (memmove, memset)'],
  [
    /malloc|\bfree\b|cfree|_int_free|unlink_chunk|operator new|operator delete|consolidate/,
    'malloc / free',
  ],
  [
    /Marking|Scaveng|Sweep|MarkCompact|Evacuat|RememberedSet|SlotSet|MemoryChunk|IteratePointers|SizeFromMap|GCTracer|Heap::|ArrayBufferSweeper|MinorMC|Compactor/,
    'GC (V8 collector, all threads)',
  ],
  [
    /compiler::|Compile|Parser|Scanner|Maglev|Turbofan|CalculateLineEnds|SourcePosition|BytecodeGenerator|Deoptimiz/,
    'JIT compilers, parser',
  ],
  [/^Builtins?_|^Builtin:|^BytecodeHandler/, 'V8 builtins (ICs, Map/Set, calls, interpreter)'],
];

/** The stage of one perf sample's symbol in its DSO. */
export function perfStage(symbol: string, dso: string): string {
  const js = /^(?:JS|LazyCompile|Function):[*~^+]?(\S*) (\S+?)(?::\d+:\d+)?$/.exec(symbol);
  if (js) {
    const stage = frameStage({ functionName: js[1]!, url: js[2]! });
    return `JS: ${stage ?? 'other (driver, node internals, the benchmark)'}`;
  }
  const kernel = dso.startsWith('[kernel');
  for (const [re, stage] of NATIVE_RULES) {
    if (kernel && !stage.startsWith('kernel')) continue;
    if (re.test(symbol)) return stage;
  }
  if (kernel) return 'kernel: TCP, system calls, scheduling';
  if (dso.startsWith('[JIT]') || /perf-\d+\.map/.test(dso)) return 'JS: unnamed JIT code';
  if (/\/node$/.test(dso)) return 'node and V8 runtime (other)';
  return `other (${dso.split('/').at(-1) ?? dso})`;
}

/** One sample of `perf script -F pid,ip,sym,dso`: its process, and its symbol and DSO. */
export interface PerfSample {
  pid: number;
  symbol: string;
  dso: string;
}

/**
 * The samples of `perf script -F pid,ip,sym,dso` output: one line per sample (`pid ip sym
 * (dso)`), or, for a recording with call graphs (`perf record -g`, printed with
 * `--max-stack=1`), the pid on a line of its own and the innermost frame on the next.
 */
export function* perfSamples(lines: Iterable<string>): Generator<PerfSample> {
  let pending: number | undefined;
  for (const line of lines) {
    const whole = /^\s*(\d+)\s+[0-9a-f]+\s+(.*?)\s+\(([^()]*)\)\s*$/.exec(line);
    if (whole) {
      pending = undefined;
      yield { pid: Number(whole[1]), symbol: whole[2]!, dso: whole[3]! };
      continue;
    }
    const pidOnly = /^\s*(\d+)\s*$/.exec(line);
    if (pidOnly) {
      pending = Number(pidOnly[1]);
      continue;
    }
    const frame = /^\s+[0-9a-f]+\s+(.*?)\s+\(([^()]*)\)\s*$/.exec(line);
    if (frame && pending !== undefined) {
      yield { pid: pending, symbol: frame[1]!, dso: frame[2]! };
      pending = undefined;
    }
  }
}

/** Samples per stage of those whose pid is in `pids`. */
export function countStages(
  lines: Iterable<string>,
  pids: ReadonlySet<number>,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of perfSamples(lines)) {
    if (!pids.has(s.pid)) continue;
    const stage = perfStage(s.symbol, s.dso);
    out.set(stage, (out.get(stage) ?? 0) + 1);
  }
  return out;
}
