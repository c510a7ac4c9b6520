// The harness's one import under Emscripten (bench/harness.cpp, bench_trace_read): bench/run.mjs
// passes `benchTraceRead` in the module's options; the WASI build imports it as bench.trace_read.
mergeInto(LibraryManager.library, {
  bench_trace_read: function (ops, capacity) {
    return Module['benchTraceRead'](ops, capacity);
  },
});
