#include <map>
#include <string>

#include "core/file_io.h"
#include "op_options.h"
#include "qaudit/tflite.h"
#include "tflite_format_generated.h"

namespace qaudit {
namespace {

tfl::TensorType TypeOf(DType d) {
  switch (d) {
    case DType::kFloat32: return tfl::TensorType_FLOAT32;
    case DType::kFloat16: return tfl::TensorType_FLOAT16;
    case DType::kInt32: return tfl::TensorType_INT32;
    case DType::kUInt8: return tfl::TensorType_UINT8;
    case DType::kInt64: return tfl::TensorType_INT64;
    case DType::kInt16: return tfl::TensorType_INT16;
    case DType::kInt8: return tfl::TensorType_INT8;
    case DType::kBool: return tfl::TensorType_BOOL;
  }
  return tfl::TensorType_FLOAT32;
}

flatbuffers::Offset<tfl::Buffer> CreateAlignedBuffer(flatbuffers::FlatBufferBuilder& fbb,
                                                     const std::vector<uint8_t>& bytes) {
  // TFLite maps constant data in place; 16-byte alignment lets its kernels read it as any type.
  fbb.ForceVectorAlignment(bytes.size(), sizeof(uint8_t), 16);
  return tfl::CreateBuffer(fbb, fbb.CreateVector(bytes));
}

}  // namespace

Result<std::vector<uint8_t>> WriteTflite(const Graph& g) {
  QAUDIT_RETURN_IF_ERROR(VerifyGraph(g).WithContext("refusing to write an invalid graph"));
  flatbuffers::FlatBufferBuilder fbb(1 << 16);

  // Buffer 0 is the empty buffer by convention; each constant gets its own.
  std::vector<flatbuffers::Offset<tfl::Buffer>> buffers = {tfl::CreateBuffer(fbb)};
  std::vector<flatbuffers::Offset<tfl::Tensor>> tensors;
  for (const Tensor& t : g.tensors) {
    uint32_t buffer = 0;
    if (t.is_constant) {
      buffer = static_cast<uint32_t>(buffers.size());
      buffers.push_back(CreateAlignedBuffer(fbb, t.data));
    }
    flatbuffers::Offset<tfl::QuantizationParameters> quant = 0;
    // quantized_dimension alone still needs the table, or it reads back as 0.
    if (!t.quant.empty() || t.quant.quantized_dimension != 0) {
      const QuantParams& q = t.quant;
      quant = tfl::CreateQuantizationParameters(
          fbb, q.min.empty() ? 0 : fbb.CreateVector(q.min), q.max.empty() ? 0 : fbb.CreateVector(q.max),
          q.scale.empty() ? 0 : fbb.CreateVector(q.scale), q.zero_point.empty() ? 0 : fbb.CreateVector(q.zero_point),
          tfl::QuantizationDetails_NONE, 0, q.quantized_dimension);
    }
    tensors.push_back(tfl::CreateTensor(fbb, fbb.CreateVector(t.shape), TypeOf(t.dtype), buffer,
                                        fbb.CreateString(t.name), quant, t.is_variable, 0,
                                        t.shape_signature.empty() ? 0 : fbb.CreateVector(t.shape_signature)));
  }

  std::vector<flatbuffers::Offset<tfl::OperatorCode>> codes;
  std::map<std::pair<OpKind, int32_t>, uint32_t> code_index;
  std::vector<flatbuffers::Offset<tfl::Operator>> operators;
  for (const Operator& op : g.operators) {
    auto [it, added] = code_index.try_emplace({op.kind, op.version}, static_cast<uint32_t>(codes.size()));
    if (added) {
      const int32_t code = OpTfliteCode(op.kind);
      codes.push_back(tfl::CreateOperatorCode(fbb, static_cast<int8_t>(std::min(code, 127)), 0, op.version, code));
    }
    auto [options_type, options] = tflite_internal::BuildOptions(fbb, op);
    operators.push_back(tfl::CreateOperator(fbb, it->second, fbb.CreateVector(op.inputs), fbb.CreateVector(op.outputs),
                                            options_type, options));
  }

  std::vector<flatbuffers::Offset<tfl::Metadata>> metadata;
  std::vector<int32_t> metadata_buffers;
  for (const Metadata& m : g.metadata) {
    const auto buffer = static_cast<uint32_t>(buffers.size());
    buffers.push_back(CreateAlignedBuffer(fbb, m.data));
    metadata_buffers.push_back(static_cast<int32_t>(buffer));
    metadata.push_back(tfl::CreateMetadata(fbb, fbb.CreateString(m.name), buffer));
  }

  std::vector<flatbuffers::Offset<tfl::SignatureDef>> signatures;
  for (const Signature& s : g.signatures) {
    auto map = [&](const std::vector<SignatureTensor>& v) {
      std::vector<flatbuffers::Offset<tfl::TensorMap>> out;
      for (const SignatureTensor& st : v) {
        out.push_back(tfl::CreateTensorMap(fbb, fbb.CreateString(st.name), static_cast<uint32_t>(st.tensor)));
      }
      return fbb.CreateVector(out);
    };
    auto inputs = map(s.inputs);
    auto outputs = map(s.outputs);
    signatures.push_back(tfl::CreateSignatureDef(fbb, inputs, outputs, fbb.CreateString(s.key), 0));
  }

  auto subgraph = tfl::CreateSubGraph(fbb, fbb.CreateVector(tensors), fbb.CreateVector(g.inputs),
                                      fbb.CreateVector(g.outputs), fbb.CreateVector(operators),
                                      fbb.CreateString(g.name));
  auto model = tfl::CreateModel(fbb, g.schema_version, fbb.CreateVector(codes), fbb.CreateVector(&subgraph, 1),
                                fbb.CreateString(g.description), fbb.CreateVector(buffers),
                                metadata_buffers.empty() ? 0 : fbb.CreateVector(metadata_buffers),
                                metadata.empty() ? 0 : fbb.CreateVector(metadata),
                                signatures.empty() ? 0 : fbb.CreateVector(signatures));
  tfl::FinishModelBuffer(fbb, model);
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

Status WriteTfliteFile(const Graph& g, const std::string& path) {
  QAUDIT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, WriteTflite(g));
  return WriteFileAtomically(path, {{bytes.data(), bytes.size()}});
}

}  // namespace qaudit
