#!/usr/bin/env node
'use strict';
// TFLite oracle, batch mode: one long-running process answers many run requests, so a
// test can check thousands of small models without paying Node start-up and WASM
// compilation (about 0.15 s) for each.
//
//   node serve.js < requests.ndjson > replies.ndjson
//
// Protocol: one JSON request per stdin line, exactly one JSON reply line per request on
// stdout, in order. stdout carries nothing else; diagnostics go to stderr.
//
//   {"id": 7, "model": "/m.tflite", "inputs": ["/in0.npy"], "out": "/outdir", "xnnpack": true}
//   -> {"id": 7, "ok": true, "outputs": [{"file": "/outdir/output_0.npy", "dtype": "int8",
//       "shape": [1, 4]}], "executedKernels": {"FULLY_CONNECTED": 1}}
//   -> {"id": 7, "ok": false, "refused": true, "error": "TFLite could not load ...\n<log>"}
//
// Optional request fields: "variant" ("simd" | "nosimd"), "cast" (as run.js --cast).
// {"id": 1, "cmd": "ping"} checks that the WASM files can be found without loading them;
// {"id": 1, "cmd": "stats"} reports memory use (for leak checks). See README.md.

const fs = require('fs');
const readline = require('readline');
const { loadModule, Runner, findWasmDir, assertNoXnnpack } = require('./lib/runtime');
const { feedInput, copyOutput, writeOutput } = require('./lib/tensors');

// The reply channel must stay clean even if some code path logs: anything printed with
// console.log would desynchronize the client, so route it to stderr.
const writeReply = obj => process.stdout.write(JSON.stringify(obj) + '\n');
console.log = console.error;
console.info = console.error;
process.stdout.on('error', e => {
  // The client went away (EPIPE); nobody is left to answer.
  console.error(`tflite-oracle serve: stdout: ${e.message}`);
  process.exit(e.code === 'EPIPE' ? 0 : 1);
});

// Keeps the end of TFLite's log for error messages without letting a chatty model grow
// the reply without bound.
const MAX_LOG_LINES = 200;

// One instantiated WASM module per (variant, xnnpack). TFLite writes its log through
// the module's print hooks, which are fixed at instantiation, so each module gets a
// sink that the current request swaps out.
const modules = new Map();
const stats = { requests: 0, instantiations: 0, reinstantiations: 0 };

function getModule(variant, xnnpack) {
  const key = `${variant}/${xnnpack ? 'xnnpack' : 'builtin'}`;
  let entry = modules.get(key);
  if (!entry) {
    entry = { key, log: [], M: null };
    const sink = s => {
      entry.log.push(s);
      if (entry.log.length > MAX_LOG_LINES) entry.log.splice(0, entry.log.length - MAX_LOG_LINES);
    };
    entry.ready = loadModule({ variant, xnnpack, log: sink }).then(({ M, info }) => {
      for (const w of info.warnings) console.error(`tflite-oracle serve: warning: ${w}`);
      entry.M = M;
      stats.instantiations++;
      return entry;
    });
    // A failed load (e.g. no node_modules) must not be cached: the next request retries.
    entry.ready.catch(() => modules.delete(key));
    modules.set(key, entry);
  }
  return entry.ready;
}

// After a trap the module's C++ state (stack pointer, half-built interpreter, heap) is
// undefined, so it is dropped and the next request instantiates a fresh one.
function discardModule(entry) {
  if (modules.get(entry.key) === entry) modules.delete(entry.key);
  stats.reinstantiations++;
}

const isTrap = e => e instanceof WebAssembly.RuntimeError;

function withLog(message, log) {
  return log.length ? `${message}\n${log.join('\n')}` : message;
}

function checkRequest(req) {
  if (typeof req.model !== 'string' || !req.model) throw new Error('request needs "model": "/path/model.tflite"');
  if (!Array.isArray(req.inputs) || !req.inputs.every(f => typeof f === 'string')) {
    throw new Error('request needs "inputs": ["/path/in0.npy", ...]');
  }
  if (typeof req.out !== 'string' || !req.out) throw new Error('request needs "out": "/path/outdir"');
  if (req.xnnpack !== undefined && typeof req.xnnpack !== 'boolean') throw new Error('"xnnpack" must be true or false');
}

async function runRequest(req) {
  checkRequest(req);
  const xnnpack = req.xnnpack !== false;
  const variant = req.variant || 'simd';
  // Read before touching WASM so a bad path costs nothing and says plainly what failed.
  const modelBytes = fs.readFileSync(req.model);
  const entry = await getModule(variant, xnnpack);
  entry.log = [];
  let runner = null;
  try {
    try {
      runner = new Runner(entry.M, modelBytes, { numThreads: 1, profile: true });
    } catch (e) {
      if (e.tfliteLoadError === undefined) throw e;
      return { ok: false, refused: true, error: withLog(e.message, entry.log) };
    }
    const ins = runner.inputs();
    const outs = runner.outputs();
    if (req.inputs.length !== ins.length) {
      throw new Error(`model has ${ins.length} input(s) but ${req.inputs.length} .npy file(s) were given`);
    }
    const warnings = [];
    ins.forEach((t, k) => {
      feedInput(t, k, runner.tensorInfo(t), req.inputs[k], { cast: !!req.cast, warn: w => warnings.push(w) });
    });
    runner.infer();
    const counts = runner.executedKernels();
    if (!xnnpack) assertNoXnnpack(counts, 'xnnpack=false');
    fs.mkdirSync(req.out, { recursive: true });
    const outputs = outs.map((t, k) => {
      const rec = runner.tensorInfo(t);
      const file = writeOutput(req.out, k, rec, copyOutput(t, k, rec));
      return { file, dtype: rec.dtype, shape: rec.shape };
    });
    const reply = { ok: true, outputs, executedKernels: Object.fromEntries(counts) };
    if (warnings.length) reply.warnings = warnings;
    return reply;
  } catch (e) {
    if (isTrap(e)) {
      discardModule(entry);
      runner = null; // its memory went with the module
      return {
        ok: false, refused: false, aborted: true,
        error: withLog(`TFLite aborted inside WebAssembly (${e.message}); the ${entry.key} module will be re-instantiated`, entry.log),
      };
    }
    return { ok: false, refused: false, error: withLog(String(e.message || e), entry.log) };
  } finally {
    if (runner) {
      try {
        runner.close();
      } catch (e) {
        // A destructor that traps leaves the module unusable as well.
        console.error(`tflite-oracle serve: freeing the interpreter failed: ${e.message}`);
        discardModule(entry);
      }
    }
  }
}

// For leak checks. The WASM memory only grows in big steps, so it also reports where
// malloc would place a 4 MiB block: that address creeps up if anything leaks.
function statsReply() {
  const wasmHeapBytes = {};
  const wasmMallocTop = {};
  for (const [key, entry] of modules) {
    if (!entry.M) continue;
    wasmHeapBytes[key] = entry.M.HEAPU8.length;
    const probe = entry.M._malloc(4 << 20);
    entry.M._free(probe);
    wasmMallocTop[key] = probe;
  }
  const mem = process.memoryUsage();
  return { ok: true, stats: { ...stats, rssBytes: mem.rss, jsHeapUsedBytes: mem.heapUsed, wasmHeapBytes, wasmMallocTop } };
}

async function handleLine(line) {
  let req;
  try {
    req = JSON.parse(line);
    if (req === null || typeof req !== 'object' || Array.isArray(req)) throw new Error('not a JSON object');
  } catch (e) {
    return { id: null, ok: false, refused: false, error: `bad request line: ${e.message}` };
  }
  const id = req.id === undefined ? null : req.id;
  try {
    if (req.cmd === 'ping') return { id, ok: true, wasmDir: findWasmDir() };
    if (req.cmd === 'stats') return { id, ...statsReply() };
    if (req.cmd !== undefined) throw new Error(`unknown cmd ${JSON.stringify(req.cmd)}`);
    stats.requests++;
    return { id, ...await runRequest(req) };
  } catch (e) {
    return { id, ok: false, refused: false, error: String(e.message || e) };
  }
}

async function main() {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  // Requests are handled strictly one after another: replies stay in request order and
  // a module is never used by two requests at once.
  for await (const line of rl) {
    if (!line.trim()) continue;
    writeReply(await handleLine(line));
  }
  // Exit explicitly so that nothing pending can keep the client waiting after EOF.
  process.exit(0);
}

main().catch(e => {
  console.error(`tflite-oracle serve: fatal: ${e.stack || e}`);
  process.exit(1);
});
