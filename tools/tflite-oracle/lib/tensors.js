'use strict';
// Moving data between .npy files and the interpreter's input/output tensors, with the
// checks both front ends (run.js, serve.js) must apply identically: the element count
// must match, the dtype must match exactly (widening only with `cast`), and outputs are
// copied out of the WASM heap before anything else can move or free it.

const path = require('path');
const { readNpy, writeNpy } = require('./npy');
const { TYPED } = require('./runtime');

// Returns `npy.data` as the tensor's dtype. float64->float32 and int64->int32 happen
// only when asked for, because silently narrowing would hide a caller's dtype bug.
function castInput(npy, dtype, allowCast, label) {
  if (npy.dtype === dtype || (npy.dtype === 'bool' && dtype === 'bool')) return npy.data;
  if (allowCast && npy.dtype === 'float64' && dtype === 'float32') return Float32Array.from(npy.data);
  if (allowCast && npy.dtype === 'int64' && dtype === 'int32') {
    const out = new Int32Array(npy.data.length);
    npy.data.forEach((x, i) => {
      if (x > 2147483647n || x < -2147483648n) throw new Error(`${label}: int64 value ${x} out of int32 range`);
      out[i] = Number(x);
    });
    return out;
  }
  throw new Error(`${label}: .npy dtype ${npy.dtype} but the model input is ${dtype}`
    + (['float64', 'int64'].includes(npy.dtype) ? ' (save it as that dtype, or pass --cast)' : ''));
}

// Reads `file` and copies it into input tensor `tensor` (k-th input, described by
// `rec` = { name, dtype, shape }). A shape that differs but has the same element
// count is only reported through `warn`, as TFLite itself only sees the flat buffer.
function feedInput(tensor, k, rec, file, { cast = false, warn = () => {} } = {}) {
  const npy = readNpy(file);
  const label = `input ${k} ('${rec.name}', ${file})`;
  const n = rec.shape.reduce((a, b) => a * b, 1);
  if (npy.data.length !== n) throw new Error(`${label}: has ${npy.data.length} elements [${npy.shape}], model expects ${n} [${rec.shape}]`);
  if (npy.shape.join(',') !== rec.shape.join(',')) warn(`${label}: shape [${npy.shape}] fed into [${rec.shape}]`);
  const data = castInput(npy, rec.dtype, cast, label);
  // data() is a view on the WASM memory, detached whenever the heap grows: take it last.
  tensor.data().set(data);
}

// Copies output tensor `tensor` (k-th output, dtype `rec.dtype`) out of the WASM heap.
function copyOutput(tensor, k, rec) {
  const Ctor = TYPED[rec.dtype];
  if (!Ctor) throw new Error(`output ${k}: unsupported dtype ${rec.dtype}`);
  const view = tensor.data();
  const copy = new Ctor(view.length);
  copy.set(view);
  return copy;
}

// Writes OUTDIR/output_K.npy and returns its absolute path.
function writeOutput(outDir, k, rec, data) {
  const file = path.resolve(outDir, `output_${k}.npy`);
  writeNpy(file, rec.dtype, rec.shape, data);
  return file;
}

module.exports = { castInput, feedInput, copyOutput, writeOutput };
