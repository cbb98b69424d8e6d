#include "op_options.h"

#include <string>

namespace qaudit::tflite_internal {
namespace {

Result<Activation> ParseActivation(tfl::ActivationFunctionType a) {
  if (a < tfl::ActivationFunctionType_NONE || a > tfl::ActivationFunctionType_SIGN_BIT) {
    return Status::InvalidArgument("fused activation " + std::to_string(static_cast<int>(a)) + " is not a known value");
  }
  return static_cast<Activation>(a);
}
tfl::ActivationFunctionType BuildActivation(Activation a) { return static_cast<tfl::ActivationFunctionType>(a); }

Result<Padding> ParsePadding(tfl::Padding p) {
  if (p != tfl::Padding_SAME && p != tfl::Padding_VALID) {
    return Status::InvalidArgument("padding " + std::to_string(static_cast<int>(p)) + " is not SAME or VALID");
  }
  return static_cast<Padding>(p);
}

// Looks up the options table of the expected type; nullptr when the operator has none.
template <typename Table>
Result<const Table*> OptionsTable(const tfl::Operator& op, tfl::BuiltinOptions expected) {
  if (op.builtin_options_type() == tfl::BuiltinOptions_NONE) return static_cast<const Table*>(nullptr);
  if (op.builtin_options_type() != expected) {
    return Status::InvalidArgument("has builtin options of type " +
                                   std::to_string(static_cast<int>(op.builtin_options_type())) + ", expected " +
                                   tfl::EnumNameBuiltinOptions(expected));
  }
  return static_cast<const Table*>(op.builtin_options());
}

Result<OpOptions> ParseConv(OpKind kind, const tfl::Operator& op) {
  ConvOptions o;
  if (kind == OpKind::kConv2D) {
    QAUDIT_ASSIGN_OR_RETURN(auto* t, OptionsTable<tfl::Conv2DOptions>(op, tfl::BuiltinOptions_Conv2DOptions));
    if (!t) return Status::InvalidArgument("has no Conv2DOptions");
    QAUDIT_ASSIGN_OR_RETURN(o.padding, ParsePadding(t->padding()));
    QAUDIT_ASSIGN_OR_RETURN(o.activation, ParseActivation(t->fused_activation_function()));
    o.stride_w = t->stride_w(), o.stride_h = t->stride_h();
    o.dilation_w = t->dilation_w_factor(), o.dilation_h = t->dilation_h_factor();
  } else {
    QAUDIT_ASSIGN_OR_RETURN(auto* t,
                            OptionsTable<tfl::DepthwiseConv2DOptions>(op, tfl::BuiltinOptions_DepthwiseConv2DOptions));
    if (!t) return Status::InvalidArgument("has no DepthwiseConv2DOptions");
    QAUDIT_ASSIGN_OR_RETURN(o.padding, ParsePadding(t->padding()));
    QAUDIT_ASSIGN_OR_RETURN(o.activation, ParseActivation(t->fused_activation_function()));
    o.stride_w = t->stride_w(), o.stride_h = t->stride_h();
    o.dilation_w = t->dilation_w_factor(), o.dilation_h = t->dilation_h_factor();
    o.depth_multiplier = t->depth_multiplier();
  }
  return OpOptions(o);
}

Result<OpOptions> ParsePool(const tfl::Operator& op) {
  QAUDIT_ASSIGN_OR_RETURN(auto* t, OptionsTable<tfl::Pool2DOptions>(op, tfl::BuiltinOptions_Pool2DOptions));
  if (!t) return Status::InvalidArgument("has no Pool2DOptions");
  PoolOptions o;
  QAUDIT_ASSIGN_OR_RETURN(o.padding, ParsePadding(t->padding()));
  QAUDIT_ASSIGN_OR_RETURN(o.activation, ParseActivation(t->fused_activation_function()));
  o.stride_w = t->stride_w(), o.stride_h = t->stride_h();
  o.filter_w = t->filter_width(), o.filter_h = t->filter_height();
  return OpOptions(o);
}

Result<OpOptions> ParseFullyConnected(const tfl::Operator& op) {
  QAUDIT_ASSIGN_OR_RETURN(auto* t,
                          OptionsTable<tfl::FullyConnectedOptions>(op, tfl::BuiltinOptions_FullyConnectedOptions));
  FullyConnectedOptions o;
  if (t) {
    if (t->weights_format() != tfl::FullyConnectedOptionsWeightsFormat_DEFAULT) {
      return Status::Unsupported("uses shuffled weights (weights_format " +
                                 std::to_string(static_cast<int>(t->weights_format())) + ")");
    }
    QAUDIT_ASSIGN_OR_RETURN(o.activation, ParseActivation(t->fused_activation_function()));
    o.keep_num_dims = t->keep_num_dims();
    o.asymmetric_quantize_inputs = t->asymmetric_quantize_inputs();
  }
  return OpOptions(o);
}

Result<OpOptions> ParseElementwise(OpKind kind, const tfl::Operator& op) {
  ElementwiseOptions o;
  if (kind == OpKind::kAdd) {
    QAUDIT_ASSIGN_OR_RETURN(auto* t, OptionsTable<tfl::AddOptions>(op, tfl::BuiltinOptions_AddOptions));
    if (t) {
      QAUDIT_ASSIGN_OR_RETURN(o.activation, ParseActivation(t->fused_activation_function()));
      o.pot_scale_int16 = t->pot_scale_int16();
    }
  } else if (kind == OpKind::kSub) {
    QAUDIT_ASSIGN_OR_RETURN(auto* t, OptionsTable<tfl::SubOptions>(op, tfl::BuiltinOptions_SubOptions));
    if (t) {
      QAUDIT_ASSIGN_OR_RETURN(o.activation, ParseActivation(t->fused_activation_function()));
      o.pot_scale_int16 = t->pot_scale_int16();
    }
  } else {
    QAUDIT_ASSIGN_OR_RETURN(auto* t, OptionsTable<tfl::MulOptions>(op, tfl::BuiltinOptions_MulOptions));
    if (t) {
      QAUDIT_ASSIGN_OR_RETURN(o.activation, ParseActivation(t->fused_activation_function()));
    }
  }
  return OpOptions(o);
}

}  // namespace

Result<OpOptions> ParseOptions(OpKind kind, const tfl::Operator& op) {
  switch (kind) {
    case OpKind::kConv2D:
    case OpKind::kDepthwiseConv2D: return ParseConv(kind, op);
    case OpKind::kAveragePool2D:
    case OpKind::kMaxPool2D: return ParsePool(op);
    case OpKind::kFullyConnected: return ParseFullyConnected(op);
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul: return ParseElementwise(kind, op);
    case OpKind::kConcatenation: {
      QAUDIT_ASSIGN_OR_RETURN(auto* t,
                              OptionsTable<tfl::ConcatenationOptions>(op, tfl::BuiltinOptions_ConcatenationOptions));
      ConcatenationOptions o;
      if (t) {
        o.axis = t->axis();
        QAUDIT_ASSIGN_OR_RETURN(o.activation, ParseActivation(t->fused_activation_function()));
      }
      return OpOptions(o);
    }
    case OpKind::kSoftmax: {
      QAUDIT_ASSIGN_OR_RETURN(auto* t, OptionsTable<tfl::SoftmaxOptions>(op, tfl::BuiltinOptions_SoftmaxOptions));
      SoftmaxOptions o;
      if (t) o.beta = t->beta();
      return OpOptions(o);
    }
    case OpKind::kMean: {
      QAUDIT_ASSIGN_OR_RETURN(auto* t, OptionsTable<tfl::ReducerOptions>(op, tfl::BuiltinOptions_ReducerOptions));
      ReducerOptions o;
      if (t) o.keep_dims = t->keep_dims();
      return OpOptions(o);
    }
    case OpKind::kReshape: {
      QAUDIT_ASSIGN_OR_RETURN(auto* t, OptionsTable<tfl::ReshapeOptions>(op, tfl::BuiltinOptions_ReshapeOptions));
      ReshapeOptions o;
      if (t && t->new_shape()) {
        o.has_new_shape = true;
        o.new_shape.assign(t->new_shape()->begin(), t->new_shape()->end());
      }
      return OpOptions(o);
    }
    case OpKind::kLeakyRelu: {
      QAUDIT_ASSIGN_OR_RETURN(auto* t, OptionsTable<tfl::LeakyReluOptions>(op, tfl::BuiltinOptions_LeakyReluOptions));
      LeakyReluOptions o;
      if (t) o.alpha = t->alpha();
      return OpOptions(o);
    }
    case OpKind::kDequantize:
    case OpKind::kLogistic:
    case OpKind::kRelu:
    case OpKind::kRelu6:
    case OpKind::kTanh:
    case OpKind::kPad:
    case OpKind::kTranspose:
    case OpKind::kQuantize:
    case OpKind::kHardSwish: return OpOptions(NoOptions{});
  }
  return Status::Internal("no options parser for " + std::string(OpName(kind)));
}

std::pair<tfl::BuiltinOptions, flatbuffers::Offset<void>> BuildOptions(flatbuffers::FlatBufferBuilder& fbb,
                                                                        const Operator& op) {
  using BO = tfl::BuiltinOptions;
  switch (op.kind) {
    case OpKind::kConv2D: {
      const auto& o = op.opts<ConvOptions>();
      return {BO::BuiltinOptions_Conv2DOptions,
              tfl::CreateConv2DOptions(fbb, static_cast<tfl::Padding>(o.padding), o.stride_w, o.stride_h,
                                       BuildActivation(o.activation), o.dilation_w, o.dilation_h)
                  .Union()};
    }
    case OpKind::kDepthwiseConv2D: {
      const auto& o = op.opts<ConvOptions>();
      return {BO::BuiltinOptions_DepthwiseConv2DOptions,
              tfl::CreateDepthwiseConv2DOptions(fbb, static_cast<tfl::Padding>(o.padding), o.stride_w, o.stride_h,
                                                o.depth_multiplier, BuildActivation(o.activation), o.dilation_w,
                                                o.dilation_h)
                  .Union()};
    }
    case OpKind::kAveragePool2D:
    case OpKind::kMaxPool2D: {
      const auto& o = op.opts<PoolOptions>();
      return {BO::BuiltinOptions_Pool2DOptions,
              tfl::CreatePool2DOptions(fbb, static_cast<tfl::Padding>(o.padding), o.stride_w, o.stride_h, o.filter_w,
                                       o.filter_h, BuildActivation(o.activation))
                  .Union()};
    }
    case OpKind::kFullyConnected: {
      const auto& o = op.opts<FullyConnectedOptions>();
      return {BO::BuiltinOptions_FullyConnectedOptions,
              tfl::CreateFullyConnectedOptions(fbb, BuildActivation(o.activation),
                                               tfl::FullyConnectedOptionsWeightsFormat_DEFAULT, o.keep_num_dims,
                                               o.asymmetric_quantize_inputs)
                  .Union()};
    }
    case OpKind::kAdd: {
      const auto& o = op.opts<ElementwiseOptions>();
      return {BO::BuiltinOptions_AddOptions,
              tfl::CreateAddOptions(fbb, BuildActivation(o.activation), o.pot_scale_int16).Union()};
    }
    case OpKind::kSub: {
      const auto& o = op.opts<ElementwiseOptions>();
      return {BO::BuiltinOptions_SubOptions,
              tfl::CreateSubOptions(fbb, BuildActivation(o.activation), o.pot_scale_int16).Union()};
    }
    case OpKind::kMul: {
      const auto& o = op.opts<ElementwiseOptions>();
      return {BO::BuiltinOptions_MulOptions, tfl::CreateMulOptions(fbb, BuildActivation(o.activation)).Union()};
    }
    case OpKind::kConcatenation: {
      const auto& o = op.opts<ConcatenationOptions>();
      return {BO::BuiltinOptions_ConcatenationOptions,
              tfl::CreateConcatenationOptions(fbb, o.axis, BuildActivation(o.activation)).Union()};
    }
    case OpKind::kSoftmax:
      return {BO::BuiltinOptions_SoftmaxOptions,
              tfl::CreateSoftmaxOptions(fbb, op.opts<SoftmaxOptions>().beta).Union()};
    case OpKind::kMean:
      return {BO::BuiltinOptions_ReducerOptions,
              tfl::CreateReducerOptions(fbb, op.opts<ReducerOptions>().keep_dims).Union()};
    case OpKind::kReshape: {
      const auto& o = op.opts<ReshapeOptions>();
      auto shape = o.has_new_shape ? fbb.CreateVector(o.new_shape) : 0;
      return {BO::BuiltinOptions_ReshapeOptions, tfl::CreateReshapeOptions(fbb, shape).Union()};
    }
    case OpKind::kLeakyRelu:
      return {BO::BuiltinOptions_LeakyReluOptions,
              tfl::CreateLeakyReluOptions(fbb, op.opts<LeakyReluOptions>().alpha).Union()};
    case OpKind::kPad: return {BO::BuiltinOptions_PadOptions, tfl::CreatePadOptions(fbb).Union()};
    case OpKind::kTranspose: return {BO::BuiltinOptions_TransposeOptions, tfl::CreateTransposeOptions(fbb).Union()};
    case OpKind::kDequantize: return {BO::BuiltinOptions_DequantizeOptions, tfl::CreateDequantizeOptions(fbb).Union()};
    case OpKind::kQuantize: return {BO::BuiltinOptions_QuantizeOptions, tfl::CreateQuantizeOptions(fbb).Union()};
    case OpKind::kHardSwish: return {BO::BuiltinOptions_HardSwishOptions, tfl::CreateHardSwishOptions(fbb).Union()};
    case OpKind::kLogistic:
    case OpKind::kRelu:
    case OpKind::kRelu6:
    case OpKind::kTanh: return {BO::BuiltinOptions_NONE, 0};
  }
  return {BO::BuiltinOptions_NONE, 0};
}

}  // namespace qaudit::tflite_internal
