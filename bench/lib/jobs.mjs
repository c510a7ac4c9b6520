// What the two benchmark workers (worker.mjs for bench/harness.cpp, heaps-worker.mjs for
// bench/heaps.cpp) share: reading the module's strings and status, running one job on a fresh
// instance, and answering bench/run.mjs.
import { parentPort } from 'node:worker_threads';

// The modules' run functions return a Status (bench/harness.cpp, bench/heaps.cpp).
const STATUS_NAMES = ['ok', 'out of memory', 'check failed', 'bad request'];

export function statusName(status) {
  return STATUS_NAMES[status] ?? `status ${status}`;
}

export function readCString(memory, ptr) {
  const bytes = new Uint8Array(memory.buffer, ptr);
  return Buffer.from(bytes.subarray(0, bytes.indexOf(0))).toString('latin1');
}

// Runs run(exports) on the exports instantiate() gives and returns its result; an error or a
// trap becomes a 'crashed' result. The instance is let go, and its memory collected, before
// the next job starts its timing.
export async function runOnFreshInstance(instantiate, run) {
  let exports;
  try {
    exports = await instantiate();
    return run(exports);
  } catch (error) {
    return {
      status: 'crashed',
      failure: `${error?.name ?? 'error'}: ${error?.message ?? error}`,
      finalMemoryBytes: exports?.memory.buffer.byteLength,
    };
  } finally {
    exports = null;
    globalThis.gc?.();
  }
}

// Answers bench/run.mjs: a 'describe' message with describe(), any other with runJob(message).
export function serve(describe, runJob) {
  parentPort.on('message', async (message) => {
    const reply = message.kind === 'describe' ? await describe() : await runJob(message);
    parentPort.postMessage(reply);
  });
}
