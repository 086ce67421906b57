// Structural rewrites of `nnport convert` for shape ops (src/convert/rewrites/structural_shape.cpp): Flatten,
// Squeeze, Unsqueeze -> Reshape, Expand -> Tile, Split -> Slices; applied at the opsets where the op's form differs
// (axes and split sizes as attributes or inputs), exported at that opset again, and declined without static shapes.
#include "convert/rewrites_structural_test_util.hpp"

namespace nnport::testing {
namespace {

using namespace rw;

onnx::ModelProto flatten_model(const std::vector<int64_t>& shape, int64_t axis) {
    onnx::GraphProto g;
    add_input(&g, "x", F, shape);
    attr_int(add_node(&g, "Flatten", {"x"}, {"y"}), "axis", axis);
    target(&g);
    add_output(&g, "y");
    return make_model(g);
}

TEST(ConvertRewriteStructural, FlattenToReshape) {
    const std::vector<std::pair<std::vector<int64_t>, int64_t>> cases = {
        {{2, 3, 4}, 1}, {{2, 3, 4}, 0}, {{2, 3, 4}, -1}, {{2, 3, 4}, 3}, {{-1, 3, 4}, 1}, {{2, 3, -1}, 2}};
    for (const auto& [shape, axis] : cases) {
        auto m = check_typed(flatten_model(shape, axis), "flatten_to_reshape", {"Flatten"});
        ASSERT_NE(m, nullptr) << axis;
        expect_needs_only(*m, "flatten_to_reshape");
    }
    check_declines(flatten_model({-1, 3, -1}, 1), "flatten_to_reshape");  // both sides unknown
}

/// Squeeze or Unsqueeze with `axes` as an attribute (opset < 13) or an input; no axes when empty.
onnx::ModelProto squeeze_model(const std::string& op, int opset, const std::vector<int64_t>& shape,
                               const std::vector<int64_t>& axes) {
    onnx::GraphProto g;
    add_input(&g, "x", F, shape);
    if (axes.empty()) {
        add_node(&g, op, {"x"}, {"y"});
    } else if (opset < 13) {
        attr_ints(add_node(&g, op, {"x"}, {"y"}), "axes", axes);
    } else {
        add_init_i64(&g, "axes", {int64_t(axes.size())}, axes);
        add_node(&g, op, {"x", "axes"}, {"y"});
    }
    target(&g);
    add_output(&g, "y");
    return make_model(g, opset);
}

TEST(ConvertRewriteStructural, SqueezeToReshape) {
    for (int opset : {11, 13}) {
        for (const auto& axes : {std::vector<int64_t>{0, -1}, std::vector<int64_t>{}}) {
            const onnx::ModelProto src = squeeze_model("Squeeze", opset, {1, 3, 4, 1}, axes);
            auto m = check_typed(src, "squeeze_to_reshape", {"Squeeze"});
            ASSERT_NE(m, nullptr);
            expect_needs_only(*m, "squeeze_to_reshape");
            expect_export_matches(*m, src);
        }
        check_declines(squeeze_model("Squeeze", opset, {-1, 3, 4, 1}, {3}), "squeeze_to_reshape");
    }
}

TEST(ConvertRewriteStructural, UnsqueezeToReshape) {
    for (int opset : {11, 13}) {
        for (const auto& axes : {std::vector<int64_t>{0, -1}, std::vector<int64_t>{1, 3}}) {
            const onnx::ModelProto src = squeeze_model("Unsqueeze", opset, {3, 4}, axes);
            auto m = check_typed(src, "unsqueeze_to_reshape", {"Unsqueeze"});
            ASSERT_NE(m, nullptr);
            expect_needs_only(*m, "unsqueeze_to_reshape");
            expect_export_matches(*m, src);
        }
        check_declines(squeeze_model("Unsqueeze", opset, {-1, 4}, {0}), "unsqueeze_to_reshape");
    }
}

/// Expand(x, shape): x a graph input or a constant.
onnx::ModelProto expand_model(const std::vector<int64_t>& xs, const std::vector<int64_t>& shape, bool x_const) {
    onnx::GraphProto g;
    add_input(&g, "z", F, {1});
    if (x_const)
        add_init_f32(&g, "x", xs);
    else
        add_input(&g, "x", F, xs);
    add_init_i64(&g, "shape", {int64_t(shape.size())}, shape);
    add_node(&g, "Expand", {"x", "shape"}, {"e"});
    target(&g);
    add_node(&g, "Add", {"e", "z"}, {"y"});
    add_output(&g, "y");
    return make_model(g);
}

TEST(ConvertRewriteStructural, ExpandToTile) {
    const std::vector<std::tuple<std::vector<int64_t>, std::vector<int64_t>, bool>> cases = {
        {{1, 3, 1}, {2, 3, 4}, false},
        {{2, 1, 4}, {1, 5, 1}, false},
        {{3, 1}, {2, 3, 4}, true},
        {{3, 4}, {3, 4}, false}};
    for (const auto& [xs, shape, c] : cases) {
        auto m = check_typed(expand_model(xs, shape, c), "expand_to_tile", {"Expand"});
        ASSERT_NE(m, nullptr);
        expect_needs_only(*m, "expand_to_tile");
    }
    // A lower-rank computed input would need a Reshape first; shapes must be static.
    check_declines(expand_model({3, 1}, {2, 3, 4}, false), "expand_to_tile");
    check_declines(expand_model({-1, 1}, {3, 4}, false), "expand_to_tile");
}

/// Split of x [2, 7, 3] along `axis` into `outs` pieces: sizes as attribute (opset < 13), input (13+), or none
/// (equal pieces; opset 18 with num_outputs may leave the last one smaller).
onnx::ModelProto split_model(int opset, int64_t axis, int outs, const std::vector<int64_t>& sizes,
                             const std::vector<int64_t>& shape = {2, 7, 3}) {
    onnx::GraphProto g;
    add_input(&g, "x", F, shape);
    std::vector<std::string> names;
    for (int i = 0; i < outs; ++i) names.push_back("y" + std::to_string(i));
    onnx::NodeProto* n = nullptr;
    if (!sizes.empty() && opset >= 13) {
        add_init_i64(&g, "split", {int64_t(sizes.size())}, sizes);
        n = add_node(&g, "Split", {"x", "split"}, names);
    } else {
        n = add_node(&g, "Split", {"x"}, names);
        if (!sizes.empty()) attr_ints(n, "split", sizes);
        if (sizes.empty() && opset >= 18) attr_int(n, "num_outputs", outs);
    }
    attr_int(n, "axis", axis);
    target(&g);
    for (const auto& o : names) add_output(&g, o);
    return make_model(g, opset);
}

TEST(ConvertRewriteStructural, SplitToSlices) {
    struct Case {
        int opset;
        int64_t axis;
        int outs;
        std::vector<int64_t> sizes;
    };
    for (const Case& c : {Case{11, 1, 3, {2, 4, 1}}, Case{13, 1, 3, {2, 4, 1}}, Case{13, -1, 3, {}}, Case{18, 1, 3, {}},
                          Case{18, 0, 2, {}}}) {
        const onnx::ModelProto src = split_model(c.opset, c.axis, c.outs, c.sizes);
        auto m = check_typed(src, "split_to_slices", {"Split"});
        ASSERT_NE(m, nullptr) << c.opset;
        EXPECT_EQ(count_op(*m, "Slice"), c.outs);
        expect_needs_only(*m, "split_to_slices");
        if (c.opset < 18) expect_export_matches(*m, src);
    }
    check_declines(split_model(13, 1, 3, {2, 4, 1}, {-1, 7, 3}), "split_to_slices");
}

}  // namespace
}  // namespace nnport::testing
