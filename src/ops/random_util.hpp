// Random streams shared by the random ops and Dropout: numpy-compatible, so seeded runs reproduce numpy's draws.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <random>

namespace nnport {

/// numpy legacy RandomState streams: MT19937 seeded like np.random.seed(seed) (from the system without a seed),
/// 53-bit uniform doubles, polar Gaussian, inversion binomial.
class NumpyRng {
public:
    explicit NumpyRng(std::optional<uint32_t> seed) {
        if (seed) {
            gen_.seed(*seed);
        } else {
            gen_.seed(std::random_device{}());
        }
    }
    /// Uniform in [0, 1) with 53 random bits.
    double uniform() {
        const uint32_t a = static_cast<uint32_t>(gen_() >> 5), b = static_cast<uint32_t>(gen_() >> 6);
        return (a * 67108864.0 + b) / 9007199254740992.0;
    }
    double normal() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double x1, x2, r2;
        do {
            x1 = 2.0 * uniform() - 1.0;
            x2 = 2.0 * uniform() - 1.0;
            r2 = x1 * x1 + x2 * x2;
        } while (r2 >= 1.0 || r2 == 0.0);
        const double f = std::sqrt(-2.0 * std::log(r2) / r2);
        spare_ = f * x1;
        has_spare_ = true;
        return f * x2;
    }
    /// One Bernoulli(p) draw, as numpy's binomial(1, p).
    double bernoulli(double p) {
        if (!(p > 0.0)) return 0.0;
        const bool flip = p > 0.5;
        const double pp = flip ? 1.0 - p : p, q = 1.0 - pp;
        const double qn = std::exp(std::log(q));
        int64_t x = 0;
        double px = qn, u = uniform();
        while (u > px) {
            ++x;
            if (x > 1) {
                x = 0;
                px = qn;
                u = uniform();
            } else {
                u -= px;
                px = (static_cast<double>(2 - x) * pp * px) / (static_cast<double>(x) * q);
            }
        }
        return static_cast<double>(flip ? 1 - x : x);
    }

private:
    std::mt19937 gen_;
    bool has_spare_ = false;
    double spare_ = 0.0;
};

}  // namespace nnport
