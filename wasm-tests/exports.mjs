// Checks what a WASI module on kitalloc gives JavaScript: that it compiles (an export name
// given twice fails it), that every name asked for is an exported function, and that a block
// from the kit_malloc export goes back through the kit_free export, the heap consistent after.
//
//   node wasm-tests/exports.mjs <module.wasm> <export>...
//
// Prints `exports: ok` or `exports: FAILED ...`; exit code 0 only when all of it holds.
import { readFileSync } from 'node:fs';

const [file, ...names] = process.argv.slice(2);
if (!file || names.length === 0) {
  console.error('usage: node exports.mjs <module.wasm> <export>...');
  process.exit(2);
}

function fail(why) {
  console.log(`exports: FAILED ${why}`);
  process.exit(1);
}

process.removeAllListeners('warning');
const { WASI } = await import('node:wasi');
let module;
try {
  module = await WebAssembly.compile(readFileSync(file));
} catch (err) {
  fail(`(${file} does not compile: ${err.message})`);
}
const exported = new Set(WebAssembly.Module.exports(module).map((entry) => entry.name));
const missing = names.filter((name) => !exported.has(name));
if (missing.length > 0) fail(`(not exported: ${missing.join(', ')})`);

// The JavaScript-facing calls work without running the program: the heap starts on first use
// (not in the trace build, whose calls write to stdout: CMakeLists.txt leaves it out).
const wasi = new WASI({ version: 'preview1', args: [], env: {}, returnOnExit: true });
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
const { kit_malloc, kit_free, kit_check } = instance.exports;
const address = kit_malloc(100) >>> 0;
if (address === 0 || address % 16 !== 0) fail(`(kit_malloc(100) gave ${address})`);
kit_free(address);
if (kit_check() !== 0) fail('(kit_check() found a breach after kit_malloc and kit_free)');
console.log('exports: ok');
