/**
 * The package as a user gets it: `npm pack` of the built tree (dist/, built by `npm test` or
 * `npm run build` first), installed from the tarball into a fresh project with `npm install
 * --offline` (the dependencies come from npm's cache, filled by the clone's own install), then
 * used with plain `node`, no loader: the README's program (two nodes on loopback exchanging an
 * artifact), the installed `subnet-p2p --version` and `keygen`, and a TypeScript consumer
 * type-checked against the shipped declarations.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** Children still running, killed (with their process group) when this process ends. */
const live = new Set<ChildProcess>();
function killLive(): void {
  for (const c of live) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.once('exit', killLive);

/**
 * Runs `command args` in `cwd` (its own process group, killed with it on timeout or when this
 * process ends); resolves with its output, throws with it if it fails.
 */
async function run(
  command: string,
  args: readonly string[],
  cwd: string,
  timeoutMs = 180_000,
): Promise<string> {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  // A guard against a hang only: these take seconds.
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs);
  const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
  clearTimeout(timer);
  live.delete(child);
  if (code !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${code ?? signal}):\n${out}\n${err}`);
  }
  return out;
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

describe('the installed package', { timeout: 600_000 }, () => {
  before(async () => {
    await stat(join(ROOT, 'dist', 'index.js')).catch(() => {
      throw new Error('dist/ is not built: run `npm run build` (npm test does it first)');
    });
    dir = await mkdtemp(join(tmpdir(), 'subnet-p2p-package-'));
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
    killLive();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
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
