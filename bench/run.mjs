// Runs the benchmark: every workload (bench/harness.cpp) and every trace on every allocator's
// module, allocators interleaved, several runs, then one checked run of each; writes the raw
// results as JSON for bench/report.mjs. scripts/bench.sh runs it as
//   node --expose-gc --no-warnings --no-turbo-fast-api-calls --no-liftoff bench/run.mjs \
//     --out results.json --runs 5 --traces <dir> ... --reference <label> --subject <label> \
//     --allocator '<label>=<wasi|emscripten>:<module>' ...   [--no-checked] \
//     [--wide '<label>=<module>' ...] [--heaps '<label>=<module>' ...] [--seed N]
// --wide: the allocator with that label, its harness built with more slots (BENCH_SLOTS): the
// traces with more live blocks than the allocators' modules have slots run on these, on every
// allocator (all of them or none need one).
// --heaps: the handles and private heaps benchmark (bench/heaps.cpp, WASI), one module per
// allocator, its jobs run after the workloads in every run (modules interleaved), its results
// under "heaps" in the JSON.
// --no-liftoff: modules are compiled by the optimizing tier up front, so the first runs are not
// measured on baseline code. --no-turbo-fast-api-calls: Node 20's WASI otherwise crashes once
// memory has grown past ~64 MB (nodejs/node#46777).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { parseTrace } from './lib/traces.mjs';

// A run that takes longer has hung (the slowest normal run, bump on heap growth, takes ~2 s).
const JOB_TIMEOUT_MS = 120_000;

const { values: options } = parseArgs({
  options: {
    out: { type: 'string' },
    runs: { type: 'string', default: '5' },
    traces: { type: 'string', multiple: true, default: [] },
    reference: { type: 'string' },
    subject: { type: 'string' },
    allocator: { type: 'string', multiple: true },
    wide: { type: 'string', multiple: true, default: [] },
    heaps: { type: 'string', multiple: true, default: [] },
    'no-checked': { type: 'boolean', default: false },
    // The workloads' random choices; another seed shows how much a result owes to one draw.
    seed: { type: 'string', default: '20261122' },
  },
});
const SEED = Number(options.seed);
if (!options.out || !options.allocator?.length || !options.reference || !options.subject) {
  console.error('usage: run.mjs --out <json> --reference <label> --subject <label> ' +
                '--allocator <label>=<wasi|emscripten>:<module> ... [--runs N] [--traces dir ...] ' +
                '[--wide <label>=<module> ...] [--heaps <label>=<module> ...] [--seed N] [--no-checked]');
  process.exit(2);
}
if (!Number.isInteger(SEED) || SEED < 0 || SEED > 0xffffffff) {
  console.error(`run.mjs: --seed must be an integer from 0 to 4294967295, not ${options.seed}`);
  process.exit(2);
}

const allocators = options.allocator.map((spec) => {
  const match = /^(.+?)=(wasi|emscripten):(.+)$/.exec(spec);
  if (!match) throw new Error(`bad --allocator ${spec}`);
  return { label: match[1], flavour: match[2], file: path.resolve(match[3]) };
});

// A `<label>=<module>` option's value.
function labelledModule(spec, option) {
  const match = /^(.+?)=(.+)$/.exec(spec);
  if (!match) throw new Error(`bad --${option} ${spec}`);
  return { label: match[1], file: path.resolve(match[2]) };
}

const wideFiles = new Map(options.wide.map((spec) => {
  const { label, file } = labelledModule(spec, 'wide');
  if (!allocators.some((allocator) => allocator.label === label)) {
    throw new Error(`--wide ${spec}: no --allocator is labelled ${label}`);
  }
  return [label, file];
}));
if (wideFiles.size > 0 && wideFiles.size !== allocators.length) {
  throw new Error(`--wide modules for ${wideFiles.size} of the ${allocators.length} allocators: ` +
                  'a trace that needs them runs on every allocator, so every one needs one');
}

const heapsModules = options.heaps.map((spec) => labelledModule(spec, 'heaps'));

// One worker per allocator (bench/lib/worker.mjs, or heaps-worker.mjs for a --heaps module),
// restarted when a job hangs.
class AllocatorRunner {
  constructor(allocator, script = './lib/worker.mjs') {
    this.allocator = allocator;
    this.script = script;
    this.start();
  }
  start() {
    const { flavour, file } = this.allocator;
    this.worker = new Worker(new URL(this.script, import.meta.url), {
      workerData: { flavour, file },
    });
    this.worker.unref();
  }
  request(message) {
    return new Promise((resolve) => {
      const { worker } = this;
      const settle = (reply) => {
        clearTimeout(timer);
        worker.off('message', settle);
        worker.off('error', crashed);
        resolve(reply);
      };
      const crashed = (error) => {
        this.start();
        settle({ status: 'crashed', failure: String(error) });
      };
      const timer = setTimeout(() => {
        worker.terminate();
        this.start();
        settle({ status: 'timed out', failure: `no answer in ${JOB_TIMEOUT_MS / 1000} s` });
      }, JOB_TIMEOUT_MS);
      worker.on('message', settle);
      worker.on('error', crashed);
      worker.postMessage(message);
    });
  }
}

// The traces in `directories` that fit in the harness's slots: `slotCount` live blocks, or
// `wideSlotCount` on the wide modules (trace.wide).
function loadTraces(directories, slotCount, wideSlotCount) {
  return directories
    .flatMap((directory) => readdirSync(directory)
      .filter((file) => /\.(rep|trace)$/.test(file))
      .sort()
      .map((file) => parseTrace(readFileSync(path.join(directory, file), 'utf8'), file)))
    .filter((trace) => {
      trace.wide = trace.maxLive > slotCount;
      if (trace.maxLive <= Math.max(slotCount, wideSlotCount)) return true;
      console.error(`run.mjs: skipping ${trace.name}: ${trace.maxLive} live blocks at once, ` +
                    `the harness has room for ${Math.max(slotCount, wideSlotCount)}`);
      return false;
    });
}

// Workers' descriptions of their modules, which must all come from the same harness source.
async function describeAll(runners, what) {
  const descriptions = await Promise.all(runners.map((runner) => runner.request({ kind: 'describe' })));
  if (descriptions.some((d) => JSON.stringify(d) !== JSON.stringify(descriptions[0]))) {
    throw new Error(`the ${what} were built from different harness sources`);
  }
  return descriptions[0] ?? {};
}

const runners = allocators.map((allocator) => new AllocatorRunner(allocator));
const { workloads, slotCount } = await describeAll(runners, 'allocators\' modules');
const wideRunners = wideFiles.size === 0 ? [] : allocators.map((allocator) =>
  new AllocatorRunner({ ...allocator, file: wideFiles.get(allocator.label) }));
const wide = await describeAll(wideRunners, '--wide modules');
if (wide.workloads && JSON.stringify(wide.workloads) !== JSON.stringify(workloads)) {
  throw new Error('the --wide modules run other workloads than the allocators\' modules');
}
const wideSlotCount = wide.slotCount ?? 0;
const heapsRunners = heapsModules.map((module) => new AllocatorRunner(module, './lib/heaps-worker.mjs'));
const heapsDescriptions = await Promise.all(heapsRunners.map((runner) => runner.request({ kind: 'describe' })));
const heapsJobs = (heapsDescriptions[0]?.jobs ?? []).map(({ name, description }, index) => ({
  name,
  description,
  index,
  modules: heapsRunners.filter((_, m) => heapsDescriptions[m].jobs[index]?.available),
}));
if (heapsDescriptions.some((d) => JSON.stringify(d.jobs.map((j) => j.name)) !==
                                  JSON.stringify(heapsJobs.map((j) => j.name)))) {
  throw new Error('the --heaps modules were built from different sources');
}
const replayIndex = workloads.findIndex((w) => w.name === 'trace replay');
const traces = loadTraces(options.traces, slotCount, wideSlotCount);

// A job is a workload, or the replay workload with one trace.
const jobs = [
  ...workloads.flatMap((workload, index) =>
    index === replayIndex ? [] : [{ name: workload.name, workload: index }]),
  ...traces.map((trace) => ({ name: trace.name, workload: replayIndex, trace })),
];
// The allocators' runners for `job`, in the order of --allocator.
const runnersFor = (job) => (job.trace?.wide ? wideRunners : runners);

const results = [];
async function runJob(job, runner, run, checked) {
  const reply = await runner.request({
    kind: 'run',
    workload: job.workload,
    seed: SEED,
    checked,
    traceOps: job.trace?.ops,
  });
  results.push({ job: job.name, allocator: runner.allocator.label, run, checked, ...reply });
  if (reply.status !== 'ok' && reply.status !== 'out of memory') {
    console.error(`  ${runner.allocator.label}, ${job.name}${checked ? ' (checked)' : ''}: ` +
                  `${reply.status}: ${reply.failure}`);
  }
}

const heapsPairs = heapsJobs.flatMap((job) => job.modules.map((runner) => [job, runner]));
const heapsResults = [];
async function runHeapsJob(job, runner, run, checked) {
  const reply = await runner.request({ kind: 'run', job: job.index, seed: SEED, checked });
  heapsResults.push({ job: job.name, module: runner.allocator.label, run, checked, ...reply });
  if (reply.status !== 'ok') {
    console.error(`  FAILED: ${runner.allocator.label}, ${job.name}${checked ? ' (checked)' : ''}: ` +
                  `${reply.status}: ${reply.failure}`);
  }
}

const runs = Number(options.runs);
const started = Date.now();
// Other work on the machine shows up as spread between runs: the document says how busy it was.
const loadAtStart = os.loadavg()[0];
for (let run = 0; run < runs; ++run) {
  process.stderr.write(`run.mjs: run ${run + 1} of ${runs}\n`);
  for (const [jobIndex, job] of jobs.entries()) {
    // Each job sees the allocators in a different order, so none always runs first.
    for (let k = 0; k < runners.length; ++k) {
      await runJob(job, runnersFor(job)[(k + run + jobIndex) % runners.length], run, false);
    }
  }
  // The heaps jobs, every (job, module) pair once, starting one pair further on each run (the
  // variants of a comparison are separate jobs: none of them always runs first).
  for (let k = 0; k < heapsPairs.length; ++k) {
    const [job, runner] = heapsPairs[(k + run) % heapsPairs.length];
    await runHeapsJob(job, runner, run, false);
  }
}
if (!options['no-checked']) {
  process.stderr.write('run.mjs: checked runs (every byte verified, overlaps looked for)\n');
  for (const job of jobs) {
    for (const runner of runnersFor(job)) await runJob(job, runner, 0, true);
  }
  for (const job of heapsJobs) {
    for (const runner of job.modules) await runHeapsJob(job, runner, 0, true);
  }
}
process.stderr.write(`run.mjs: done in ${Math.round((Date.now() - started) / 1000)} s\n`);

writeFileSync(options.out, JSON.stringify({
  date: new Date().toISOString(),
  loadAverage: { start: loadAtStart, end: os.loadavg()[0] },
  node: process.version,
  v8: process.versions.v8,
  seed: SEED,
  runs,
  reference: options.reference,
  subject: options.subject,
  allocators: allocators.map(({ label, flavour, file }) => ({
    label, flavour, module: path.basename(file), wideModule: wideFiles.has(label) ? path.basename(wideFiles.get(label)) : undefined,
  })),
  workloads,
  slotCount,
  wideSlotCount,
  traces: traces.map(({ name, format, opCount, maxLive, wide }) => ({ name, format, opCount, maxLive, wide })),
  jobs: jobs.map((job) => ({ name: job.name, workload: job.workload, trace: !!job.trace })),
  results,
  heaps: heapsModules.length === 0 ? undefined : {
    modules: heapsModules.map(({ label, file }) => ({ label, module: path.basename(file) })),
    jobs: heapsJobs.map(({ name, description, modules }) => ({
      name, description, modules: modules.map((runner) => runner.allocator.label),
    })),
    results: heapsResults,
  },
}, null, 1));
