'use strict';
// Loads the TFLite interpreter that @tensorflow/tfjs-tflite ships as WebAssembly
// (tflite_web_api_cc*.wasm, TFLite + tflite-support "TFLiteWebModelRunner")
// directly in Node, bypassing the package's browser-only script loader.

const fs = require('fs');
const path = require('path');

const VARIANTS = {
  simd: 'tflite_web_api_cc_simd', // WebAssembly SIMD, single-threaded
  nosimd: 'tflite_web_api_cc',    // scalar WebAssembly, single-threaded
};

// Known-good sha256 of the 0.0.1-alpha.10 binaries (informational; a mismatch only warns).
const KNOWN_SHA256 = {
  tflite_web_api_cc_simd: '40f49cc2d458ec09bb43db160e9e55f4b3c790a4c1d1fa280f8a61796296cf8e',
  tflite_web_api_cc: 'f1eb42f96ae91e5ef34e2f833f011373ca1c40fdc9d4062ec21eb07b886ea54f',
};

function findWasmDir() {
  const rel = path.join('@tensorflow', 'tfjs-tflite', 'wasm');
  const cands = [];
  if (process.env.TFLITE_ORACLE_WASM_DIR) cands.push(process.env.TFLITE_ORACLE_WASM_DIR);
  if (process.env.TFLITE_ORACLE_NODE_MODULES) cands.push(path.join(process.env.TFLITE_ORACLE_NODE_MODULES, rel));
  cands.push(path.join(__dirname, '..', 'node_modules', rel));
  try { cands.push(path.join(path.dirname(require.resolve('@tensorflow/tfjs-tflite/package.json')), 'wasm')); } catch (e) { /* not resolvable */ }
  for (const c of cands) {
    if (fs.existsSync(path.join(c, 'tflite_web_api_cc_simd.wasm'))) return c;
  }
  throw new Error('Cannot find @tensorflow/tfjs-tflite/wasm. Run `npm install` in the harness folder, or set '
    + 'TFLITE_ORACLE_NODE_MODULES=/path/to/node_modules (tried: ' + cands.join(', ') + ')');
}

// --- disabling XNNPACK -------------------------------------------------------
// TFLite applies XNNPACK as a *lazy default delegate* inside
// Interpreter::AllocateTensors(): ApplyLazyDelegateProviders() is inlined there and
// starts with `if (lazy_delegate_providers_.empty() ...) skip`. In these binaries that
// test is the unique byte sequence
//   local.get 0; i32.load offset=112; local.get 0; i32.load offset=116; i32.eq; br_if 0
// We replace it (same length) by `nop*9; i32.const 1; br_if 0`, i.e. "always skip
// the lazy delegates". AllocateTensors itself still runs, so the model executes on
// TFLite's builtin kernels only, like an interpreter built without the XNNPACK default
// delegate. run.js and serve.js double-check with the profiler that no XNNPACK node ran.
const LAZY_DELEGATE_GUARD = Buffer.from([0x20, 0x00, 0x28, 0x02, 0x70, 0x20, 0x00, 0x28, 0x02, 0x74, 0x46, 0x0d, 0x00]);
const SKIP_LAZY_DELEGATES = Buffer.from([0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x41, 0x01, 0x0d, 0x00]);

function disableDefaultDelegates(wasm) {
  const hits = [];
  for (let i = wasm.indexOf(LAZY_DELEGATE_GUARD); i >= 0; i = wasm.indexOf(LAZY_DELEGATE_GUARD, i + 1)) hits.push(i);
  if (hits.length !== 1) {
    throw new Error(`--no-xnnpack: expected exactly one lazy-delegate guard in the wasm, found ${hits.length}; `
      + 'this binary differs from the one the patch was written for (@tensorflow/tfjs-tflite 0.0.1-alpha.10)');
  }
  const out = Buffer.from(wasm);
  SKIP_LAZY_DELEGATES.copy(out, hits[0]);
  if (!WebAssembly.validate(out)) throw new Error('--no-xnnpack: patched wasm does not validate');
  return out;
}

async function loadModule({ variant = 'simd', xnnpack = true, log = () => {} } = {}) {
  const base = VARIANTS[variant];
  if (!base) throw new Error(`unknown variant '${variant}' (use: ${Object.keys(VARIANTS).join(', ')})`);
  const dir = findWasmDir();
  let wasm = fs.readFileSync(path.join(dir, base + '.wasm'));
  const sha = require('crypto').createHash('sha256').update(wasm).digest('hex');
  const warnings = [];
  if (KNOWN_SHA256[base] && KNOWN_SHA256[base] !== sha) warnings.push(`${base}.wasm sha256 ${sha} differs from the tested 0.0.1-alpha.10 binary`);
  if (!xnnpack) wasm = disableDefaultDelegates(wasm);
  const factory = require(path.join(dir, base + '.js'));
  const M = await factory({ wasmBinary: wasm, print: s => log(String(s)), printErr: s => log(String(s)) });
  return { M, info: { wasmDir: dir, wasmFile: base + '.wasm', sha256: sha, variant, xnnpack, warnings } };
}

// Copies an embind std::vector into a JS array and frees the vector. Elements of a
// bound class (TFLiteWebModelRunnerTensorInfo) come back as separately heap-allocated
// copies that the caller must delete(); value objects (profiling entries) need nothing.
function vecToArray(v) {
  const a = [];
  for (let i = 0; i < v.size(); i++) a.push(v.get(i));
  v.delete();
  return a;
}

const TYPED = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, bool: Uint8Array,
  int16: Int16Array, int32: Int32Array, uint32: Uint32Array,
};

// Name the profiler gives the node that XNNPACK replaced a (partial) graph with.
const XNNPACK_NODE = 'TfLiteXNNPackDelegate';

// Node type -> how many times the profiler saw it run (all invocations so far).
function countKernels(profilingResults) {
  const counts = new Map();
  for (const p of profilingResults) counts.set(p.nodeType, (counts.get(p.nodeType) || 0) + 1);
  return counts;
}

// Throws if the profiler saw an XNNPACK node although the module was patched to never
// apply it, i.e. the patch silently failed and results would not be TFLite's builtins.
function assertNoXnnpack(counts, what) {
  if (counts.has(XNNPACK_NODE)) {
    throw new Error(`${what} requested but the profiler shows an XNNPACK node; patch did not take effect`);
  }
}

class Runner {
  constructor(M, modelBytes, { numThreads = 1, profile = true, maxProfilingEntries = 4096 } = {}) {
    this.M = M;
    this.handles = []; // embind objects living in the WASM heap, freed by close()
    this.ptr = M._malloc(modelBytes.length); // must outlive the interpreter
    M.HEAPU8.set(modelBytes, this.ptr);
    this.status = M.TFLiteWebModelRunner.CreateFromBufferAndOptions(this.ptr, modelBytes.length, {
      numThreads, enableProfiling: profile, maxProfilingBufferEntries: maxProfilingEntries,
    });
    if (!this.status.ok()) {
      const msg = this.status.errorMessage();
      this.status.delete();
      M._free(this.ptr);
      const err = new Error(`TFLite could not load the model: ${msg}`);
      err.tfliteLoadError = msg;
      throw err;
    }
    this.r = this.status.value();
    this.profile = profile;
  }
  tensorInfo(t) {
    const shape = t.shape === '' ? [] : String(t.shape).split(',').map(Number);
    return { id: t.id, name: t.name, dtype: t.dataType, shape };
  }
  inputs() { return this.track(vecToArray(this.r.GetInputs())); }
  outputs() { return this.track(vecToArray(this.r.GetOutputs())); }
  track(tensors) { this.handles.push(...tensors); return tensors; }
  infer() {
    const ok = this.r.Infer();
    if (!ok) throw new Error('TFLite Invoke() failed');
  }
  profilingResults() { return this.profile ? vecToArray(this.r.GetProfilingResults()) : []; }
  profilingSummary() { return this.profile ? this.r.GetProfilingSummary() : ''; }
  executedKernels() { return countKernels(this.profilingResults()); }
  // Frees the interpreter, the model copy and every tensor handle handed out. A
  // one-shot process can skip this, but a server reusing the module leaks without it.
  // The interpreter goes before the model buffer it points into.
  close() {
    if (!this.r) return;
    for (const h of this.handles) h.delete();
    this.handles = [];
    this.r.delete();
    this.r = null;
    this.status.delete(); // the StatusOr whose unique_ptr value() moved out
    this.M._free(this.ptr);
  }
}

module.exports = {
  loadModule, Runner, TYPED, VARIANTS, XNNPACK_NODE, countKernels, assertNoXnnpack, disableDefaultDelegates, findWasmDir,
};
