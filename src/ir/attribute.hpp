// Node attributes: a tagged union following ONNX AttributeProto.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nnport/tensor.hpp"
#include "ir/value_type.hpp"

namespace nnport::ir {

class Graph;

/// Numbering follows onnx::AttributeProto::AttributeType.
enum class AttrType {
    kUndefined = 0,
    kFloat = 1,
    kInt = 2,
    kString = 3,
    kTensor = 4,
    kGraph = 5,
    kFloats = 6,
    kInts = 7,
    kStrings = 8,
    kTensors = 9,
    kGraphs = 10,
    kSparseTensor = 11,
    kTypeProto = 13,
};

const char* attr_type_name(AttrType t);

struct Attribute {
    AttrType type = AttrType::kUndefined;
    float f = 0.0f;
    int64_t i = 0;
    std::string s;
    Tensor t;
    std::shared_ptr<Graph> g;
    std::vector<float> floats;
    std::vector<int64_t> ints;
    std::vector<std::string> strings;
    std::vector<Tensor> tensors;
    std::vector<std::shared_ptr<Graph>> graphs;
    ValueType type_proto;  ///< for kTypeProto

    static Attribute make_int(int64_t v) { Attribute a; a.type = AttrType::kInt; a.i = v; return a; }
    static Attribute make_float(float v) { Attribute a; a.type = AttrType::kFloat; a.f = v; return a; }
    static Attribute make_string(std::string v) { Attribute a; a.type = AttrType::kString; a.s = std::move(v); return a; }
    static Attribute make_ints(std::vector<int64_t> v) { Attribute a; a.type = AttrType::kInts; a.ints = std::move(v); return a; }
    static Attribute make_floats(std::vector<float> v) { Attribute a; a.type = AttrType::kFloats; a.floats = std::move(v); return a; }
    static Attribute make_strings(std::vector<std::string> v) { Attribute a; a.type = AttrType::kStrings; a.strings = std::move(v); return a; }
    static Attribute make_tensor(Tensor v) { Attribute a; a.type = AttrType::kTensor; a.t = std::move(v); return a; }
    static Attribute make_graph(std::shared_ptr<Graph> v) { Attribute a; a.type = AttrType::kGraph; a.g = std::move(v); return a; }
};

/// Ordered so printing and export are deterministic.
using Attributes = std::map<std::string, Attribute>;

}  // namespace nnport::ir
