'use strict';
// End-to-end test of serve.js through its stdin/stdout protocol, the way the C++ client
// uses it. Needs node_modules (npm ci --omit=peer, or TFLITE_ORACLE_NODE_MODULES) and the
// fixtures ($QAUDIT_FIXTURES, default the repository's tests/fixtures); skips without them.
// Run: node --test test/
const test = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { findWasmDir } = require('../lib/runtime');
const { readNpy, writeNpy } = require('../lib/npy');

const FIXTURES = process.env.QAUDIT_FIXTURES || path.join(__dirname, '..', '..', '..', 'tests', 'fixtures');
const HELLO = path.join(FIXTURES, 'tflite-micro', 'hello_world_int8.tflite');
const PERSON = path.join(FIXTURES, 'tflite-micro', 'person_detect.tflite');
const SPEECH = path.join(FIXTURES, 'tflite-micro', 'micro_speech_quantized.tflite');

function whySkip() {
  try {
    findWasmDir();
  } catch (e) {
    return 'node_modules with @tensorflow/tfjs-tflite is missing: run `npm ci --omit=peer` in '
      + 'tools/tflite-oracle or set TFLITE_ORACLE_NODE_MODULES';
  }
  if (!fs.existsSync(HELLO)) return `fixtures not found at ${FIXTURES} (set QAUDIT_FIXTURES)`;
  return false;
}
const skip = whySkip();

// A serve.js child plus a request/reply helper that also checks the protocol: every
// stdout line is JSON and answers the request just sent.
function startServer() {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'serve.js')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', d => { stderr += d; });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let nextId = 1;
  return {
    child,
    stderr: () => stderr,
    async ask(req) {
      const id = nextId++;
      child.stdin.write(JSON.stringify({ id, ...req }) + '\n');
      const { value, done } = await lines.next();
      assert.ok(!done, `serve.js closed stdout; stderr:\n${stderr}`);
      const reply = JSON.parse(value);
      assert.strictEqual(reply.id, id);
      return reply;
    },
    async close() {
      child.stdin.end();
      const [code] = await new Promise(resolve => child.on('exit', (...a) => resolve(a)));
      return code;
    },
  };
}

test('serve.js', { skip }, async t => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oracle_serve_'));
  const input = path.join(dir, 'x.npy');
  writeNpy(input, 'int8', [1, 1], Int8Array.from([5]));
  const server = startServer();
  t.after(() => { server.child.kill(); fs.rmSync(dir, { recursive: true, force: true }); });

  await t.test('ping finds the wasm files', async () => {
    const r = await server.ask({ cmd: 'ping' });
    assert.strictEqual(r.ok, true, r.error);
  });

  for (const xnnpack of [true, false]) {
    await t.test(`good request, xnnpack=${xnnpack}`, async () => {
      const out = path.join(dir, `out_${xnnpack}`);
      const r = await server.ask({ model: HELLO, inputs: [input], out, xnnpack });
      assert.strictEqual(r.ok, true, r.error);
      assert.strictEqual(r.outputs.length, 1);
      assert.deepStrictEqual(r.outputs[0], { file: path.join(out, 'output_0.npy'), dtype: 'int8', shape: [1, 1] });
      const y = readNpy(r.outputs[0].file);
      assert.strictEqual(y.dtype, 'int8');
      assert.deepStrictEqual(y.shape, [1, 1]);
      if (xnnpack) assert.deepStrictEqual(r.executedKernels, { TfLiteXNNPackDelegate: 1 });
      else assert.deepStrictEqual(r.executedKernels, { FULLY_CONNECTED: 3 });
    });
  }

  await t.test('model TFLite refuses', async () => {
    const r = await server.ask({ model: PERSON, inputs: [], out: path.join(dir, 'person'), xnnpack: false });
    assert.strictEqual(r.ok, false);
    assert.strictEqual(r.refused, true);
    assert.match(r.error, /quantized_dimension must be in range/); // TFLite's own log line
  });

  await t.test('nonexistent model file', async () => {
    const r = await server.ask({ model: path.join(dir, 'nope.tflite'), inputs: [], out: dir });
    assert.strictEqual(r.ok, false);
    assert.strictEqual(r.refused, false);
    assert.match(r.error, /ENOENT/);
  });

  await t.test('wrong input dtype', async () => {
    const f32 = path.join(dir, 'f32.npy');
    writeNpy(f32, 'float32', [1, 1], Float32Array.from([0.5]));
    const r = await server.ask({ model: HELLO, inputs: [f32], out: dir });
    assert.strictEqual(r.ok, false);
    assert.strictEqual(r.refused, false);
    assert.match(r.error, /dtype float32 but the model input is int8/);
  });

  await t.test('a trap inside TFLite is survived', { skip: !fs.existsSync(SPEECH) && 'no micro_speech fixture' }, async () => {
    // Setting the input's first dimension to 0 makes TFLite divide by zero in Invoke,
    // a WebAssembly trap rather than an error status.
    const bytes = fs.readFileSync(SPEECH);
    const SHAPE_DIM0 = 18300; // 'Reshape_1' [1, 1960]; offset found by walking the flatbuffer
    assert.deepStrictEqual([bytes.readInt32LE(SHAPE_DIM0), bytes.readInt32LE(SHAPE_DIM0 + 4)], [1, 1960]);
    bytes.writeInt32LE(0, SHAPE_DIM0);
    const model = path.join(dir, 'speech_dim0.tflite');
    fs.writeFileSync(model, bytes);
    const empty = path.join(dir, 'empty.npy');
    writeNpy(empty, 'int8', [0, 1960], new Int8Array(0));
    for (const xnnpack of [true, false]) {
      const r = await server.ask({ model, inputs: [empty], out: dir, xnnpack });
      assert.strictEqual(r.ok, false);
      assert.strictEqual(r.refused, false);
      assert.strictEqual(r.aborted, true);
      assert.match(r.error, /RuntimeError|divide by zero/);
      const again = await server.ask({ model: HELLO, inputs: [input], out: path.join(dir, 'again'), xnnpack });
      assert.strictEqual(again.ok, true, again.error);
    }
    const s = await server.ask({ cmd: 'stats' });
    assert.strictEqual(s.stats.reinstantiations, 2);
  });

  await t.test('exits cleanly at end of input', async () => {
    assert.strictEqual(await server.close(), 0);
    assert.strictEqual(server.stderr(), '');
  });
});
