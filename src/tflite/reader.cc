#include <cstring>
#include <string>

#include "core/file_io.h"
#include "op_options.h"
#include "qaudit/tflite.h"
#include "tflite_format_generated.h"

namespace qaudit {
namespace {

Result<DType> MapType(tfl::TensorType type) {
  switch (type) {
    case tfl::TensorType_FLOAT32: return DType::kFloat32;
    case tfl::TensorType_FLOAT16: return DType::kFloat16;
    case tfl::TensorType_INT32: return DType::kInt32;
    case tfl::TensorType_UINT8: return DType::kUInt8;
    case tfl::TensorType_INT64: return DType::kInt64;
    case tfl::TensorType_INT16: return DType::kInt16;
    case tfl::TensorType_INT8: return DType::kInt8;
    case tfl::TensorType_BOOL: return DType::kBool;
    default: break;
  }
  const char* name = tfl::EnumNameTensorType(type);
  return Status::Unsupported(std::string("element type ") + (*name ? name : std::to_string(static_cast<int>(type))));
}

// The verifier checks that a vector's length field is aligned, not that its elements are
// aligned for U: a crafted file can place an int64 vector (zero_point) at an address that
// is only 4-aligned, and Vector<U>::operator[] would then load it misaligned. memcpy reads
// each element wherever it is.
template <typename T, typename U>
std::vector<T> ToVector(const flatbuffers::Vector<U>* v) {
  if (!v) return {};
  std::vector<T> out(v->size());
  const uint8_t* p = v->Data();
  for (size_t i = 0; i < out.size(); ++i) {
    U x;
    std::memcpy(&x, p + i * sizeof(U), sizeof(U));
    out[i] = static_cast<T>(flatbuffers::EndianScalar(x));
  }
  return out;
}

class ModelReader {
 public:
  ModelReader(const tfl::Model& model, const std::string& label) : model_(model), label_(label) {}

  Result<Graph> Read() {
    if (!model_.subgraphs() || model_.subgraphs()->size() == 0) return Error("has no subgraph");
    if (model_.subgraphs()->size() > 1) {
      return Status::Unsupported(label_ + ": has " + std::to_string(model_.subgraphs()->size()) +
                                 " subgraphs; qaudit runs single-subgraph models (no control flow)");
    }
    Graph g;
    g.schema_version = model_.version();
    if (model_.description()) g.description = model_.description()->str();
    const tfl::SubGraph& sg = *model_.subgraphs()->Get(0);
    if (sg.name()) g.name = sg.name()->str();
    if (!sg.tensors()) return Error("subgraph 0 has no tensor list");
    for (flatbuffers::uoffset_t i = 0; i < sg.tensors()->size(); ++i) {
      auto tensor = ReadTensor(*sg.tensors()->Get(i), i);
      if (!tensor.ok()) return tensor.status();
      g.tensors.push_back(std::move(tensor).value());
    }
    g.inputs = ToVector<int>(sg.inputs());
    g.outputs = ToVector<int>(sg.outputs());
    if (sg.operators()) {
      for (flatbuffers::uoffset_t i = 0; i < sg.operators()->size(); ++i) {
        auto op = ReadOperator(*sg.operators()->Get(i), i);
        if (!op.ok()) return op.status();
        g.operators.push_back(std::move(op).value());
      }
    }
    QAUDIT_RETURN_IF_ERROR(ReadMetadata(g));
    QAUDIT_RETURN_IF_ERROR(ReadSignatures(g));
    QAUDIT_RETURN_IF_ERROR(VerifyGraph(g).WithContext(label_));
    return g;
  }

 private:
  Status Error(const std::string& what) const { return Status::InvalidArgument(label_ + ": " + what); }

  // Returns the bytes of buffer `index`, or an error if the index is out of range or the
  // data lives outside the flatbuffer (files over 2 GiB).
  Result<const flatbuffers::Vector<uint8_t>*> Buffer(uint32_t index, const std::string& who) const {
    const auto* buffers = model_.buffers();
    // Buffer 0 is the conventional empty buffer; some writers omit the buffer list entirely.
    if (index == 0 && (!buffers || buffers->size() == 0)) return static_cast<const flatbuffers::Vector<uint8_t>*>(nullptr);
    if (!buffers || index >= buffers->size()) {
      return Error(who + " refers to buffer " + std::to_string(index) + " but the model has " +
                   std::to_string(buffers ? buffers->size() : 0) + " buffers");
    }
    const tfl::Buffer* b = buffers->Get(index);
    if (!b) return static_cast<const flatbuffers::Vector<uint8_t>*>(nullptr);
    if (b->offset() > 1 || b->size() > 0) {
      return Status::Unsupported(label_ + ": " + who + " keeps its data outside the flatbuffer (a >2 GiB model)");
    }
    return b->data();
  }

  Result<Tensor> ReadTensor(const tfl::Tensor& ft, uint32_t index) {
    const std::string who = "tensor " + std::to_string(index) + (ft.name() ? " '" + ft.name()->str() + "'" : "");
    Tensor t;
    if (ft.name()) t.name = ft.name()->str();
    auto dtype = MapType(ft.type());
    if (!dtype.ok()) return Status::Unsupported(label_ + ": " + who + " has " + dtype.status().message());
    t.dtype = *dtype;
    t.shape = ToVector<int32_t>(ft.shape());
    t.shape_signature = ToVector<int32_t>(ft.shape_signature());
    t.is_variable = ft.is_variable();
    if (ft.sparsity()) return Status::Unsupported(label_ + ": " + who + " is sparse");
    if (const tfl::QuantizationParameters* q = ft.quantization()) {
      if (q->details_type() != tfl::QuantizationDetails_NONE) {
        return Status::Unsupported(label_ + ": " + who + " uses custom quantization");
      }
      t.quant.scale = ToVector<float>(q->scale());
      t.quant.zero_point = ToVector<int64_t>(q->zero_point());
      t.quant.min = ToVector<float>(q->min());
      t.quant.max = ToVector<float>(q->max());
      t.quant.quantized_dimension = q->quantized_dimension();
    }
    QAUDIT_ASSIGN_OR_RETURN(const auto* data, Buffer(ft.buffer(), who));
    if (data && data->size() > 0) {
      t.is_constant = true;
      t.data.assign(data->begin(), data->end());
    }
    return t;
  }

  Result<Operator> ReadOperator(const tfl::Operator& fop, uint32_t index) {
    const std::string who = "operator " + std::to_string(index);
    const auto* codes = model_.operator_codes();
    if (!codes || fop.opcode_index() >= codes->size()) {
      return Error(who + " has opcode_index " + std::to_string(fop.opcode_index()) + " but the model has " +
                   std::to_string(codes ? codes->size() : 0) + " operator codes");
    }
    const tfl::OperatorCode& code = *codes->Get(fop.opcode_index());
    // Files written before the operator list outgrew a byte only fill the deprecated field.
    const int32_t builtin = std::max<int32_t>(code.builtin_code(), code.deprecated_builtin_code());
    std::optional<OpKind> kind;
#define QAUDIT_OP(op_kind, tflite_name, c, options) \
  if (builtin == c) kind = OpKind::k##op_kind;
#include "qaudit/ops.def"
#undef QAUDIT_OP
    if (!kind) {
      std::string name = TfliteBuiltinName(builtin);
      if (name == "CUSTOM") name = "custom op '" + (code.custom_code() ? code.custom_code()->str() : "") + "'";
      return Status::Unsupported(label_ + ": " + who + " is " + name + ", which qaudit does not support");
    }
    Operator op;
    op.kind = *kind;
    op.version = code.version();
    op.inputs = ToVector<int>(fop.inputs());
    op.outputs = ToVector<int>(fop.outputs());
    auto options = tflite_internal::ParseOptions(*kind, fop);
    if (!options.ok()) return options.status().WithContext(label_ + ": " + who + " (" + OpName(*kind) + ")");
    op.options = std::move(options).value();
    return op;
  }

  Status ReadMetadata(Graph& g) {
    if (!model_.metadata()) return Status::Ok();
    for (const tfl::Metadata* m : *model_.metadata()) {
      Metadata md;
      if (m->name()) md.name = m->name()->str();
      auto data = Buffer(m->buffer(), "metadata '" + md.name + "'");
      if (!data.ok()) return data.status();
      if (*data) md.data.assign((*data)->begin(), (*data)->end());
      g.metadata.push_back(std::move(md));
    }
    return Status::Ok();
  }

  Status ReadSignatures(Graph& g) {
    if (!model_.signature_defs()) return Status::Ok();
    auto read_map = [&](const flatbuffers::Vector<flatbuffers::Offset<tfl::TensorMap>>* v,
                        std::vector<SignatureTensor>& out) -> Status {
      if (!v) return Status::Ok();
      for (const tfl::TensorMap* tm : *v) {
        if (tm->tensor_index() >= g.tensors.size()) {
          return Error("signature refers to tensor " + std::to_string(tm->tensor_index()) + " of " +
                       std::to_string(g.tensors.size()));
        }
        out.push_back({tm->name() ? tm->name()->str() : "", static_cast<int>(tm->tensor_index())});
      }
      return Status::Ok();
    };
    for (const tfl::SignatureDef* sd : *model_.signature_defs()) {
      if (sd->subgraph_index() != 0) return Error("a signature refers to a subgraph other than 0");
      Signature s;
      if (sd->signature_key()) s.key = sd->signature_key()->str();
      QAUDIT_RETURN_IF_ERROR(read_map(sd->inputs(), s.inputs));
      QAUDIT_RETURN_IF_ERROR(read_map(sd->outputs(), s.outputs));
      g.signatures.push_back(std::move(s));
    }
    return Status::Ok();
  }

  const tfl::Model& model_;
  const std::string& label_;
};

}  // namespace

Result<Graph> ReadTflite(const uint8_t* data, size_t size, const std::string& label) {
  if (size < 8) return Status::InvalidArgument(label + ": " + std::to_string(size) + " bytes is too short for a .tflite file");
  if (!tfl::ModelBufferHasIdentifier(data)) {
    return Status::InvalidArgument(label + ": not a .tflite file (no TFL3 identifier at byte 4)");
  }
  flatbuffers::Verifier verifier(data, size);
  if (!tfl::VerifyModelBuffer(verifier)) {
    return Status::InvalidArgument(label + ": the FlatBuffers structure is corrupt or truncated (" +
                                   std::to_string(size) + " bytes)");
  }
  return ModelReader(*tfl::GetModel(data), label).Read();
}

Result<Graph> ReadTfliteFile(const std::string& path) {
  QAUDIT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadWholeFile(path));
  return ReadTflite(bytes.data(), bytes.size(), path);
}

}  // namespace qaudit
