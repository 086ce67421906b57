// LSTM on the cpu backend (float32, the default activations Sigmoid / Tanh / Tanh, no clip, peepholes, input_forget
// or sequence_lens; any direction and layout). W and R must be constants: they are transposed once at prepare time
// into [I, 4H] and [H, 4H] panels with Wb + Rb summed, so a run is one GEMM for X W^T of every step, then per step
// H R^T (register-blocked GEMM of cpu_kernels) and the vectorised cell update (polynomial e^x for sigmoid and tanh).
#include <cctype>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/cpu_kernels.hpp"
#include "backends/cpu/cpu_ops.hpp"
#include "ops/kernel_util.hpp"

namespace nnport::cpu {

namespace {

/// Multiply-adds below which the input product stays on the calling thread.
constexpr int64_t kParallelMacs = int64_t{512} * 1024;

struct Packed {
    int64_t dirs = 1, input = 0, hidden = 0;
    std::vector<float> wt, rt, bias;  ///< per direction: W^T [I, 4H], R^T [H, 4H], Wb + Rb [4H]
};

void transpose_into(const float* src, int64_t rows, int64_t cols, float* dst) {
    for (int64_t i = 0; i < rows; ++i) {
        for (int64_t j = 0; j < cols; ++j) dst[j * rows + i] = src[i * cols + j];
    }
}

class LstmKernel final : public BackendKernel {
public:
    LstmKernel(Packed p, bool reverse, bool batch_first)
        : p_(std::move(p)), reverse_(reverse), batch_first_(batch_first) {}

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& x = ctx.input(0);
        if (x.dtype() != DType::kFloat32 || x.rank() != 3) return ctx.input_error("X must be 3-D float32");
        const int64_t S = x.dim(batch_first_ ? 1 : 0), B = x.dim(batch_first_ ? 0 : 1), I = x.dim(2);
        const int64_t H = p_.hidden, G = 4 * H, D = p_.dirs;
        if (I != p_.input) {
            return ctx.input_error("X " + shape_to_string(x.shape()) + " has input size " + std::to_string(I) +
                                   ", W has " + std::to_string(p_.input));
        }
        const Shape state = batch_first_ ? Shape{B, D, H} : Shape{D, B, H};
        for (size_t i : {size_t(5), size_t(6)}) {
            if (!ctx.has_input(i)) continue;
            NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
            const Tensor& t = ctx.input(i);
            if (t.dtype() != DType::kFloat32 || t.shape() != state) {
                return ctx.input_error(std::string(i == 5 ? "initial_h" : "initial_c") + " has shape " +
                                       shape_to_string(t.shape()) + ", expected float32 " + shape_to_string(state));
            }
        }
        float* y = nullptr;
        float* y_h = nullptr;
        float* y_c = nullptr;
        if (ctx.has_output(0)) {
            const Shape ys = batch_first_ ? Shape{B, S, D, H} : Shape{S, D, B, H};
            NNPORT_ASSIGN_OR_RETURN(Tensor * t, ctx.output(0, DType::kFloat32, ys));
            y = t->data<float>();
        }
        if (ctx.has_output(1)) {
            NNPORT_ASSIGN_OR_RETURN(Tensor * t, ctx.output(1, DType::kFloat32, state));
            y_h = t->data<float>();
        }
        if (ctx.has_output(2)) {
            NNPORT_ASSIGN_OR_RETURN(Tensor * t, ctx.output(2, DType::kFloat32, state));
            y_c = t->data<float>();
        }
        if (B == 0) return Status::ok();
        NNPORT_ASSIGN_OR_RETURN(Tensor xw_t, Tensor::create(DType::kFloat32, {S * B, G}));
        float* xw = xw_t.data<float>();
        std::vector<float> g(static_cast<size_t>(B * G)), h(static_cast<size_t>(B * H)), c(h.size());
        const Kernels& kern = kernels();
        const float* xd = x.data<float>();
        // Rows of X (and of xw) in step-major order whatever the layout: [S, B, I] or [B, S, I].
        auto x_row = [&](int64_t t, int64_t b) { return batch_first_ ? b * S + t : t * B + b; };
        auto state_off = [&](int64_t dir, int64_t b) { return batch_first_ ? (b * D + dir) * H : (dir * B + b) * H; };
        auto y_off = [&](int64_t t, int64_t dir, int64_t b) {
            return batch_first_ ? ((b * S + t) * D + dir) * H : ((t * D + dir) * B + b) * H;
        };
        for (int64_t dir = 0; dir < D; ++dir) {
            const bool backward = reverse_ || dir == 1;
            const float* wt = p_.wt.data() + dir * I * G;
            const float* rt = p_.rt.data() + dir * H * G;
            const float* bias = p_.bias.data() + dir * G;
            // X W^T + b for every step at once.
            auto rows = [&](int64_t r0, int64_t r1) {
                kern.gemm(r1 - r0, G, I, 1.0f, xd + r0 * I, I, wt, G, xw + r0 * G, G);
                for (int64_t r = r0; r < r1; ++r) {
                    float* row = xw + r * G;
                    for (int64_t j = 0; j < G; ++j) row[j] += bias[j];
                }
            };
            if (S * B * G * I >= kParallelMacs && S * B > 1) ctx.parallel_for(S * B, rows);
            else rows(0, S * B);
            for (int64_t b = 0; b < B; ++b) {
                const float* h0 = ctx.has_input(5) ? ctx.input(5).data<float>() + state_off(dir, b) : nullptr;
                const float* c0 = ctx.has_input(6) ? ctx.input(6).data<float>() + state_off(dir, b) : nullptr;
                for (int64_t j = 0; j < H; ++j) {
                    h[static_cast<size_t>(b * H + j)] = h0 ? h0[j] : 0.0f;
                    c[static_cast<size_t>(b * H + j)] = c0 ? c0[j] : 0.0f;
                }
            }
            for (int64_t s = 0; s < S; ++s) {
                const int64_t t = backward ? S - 1 - s : s;
                kern.gemm(B, G, H, 1.0f, h.data(), H, rt, G, g.data(), G);
                for (int64_t b = 0; b < B; ++b) {
                    float* gb = g.data() + b * G;
                    const float* xg = xw + x_row(t, b) * G;
                    for (int64_t j = 0; j < G; ++j) gb[j] += xg[j];
                    float* hb = h.data() + b * H;
                    kern.lstm_cell(gb, c.data() + b * H, hb, H);
                    if (y) std::memcpy(y + y_off(t, dir, b), hb, static_cast<size_t>(H) * sizeof(float));
                }
            }
            for (int64_t b = 0; b < B; ++b) {
                if (y_h) std::memcpy(y_h + state_off(dir, b), h.data() + b * H, static_cast<size_t>(H) * sizeof(float));
                if (y_c) std::memcpy(y_c + state_off(dir, b), c.data() + b * H, static_cast<size_t>(H) * sizeof(float));
            }
        }
        return Status::ok();
    }

private:
    Packed p_;
    bool reverse_, batch_first_;
};

/// The direction count, or 0 for an unknown direction.
int64_t dirs_of(const AttrAccess& a) {
    const std::string d = a.attr_string("direction");
    return d == "forward" || d == "reverse" ? 1 : d == "bidirectional" ? 2 : 0;
}

/// Whether the activations attribute is absent or names the defaults (Sigmoid, Tanh, Tanh per direction).
bool default_activations(const AttrAccess& a, int64_t dirs) {
    if (!a.has_attr("activations")) return true;
    const std::vector<std::string> names = a.attr_strings("activations");
    if (names.size() != 3 && names.size() != static_cast<size_t>(3 * dirs)) return false;
    for (size_t i = 0; i < names.size(); ++i) {
        std::string n = names[i];
        for (char& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (n != (i % 3 == 0 ? "sigmoid" : "tanh")) return false;
    }
    return true;
}

}  // namespace

bool is_lstm(const ir::Node& node) { return is_op(node, "", "LSTM"); }

Support lstm_supports(const ir::Node& node, const ConstantFn& constant) {
    if (!node.def) return Support::no("unknown op");
    const AttrAccess a(node, *node.def);
    const ir::Value* x = node.input(0);
    if (!is_f32(x)) return Support::no("only float32");
    const int64_t dirs = dirs_of(a);
    if (dirs == 0) return Support::no("unknown direction");
    if (!default_activations(a, dirs)) return Support::no("only the default activations (Sigmoid, Tanh, Tanh)");
    if (a.has_attr("clip")) return Support::no("clip is not supported");
    if (a.attr_int("input_forget") != 0) return Support::no("input_forget is not supported");
    auto input = [&](size_t i) { return i < node.inputs().size() ? node.input(i) : nullptr; };
    if (input(4)) return Support::no("sequence_lens is not supported");
    if (input(7)) return Support::no("peepholes are not supported");
    for (size_t i = 1; i <= 3; ++i) {
        if (!input(i)) continue;
        const Tensor* t = constant(input(i));
        if (!t) return Support::no("W, R and B must be constants");
        if (t->dtype() != DType::kFloat32) return Support::no("only float32");
    }
    const Tensor* w = constant(input(1));
    const Tensor* r = constant(input(2));
    const Tensor* b = input(3) ? constant(input(3)) : nullptr;
    if (w->rank() != 3 || r->rank() != 3 || w->dim(0) != dirs || r->dim(0) != dirs) {
        return Support::no("W and R must be [directions, 4 hidden, *]");
    }
    const int64_t hidden = r->dim(2);
    if (w->dim(1) != 4 * hidden || r->dim(1) != 4 * hidden) return Support::no("W and R must have 4 x hidden rows");
    if (a.has_attr("hidden_size") && a.attr_int("hidden_size") != hidden) {
        return Support::no("hidden_size does not match R");
    }
    if (b && b->shape() != Shape{dirs, 8 * hidden}) return Support::no("B must be [directions, 8 hidden]");
    for (size_t i : {size_t(5), size_t(6)}) {
        if (input(i) && !is_f32(input(i))) return Support::no("only float32");
    }
    return Support::yes();
}

Result<KernelPtr> lstm_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = lstm_supports(node, ctx.constant);
    if (!s.ok) return unsupported("cpu: " + node.describe() + ": " + s.reason);
    const AttrAccess a(node, *node.def);
    const Tensor* w = ctx.constant(node.input(1));
    const Tensor* r = ctx.constant(node.input(2));
    const Tensor* b = node.inputs().size() > 3 && node.input(3) ? ctx.constant(node.input(3)) : nullptr;
    Packed p;
    p.dirs = dirs_of(a);
    p.input = w->dim(2);
    p.hidden = r->dim(2);
    const int64_t G = 4 * p.hidden;
    p.wt.resize(static_cast<size_t>(p.dirs * p.input * G));
    p.rt.resize(static_cast<size_t>(p.dirs * p.hidden * G));
    p.bias.assign(static_cast<size_t>(p.dirs * G), 0.0f);
    for (int64_t d = 0; d < p.dirs; ++d) {
        transpose_into(w->data<float>() + d * G * p.input, G, p.input, p.wt.data() + d * p.input * G);
        transpose_into(r->data<float>() + d * G * p.hidden, G, p.hidden, p.rt.data() + d * p.hidden * G);
        if (b) {
            const float* bp = b->data<float>() + d * 2 * G;
            for (int64_t j = 0; j < G; ++j) p.bias[static_cast<size_t>(d * G + j)] = bp[j] + bp[G + j];
        }
    }
    return KernelPtr(std::make_unique<LstmKernel>(std::move(p), a.attr_string("direction") == "reverse",
                                                  a.attr_int("layout") != 0));
}

}  // namespace nnport::cpu
