// Draws kitalloc's heap (the entries of kit_walk_into) on a canvas. Each span gets an overview
// strip of its page runs (small-block regions, large blocks, kitalloc's own runs, free runs,
// unused top) at a coarse scale; each small-block region then gets a detail strip of its blocks
// at a fine scale, wrapped over as many rows as it needs. Free blocks are drawn last and at
// least one pixel wide, so holes between used blocks (fragmentation) are never hidden. Regions
// that hold handle blocks (relocatable, kit_handle_alloc: the page passes their addresses) are
// drawn in teal: those are the regions kit_compact packs.

export const COLORS = {
  used: '#2563eb',
  usedAlternate: '#60a5fa', // every other used block, so neighbours stay apart
  free: '#f97316',
  unused: '#e2e8f0',
  region: '#1e3a8a',
  large: '#7c3aed',
  largeAlternate: '#a78bfa',
  freeRun: '#facc15',
  own: '#334155', // kitalloc's own runs: the page map, the region table
  header: '#475569', // bytes of a region or run no entry covers: headers, bookkeeping
  handleRegion: '#115e59',
  handle: '#0d9488',
  handleAlternate: '#5eead4',
};

export const LEGEND = [
  ['used block', COLORS.used],
  ['free block', COLORS.free],
  ['unused (above the bump pointer)', COLORS.unused],
  ['small-block region', COLORS.region],
  ['handle block (may move)', COLORS.handle],
  ['handle region', COLORS.handleRegion],
  ['large block (page run)', COLORS.large],
  ['free page run', COLORS.freeRun],
  ["kitalloc's own run (page map, region table)", COLORS.own],
];

const COUNTED_KINDS = new Set(['used', 'free', 'unused', 'large', 'freeRun', 'own']);
const LABEL_HEIGHT = 16;
const DETAIL_ROW = 10;
const OVERVIEW_ROW = 14;
const ROW_GAP = 2;
const STRIP_GAP = 8;
const MAX_DETAIL_ROWS = 44; // all regions together; the scale doubles until they fit
const MAX_OVERVIEW_ROWS = 3; // per span

export function formatBytes(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

// Groups the flat walk into spans (with their runs) and regions (with their blocks).
function groupWalk(entries) {
  const spans = [];
  const regions = [];
  let span = null;
  let region = null;
  for (const entry of entries) {
    const end = entry.address + entry.bytes;
    if (entry.kind === 'span') {
      span = { ...entry, runs: [], regions: [] };
      spans.push(span);
      region = null;
      continue;
    }
    const inSpan = span && entry.address >= span.address && end <= span.address + span.bytes;
    if (entry.kind === 'region') {
      region = { ...entry, blocks: [], span: inSpan ? span : null };
      regions.push(region);
      if (inSpan) {
        span.runs.push(entry);
        span.regions.push(region);
      }
    } else if (region && entry.address >= region.address && end <= region.address + region.bytes) {
      region.blocks.push(entry); // used, free, or the region's unused tail
    } else if (inSpan) {
      span.runs.push(entry); // large block, free run, or the span's unused top
      region = null;
    }
  }
  return { spans, regions };
}

function rowsFor(bytes, bytesPerPixel, rowWidth) {
  return Math.max(1, Math.ceil(bytes / bytesPerPixel / rowWidth));
}

// The smallest power of two >= `start` at which `rowsAt(scale)` fits in `maxRows`: a power of
// two keeps the picture steady while the heap changes a little.
function fitScale(start, maxRows, rowsAt) {
  let scale = start;
  while (rowsAt(scale) > maxRows && scale < 2 ** 40) scale *= 2;
  return scale;
}

// Fills [offset, offset + bytes) of a strip that wraps every `rowWidth` pixels.
function fillWrapped(ctx, strip, offset, bytes, color) {
  const { x, y, rowWidth, rowHeight, bytesPerPixel } = strip;
  let from = offset / bytesPerPixel;
  let to = (offset + bytes) / bytesPerPixel;
  if (to - from < 1) to = from + 1;
  ctx.fillStyle = color;
  while (from < to) {
    const row = Math.floor(from / rowWidth);
    const rowEnd = Math.min(to, (row + 1) * rowWidth);
    const top = y + row * (rowHeight + ROW_GAP);
    ctx.fillRect(x + from - row * rowWidth, top, Math.max(1, rowEnd - from), rowHeight);
    from = rowEnd;
  }
}

function runColor(run, index, handleRegions) {
  if (run.kind === 'region') return handleRegions.has(run.address) ? COLORS.handleRegion : COLORS.region;
  if (run.kind === 'large') return index % 2 ? COLORS.largeAlternate : COLORS.large;
  if (run.kind === 'freeRun') return COLORS.freeRun;
  if (run.kind === 'own') return COLORS.own;
  return COLORS.unused;
}

// Draws the map; returns what it counted (the page shows it and exposes it to the test).
// `handleAddresses`: where the live handle blocks are; a region holding one is a handle region.
export function drawHeapMap(canvas, entries, handleAddresses = []) {
  const { spans, regions } = groupWalk(entries);
  const summary = { spans: spans.length, regions: regions.length, used: 0, free: 0, unused: 0,
                    large: 0, freeRun: 0, own: 0, usedBytes: 0, freeBytes: 0, largestFree: 0,
                    freeRunBytes: 0, handleRegions: 0, handleRegionBytes: 0, handleUsed: 0,
                    handleFree: 0, handleFreeBytes: 0 };
  for (const entry of entries) {
    if (COUNTED_KINDS.has(entry.kind)) summary[entry.kind] += 1;
    if (entry.kind === 'used') summary.usedBytes += entry.bytes;
    if (entry.kind === 'freeRun') summary.freeRunBytes += entry.bytes;
    if (entry.kind === 'free') {
      summary.freeBytes += entry.bytes;
      summary.largestFree = Math.max(summary.largestFree, entry.bytes);
    }
  }
  const handleRegions = new Set(); // by address
  for (const region of regions) {
    region.handles = handleAddresses.some((address) =>
      address >= region.address && address < region.address + region.bytes);
    if (!region.handles) continue;
    handleRegions.add(region.address);
    summary.handleRegions += 1;
    summary.handleRegionBytes += region.bytes;
    for (const block of region.blocks) {
      if (block.kind === 'used') summary.handleUsed += 1;
      if (block.kind === 'free') {
        summary.handleFree += 1;
        summary.handleFreeBytes += block.bytes;
      }
    }
  }

  const pad = 8;
  const cssWidth = canvas.clientWidth || 900;
  const rowWidth = Math.floor(cssWidth - 2 * pad);
  const detailScale = fitScale(8, MAX_DETAIL_ROWS, (scale) =>
    regions.reduce((rows, region) => rows + rowsFor(region.bytes, scale, rowWidth), 0));
  const overviewScale = fitScale(4096, MAX_OVERVIEW_ROWS, (scale) =>
    Math.max(0, ...spans.map((span) => rowsFor(span.bytes, scale, rowWidth))));

  // Strips in the order drawn: regions outside any span (below the first page boundary) first,
  // then each span's overview followed by its regions.
  const strips = [];
  const regionStrip = (region) => ({ kind: 'region', item: region, bytesPerPixel: detailScale,
                                     rowHeight: DETAIL_ROW });
  for (const region of regions.filter((r) => !r.span)) strips.push(regionStrip(region));
  for (const span of spans) {
    strips.push({ kind: 'span', item: span, bytesPerPixel: overviewScale,
                  rowHeight: OVERVIEW_ROW });
    for (const region of span.regions) strips.push(regionStrip(region));
  }
  let y = pad;
  for (const strip of strips) {
    strip.x = pad;
    strip.y = y + LABEL_HEIGHT;
    strip.rowWidth = rowWidth;
    strip.rows = rowsFor(strip.item.bytes, strip.bytesPerPixel, rowWidth);
    y = strip.y + strip.rows * (strip.rowHeight + ROW_GAP) + STRIP_GAP;
  }
  const cssHeight = Math.max(y + pad, 60);

  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(cssWidth * ratio);
  canvas.height = Math.round(cssHeight * ratio);
  canvas.style.height = `${cssHeight}px`;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, cssWidth, cssHeight);
  ctx.font = '12px system-ui, sans-serif';
  ctx.textBaseline = 'bottom';

  for (const strip of strips) {
    const item = strip.item;
    const at = `0x${item.address.toString(16)}`;
    const scale = `1 px = ${formatBytes(strip.bytesPerPixel)}`;
    ctx.fillStyle = '#0f172a';
    if (strip.kind === 'span') {
      const large = item.runs.filter((run) => run.kind === 'large').length;
      const runs = `${item.runs.length} page runs (${large} large)`;
      ctx.fillText(`span ${item.index} at ${at}: ${formatBytes(item.bytes)} in ${runs}` +
                   `  ·  ${scale}`, strip.x, strip.y - 2);
      fillWrapped(ctx, strip, 0, item.bytes, COLORS.header);
      item.runs.forEach((run, index) => fillWrapped(ctx, strip, run.address - item.address,
                                                    run.bytes, runColor(run, index, handleRegions)));
    } else {
      const used = item.blocks.filter((block) => block.kind === 'used').length;
      const free = item.blocks.filter((block) => block.kind === 'free').length;
      const where = item.span ? '' : ' (below the first page boundary)';
      const blocks = `${used} used and ${free} free blocks`;
      const what = item.handles ? 'handle region' : 'region';
      ctx.fillText(`${what} ${item.index}${where} at ${at}: ${formatBytes(item.bytes)}, ${blocks}` +
                   `  ·  ${scale}`, strip.x, strip.y - 2);
      fillWrapped(ctx, strip, 0, item.bytes, COLORS.header);
      const [usedColor, alternate] = item.handles ? [COLORS.handle, COLORS.handleAlternate]
                                                  : [COLORS.used, COLORS.usedAlternate];
      let usedSeen = 0;
      for (const block of item.blocks) {
        if (block.kind === 'free') continue;
        const color = block.kind === 'unused' ? COLORS.unused
                      : usedSeen++ % 2 ? alternate : usedColor;
        fillWrapped(ctx, strip, block.address - item.address, block.bytes, color);
      }
      for (const block of item.blocks) {
        if (block.kind === 'free')
          fillWrapped(ctx, strip, block.address - item.address, block.bytes, COLORS.free);
      }
    }
  }
  return summary;
}
