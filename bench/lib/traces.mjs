// Parses allocation traces for the replayer (bench/harness.cpp, "trace replay"). Two formats,
// told apart by their first line (both described in docs/BENCHMARKS.md):
//   - CS:APP malloc-lab .rep: a header of four integers (heap size hint, number of ids, number of
//     operations, weight), then `a <id> <size>`, `r <id> <size>`, `f <id>`;
//   - kitalloc's own, first line `kitalloc-trace 1`: the same three operations with any token as
//     id, plus `a <id> <size> <alignment>`, `c <id> <count> <size>` and `r <id> <size> <new-id>`
//     (realloc moved the block and it is called new-id from then on). Ids may be reused once
//     freed: the recording build writes addresses.
// Ids are mapped to dense slots (a freed slot is reused), so the harness needs as many slots as
// the trace has live blocks at once, not as many as it has ids.

// One operation = four u32: kind (ASCII), slot, size in bytes, extra. Must match TraceOp in
// bench/harness.cpp.
export const OP_WORDS = 4;
const KIND = { malloc: 0x6d, aligned: 0x61, calloc: 0x63, realloc: 0x72, free: 0x66 }; // m a c r f
const MALLOC_MIN_ALIGNMENT = 8; // Emscripten's; wasi-libc's is 16

export function parseTrace(text, name) {
  const lines = text.split('\n');
  const firstLine = lines.findIndex((line) => line.trim() !== '' && !line.startsWith('#'));
  if (firstLine < 0) throw new Error(`${name}: empty trace`);
  const kitallocFormat = lines[firstLine].trim() === 'kitalloc-trace 1';
  const bodyStart = kitallocFormat ? firstLine + 1 : skipRepHeader(lines, firstLine, name);

  const words = [];
  const slotOfId = new Map();
  const freeSlots = [];
  let slotCount = 0; // slots are reused, so this is also the most blocks live at once

  const fail = (lineIndex, why) => {
    throw new Error(`${name}:${lineIndex + 1}: ${why}: "${lines[lineIndex].trim()}"`);
  };
  const number = (token, lineIndex) => {
    if (!/^\d+$/.test(token ?? '')) fail(lineIndex, 'expected a non-negative integer');
    const value = Number(token);
    if (value > 0xffffffff) fail(lineIndex, 'size does not fit in 32 bits');
    return value;
  };
  const liveSlot = (id, lineIndex) => {
    const slot = slotOfId.get(id);
    if (slot === undefined) fail(lineIndex, `id ${id} is not live`);
    return slot;
  };
  const emit = (kind, slot, size, extra) => words.push(kind, slot, size, extra);

  for (let i = bodyStart; i < lines.length; ++i) {
    const tokens = lines[i].trim().split(/\s+/);
    if (tokens[0] === '' || tokens[0].startsWith('#')) continue;
    const [op, id] = tokens;
    if (id === undefined) fail(i, 'missing id');
    switch (op) {
      case 'a':
      case 'c': {
        if (slotOfId.has(id)) fail(i, `id ${id} allocated while live`);
        const slot = freeSlots.length > 0 ? freeSlots.pop() : slotCount++;
        slotOfId.set(id, slot);
        if (op === 'c') {
          const count = number(tokens[2], i);
          const bytes = count * number(tokens[3], i);
          if (bytes > 0xffffffff) fail(i, 'calloc size does not fit in 32 bits');
          if (count === 0) emit(KIND.malloc, slot, 0, 0);
          else emit(KIND.calloc, slot, bytes, count);
        } else if (kitallocFormat && tokens[3] !== undefined) {
          const alignment = number(tokens[3], i);
          if (alignment === 0 || (alignment & (alignment - 1)) !== 0) fail(i, 'alignment is not a power of two');
          // Replayed with posix_memalign, which wants a multiple of sizeof(void*); malloc
          // aligns to 8 at least on every allocator here.
          if (alignment <= MALLOC_MIN_ALIGNMENT) emit(KIND.malloc, slot, number(tokens[2], i), 0);
          else emit(KIND.aligned, slot, number(tokens[2], i), alignment);
        } else {
          emit(KIND.malloc, slot, number(tokens[2], i), 0);
        }
        break;
      }
      case 'r': {
        const slot = liveSlot(id, i);
        const size = number(tokens[2], i);
        const newId = kitallocFormat && tokens[3] !== undefined ? tokens[3] : id;
        if (newId !== id) {
          if (slotOfId.has(newId)) fail(i, `realloc moved ${id} onto live id ${newId}`);
          slotOfId.delete(id);
          slotOfId.set(newId, slot);
        }
        // realloc(p, 0) frees p in dlmalloc and emmalloc but not everywhere: replay it as free,
        // the same for every allocator.
        if (size === 0) {
          emit(KIND.free, slot, 0, 0);
          slotOfId.delete(newId);
          freeSlots.push(slot);
        } else {
          emit(KIND.realloc, slot, size, 0);
        }
        break;
      }
      case 'f': {
        const slot = liveSlot(id, i);
        emit(KIND.free, slot, 0, 0);
        slotOfId.delete(id);
        freeSlots.push(slot);
        break;
      }
      default:
        fail(i, `unknown operation "${op}"`);
    }
  }
  return {
    name,
    format: kitallocFormat ? 'kitalloc' : 'CS:APP .rep',
    ops: Uint32Array.from(words),
    opCount: words.length / OP_WORDS,
    maxLive: slotCount,
  };
}

// The .rep header: four integers (one per line, or several on a line). Returns the index of the
// first operation line.
function skipRepHeader(lines, start, name) {
  let seen = 0;
  let i = start;
  for (; i < lines.length && seen < 4; ++i) {
    const tokens = lines[i].trim().split(/\s+/).filter((token) => token !== '');
    if (!tokens.every((token) => /^\d+$/.test(token))) {
      throw new Error(`${name}:${i + 1}: not a CS:APP .rep header nor "kitalloc-trace 1"`);
    }
    seen += tokens.length;
  }
  return i;
}
