// The heap viewer in a real browser: serves the page (serve.mjs) on a free port, opens it in
// Debian's headless Chromium through playwright-core, clicks through the workloads and checks
// what the page shows (window.__demoState, the map canvas' data attributes). Ends with a
// screenshot of a fragmented heap in build/demo-web/screenshot.png.
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
  check(pageErrors.length === 0, 'no error in the page', pageErrors);

  const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
  console.log(`demo-web test: ok in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
              `(memory after realloc growth: kitalloc ${mib(afterRealloc.kitalloc)}, dlmalloc ` +
              `${mib(afterRealloc.dlmalloc)}; ${beforeReset.map.free} free blocks in the map); ` +
              `screenshot: ${path.relative(process.cwd(), screenshotPath)}`);
} finally {
  await context?.close();
  server.close();
  rmSync(profileDir, { recursive: true, force: true });
}
