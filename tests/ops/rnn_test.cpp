// RNN family edge cases: a bidirectional LSTM without an `activations` attribute uses the defaults in both
// directions (the default list was once duplicated into itself, which is undefined behaviour).
#include "ops/tensor_test_util.hpp"

namespace nnport::tensor_test {
namespace {

TEST(Rnn, BidirectionalLstmWithDefaultActivationsRunsBothDirectionsAlike) {
    // seq 3, batch 1, input 2, hidden 2; the same weights in both directions and a palindromic sequence, so the
    // backward direction's outputs are the forward ones in reverse order.
    std::vector<float> w, r;
    for (int d = 0; d < 2; ++d) {
        for (int i = 0; i < 16; ++i) w.push_back(0.05f * static_cast<float>(i % 7) - 0.1f);
        for (int i = 0; i < 16; ++i) r.push_back(0.03f * static_cast<float>(i % 5) - 0.05f);
    }
    const Tensor x = f32({3, 1, 2}, {0.5f, -1.0f, 0.25f, 0.75f, 0.5f, -1.0f});
    auto out = run("LSTM", {x, f32({2, 8, 2}, w), f32({2, 8, 2}, r)},
                   {{"hidden_size", int1(2)}, {"direction", str("bidirectional")}}, 1);
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    const Tensor& y = (*out)[0].tensor;  // [seq, dirs, batch, hidden]
    ASSERT_EQ(y.shape(), (Shape{3, 2, 1, 2}));
    for (int t = 0; t < 3; ++t) {
        for (int h = 0; h < 2; ++h) {
            EXPECT_NEAR(y.data<float>()[(t * 2 + 0) * 2 + h], y.data<float>()[((2 - t) * 2 + 1) * 2 + h], 1e-6f)
                << "t=" << t << " h=" << h;
        }
    }
}

}  // namespace
}  // namespace nnport::tensor_test
