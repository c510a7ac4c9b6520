// Draws bytes over time on a canvas: one line per series, x = workload operations so far,
// y = bytes from 0 to the highest value seen (memory size is what grows, so it sets the scale).
import { formatBytes } from './heap-map.js';

export const SERIES = [
  { key: 'kitMemory', label: 'kitalloc memory size', color: '#2563eb', dash: [] },
  { key: 'dlMemory', label: 'dlmalloc memory size', color: '#dc2626', dash: [] },
  { key: 'kitInUse', label: 'kitalloc bytes in use', color: '#2563eb', dash: [5, 4] },
  { key: 'liveBytes', label: 'workload live bytes (both)', color: '#64748b', dash: [2, 3] },
];

// A round number of bytes at or above `bytes` for the top of the axis (1 to 5 times a power of
// two of at least 64 KiB): grid lines then fall on readable values.
function niceCeiling(bytes) {
  let step = 64 * 1024;
  while (step * 5 < bytes) step *= 2;
  for (const factor of [1, 2, 3, 4, 5]) if (step * factor >= bytes) return step * factor;
  return step * 5;
}

export function drawChart(canvas, samples) {
  const cssWidth = canvas.clientWidth || 400;
  const cssHeight = canvas.clientHeight || 240;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(cssWidth * ratio);
  canvas.height = Math.round(cssHeight * ratio);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, cssWidth, cssHeight);
  ctx.font = '11px system-ui, sans-serif';

  const left = 62;
  const right = 10;
  const top = 10;
  const bottom = 22;
  const plotWidth = cssWidth - left - right;
  const plotHeight = cssHeight - top - bottom;
  const maxBytes = niceCeiling(Math.max(1, ...samples.flatMap((s) => SERIES.map((k) => s[k.key]))));
  const lastOps = samples.length ? samples[samples.length - 1].ops : 0;
  const firstOps = samples.length ? samples[0].ops : 0;
  const opsSpan = Math.max(1, lastOps - firstOps);
  const xOf = (ops) => left + ((ops - firstOps) / opsSpan) * plotWidth;
  const yOf = (bytes) => top + plotHeight - (bytes / maxBytes) * plotHeight;

  // Axes: four horizontal grid lines labelled in bytes, operations along the bottom.
  ctx.strokeStyle = '#e2e8f0';
  ctx.fillStyle = '#475569';
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let i = 0; i <= 4; i++) {
    const bytes = (maxBytes / 4) * i;
    const y = Math.round(yOf(bytes)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + plotWidth, y);
    ctx.stroke();
    ctx.fillText(formatBytes(bytes), left - 6, y);
  }
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.fillText(`${firstOps} ops`, left, top + plotHeight + 6);
  ctx.textAlign = 'right';
  ctx.fillText(`${lastOps} ops`, left + plotWidth, top + plotHeight + 6);

  for (const series of SERIES) {
    ctx.strokeStyle = series.color;
    ctx.setLineDash(series.dash);
    ctx.lineWidth = 2;
    ctx.beginPath();
    samples.forEach((sample, i) => {
      const x = xOf(sample.ops);
      const y = yOf(sample[series.key]);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
  ctx.setLineDash([]);
}
