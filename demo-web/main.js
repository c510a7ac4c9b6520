// The heap viewer's page logic: loads the two workload modules (kitalloc, dlmalloc), runs the
// chosen workload on both, and after every step redraws the heap map, the comparison table and
// the chart. Everything shown is also in window.__demoState, which demo-web/test.mjs reads.
// The handles workload adds compaction: the compact button calls kit_compact in the kitalloc
// module (the dlmalloc module made the same requests with malloc: nothing there can move).
import { WorkloadModule, WORKLOADS } from './workload-module.js';
import { COLORS, LEGEND, drawHeapMap, formatBytes } from './heap-map.js';
import { SERIES, drawChart } from './chart.js';

const MAX_SAMPLES = 1500; // the chart keeps every other sample past this

const state = {
  ready: false,
  error: null,
  workload: 'random',
  running: false,
  steps: 0, // clicks of step (or frames of run) since the last reset
  ops: 0, // workload operations since the last reset
  kitalloc: {},
  dlmalloc: {},
  map: {},
  samples: [],
  compactions: 0, // clicks of compact since the last reset
  compaction: null, // the last kit_compact_result, with the map's figures before and after
};
window.__demoState = state;

const $ = (selector) => document.querySelector(selector);
const heapCanvas = $('#heap-map');
const chartCanvas = $('#chart');
let kitalloc = null;
let dlmalloc = null;
let lastWalk = [];
let lastHandleAddresses = [];

function showError(error) {
  state.error = String(error?.message ?? error);
  state.running = false;
  $('#status').textContent = `error: ${state.error}`;
  $('#status').classList.add('error');
  console.error(error);
}

function legendItem(label, color, isLine = false, dash = []) {
  const item = document.createElement('li');
  const swatch = document.createElement('span');
  swatch.className = isLine ? 'swatch line' : 'swatch';
  if (isLine) {
    swatch.style.borderColor = color;
    swatch.style.borderTopStyle = dash.length ? 'dashed' : 'solid';
  } else {
    swatch.style.background = color;
  }
  item.append(swatch, label);
  return item;
}

function buildLegends() {
  $('#legend').append(...LEGEND.map(([label, color]) => legendItem(label, color)),
                      legendItem('headers, bookkeeping', COLORS.header));
  $('#chart-legend').append(...SERIES.map((s) => legendItem(s.label, s.color, true, s.dash)));
}

function selectWorkload(name) {
  state.workload = name;
  for (const button of document.querySelectorAll('[data-workload]')) {
    button.setAttribute('aria-pressed', String(button.dataset.workload === name));
  }
}

function opsPerStep() {
  const value = Math.round(Number($('#ops-per-step').value));
  return Math.min(5000, Math.max(1, Number.isFinite(value) ? value : 50));
}

function step() {
  const ops = opsPerStep();
  const kind = WORKLOADS[state.workload];
  kitalloc.step(kind, ops);
  dlmalloc.step(kind, ops);
  state.steps += 1;
  state.ops += ops;
  update();
}

function reset() {
  kitalloc.instantiate();
  dlmalloc.instantiate();
  state.steps = 0;
  state.ops = 0;
  state.samples = [];
  state.compactions = 0;
  state.compaction = null;
  $('#pin').checked = false;
  update();
  renderCompaction();
}

// kit_compact in the kitalloc module; the dlmalloc module has nothing to compact (its call
// returns null). The map's figures before and after go with the result.
function compact() {
  const before = state.map;
  const result = kitalloc.compact();
  dlmalloc.compact();
  state.compactions += 1;
  update();
  const after = state.map;
  state.compaction = {
    ...result,
    before: { handleFree: before.handleFree, handleFreeBytes: before.handleFreeBytes,
              handleRegionBytes: before.handleRegionBytes, freeRunBytes: before.freeRunBytes },
    after: { handleFree: after.handleFree, handleFreeBytes: after.handleFreeBytes,
             handleRegionBytes: after.handleRegionBytes, freeRunBytes: after.freeRunBytes },
  };
  renderTable();
  renderCompaction();
}

function pin() {
  const on = $('#pin').checked;
  kitalloc.pin(on);
  dlmalloc.pin(on);
  update();
}

function renderCompaction() {
  const c = state.compaction;
  if (!c) {
    $('#compact-result').textContent = '';
    return;
  }
  $('#compact-result').textContent =
    `kit_compact #${state.compactions}: moved ${c.movedBlocks} handle blocks ` +
    `(${formatBytes(c.movedBytes)}), gave back ${formatBytes(c.releasedBytes)} of pages; ` +
    `largest free block now ${formatBytes(c.largestFreeBytes)}; ${c.lockedBlocks} locked ` +
    `blocks stayed. Free blocks in handle regions: ${c.before.handleFree} ` +
    `(${formatBytes(c.before.handleFreeBytes)}) → ${c.after.handleFree} ` +
    `(${formatBytes(c.after.handleFreeBytes)}); handle regions ` +
    `${formatBytes(c.before.handleRegionBytes)} → ${formatBytes(c.after.handleRegionBytes)}.`;
}

function toggleRun() {
  state.running = !state.running;
  $('#run').textContent = state.running ? 'stop' : 'run';
  $('#run').setAttribute('aria-pressed', String(state.running));
  const frame = () => {
    if (!state.running) return;
    try {
      step();
      requestAnimationFrame(frame);
    } catch (error) {
      showError(error);
    }
  };
  requestAnimationFrame(frame);
}

// Reads both modules, then redraws everything from what was read.
function update() {
  const stats = kitalloc.readStats();
  lastWalk = kitalloc.readWalk();
  lastHandleAddresses = kitalloc.handleAddresses();
  dlmalloc.matchBuffers(kitalloc);
  state.map = drawHeapMap(heapCanvas, lastWalk, lastHandleAddresses);
  state.kitalloc = {
    memoryBytes: kitalloc.memoryBytes, // the module's whole memory, as for dlmalloc
    ownedBytes: stats.memoryBytes, // from kitalloc's heap start to the end of memory
    bytesInUse: stats.bytesInUse,
    peakBytes: stats.peakBytes,
    liveBytes: kitalloc.liveBytes,
    liveBlocks: kitalloc.liveBlocks,
    heapBlocks: stats.small.liveBlocks + stats.largeBlocks, // also the page's two buffers
    bufferBytes: kitalloc.bufferBytes,
    freeBlocks: stats.small.fragments,
    largeBlocks: stats.largeBlocks,
    ownRuns: stats.ownRuns,
    ownPages: stats.ownPages,
    growCalls: stats.growCalls,
    handles: kitalloc.handleCount,
    lockedHandles: kitalloc.pinnedCount,
    handleErrors: kitalloc.verifyHandles(),
    check: kitalloc.check() ?? 'ok',
  };
  state.dlmalloc = {
    memoryBytes: dlmalloc.memoryBytes,
    liveBytes: dlmalloc.liveBytes,
    liveBlocks: dlmalloc.liveBlocks,
    bufferBytes: dlmalloc.bufferBytes,
    handles: dlmalloc.handleCount, // malloc blocks standing in for handles
    handleErrors: dlmalloc.verifyHandles(),
  };
  recordSample();
  drawChart(chartCanvas, state.samples);
  renderTable();
  heapCanvas.dataset.usedBlocks = state.map.used;
  heapCanvas.dataset.freeBlocks = state.map.free;
  heapCanvas.dataset.handleFreeBlocks = state.map.handleFree;
  $('#status').textContent = `${state.workload}: ${state.steps} steps, ${state.ops} ops` +
                             ` · kit_check: ${state.kitalloc.check}`;
}

function recordSample() {
  state.samples.push({
    ops: state.ops,
    kitMemory: state.kitalloc.memoryBytes,
    kitInUse: state.kitalloc.bytesInUse,
    dlMemory: state.dlmalloc.memoryBytes,
    liveBytes: state.kitalloc.liveBytes,
  });
  // Keeps the chart's cost bounded on long runs; the first and latest samples stay.
  if (state.samples.length > MAX_SAMPLES) {
    state.samples = state.samples.filter((_, i) => i % 2 === 0 || i === state.samples.length - 1);
  }
}

const contents = (errors) => (errors === 0 ? 'intact' : `${errors} blocks changed`);
function lastCompaction() {
  const c = state.compaction;
  if (!c) return '—';
  return `moved ${c.movedBlocks} (${formatBytes(c.movedBytes)}), released ` +
         `${formatBytes(c.releasedBytes)}, ${c.lockedBlocks} locked stayed`;
}

function renderTable() {
  const kit = state.kitalloc;
  const dl = state.dlmalloc;
  const missing = '—'; // dlmalloc exposes no heap statistics
  const rows = [
    ['module memory size', formatBytes(kit.memoryBytes), formatBytes(dl.memoryBytes)],
    ['workload live bytes', formatBytes(kit.liveBytes), formatBytes(dl.liveBytes)],
    ['workload live blocks', kit.liveBlocks, dl.liveBlocks],
    ["page's buffers (stats, walk)", formatBytes(kit.bufferBytes), formatBytes(dl.bufferBytes)],
    ['bytes in use (usable)', formatBytes(kit.bytesInUse), missing],
    ['peak bytes in use', formatBytes(kit.peakBytes), missing],
    ['free blocks (holes)', `${kit.freeBlocks} (${formatBytes(state.map.freeBytes)})`, missing],
    ['largest free block', formatBytes(state.map.largestFree), missing],
    ['large blocks', kit.largeBlocks, missing],
    ["kitalloc's own runs (page map, region table)", `${kit.ownRuns} (${kit.ownPages} pages)`,
     missing],
    ['memory.grow calls', kit.growCalls, missing],
    ['handles (locked)', `${kit.handles} (${kit.lockedHandles})`, `${dl.handles} malloc blocks`],
    ['handle regions', `${state.map.handleRegions} (${formatBytes(state.map.handleRegionBytes)})`,
     missing],
    ['free blocks in handle regions',
     `${state.map.handleFree} (${formatBytes(state.map.handleFreeBytes)})`, missing],
    ['free page runs', `${state.map.freeRun} (${formatBytes(state.map.freeRunBytes)})`, missing],
    ['handle contents', contents(kit.handleErrors), contents(dl.handleErrors)],
    ['last kit_compact', lastCompaction(), state.compactions ? 'nothing can move' : missing],
    ['kit_check()', kit.check, missing],
  ];
  $('#comparison tbody').replaceChildren(...rows.map((cells) => {
    const row = document.createElement('tr');
    row.append(...cells.map((text, i) => {
      const cell = document.createElement(i === 0 ? 'th' : 'td');
      cell.textContent = text;
      return cell;
    }));
    return row;
  }));
}

// Any failure in a handler shows on the page (and in __demoState.error) instead of vanishing.
function guarded(handler) {
  return () => {
    try {
      handler();
    } catch (error) {
      showError(error);
    }
  };
}

async function start() {
  [kitalloc, dlmalloc] = await Promise.all([
    WorkloadModule.compile('wasm/workload-kitalloc.wasm'),
    WorkloadModule.compile('wasm/workload-dlmalloc.wasm'),
  ]);
  if (!kitalloc.hasKitalloc) throw new Error('workload-kitalloc.wasm lacks kit_get_stats');
  if (dlmalloc.hasKitalloc) throw new Error('workload-dlmalloc.wasm is linked with kitalloc');
  buildLegends();
  for (const button of document.querySelectorAll('[data-workload]')) {
    button.addEventListener('click', () => selectWorkload(button.dataset.workload));
  }
  $('#step').addEventListener('click', guarded(step));
  $('#run').addEventListener('click', guarded(toggleRun));
  $('#reset').addEventListener('click', guarded(reset));
  $('#compact').addEventListener('click', guarded(compact));
  $('#pin').addEventListener('change', guarded(pin));
  window.addEventListener('resize', guarded(() => {
    drawHeapMap(heapCanvas, lastWalk, lastHandleAddresses);
    drawChart(chartCanvas, state.samples);
  }));
  selectWorkload('random');
  update();
  state.ready = true;
}

start().catch(showError);
