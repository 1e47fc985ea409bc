/**
 * src/broadcast has no import cycle: each module can be read, and tested, without the ones that
 * use it (a cycle of type imports counts too). Read with the TypeScript parser.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importCycles } from '../helpers/import-graph.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

describe('no import cycle', () => {
  it('in src/broadcast', () => {
    const cycles = importCycles(sources(join(ROOT, 'src/broadcast')));
    assert.deepEqual(
      cycles.map((c) => c.map((f) => relative(ROOT, f))),
      [],
    );
  });

  it('would find one (two modules that import each other)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'import-cycle-'));
    try {
      writeFileSync(join(dir, 'a.ts'), "import type { B } from './b.ts';\nexport type A = B;\n");
      writeFileSync(join(dir, 'b.ts'), "import { c } from './c.ts';\nexport type B = typeof c;\n");
      writeFileSync(
        join(dir, 'c.ts'),
        "import type { A } from './a.ts';\nexport const c: A | 1 = 1;\n",
      );
      writeFileSync(join(dir, 'd.ts'), "import { c } from './c.ts';\nexport const d = c;\n");
      const files = ['a.ts', 'b.ts', 'c.ts', 'd.ts'].map((f) => join(dir, f));
      assert.deepEqual(importCycles(files), [files.slice(0, 3)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
