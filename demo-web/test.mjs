// The heap viewer in a real browser: serves the page (serve.mjs) on a free port, opens it in
// Debian's headless Chromium through playwright-core, clicks through the workloads and checks
// what the page shows (window.__demoState, the map canvas' data attributes), then fragments
// handle memory and compacts it (kit_compact), with and without locked handles. Screenshots: a
// fragmented heap in build/demo-web/screenshot.png, the handle regions before and after
// compaction in build/demo-web/compaction-before.png and compaction-after.png.
//
//   node demo-web/test.mjs [build-dir]       (build-dir: build/wasi/demo-web, with the modules)
//
// Installs playwright-core (pinned in package-lock.json) with `npm ci` when it is missing.
// CHROMIUM overrides the browser's path (default /usr/bin/chromium: apt-get install chromium).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_BUILD_DIR, MODULES, startServer } from './serve.mjs';

const demoDir = path.dirname(fileURLToPath(import.meta.url));
const buildDir = path.resolve(process.argv[2] ?? DEFAULT_BUILD_DIR);
const screenshotPath = path.resolve(demoDir, '../build/demo-web/screenshot.png');
const compactionShots = ['before', 'after'].map((when) =>
  path.resolve(demoDir, `../build/demo-web/compaction-${when}.png`));
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const started = Date.now();

class TestFailure extends Error {}
function fail(message) {
  throw new TestFailure(message);
}
function check(condition, message, detail) {
  if (!condition) fail(`${message}${detail === undefined ? '' : ` (${JSON.stringify(detail)})`}`);
}
// One line for a failed check; the stack too for anything unexpected (a Playwright timeout).
process.on('uncaughtException', (error) => {
  const detail = error instanceof TestFailure ? error.message : error.stack;
  console.error(`demo-web test: FAILED: ${detail}`);
  process.exit(1);
});

for (const module of MODULES) {
  check(existsSync(path.join(buildDir, module)), `${path.join(buildDir, module)} missing: build ` +
        'the WASI flavour first (cmake --build build/wasi)');
}
check(existsSync(chromiumPath),
      `${chromiumPath} missing: apt-get install chromium (scripts/deps.sh does)`);

// Quiet unless it fails: then npm's own output says why.
if (!existsSync(path.join(demoDir, 'node_modules/playwright-core'))) {
  try {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'],
                 { cwd: demoDir, stdio: 'pipe' });
  } catch (error) {
    process.stderr.write(error.stdout ?? '');
    process.stderr.write(error.stderr ?? '');
    fail('npm ci in demo-web/ (installs playwright-core)');
  }
}
const { chromium } = await import('playwright-core');

const { server, url } = await startServer({ port: 0, buildDir });
const profileDir = mkdtempSync(path.join(os.tmpdir(), 'kitalloc-demo-web-'));
let context = null;
try {
  // A persistent context is how Playwright takes a user data dir: a fresh one each run.
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });

  await page.goto(url);
  await page.waitForFunction(() => window.__demoState?.ready || window.__demoState?.error,
                             null, { timeout: 20000 });

  // The page's state after the last click; kit, dl and map are its parts.
  let state, kit, dl, map;
  const read = async () => {
    state = await page.evaluate(() => window.__demoState);
    ({ kitalloc: kit, dlmalloc: dl, map } = state);
  };
  const clickStep = async (times) => {
    for (let i = 0; i < times; i++) await page.click('#step');
    await read();
  };
  const choose = (workload) => page.click(`[data-workload="${workload}"]`);

  await read();
  check(state.error === null, 'the page loaded without error', state.error);
  check(dl.memoryBytes > 0, "the dlmalloc module's memory is reported", dl);
  check(kit.memoryBytes > 0 && kit.liveBlocks === 0, 'kitalloc is reported, no block yet', kit);
  const initialMemory = kit.memoryBytes;

  // Realloc growth: one block doubling up to 32 MiB and starting over (50 ops: twice).
  await choose('realloc');
  await page.fill('#ops-per-step', '50');
  await clickStep(1);
  check(kit.growCalls > 0 && kit.memoryBytes > 32 << 20, 'realloc grew kitalloc past 32 MiB', kit);
  check(dl.memoryBytes > 32 << 20, 'realloc growth grew dlmalloc past 32 MiB', dl);
  const afterRealloc = { kitalloc: kit.memoryBytes, dlmalloc: dl.memoryBytes };

  // Random actions until the heap is holed: many used and many free blocks in the map.
  await choose('random');
  await clickStep(40);
  check(kit.liveBlocks > 50, 'random actions left live blocks', kit);
  check(map.used > 50 && map.free >= 20, 'the map shows used and free blocks', map);
  check(kit.freeBlocks === map.free, "kit_get_stats' free blocks are the map's", [kit, map]);
  check(kit.largeBlocks === map.large, "kit_get_stats' large blocks are the map's", [kit, map]);
  // Memory passed 8 MiB: the page map left kitalloc's state for a run of its own.
  check(kit.ownRuns === 1 && map.own === 1 && kit.ownPages === 1,
        "kitalloc's own run is reported apart from large blocks", [kit, map]);
  check(kit.bytesInUse >= kit.liveBytes, 'bytes in use cover what the workload holds', kit);
  check(kit.liveBytes === dl.liveBytes && kit.liveBlocks === dl.liveBlocks,
        'both modules ran the same workload', [kit, dl]);
  check(kit.bufferBytes === dl.bufferBytes, "both hold the page's buffers", [kit, dl]);
  check(kit.check === 'ok', 'kit_check() finds the heap sound', kit.check);
  const dataset = await page.$eval('#heap-map', (canvas) => ({ ...canvas.dataset }));
  check(Number(dataset.freeBlocks) === map.free && Number(dataset.usedBlocks) === map.used,
        "the canvas' data attributes match the state", dataset);
  check(state.samples.length === state.steps + 1, 'the chart has a sample per step and the start',
        [state.samples.length, state.steps]);

  // Run (animation frames) then stop: more operations, the heap still sound.
  const opsBeforeRun = state.ops;
  await page.click('#run');
  await page.waitForFunction((ops) => window.__demoState.ops >= ops + 500, opsBeforeRun);
  await page.click('#run');
  await read();
  check(!state.running && state.ops >= opsBeforeRun + 500, 'run ran and stopped', state.ops);
  check(kit.check === 'ok', 'kit_check() after run', kit.check);

  // The churn and tree workloads run too, then random actions again for the screenshot.
  for (const workload of ['churn', 'tree']) {
    await choose(workload);
    await clickStep(5);
    check(state.error === null && kit.check === 'ok', `${workload} runs`, [state.error, kit]);
  }
  await choose('random');
  await clickStep(20);
  check(map.free >= 20, 'the heap is fragmented for the screenshot', map);
  mkdirSync(path.dirname(screenshotPath), { recursive: true });
  await page.screenshot({ path: screenshotPath, fullPage: true });
  const beforeReset = { kit, dl, map };

  // Reset: fresh instances, so bytes in use and memory drop back.
  await page.click('#reset');
  await read();
  check(state.ops === 0 && state.samples.length === 1, 'reset cleared the run', state.ops);
  check(kit.bytesInUse < beforeReset.kit.bytesInUse && kit.liveBytes === 0,
        'bytes in use dropped after reset', [beforeReset.kit.bytesInUse, kit.bytesInUse]);
  check(kit.memoryBytes === initialMemory, 'kitalloc memory is back to its start',
        [kit.memoryBytes, initialMemory]);
  check(dl.memoryBytes < beforeReset.dl.memoryBytes && dl.liveBytes === 0,
        'dlmalloc memory dropped after reset', dl);

  // Handles on the fresh heap: 600 handles of 64..4,096 B, then random frees down to 300 (one
  // step of 900 ops); the dlmalloc module makes the same requests with malloc.
  await choose('handles');
  await page.fill('#ops-per-step', '900');
  await clickStep(1);
  check(kit.handles === 300 && dl.handles === 300 && kit.lockedHandles === 0,
        'the handles workload holds 300 handles', [kit, dl]);
  check(kit.liveBytes === dl.liveBytes, 'both modules made the same requests', [kit, dl]);
  check(map.handleRegions > 0 && map.handleUsed >= 300 && map.handleFree >= 20,
        'the map shows holed handle regions', map);
  check(kit.handleErrors === 0 && dl.handleErrors === 0, 'handle blocks hold what was written',
        [kit.handleErrors, dl.handleErrors]);
  await page.screenshot({ path: compactionShots[0], fullPage: true });
  const beforeCompaction = { kit, dl, map };

  // Compact: every block slides down, the holes are gone, emptied pages go back.
  await page.click('#compact');
  await read();
  let compaction = state.compaction;
  check(state.error === null, 'compact ran without error', state.error);
  check(compaction.movedBlocks > 0 && compaction.movedBytes > 0 && compaction.lockedBlocks === 0,
        'kit_compact moved handle blocks', compaction);
  check(map.handleFree === 0, 'no free block is left in the handle regions', map);
  check(compaction.releasedBytes > 0 &&
        map.handleRegionBytes < beforeCompaction.map.handleRegionBytes,
        'the handle regions gave pages back', [compaction, beforeCompaction.map, map]);
  check(compaction.largestFreeBytes > 0, 'kit_compact reports the largest free block', compaction);
  check(kit.handleErrors === 0 && kit.handles === 300, 'moved handle blocks kept their contents',
        kit);
  check(kit.check === 'ok', 'kit_check() after kit_compact', kit.check);
  check(dl.memoryBytes === beforeCompaction.dl.memoryBytes, 'dlmalloc: nothing to compact', dl);
  const figuresShown = await page.$eval('#compact-result', (p) => p.textContent);
  check(figuresShown.includes(`moved ${compaction.movedBlocks} handle blocks`),
        'the page shows the compaction figures', figuresShown);
  await page.screenshot({ path: compactionShots[1], fullPage: true });
  const firstCompaction = { ...compaction, before: beforeCompaction.map, after: map };

  // Locked handles stay where they are: holes again (600 ops: 300 allocs, 300 frees), every 8th
  // handle locked, compact.
  await page.fill('#ops-per-step', '600');
  await clickStep(1);
  await page.check('#pin');
  await read();
  check(kit.handles === 300 && kit.lockedHandles === 38, 'every 8th handle is locked', kit);
  const holedAgain = map;
  check(holedAgain.handleFree >= 20, 'the handle regions are holed again', holedAgain);
  await page.click('#compact');
  await read();
  compaction = state.compaction;
  check(compaction.lockedBlocks === kit.lockedHandles && compaction.movedBlocks > 0,
        'kit_compact left the locked blocks and moved others', [compaction, kit]);
  check(map.handleFree < holedAgain.handleFree, 'fewer holes around the locked blocks', map);
  check(kit.handleErrors === 0 && kit.check === 'ok', 'contents and heap sound with locks', kit);
  // Unlocked, the rest closes up.
  await page.uncheck('#pin');
  await page.click('#compact');
  await read();
  check(kit.lockedHandles === 0 && state.compaction.lockedBlocks === 0 && map.handleFree === 0,
        'once unlocked, compaction closes every hole', [state.compaction, map]);
  check(kit.handleErrors === 0 && kit.check === 'ok', 'contents and heap sound at the end', kit);
  check(pageErrors.length === 0, 'no error in the page', pageErrors);

  const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
  console.log(`demo-web test: ok in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
              `(memory after realloc growth: kitalloc ${mib(afterRealloc.kitalloc)}, dlmalloc ` +
              `${mib(afterRealloc.dlmalloc)}; ${beforeReset.map.free} free blocks in the map; ` +
              `kit_compact moved ${firstCompaction.movedBlocks} handle blocks ` +
              `(${mib(firstCompaction.movedBytes)}), released ${mib(firstCompaction.releasedBytes)}, ` +
              `free blocks in handle regions ${firstCompaction.before.handleFree} → ` +
              `${firstCompaction.after.handleFree}); screenshots: ` +
              `${[screenshotPath, ...compactionShots].map((p) => path.relative(process.cwd(), p)).join(', ')}`);
} finally {
  await context?.close();
  server.close();
  rmSync(profileDir, { recursive: true, force: true });
}
