import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runScenario, writeReport } from '../../src/sim/index.ts';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';

describe('sim report', () => {
  it('writes the JSON and three charts as SVG and PNG', async () => {
    const run = runScenario({ scenario: 'steady', seed: 11, nodes: 7, load: 0.1 });
    const dir = await tempDir('sim-report-');
    try {
      const files = await writeReport(run, dir);
      assert.equal(files.length, 7);
      const json = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
      assert.deepEqual(json, run.result);
      for (const [name, label] of [
        ['latency', 'fraction of deliveries'],
        ['progress', 'expected deliveries held'],
        ['lanes', 'MB/s'],
      ]) {
        const svg = readFileSync(join(dir, `${name}.svg`), 'utf8');
        assert.match(svg, /^<svg/);
        assert.ok(svg.includes(label!), `${name}.svg has its axis title`);
        const png = readFileSync(join(dir, `${name}.png`));
        assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
        assert.ok(png.length > 10_000, `${name}.png has content`);
      }
    } finally {
      await removeTempDir(dir);
    }
  });
});
