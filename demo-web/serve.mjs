// Serves the heap viewer: the page's files from demo-web/ and the workload modules from a build
// directory, on 127.0.0.1. No dependencies.
//
//   node demo-web/serve.mjs [port] [--build-dir DIR]     (port 8123; DIR build/wasi/demo-web)
//
// Build the modules first: cmake --build build/wasi (the WASI flavour; scripts/test.sh does it).
// demo-web/test.mjs imports startServer and serves on a free port (port 0).
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const demoDir = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_BUILD_DIR = path.resolve(demoDir, '../build/wasi/demo-web');
export const MODULES = ['workload-kitalloc.wasm', 'workload-dlmalloc.wasm'];

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm', // WebAssembly.compileStreaming requires it
};
// The page's own files: a fixed list, so nothing else in the tree is ever served.
const PAGE_FILES = ['index.html', 'style.css', 'main.js', 'workload-module.js', 'wasi-shim.js',
                    'heap-map.js', 'chart.js'];

function fileFor(urlPath, buildDir) {
  const name = urlPath === '/' ? 'index.html' : urlPath.replace(/^\//, '');
  if (PAGE_FILES.includes(name)) return path.join(demoDir, name);
  const module = name.replace(/^wasm\//, '');
  if (name.startsWith('wasm/') && MODULES.includes(module)) return path.join(buildDir, module);
  return null;
}

// Resolves to {server, url} once listening; port 0 picks a free port.
export function startServer({ port = 8123, buildDir = DEFAULT_BUILD_DIR } = {}) {
  const server = http.createServer((request, response) => {
    const urlPath = new URL(request.url, 'http://localhost').pathname;
    const file = fileFor(urlPath, buildDir);
    if (!file || !existsSync(file)) {
      response.writeHead(404, { 'Content-Type': 'text/plain' });
      response.end(file ? `${file} not found: build the WASI flavour first\n` : 'not found\n');
      return;
    }
    response.writeHead(200, {
      'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Cache-Control': 'no-store', // a rebuilt module shows on the next reload
    });
    response.end(readFileSync(file));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({ server, url: `http://127.0.0.1:${server.address().port}/` });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let port = 8123;
  let buildDir = DEFAULT_BUILD_DIR;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--build-dir' && i + 1 < args.length) buildDir = path.resolve(args[++i]);
    else if (/^\d+$/.test(args[i])) port = Number(args[i]);
    else {
      console.error('usage: node demo-web/serve.mjs [port] [--build-dir DIR]');
      process.exit(2);
    }
  }
  for (const module of MODULES) {
    if (!existsSync(path.join(buildDir, module))) {
      console.error(`serve.mjs: warning: ${path.join(buildDir, module)} missing (build the WASI ` +
                    'flavour: cmake -S . -B build/wasi ' +
                    '-DCMAKE_TOOLCHAIN_FILE=toolchains/wasi.cmake && cmake --build build/wasi)');
    }
  }
  const { url } = await startServer({ port, buildDir });
  console.log(`kitalloc heap viewer: ${url} (modules from ${buildDir}; Ctrl-C stops)`);
}
