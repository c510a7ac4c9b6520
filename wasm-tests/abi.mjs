// Drives the freestanding module's C ABI from JavaScript: the edge cases of the README's table,
// every size class and alignment, growth past 256 MiB, and (a second module with a 32 MiB
// memory maximum) out of memory and recovery.
//   node wasm-tests/abi.mjs <abi-module.wasm> <abi-module-oom.wasm>
import { instantiateFreestanding } from './host.mjs';

const [modulePath, oomModulePath] = process.argv.slice(2);
let passed = 0;
let failed = 0;
function expect(condition, what) {
  if (condition) {
    passed += 1;
  } else {
    failed += 1;
    console.log(`FAILED: ${what}`);
  }
}

async function load(path) {
  const instance = await instantiateFreestanding(path);
  const abi = instance.exports;
  // Pointers come back as signed i32: read them as unsigned.
  const wrap = (name) => (...args) => abi[name](...args) >>> 0;
  return {
    abi,
    malloc: wrap('malloc'),
    calloc: wrap('calloc'),
    realloc: wrap('realloc'),
    alignedAlloc: wrap('aligned_alloc'),
    usableSize: wrap('malloc_usable_size'),
    free: (ptr) => abi.free(ptr),
    bytes: () => new Uint8Array(abi.memory.buffer), // a new view after every growth
    check: () => abi.kit_check() >>> 0,
  };
}

const SIZE_MAX = 0xffffffff;
const EINVAL = 22;
const ENOMEM = 12;

const heap = await load(modulePath);
expect(heap.abi.kit_abi_selftest() === 0, `kit_abi_selftest() = ${heap.abi.kit_abi_selftest()}`);

// malloc(0): unique and freeable; default alignment 16; free(NULL) is a no-op.
const zeroA = heap.malloc(0);
const zeroB = heap.malloc(0);
expect(zeroA !== 0 && zeroB !== 0 && zeroA !== zeroB, 'malloc(0) gives unique pointers');
heap.free(zeroA);
heap.free(zeroB);
heap.free(0);
expect(heap.malloc(1) % 16 === 0, 'malloc aligns to 16 (max_align_t)');

// Every size class and alignment up to 64 KiB, with contents kept until free.
const live = [];
for (let alignment = 1; alignment <= 65536; alignment *= 2) {
  for (let size = 0; size < 200000; size = Math.floor(size * 1.7) + 1) {
    const ptr = heap.alignedAlloc(alignment, size);
    const ok = ptr !== 0 && ptr % alignment === 0 && heap.usableSize(ptr) >= size;
    if (!ok) expect(false, `aligned_alloc(${alignment}, ${size}) = ${ptr}`);
    const mark = (live.length * 7 + 1) & 0xff;
    if (size > 0) {
      heap.bytes()[ptr] = mark;
      heap.bytes()[ptr + size - 1] = mark;
    }
    live.push([ptr, size, mark]);
  }
}
let intact = true;
for (const [ptr, size, mark] of live) {
  if (size > 0) intact &&= heap.bytes()[ptr] === mark && heap.bytes()[ptr + size - 1] === mark;
  heap.free(ptr);
}
expect(intact, 'contents of every block survive until free');

// Bad alignments: NULL and EINVAL; sizes that cannot be met: NULL.
const slot = heap.malloc(8);
for (const alignment of [0, 3, 24, 131072]) {
  expect(heap.alignedAlloc(alignment, 16) === 0, `aligned_alloc(${alignment}) = NULL`);
  expect(heap.abi.posix_memalign(slot, alignment, 16) === EINVAL, `posix_memalign(${alignment})`);
}
expect(heap.abi.posix_memalign(slot, 8, SIZE_MAX) === ENOMEM, 'posix_memalign ENOMEM');
expect(heap.calloc(SIZE_MAX, 2) === 0, 'calloc(SIZE_MAX, 2) = NULL');
expect(heap.calloc(65536, 65536) === 0, 'calloc(65536, 65536) = NULL');
let nonNull = 0;
for (let size = SIZE_MAX - 65535; size <= SIZE_MAX; size += 1) {
  nonNull += heap.malloc(size) !== 0;
  nonNull += heap.realloc(0, size) !== 0;
}
expect(nonNull === 0, `all of SIZE_MAX-65535..SIZE_MAX give NULL (${nonNull} did not)`);

// realloc: NULL is malloc, 0 frees, growth in place when the neighbour allows.
const block = heap.realloc(0, 100);
expect(block !== 0, 'realloc(NULL, 100)');
expect(heap.realloc(block, 0) === 0, 'realloc(p, 0) = NULL (frees p)');

// Growth past 256 MiB.
const big = [];
for (let i = 0; i < 300; i += 1) {
  const ptr = heap.malloc(1 << 20);
  if (ptr === 0) break;
  heap.bytes()[ptr + (1 << 20) - 1] = i & 0xff;
  big.push(ptr);
}
expect(big.length === 300, `300 blocks of 1 MiB (${big.length})`);
expect(heap.abi.memory.buffer.byteLength > 256 * 1024 * 1024, 'memory grew past 256 MiB');
expect(big.every((ptr, i) => heap.bytes()[ptr + (1 << 20) - 1] === (i & 0xff)), 'big blocks intact');
big.forEach((ptr) => heap.free(ptr));
expect(heap.check() === 0, 'kit_check() after growth');

// Out of memory under a 32 MiB maximum: NULL, never a trap, and the heap recovers.
const small = await load(oomModulePath);
const held = [];
for (;;) {
  const ptr = small.malloc(100000);
  if (ptr === 0) break;
  held.push(ptr);
}
// 100,000 bytes take two 64 KiB pages: memory stops less than two pages below the maximum.
const roomLeft = 32 * 1024 * 1024 - small.abi.memory.buffer.byteLength;
expect(roomLeft >= 0 && roomLeft < 2 * 65536, `used memory up to the maximum (${roomLeft} B left)`);
expect(held.length > 250, `${held.length} blocks of 100,000 bytes in 32 MiB`);
held.filter((_, i) => i % 2 === 0).forEach((ptr) => small.free(ptr));
expect(small.malloc(100000) !== 0, 'malloc works again after free');
expect(small.check() === 0, 'kit_check() after out of memory');

console.log(`abi [freestanding]: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
