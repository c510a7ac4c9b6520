// Loads a workload module (demo-web/workload.cpp built as a WASI reactor) and reads what it
// can tell: the workload's own counts for both builds, and for the kitalloc build the heap's
// figures (kit_get_stats) and every span, region, block and run (kit_walk_into).
import { wasiImports } from './wasi-shim.js';

export const WORKLOADS = { random: 0, churn: 1, realloc: 2, tree: 3, handles: 4 };

// kit_walk_entry: {uint64 address; uint64 bytes; uint32 kind; uint32 index}.
export const WALK_KIND = ['span', 'region', 'used', 'free', 'unused', 'large', 'freeRun', 'own'];
const WALK_ENTRY_BYTES = 24;
// kit_stats: two kit_region_stats of 7 uint32 each, 6 more uint32, then uint64 fields from 80.
const STATS_BYTES = 160;

export class WorkloadModule {
  static async compile(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return new WorkloadModule(await WebAssembly.compileStreaming(response), url);
  }

  constructor(module, url) {
    this.module = module;
    this.url = url;
    this.instantiate();
  }

  // A fresh instance is a fresh memory: this is how the page resets a heap.
  instantiate() {
    let memory = null;
    const imports = wasiImports(this.module, () => memory);
    this.instance = new WebAssembly.Instance(this.module, imports);
    this.exports = this.instance.exports;
    memory = this.exports.memory;
    this.exports._initialize?.();
    this.hasKitalloc = typeof this.exports.kit_get_stats === 'function';
    this.buffers = {}; // name -> {address, bytes}: blocks the page holds in this heap
  }

  // This heap's malloc and free: kit_malloc/kit_free, or in the dlmalloc build the malloc/free
  // that demo-web/CMakeLists.txt exports.
  allocate(bytes) {
    const address = (this.exports.kit_malloc ?? this.exports.malloc)(bytes) >>> 0;
    if (!address) throw new Error(`${this.url}: malloc(${bytes}) failed`);
    return address;
  }
  release(address) {
    (this.exports.kit_free ?? this.exports.free)(address);
  }

  // A block of `bytes` kept under `name` (replaced when the size changes); returns its address.
  holdBuffer(name, bytes) {
    const held = this.buffers[name];
    if (held?.bytes === bytes) return held.address;
    if (held) this.release(held.address);
    this.buffers[name] = { address: this.allocate(bytes), bytes };
    return this.buffers[name].address;
  }

  // The page's buffers (kit_get_stats', kit_walk_into's) are blocks of kitalloc's heap: the
  // dlmalloc module holds blocks of the same sizes, so both memories carry the same extra load.
  matchBuffers(other) {
    for (const [name, { bytes }] of Object.entries(other.buffers)) this.holdBuffer(name, bytes);
  }

  get bufferBytes() {
    return Object.values(this.buffers).reduce((sum, buffer) => sum + buffer.bytes, 0);
  }

  step(kind, steps) {
    this.exports.workload_step(kind, steps);
  }

  get memoryBytes() {
    return this.exports.memory.buffer.byteLength;
  }
  get liveBytes() {
    return this.exports.workload_live_bytes() >>> 0;
  }
  get liveBlocks() {
    return this.exports.workload_live_blocks() >>> 0;
  }

  // kit_get_stats into a block the page keeps for it (it shows in the map as one used block).
  readStats() {
    const kit = this.exports;
    const address = this.holdBuffer('stats', STATS_BYTES);
    kit.kit_get_stats(address);
    // A new view every time: memory.grow detaches the old buffer.
    const view = new DataView(kit.memory.buffer, address, STATS_BYTES);
    const u32 = (offset) => view.getUint32(offset, true);
    const u64 = (offset) => Number(view.getBigUint64(offset, true));
    const regionStats = (offset) => ({
      regions: u32(offset),
      totalWords: u32(offset + 4),
      allocatedWords: u32(offset + 8),
      unusedWords: u32(offset + 12),
      fragmentWords: u32(offset + 16),
      fragments: u32(offset + 20),
      liveBlocks: u32(offset + 24),
    });
    return {
      small: regionStats(0),
      pages: regionStats(28),
      largeBlocks: u32(56),
      largePages: u32(60),
      ownRuns: u32(64),
      ownPages: u32(68),
      growCalls: u32(72),
      grownPages: u32(76),
      memoryBytes: u64(80),
      bytesInUse: u64(88),
      peakBytes: u64(96),
      tripPeakBytes: u64(104),
      mallocCalls: u64(112),
      callocCalls: u64(120),
      reallocCalls: u64(128),
      alignedCalls: u64(136),
      freeCalls: u64(144),
      failedCalls: u64(152),
    };
  }

  // Every part of the heap in address order: [{address, bytes, kind, index}].
  readWalk() {
    const kit = this.exports;
    let count = kit.kit_walk_into(0, 0) >>> 0;
    let capacity = (this.buffers.walk?.bytes ?? 0) / WALK_ENTRY_BYTES;
    // The buffer is itself a block of the heap: allocating it can add an entry or two, so it
    // gets room to spare and is kept (and only replaced when the heap outgrows it).
    while (count > capacity) {
      capacity = Math.ceil(count * 1.5) + 64;
      this.holdBuffer('walk', capacity * WALK_ENTRY_BYTES);
      count = kit.kit_walk_into(0, 0) >>> 0;
    }
    const address = this.buffers.walk.address;
    count = Math.min(capacity, kit.kit_walk_into(address, capacity) >>> 0);
    const view = new DataView(kit.memory.buffer, address, count * WALK_ENTRY_BYTES);
    const entries = new Array(count);
    for (let i = 0; i < count; i++) {
      const at = i * WALK_ENTRY_BYTES;
      entries[i] = {
        address: Number(view.getBigUint64(at, true)),
        bytes: Number(view.getBigUint64(at + 8, true)),
        kind: WALK_KIND[view.getUint32(at + 16, true)] ?? 'unknown',
        index: view.getUint32(at + 20, true),
      };
    }
    return entries;
  }

  // The handles workload (kind 4). kit_compact's result, or null on dlmalloc (nothing moves):
  // {movedBlocks, movedBytes, releasedBytes, largestFreeBytes, lockedBlocks}.
  compact() {
    const address = this.exports.workload_compact() >>> 0;
    if (!address) return null;
    const view = new DataView(this.exports.memory.buffer, address, 40);
    const u64 = (offset) => Number(view.getBigUint64(offset, true));
    return {
      movedBlocks: u64(0),
      movedBytes: u64(8),
      releasedBytes: u64(16),
      largestFreeBytes: u64(24),
      lockedBlocks: view.getUint32(32, true),
    };
  }
  // Keeps every 8th handle locked (kitalloc only: malloc blocks never move anyway).
  pin(on) {
    this.exports.workload_pin(on ? 1 : 0);
  }
  get handleCount() {
    return this.exports.workload_handle_count() >>> 0;
  }
  get pinnedCount() {
    return this.exports.workload_pinned_count() >>> 0;
  }
  // Where each handle's block is now (the map tells handle regions from malloc regions by them).
  handleAddresses() {
    const addresses = [];
    for (let i = 0; i < this.handleCount; i++) {
      addresses.push(this.exports.workload_handle_address(i) >>> 0);
    }
    return addresses;
  }
  // How many handle blocks no longer hold what was written into them (0 unless a bug).
  verifyHandles() {
    return this.exports.workload_verify_handles() >>> 0;
  }

  // kit_check: null when every invariant holds, else the breach it describes.
  check() {
    const address = this.exports.kit_check() >>> 0;
    if (!address) return null;
    const bytes = new Uint8Array(this.exports.memory.buffer, address);
    return new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
  }
}
