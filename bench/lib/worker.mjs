// Runs benchmark jobs for one allocator's harness module (bench/harness.cpp), in a worker thread
// so that bench/run.mjs can stop a run that hangs. The module is compiled once; every job gets a
// fresh instance, so memory figures are per run.
//   workerData: { flavour: 'wasi' | 'emscripten', file: <.wasm | Emscripten .js> }
//   message { kind: 'describe' } -> { workloads: [{ name, operation, description }], slotCount }
//   message { kind: 'run', workload, seed, checked, traceOps? } -> a result (see runJob)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { workerData } from 'node:worker_threads';
import { readCString, runOnFreshInstance, serve, statusName } from './jobs.mjs';
import { OP_WORDS } from './traces.mjs';

const { flavour, file } = workerData;
const wasmFile = flavour === 'emscripten' ? file.replace(/\.js$/, '.wasm') : file;
const compiled = new WebAssembly.Module(readFileSync(wasmFile));

// Serves the current trace to the harness's bench_trace_read import, a chunk at a time.
class TraceFeed {
  constructor(ops) {
    this.ops = ops ?? new Uint32Array(0);
    this.next = 0;
    this.memory = null;
  }
  read(ptr, capacity) {
    const count = Math.min(capacity, (this.ops.length - this.next) / OP_WORDS);
    const words = this.ops.subarray(this.next, this.next + count * OP_WORDS);
    new Uint32Array(this.memory.buffer, ptr, words.length).set(words);
    this.next += words.length;
    return count;
  }
}

async function instantiate(feed) {
  if (flavour === 'wasi') {
    const { WASI } = await import('node:wasi');
    const wasi = new WASI({ version: 'preview1', args: [], env: {}, returnOnExit: true });
    const imports = { ...wasi.getImportObject(), bench: { trace_read: (p, n) => feed.read(p, n) } };
    const instance = new WebAssembly.Instance(compiled, imports);
    wasi.initialize(instance);
    return instance.exports;
  }
  const createModule = createRequire(import.meta.url)(file);
  const module = await createModule({
    benchTraceRead: (p, n) => feed.read(p, n),
    // Reuse the compiled module instead of letting the loader read and compile the file again.
    instantiateWasm(imports, receiveInstance) {
      const instance = new WebAssembly.Instance(compiled, imports);
      receiveInstance(instance, compiled);
      return instance.exports;
    },
  });
  // The Node loader adds these handlers on every instantiation; they are of no use here.
  process.removeAllListeners('uncaughtException');
  process.removeAllListeners('unhandledRejection');
  return module.asm;
}

async function describe() {
  const exports = await instantiate(new TraceFeed());
  const workloads = [];
  for (let i = 0; i < exports.bench_workload_count(); ++i) {
    workloads.push({
      name: readCString(exports.memory, exports.bench_workload_name(i)),
      operation: readCString(exports.memory, exports.bench_workload_operation(i)),
      description: readCString(exports.memory, exports.bench_workload_description(i)),
    });
  }
  return { workloads, slotCount: exports.bench_slot_count() };
}

async function runJob({ workload, seed, checked, traceOps }) {
  const feed = new TraceFeed(traceOps);
  return runOnFreshInstance(() => instantiate(feed), (exports) => {
    feed.memory = exports.memory;
    const status = exports.bench_run(workload, seed, checked ? 1 : 0);
    return {
      status: statusName(status),
      failure: readCString(exports.memory, exports.bench_failure()),
      elapsedNs: exports.bench_elapsed_ns(),
      operations: exports.bench_operations(),
      peakLiveBytes: exports.bench_peak_live_bytes(),
      heapBase: exports.bench_heap_base(),
      finalMemoryBytes: exports.memory.buffer.byteLength,
    };
  });
}

serve(describe, runJob);
