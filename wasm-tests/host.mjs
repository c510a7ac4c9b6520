// What a freestanding kitalloc module imports from its host: env.kit_write_stderr, through which
// the checked and trace builds write their lines (src/heap.hpp). Other builds import nothing.
import { readFileSync } from 'node:fs';

export async function instantiateFreestanding(file) {
  let memory;
  const env = {
    kit_write_stderr: (pointer, length) =>
      process.stderr.write(Buffer.from(memory.buffer, pointer >>> 0, length >>> 0)),
  };
  const { instance } = await WebAssembly.instantiate(readFileSync(file), { env });
  memory = instance.exports.memory;
  return instance;
}
