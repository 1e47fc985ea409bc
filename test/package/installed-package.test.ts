/**
 * The package as a user gets it: `npm pack` of the built tree (dist/, built by `npm test` or
 * `npm run build` first), installed from the tarball into a fresh project with `npm install
 * --offline` (the dependencies come from npm's cache, filled by the clone's own install), then
 * used with plain `node`, no loader: the README's program (two nodes on loopback exchanging an
 * artifact), the installed `subnet-p2p --version` and `keygen`, and a TypeScript consumer
 * type-checked against the shipped declarations.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { removeTempDir, runGroup, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/**
 * Runs `command args` in `cwd` (in a process group of its own, killed with it on timeout or
 * when this process ends); resolves with its stdout, throws with its output if it fails.
 */
async function run(
  command: string,
  args: readonly string[],
  cwd: string,
  timeoutMs = 180_000, // a guard against a hang only: these take seconds
): Promise<string> {
  const r = await runGroup(command, args, { cwd, timeoutMs: slow(timeoutMs) });
  if (r.status !== 0 || r.timedOut) {
    const how = r.timedOut ? 'timed out' : `exit ${r.status}`;
    throw new Error(`${command} ${args.join(' ')} failed (${how}):\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

/**
 * The fresh project's package-lock.json: the tarball, and its dependencies as the clone's own
 * lockfile pins them (its entries that are not dev-only). With it, `npm install --offline` takes
 * every package from npm's cache, where the clone's install put them: no registry is asked.
 */
async function lockfile(spec: string, integrity: string): Promise<unknown> {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { 'subnet-p2p': spec } },
    'node_modules/subnet-p2p': {
      version: pkg.version,
      resolved: spec,
      integrity,
      ...Object.fromEntries(
        ['license', 'dependencies', 'peerDependencies', 'peerDependenciesMeta', 'bin', 'engines']
          .filter((k) => pkg[k] !== undefined)
          .map((k) => [k, pkg[k]]),
      ),
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path !== '' && entry.dev !== true) packages[path] = entry;
  }
  return { name: 'app', lockfileVersion: 3, requires: true, packages };
}

let dir: string;
let project: string;
let packed: { path: string }[];

describe('the installed package', { timeout: slow(600_000) }, () => {
  before(async () => {
    await stat(join(ROOT, 'dist', 'index.js')).catch(() => {
      throw new Error('dist/ is not built: run `npm run build` (npm test does it first)');
    });
    dir = await tempDir('subnet-p2p-package-');
    // --ignore-scripts: dist/ is built already (`prepare` would build it again).
    const [info] = JSON.parse(
      await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT),
    ) as [{ filename: string; integrity: string; files: { path: string }[] }];
    packed = info.files;
    project = join(dir, 'app');
    await mkdir(project);
    const spec = `file:../${info.filename}`;
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({
        name: 'app',
        private: true,
        type: 'module',
        dependencies: { 'subnet-p2p': spec },
      }),
    );
    await writeFile(
      join(project, 'package-lock.json'),
      JSON.stringify(await lockfile(spec, info.integrity)),
    );
    await run(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error'],
      project,
    );
  });

  after(async () => {
    await removeTempDir(dir);
  });

  it('ships the build, the README and the license, and no tests, benchmarks or sources', () => {
    const paths = packed.map((f) => f.path);
    assert.ok(paths.includes('dist/index.js') && paths.includes('dist/index.d.ts'));
    assert.ok(paths.includes('bin/subnet-p2p.js'));
    assert.ok(paths.includes('README.md') && paths.includes('LICENSE'));
    assert.ok(paths.includes('dist/daemon/status-page/index.html'), 'the status page');
    const stray = paths.filter((p) => /^(test|bench|src|scripts|tools|docs)\//.test(p));
    assert.deepEqual(stray, []);
  });

  it('installs without the optional report stack', async () => {
    const installed = await readdir(join(project, 'node_modules'));
    for (const optional of ['vega', 'vega-lite', 'dejavu-fonts-ttf', 'tsx']) {
      assert.ok(!installed.includes(optional), `${optional} installed`);
    }
  });

  it("runs the README's program with plain node: two nodes on loopback, one artifact", async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const program = /<!-- package-test: the program below -->\s*```js\n([\s\S]*?)```/.exec(
      readme,
    )?.[1];
    assert.ok(program !== undefined, 'README.md has no program under its package-test marker');
    await writeFile(join(project, 'app.mjs'), program);
    // After the program, whether a global Reflect polyfill (reflect-metadata) was loaded.
    await writeFile(
      join(project, 'globals.mjs'),
      "process.on('exit', () => console.log('Reflect.getMetadata: ' + typeof Reflect.getMetadata));\n",
    );
    const out = await run(process.execPath, ['--import', './globals.mjs', 'app.mjs'], project);
    assert.equal(out, 'node 2 received: hello, subnet\nReflect.getMetadata: undefined\n');
  });

  it('runs the installed command: --version and keygen', async () => {
    const bin = join(project, 'node_modules', '.bin', 'subnet-p2p');
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    assert.equal((await run(bin, ['--version'], project)).trim(), version);
    const id = (await run(bin, ['keygen', '--out', 'keys'], project)).trim();
    assert.match(id, /^[a-z2-7]{5}(-[a-z2-7]{5})+-[a-z2-7]{3}$/);
    assert.ok((await stat(join(project, 'keys', 'node.crt'))).isFile());
  });

  it('type-checks a TypeScript consumer against the shipped declarations', async () => {
    await copyFile(join(HERE, 'consumer.ts'), join(project, 'consumer.ts'));
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          // Node's types from the clone (the fresh project has no dev dependencies).
          typeRoots: [join(ROOT, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['consumer.ts'],
      }),
    );
    await run(process.execPath, [TSC, '-p', 'tsconfig.json'], project);
  });
});
