// Runs the jobs of the handles and private heaps benchmark (bench/heaps.cpp) for one module, in a
// worker thread so that bench/run.mjs can stop a run that hangs. The module is compiled once;
// every job gets a fresh instance, so memory figures are per run.
//   workerData: { file: <.wasm, a WASI reactor> }
//   message { kind: 'describe' } -> { jobs: [{ name, description, available }] }
//   message { kind: 'run', job, seed, checked } -> { status, failure, figures, finalMemoryBytes }
import { readFileSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { readCString, runOnFreshInstance, serve, statusName } from './jobs.mjs';

const compiled = new WebAssembly.Module(readFileSync(workerData.file));

async function instantiate() {
  const { WASI } = await import('node:wasi');
  const wasi = new WASI({ version: 'preview1', args: [], env: {}, returnOnExit: true });
  const instance = new WebAssembly.Instance(compiled, wasi.getImportObject());
  wasi.initialize(instance);
  return instance.exports;
}

async function describe() {
  const exports = await instantiate();
  const jobs = [];
  for (let i = 0; i < exports.heaps_job_count(); ++i) {
    jobs.push({
      name: readCString(exports.memory, exports.heaps_job_name(i)),
      description: readCString(exports.memory, exports.heaps_job_description(i)),
      available: exports.heaps_job_available(i) !== 0,
    });
  }
  return { jobs };
}

async function runJob({ job, seed, checked }) {
  return runOnFreshInstance(instantiate, (exports) => {
    const status = exports.heaps_run(job, seed, checked ? 1 : 0);
    const figures = {};
    for (let i = 0; i < exports.heaps_figure_count(); ++i) {
      const value = exports.heaps_figure(i);
      // NaN: a figure this module cannot know (JSON would turn it into null anyway).
      if (!Number.isNaN(value)) figures[readCString(exports.memory, exports.heaps_figure_name(i))] = value;
    }
    return {
      status: statusName(status),
      failure: readCString(exports.memory, exports.heaps_failure()),
      figures,
      finalMemoryBytes: exports.memory.buffer.byteLength,
    };
  });
}

serve(describe, runJob);
