// Runs a kitalloc test module under Node and exits with its result.
//
//   node wasm-tests/run.mjs freestanding <module.wasm> [export]   (export: kit_core_smoke)
//   node wasm-tests/run.mjs wasi         <module.wasm> [args...]
//   node wasm-tests/run.mjs emscripten   <module.js>   [args...]
//
// Prints one line, `<name> [<flavour>]: ok` or `<name> [<flavour>]: FAILED ...`, and exits with
// the module's result (0 = ok; a nonzero result never maps to exit code 0).

// Must run before any wasm is compiled: Node 20's WASI crashes after the program ends once
// memory has grown past ~64 MB unless fast API calls are off (nodejs/node#46777, #53087).
import v8 from 'node:v8';
v8.setFlagsFromString('--no-turbo-fast-api-calls');

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { instantiateFreestanding } from './host.mjs';

const [flavour, file, ...rest] = process.argv.slice(2);
const usage = 'usage: node run.mjs <freestanding|wasi|emscripten> <module.wasm|module.js> [export|args...]';
if (!flavour || !file) {
  console.error(usage);
  process.exit(2);
}
const name = path.basename(file).replace(/\.(wasm|js|mjs)$/, '');
const tag = `${name} [${flavour}]`;

function exitCode(result) {
  if (result === 0) return 0;
  const code = Number(result) & 0xff;
  return code === 0 ? 1 : code;
}

function finish(result, detail) {
  if (result === 0) {
    console.log(`${tag}: ok`);
  } else {
    console.log(`${tag}: FAILED ${detail ?? `at step ${result}`}`);
  }
  process.exit(exitCode(result));
}

function crashed(err) {
  console.log(`${tag}: FAILED (${err?.name ?? 'error'}: ${err?.message ?? err})`);
  process.exit(1);
}

async function runFreestanding() {
  const exportName = rest[0] ?? 'kit_core_smoke';
  const instance = await instantiateFreestanding(file);
  const fn = instance.exports[exportName];
  if (typeof fn !== 'function') {
    const names = Object.keys(instance.exports).join(', ');
    finish(1, `(no exported function '${exportName}'; exports: ${names})`);
  }
  finish(fn());
}

async function runWasi() {
  // Hide node:wasi's ExperimentalWarning even when run without --no-warnings.
  process.removeAllListeners('warning');
  const { WASI } = await import('node:wasi');
  const wasi = new WASI({
    version: 'preview1',
    args: [name, ...rest],
    env: {},
    returnOnExit: true,
  });
  const module = await WebAssembly.compile(readFileSync(file));
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
  finish(wasi.start(instance) ?? 0, undefined);
}

function runEmscripten() {
  // The generated loader is a CommonJS script that calls process.exit itself: run it in its own
  // process. Emscripten 3.1.6's loader fetch()es the .wasm by path when Node has fetch (20 does):
  // --no-experimental-fetch makes it read the file (or link with -sWASM_ASYNC_COMPILATION=0).
  const nodeFlags = ['--no-warnings', '--no-experimental-fetch'];
  const child = spawnSync(process.execPath, [...nodeFlags, path.resolve(file), ...rest], {
    stdio: 'inherit',
  });
  if (child.error) crashed(child.error);
  if (child.signal) finish(1, `(killed by ${child.signal})`);
  finish(child.status);
}

try {
  switch (flavour) {
    case 'freestanding': await runFreestanding(); break;
    case 'wasi': await runWasi(); break;
    case 'emscripten': runEmscripten(); break;
    default:
      console.error(usage);
      process.exit(2);
  }
} catch (err) {
  crashed(err);
}
