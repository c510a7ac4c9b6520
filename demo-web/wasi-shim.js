// A minimal WASI preview1 for the workload modules in the browser. The reactors built here
// import nothing today (check with `wasm-objdump -x -j Import <module>`), but a libc call that
// needs the system (printf, an assert message, abort) would pull some in: those are stubbed,
// with stdout/stderr going to the console, so a module never fails to instantiate for them.

const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_NOSYS = 52;

export class ProcessExit extends Error {
  constructor(code) {
    super(`wasm module exited with code ${code}`);
    this.code = code;
  }
}

// Returns the import object for `module`; getMemory() gives the instance's memory once it exists.
export function wasiImports(module, getMemory) {
  const view = () => new DataView(getMemory().buffer);
  const decoder = new TextDecoder();
  const pending = { 1: '', 2: '' }; // partial lines of stdout and stderr

  const implemented = {
    fd_write(fd, iovs, iovsLength, writtenOut) {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      const memory = new Uint8Array(getMemory().buffer);
      let written = 0;
      for (let i = 0; i < iovsLength; i++) {
        const base = view().getUint32(iovs + i * 8, true);
        const length = view().getUint32(iovs + i * 8 + 4, true);
        pending[fd] += decoder.decode(memory.subarray(base, base + length));
        written += length;
      }
      const lines = pending[fd].split('\n');
      pending[fd] = lines.pop();
      for (const line of lines) (fd === 1 ? console.log : console.error)(line);
      view().setUint32(writtenOut, written, true);
      return ERRNO_SUCCESS;
    },
    proc_exit(code) {
      throw new ProcessExit(code);
    },
    // An empty environment: zero variables, zero bytes.
    environ_sizes_get(countOut, bytesOut) {
      view().setUint32(countOut, 0, true);
      view().setUint32(bytesOut, 0, true);
      return ERRNO_SUCCESS;
    },
    environ_get() {
      return ERRNO_SUCCESS;
    },
    args_sizes_get(countOut, bytesOut) {
      view().setUint32(countOut, 0, true);
      view().setUint32(bytesOut, 0, true);
      return ERRNO_SUCCESS;
    },
    args_get() {
      return ERRNO_SUCCESS;
    },
    clock_time_get(clockId, precision, timeOut) {
      const nanoseconds = BigInt(Math.round(performance.now() * 1e6));
      view().setBigUint64(timeOut, nanoseconds, true);
      return ERRNO_SUCCESS;
    },
    fd_close: () => ERRNO_SUCCESS,
    fd_seek: () => ERRNO_NOSYS,
    fd_fdstat_get: (fd) => (fd <= 2 ? ERRNO_SUCCESS : ERRNO_BADF),
  };

  // Only what the module imports; anything this shim does not implement answers ENOSYS.
  const wasi = {};
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    if (from !== 'wasi_snapshot_preview1' || kind !== 'function') {
      throw new Error(`unexpected import ${from}.${name} (${kind}): the shim only has WASI`);
    }
    wasi[name] = implemented[name] ?? (() => ERRNO_NOSYS);
  }
  return { wasi_snapshot_preview1: wasi };
}
