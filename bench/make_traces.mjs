// Writes the small traces in bench/traces/ (fixed seed: the same files every time). They are
// checked in; run this only to change them:  node bench/make_traces.mjs bench/traces
//   fragmenting-lifetimes.rep  CS:APP format: small and large blocks interleaved, the large ones
//                              freed, then larger ones that fit none of the holes
//   realloc-growth.rep         CS:APP format: buffers grown by small reallocs among short-lived
//                              blocks
//   program-phases.trace       kitalloc's format: a program's phases (nodes, calloc'ed strings,
//                              64-byte-aligned buffers, vectors whose reallocs move them), with
//                              address-like ids that are reused after free
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const directory = process.argv[2] ?? path.join(path.dirname(new URL(import.meta.url).pathname), 'traces');

function rng(seed) {
  let state = BigInt(seed) * 0x9e3779b97f4a7c15n + 1n;
  const mask = (1n << 64n) - 1n;
  const next = () => { // xorshift64*, as in bench/harness.cpp
    state ^= state >> 12n;
    state ^= (state << 25n) & mask;
    state ^= state >> 27n;
    return Number(((state * 0x2545f4914f6cdd1dn) & mask) >> 32n);
  };
  return { between: (low, high) => low + Math.floor((next() / 2 ** 32) * (high - low + 1)) };
}

// A CS:APP .rep file: header (heap size hint, ids, operations, weight), then the operations.
function repFile(lines, idCount) {
  return [0, idCount, lines.length, 1].join('\n') + '\n' + lines.join('\n') + '\n';
}

function fragmentingLifetimes() {
  const random = rng(1);
  const lines = [];
  let id = 0;
  const large = [];
  for (let pair = 0; pair < 1500; ++pair) {
    lines.push(`a ${id++} ${random.between(16, 64)}`);
    large.push(id);
    lines.push(`a ${id++} ${random.between(200, 500)}`);
  }
  for (const block of large) lines.push(`f ${block}`);
  for (let i = 0; i < 800; ++i) lines.push(`a ${id++} ${random.between(520, 900)}`);
  for (let block = 0; block < id; ++block) if (!large.includes(block)) lines.push(`f ${block}`);
  return repFile(lines, id);
}

function reallocGrowth() {
  const random = rng(2);
  const lines = [];
  const buffers = Array.from({ length: 200 }, (_, i) => ({ id: i, size: 8 }));
  for (const buffer of buffers) lines.push(`a ${buffer.id} ${buffer.size}`);
  let nextId = buffers.length;
  for (let step = 0; step < 6000; ++step) {
    const buffer = buffers[random.between(0, buffers.length - 1)];
    buffer.size += random.between(1, 64);
    lines.push(`r ${buffer.id} ${buffer.size}`);
    if (step % 3 === 0) { // a short-lived block between the growing ones
      const temporary = nextId++;
      lines.push(`a ${temporary} ${random.between(8, 128)}`, `f ${temporary}`);
    }
  }
  for (const buffer of buffers) lines.push(`f ${buffer.id}`);
  return repFile(lines, nextId);
}

function programPhases() {
  const random = rng(3);
  const lines = ['kitalloc-trace 1', '# synthetic: bench/make_traces.mjs'];
  // Address-like ids from a small pool, so that freed ids come back as a recording shows them.
  const freeIds = [];
  let idCounter = 0;
  const takeId = () => freeIds.pop() ?? `0x${(0x10000 + 16 * idCounter++).toString(16)}`;
  const release = (block) => {
    lines.push(`f ${block.id}`);
    freeIds.unshift(block.id);
  };
  for (let phase = 0; phase < 4; ++phase) {
    const live = [];
    for (let i = 0; i < 600; ++i) {
      const block = { id: takeId() };
      const shape = random.between(0, 9);
      if (shape < 5) lines.push(`a ${block.id} 48`); // tree nodes
      else if (shape < 8) lines.push(`c ${block.id} ${random.between(8, 200)} 1`); // strings
      else lines.push(`a ${block.id} 4096 64`); // aligned buffers
      live.push(block);
    }
    for (let v = 0; v < 20; ++v) { // vectors: doubling reallocs that move the block
      const vector = { id: takeId(), size: 16 };
      lines.push(`a ${vector.id} ${vector.size}`);
      for (let growth = 0; growth < 8; ++growth) {
        vector.size *= 2;
        const moved = random.between(0, 1) === 1 ? takeId() : vector.id;
        lines.push(`r ${vector.id} ${vector.size}${moved === vector.id ? '' : ` ${moved}`}`);
        if (moved !== vector.id) freeIds.unshift(vector.id);
        vector.id = moved;
      }
      live.push(vector);
    }
    // Most of a phase dies at its end; a tenth survives into the next phases.
    for (const block of live) if (random.between(0, 9) > 0) release(block);
  }
  return lines.join('\n') + '\n';
}

writeFileSync(path.join(directory, 'fragmenting-lifetimes.rep'), fragmentingLifetimes());
writeFileSync(path.join(directory, 'realloc-growth.rep'), reallocGrowth());
writeFileSync(path.join(directory, 'program-phases.trace'), programPhases());
