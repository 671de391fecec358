// Tests of the layer operations (kernels/ops.h): every ISA this CPU runs against double-precision
// formulas, SIMD against the scalar reference, all sizes 1..300 with misaligned pointers and
// guard zones, and RoPE against an independent rotation.
#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "util/fp16.h"

namespace autarky::kernels {
namespace {

// Unit roundoff of float: the largest relative error of one correctly rounded operation.
constexpr double kU = FLT_EPSILON / 2.0;
// The SIMD exp (2^n * Taylor polynomial of degree 7 on |r| <= ln2/2) loses < 5.2e-9 to
// truncation, about 2u to the rounding of the 7 Horner steps (each step's error is damped by
// |r| <= 0.35 except the last two) and of r, and u to the final scaling: below 4u in all. glibc's
// expf is within 1 ulp (2u). ExpMatchesDoubleWithinBound checks this bound over the whole range.
constexpr double kExpRelTol = 4 * kU;
// Smallest positive subnormal: the absolute rounding step of a result in the subnormal range.
const double kSubnormalStep = std::ldexp(1.0, -149);

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

std::vector<Isa> SimdIsas() {
  std::vector<Isa> isas = SupportedIsas();
  isas.erase(isas.begin());  // scalar first
  return isas;
}

// A float array placed at `offset` floats past a 64-byte boundary, with guard zones on both
// sides that the kernels must not touch.
class GuardedBuffer {
 public:
  static constexpr int kGuard = 32;
  static constexpr float kCanary = -12345.678f;
  GuardedBuffer(int64_t n, int offset) : n_(n), offset_(offset), storage_(n + 2 * kGuard + 16) {
    for (float& v : storage_) v = kCanary;
  }
  float* data() { return storage_.data() + kGuard + offset_; }
  bool GuardsIntact() const {
    for (int64_t i = 0; i < kGuard + offset_; ++i) {
      if (storage_[i] != kCanary) return false;
    }
    for (size_t i = kGuard + offset_ + n_; i < storage_.size(); ++i) {
      if (storage_[i] != kCanary) return false;
    }
    return true;
  }

 private:
  int64_t n_;
  int offset_;
  std::vector<float> storage_;
};

std::vector<float> RandomFloats(int64_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

// ---------------------------------------------------------------- exp

TEST(OpsExpTest, ExpMatchesDoubleWithinBound) {
  std::vector<float> x;
  for (double v = -110.0; v <= 95.0; v += 0.00137) x.push_back(static_cast<float>(v));
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 88.72f, 88.7228f, -87.33f, -103.28f, -103.97f,
                  -149.0f * 0.693147f, 0.3465736f, -0.3465736f}) {
    x.push_back(v);
  }
  std::vector<float> y(x.size());
  for (Isa isa : SupportedIsas()) {
    GetOpsKernels(isa).exp(x.data(), y.data(), static_cast<int64_t>(x.size()));
    double worst = 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double ref = std::exp(static_cast<double>(x[i]));
      if (ref > FLT_MAX * (1.0 + kExpRelTol)) {
        EXPECT_EQ(y[i], INFINITY) << IsaName(isa) << " x=" << x[i];
        continue;
      }
      if (ref > FLT_MAX * (1.0 - kExpRelTol)) continue;  // may round either way
      const double err = std::fabs(y[i] - ref);
      ASSERT_LE(err, kExpRelTol * ref + kSubnormalStep) << IsaName(isa) << " x=" << x[i];
      if (ref > FLT_MIN) worst = std::max(worst, err / ref);
    }
    RecordProperty(std::string("worst_rel_err_") + std::string(IsaName(isa)),
                   std::to_string(worst / kU) + "u");
  }
}

TEST(OpsExpTest, SpecialValues) {
  const float in[] = {INFINITY, -INFINITY, NAN, 0.0f, -1000.0f, 1000.0f};
  for (Isa isa : SupportedIsas()) {
    float out[6];
    GetOpsKernels(isa).exp(in, out, 6);
    EXPECT_EQ(out[0], INFINITY) << IsaName(isa);
    EXPECT_EQ(out[1], 0.0f) << IsaName(isa);
    EXPECT_TRUE(std::isnan(out[2])) << IsaName(isa);
    EXPECT_EQ(out[3], 1.0f) << IsaName(isa);
    EXPECT_EQ(out[4], 0.0f) << IsaName(isa);
    EXPECT_EQ(out[5], INFINITY) << IsaName(isa);
  }
}

// ---------------------------------------------------------------- SiLU / SwiGLU

// silu(x) = x / (1 + e), e = exp(-x): e carries kExpRelTol, 1 + e at most that plus u (the
// relative error of e is damped by e / (1 + e) <= 1), the division u.
constexpr double kSiluRelTol = kExpRelTol + 2 * kU;
// For x < -88.72, exp(-x) overflows and silu returns -0 where the true value is
// x * exp(x) > -100 * exp(-88.72) > -3.2e-37.
constexpr double kSiluUnderflowAbs = 3.2e-37;
// SwiGLU multiplies by `up`: one more rounding.
constexpr double kSwiGluRelTol = kSiluRelTol + kU;

double SiluDouble(double x) { return x / (1.0 + std::exp(-x)); }

TEST(OpsSiluTest, AllIsasMatchDoubleFormulaAtAllSizesAndAlignments) {
  for (Isa isa : SupportedIsas()) {
    const OpsKernels& ops = GetOpsKernels(isa);
    for (int64_t n = 1; n <= 300; ++n) {
      const int offset = static_cast<int>(n % 7);
      std::vector<float> x = RandomFloats(n, -20.0f, 20.0f, static_cast<uint32_t>(n));
      if (n > 3) {
        x[0] = -95.0f;  // exp(-x) overflows
        x[1] = 95.0f;
        x[2] = 0.0f;
      }
      const std::vector<float> up = RandomFloats(n, -3.0f, 3.0f, static_cast<uint32_t>(n + 1000));
      GuardedBuffer y(n, offset), z(n, offset);
      ops.silu(x.data(), y.data(), n);
      ops.swiglu(x.data(), up.data(), z.data(), n);
      ASSERT_TRUE(y.GuardsIntact()) << IsaName(isa) << " n=" << n;
      ASSERT_TRUE(z.GuardsIntact()) << IsaName(isa) << " n=" << n;
      for (int64_t i = 0; i < n; ++i) {
        const double ref = SiluDouble(x[i]);
        ASSERT_NEAR(y.data()[i], ref, kSiluRelTol * std::fabs(ref) + kSiluUnderflowAbs)
            << IsaName(isa) << " n=" << n << " x=" << x[i];
        const double ref_glu = ref * up[i];
        ASSERT_NEAR(z.data()[i], ref_glu,
                    kSwiGluRelTol * std::fabs(ref_glu) + kSiluUnderflowAbs * std::fabs(up[i]))
            << IsaName(isa) << " n=" << n << " x=" << x[i];
      }
    }
  }
}

TEST(OpsSiluTest, SimdMatchesScalarInPlace) {
  const OpsKernels& scalar = GetOpsKernels(Isa::kScalar);
  for (Isa isa : SimdIsas()) {
    for (int64_t n = 1; n <= 300; n += 7) {
      const std::vector<float> x = RandomFloats(n, -30.0f, 30.0f, static_cast<uint32_t>(n * 3));
      std::vector<float> want(n), got = x;
      scalar.silu(x.data(), want.data(), n);
      GetOpsKernels(isa).silu(got.data(), got.data(), n);  // y == x
      for (int64_t i = 0; i < n; ++i) {
        // Each is within kSiluRelTol of the exact value.
        ASSERT_NEAR(got[i], want[i], 2 * kSiluRelTol * std::fabs(want[i]) + kSiluUnderflowAbs)
            << IsaName(isa) << " n=" << n << " i=" << i;
      }
    }
  }
}

// ---------------------------------------------------------------- RMSNorm

// Scalar path: mean rounded to float (u), + eps (u), sqrt (u, and halves the error before it),
// 1/ (u), x * scale (u), * w (u): at most (2/2 + 4) u = 5u relative.
constexpr double kRmsNormRelTol = 5 * kU;

TEST(OpsRmsNormTest, AllIsasMatchDoubleFormulaAtAllSizesAndAlignments) {
  const float eps = 1e-6f;
  for (Isa isa : SupportedIsas()) {
    const OpsKernels& ops = GetOpsKernels(isa);
    for (int64_t n = 1; n <= 300; ++n) {
      const int offset = static_cast<int>((n * 5) % 9);
      const std::vector<float> x = RandomFloats(n, -4.0f, 4.0f, static_cast<uint32_t>(n));
      const std::vector<float> w = RandomFloats(n, 0.5f, 2.0f, static_cast<uint32_t>(n + 77));
      double sum = 0.0;
      for (float v : x) sum += static_cast<double>(v) * v;
      const double scale = 1.0 / std::sqrt(sum / n + eps);
      GuardedBuffer y(n, offset), y_unweighted(n, offset);
      ops.rms_norm(x.data(), w.data(), y.data(), n, eps);
      ops.rms_norm(x.data(), nullptr, y_unweighted.data(), n, eps);
      ASSERT_TRUE(y.GuardsIntact() && y_unweighted.GuardsIntact()) << IsaName(isa) << " " << n;
      for (int64_t i = 0; i < n; ++i) {
        const double ref = x[i] * scale * w[i];
        ASSERT_NEAR(y.data()[i], ref, kRmsNormRelTol * std::fabs(ref)) << IsaName(isa) << " " << n;
        const double ref_unweighted = x[i] * scale;
        ASSERT_NEAR(y_unweighted.data()[i], ref_unweighted,
                    kRmsNormRelTol * std::fabs(ref_unweighted))
            << IsaName(isa) << " " << n;
      }
    }
  }
}

TEST(OpsRmsNormTest, SimdMatchesScalarInPlace) {
  const OpsKernels& scalar = GetOpsKernels(Isa::kScalar);
  for (Isa isa : SimdIsas()) {
    for (int64_t n : {1, 2, 15, 16, 17, 63, 64, 65, 896, 1536, 1537, 8960}) {
      std::vector<float> x = RandomFloats(n, -100.0f, 100.0f, static_cast<uint32_t>(n));
      const std::vector<float> w = RandomFloats(n, -2.0f, 2.0f, static_cast<uint32_t>(n + 1));
      std::vector<float> want(n);
      scalar.rms_norm(x.data(), w.data(), want.data(), n, 1e-5f);
      GetOpsKernels(isa).rms_norm(x.data(), w.data(), x.data(), n, 1e-5f);  // y == x
      for (int64_t i = 0; i < n; ++i) {
        // Only the double sum's order differs; the float mean may then round one ulp apart
        // (2u), which moves the result by at most about 2u more than both rounding the same.
        ASSERT_NEAR(x[i], want[i], 4 * kU * std::fabs(want[i])) << IsaName(isa) << " " << n;
      }
    }
  }
}

// ---------------------------------------------------------------- softmax

struct SoftmaxCase {
  std::vector<float> x;
  std::vector<float> mask;  // empty: none
  float scale;
};

// Checks softmax output `p` against the double-precision value computed from the same float
// pre-activations v = fl(fl(x * scale) + mask) (both paths round them identically). Error of
// p_i relative to the exact value: d_i = v_i - max is rounded (u |d_i|, amplified by exp's
// derivative into a relative error), exp adds kExpRelTol, the double sum inherits the weighted
// mean of the term errors, and 1/sum and the final product add 2u (the double sum's own
// rounding is negligible).
void ExpectSoftmaxMatchesDouble(const SoftmaxCase& c, const float* p, const std::string& what) {
  const int64_t n = static_cast<int64_t>(c.x.size());
  std::vector<float> v(n);
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    v[i] = c.x[i] * c.scale;
    if (!c.mask.empty()) v[i] += c.mask[i];
    max = std::max(max, v[i]);
  }
  if (max == -INFINITY) {
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(p[i], 0.0f) << what;
    return;
  }
  std::vector<double> e(n), term_err(n);
  double sum = 0.0, weighted_err = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(v[i]) - max;
    e[i] = std::exp(d);
    term_err[i] = v[i] == -INFINITY ? 0.0 : kU * std::fabs(d) + kExpRelTol;
    sum += e[i];
    weighted_err += e[i] * term_err[i];
  }
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double ref = e[i] / sum;
    const double tol = ref * (term_err[i] + weighted_err / sum + 2 * kU) + kSubnormalStep;
    ASSERT_NEAR(p[i], ref, tol) << what << " i=" << i << " v=" << v[i];
    total += p[i];
  }
  EXPECT_NEAR(total, 1.0, n * 8 * kU) << what;
}

SoftmaxCase MakeSoftmaxCase(int64_t n, uint32_t seed) {
  SoftmaxCase c;
  c.x = RandomFloats(n, -12.0f, 12.0f, seed);
  c.scale = (seed % 3 == 0) ? 1.0f : 0.125f;
  if (seed % 2 == 0) {
    c.mask = RandomFloats(n, -2.0f, 0.0f, seed + 1);
    for (int64_t i = 0; i < n; ++i) {
      if ((i * 7 + seed) % 5 == 0) c.mask[i] = -INFINITY;  // causal-style holes
    }
  }
  return c;
}

TEST(OpsSoftmaxTest, AllIsasMatchDoubleFormulaAtAllSizesAndAlignments) {
  for (Isa isa : SupportedIsas()) {
    const OpsKernels& ops = GetOpsKernels(isa);
    for (int64_t n = 1; n <= 300; ++n) {
      const SoftmaxCase c = MakeSoftmaxCase(n, static_cast<uint32_t>(n));
      GuardedBuffer p(n, static_cast<int>(n % 5));
      std::memcpy(p.data(), c.x.data(), n * sizeof(float));
      ops.softmax(p.data(), n, c.scale, c.mask.empty() ? nullptr : c.mask.data());
      ASSERT_TRUE(p.GuardsIntact()) << IsaName(isa) << " n=" << n;
      ExpectSoftmaxMatchesDouble(c, p.data(),
                                 std::string(IsaName(isa)) + " n=" + std::to_string(n));
    }
  }
}

TEST(OpsSoftmaxTest, SimdMatchesScalar) {
  const OpsKernels& scalar = GetOpsKernels(Isa::kScalar);
  for (Isa isa : SimdIsas()) {
    for (int64_t n = 1; n <= 300; n += 3) {
      const SoftmaxCase c = MakeSoftmaxCase(n, static_cast<uint32_t>(n * 11));
      std::vector<float> want = c.x, got = c.x;
      const float* mask = c.mask.empty() ? nullptr : c.mask.data();
      scalar.softmax(want.data(), n, c.scale, mask);
      GetOpsKernels(isa).softmax(got.data(), n, c.scale, mask);
      for (int64_t i = 0; i < n; ++i) {
        // Same pre-activations and maximum; the two exps differ by at most 2 kExpRelTol, which
        // also bounds the difference of the sums; plus 2u for the final scaling of each.
        ASSERT_NEAR(got[i], want[i], want[i] * (4 * kExpRelTol + 4 * kU) + kSubnormalStep)
            << IsaName(isa) << " n=" << n << " i=" << i;
      }
    }
  }
}

TEST(OpsSoftmaxTest, EdgeCases) {
  for (Isa isa : SupportedIsas()) {
    const OpsKernels& ops = GetOpsKernels(isa);
    float one[1] = {42.0f};
    ops.softmax(one, 1, 1.0f, nullptr);
    EXPECT_EQ(one[0], 1.0f) << IsaName(isa);

    std::vector<float> masked(37, 1.0f), mask(37, -INFINITY);
    ops.softmax(masked.data(), 37, 1.0f, mask.data());
    for (float v : masked) EXPECT_EQ(v, 0.0f) << IsaName(isa) << ": all masked gives zeros";

    std::vector<float> equal(19, 3.0f);
    ops.softmax(equal.data(), 19, 1.0f, nullptr);
    for (float v : equal) EXPECT_NEAR(v, 1.0 / 19, 2 * kU) << IsaName(isa);

    // Max subtraction: huge logits must not overflow.
    std::vector<float> big = {1000.0f, 999.0f, -INFINITY, 1000.0f};
    ops.softmax(big.data(), 4, 1.0f, nullptr);
    const double e1 = std::exp(-1.0), total = 2.0 + e1;
    EXPECT_NEAR(big[0], 1.0 / total, 8 * kU) << IsaName(isa);
    EXPECT_NEAR(big[1], e1 / total, 8 * kU) << IsaName(isa);
    EXPECT_EQ(big[2], 0.0f) << IsaName(isa);
  }
}

// ---------------------------------------------------------------- RoPE

// Error of the float angle theta_i = pos * s^i built by i float multiplications, s = powf(base,
// -2/n_rot) within 1 ulp (2u): relative (i + 2i) u. A rotation by an angle off by dtheta moves a
// pair of norm r by r * dtheta; cosf/sinf add u each, the products and sums of the rotation 3u:
// |error| <= r * (theta_i * 3 i u + 5u), using |cos| + |sin| <= sqrt(2) for the rounding terms.
double RopeTolerance(double theta, int i, double r) {
  return r * (theta * 3.0 * (i + 1) * kU + 5.0 * std::sqrt(2.0) * kU);
}

struct RopeShape {
  int n_heads, head_dim, n_rot;
};

const RopeShape kRopeShapes[] = {{1, 2, 2},   {2, 8, 8},    {3, 7, 4},    {1, 16, 14},
                                 {2, 34, 34}, {4, 64, 64},  {2, 64, 32},  {1, 128, 128},
                                 {3, 96, 96}, {2, 130, 66}, {1, 192, 64}, {2, 20, 18}};

// Index of the two elements of pair i in a head.
void PairIndices(RopeStyle style, int n_rot, int i, int* a, int* b) {
  if (style == RopeStyle::kNeox) {
    *a = i;
    *b = i + n_rot / 2;
  } else {
    *a = 2 * i;
    *b = 2 * i + 1;
  }
}

TEST(OpsRopeTest, AllIsasMatchIndependentRotation) {
  const float base = 10000.0f;
  for (Isa isa : SupportedIsas()) {
    const OpsKernels& ops = GetOpsKernels(isa);
    for (RopeStyle style : {RopeStyle::kNormal, RopeStyle::kNeox}) {
      for (const RopeShape& s : kRopeShapes) {
        for (int32_t pos : {1, 7, 500, 32767}) {
          RopeParams params;
          params.n_rot = s.n_rot;
          params.freq_base = base;
          params.style = style;
          std::vector<float> cos(s.n_rot / 2), sin(s.n_rot / 2);
          RopeAngles(pos, params, cos.data(), sin.data());
          const int64_t n = static_cast<int64_t>(s.n_heads) * s.head_dim;
          const std::vector<float> x = RandomFloats(n, -3.0f, 3.0f, static_cast<uint32_t>(pos + n));
          GuardedBuffer y(n, static_cast<int>(pos % 5));
          std::memcpy(y.data(), x.data(), n * sizeof(float));
          ops.rope(y.data(), s.n_heads, s.head_dim, s.n_rot, cos.data(), sin.data(), style);
          const std::string what =
              std::string(IsaName(isa)) + (style == RopeStyle::kNeox ? " neox" : " normal") +
              " rot=" + std::to_string(s.n_rot) + " dim=" + std::to_string(s.head_dim) +
              " pos=" + std::to_string(pos);
          ASSERT_TRUE(y.GuardsIntact()) << what;
          for (int h = 0; h < s.n_heads; ++h) {
            const float* in = x.data() + h * s.head_dim;
            const float* out = y.data() + h * s.head_dim;
            for (int i = 0; i < s.n_rot / 2; ++i) {
              const double theta = pos * std::pow(static_cast<double>(base), -2.0 * i / s.n_rot);
              int a, b;
              PairIndices(style, s.n_rot, i, &a, &b);
              const double x0 = in[a], x1 = in[b];
              const double r = std::hypot(x0, x1);
              const double tol = RopeTolerance(theta, i, r);
              ASSERT_NEAR(out[a], x0 * std::cos(theta) - x1 * std::sin(theta), tol) << what;
              ASSERT_NEAR(out[b], x0 * std::sin(theta) + x1 * std::cos(theta), tol) << what;
              // Rotations preserve the norm of each pair.
              ASSERT_NEAR(std::hypot(static_cast<double>(out[a]), out[b]), r,
                          r * 6 * std::sqrt(2.0) * kU)
                  << what;
            }
            for (int d = s.n_rot; d < s.head_dim; ++d) {
              ASSERT_EQ(out[d], in[d]) << what << ": dims past n_rot stay untouched";
            }
          }
        }
      }
    }
  }
}

TEST(OpsRopeTest, PositionZeroIsIdentity) {
  for (Isa isa : SupportedIsas()) {
    for (RopeStyle style : {RopeStyle::kNormal, RopeStyle::kNeox}) {
      for (const RopeShape& s : kRopeShapes) {
        RopeParams params;
        params.n_rot = s.n_rot;
        params.style = style;
        std::vector<float> cos(s.n_rot / 2), sin(s.n_rot / 2);
        RopeAngles(0, params, cos.data(), sin.data());
        const int64_t n = static_cast<int64_t>(s.n_heads) * s.head_dim;
        const std::vector<float> x = RandomFloats(n, -3.0f, 3.0f, 5);
        std::vector<float> y = x;
        GetOpsKernels(isa).rope(y.data(), s.n_heads, s.head_dim, s.n_rot, cos.data(), sin.data(),
                                style);
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[i], x[i]) << IsaName(isa);
      }
    }
  }
}

TEST(OpsRopeTest, SimdMatchesScalar) {
  const OpsKernels& scalar = GetOpsKernels(Isa::kScalar);
  for (Isa isa : SimdIsas()) {
    for (RopeStyle style : {RopeStyle::kNormal, RopeStyle::kNeox}) {
      for (const RopeShape& s : kRopeShapes) {
        RopeParams params;
        params.n_rot = s.n_rot;
        params.style = style;
        std::vector<float> cos(s.n_rot / 2), sin(s.n_rot / 2);
        RopeAngles(1234, params, cos.data(), sin.data());
        const int64_t n = static_cast<int64_t>(s.n_heads) * s.head_dim;
        const std::vector<float> x = RandomFloats(n, -3.0f, 3.0f, 9);
        std::vector<float> want = x, got = x;
        scalar.rope(want.data(), s.n_heads, s.head_dim, s.n_rot, cos.data(), sin.data(), style);
        GetOpsKernels(isa).rope(got.data(), s.n_heads, s.head_dim, s.n_rot, cos.data(), sin.data(),
                                style);
        for (int64_t i = 0; i < n; ++i) {
          // Same angles; only the rounding of two products and a sum (3u each way, maybe fused)
          // differs, relative to |x0| + |x1| <= 2 * 3 (the input range).
          ASSERT_NEAR(got[i], want[i], 6 * kU * 6.0) << IsaName(isa) << " i=" << i;
        }
      }
    }
  }
}

TEST(OpsRopeTest, NeoxEqualsNormalOnDeinterleavedHead) {
  // NeoX pairs (i, i + n_rot/2); moving element i to 2i and i + n_rot/2 to 2i + 1 turns them
  // into the adjacent pairs of the normal style, with the same arithmetic per pair.
  const OpsKernels& ops = GetOpsKernels(Isa::kScalar);
  const int head_dim = 40, n_rot = 32, half = n_rot / 2;
  RopeParams params;
  params.n_rot = n_rot;
  std::vector<float> cos(half), sin(half);
  RopeAngles(77, params, cos.data(), sin.data());
  const std::vector<float> x = RandomFloats(head_dim, -1.0f, 1.0f, 3);
  std::vector<float> neox = x, normal = x;
  for (int i = 0; i < half; ++i) {
    normal[2 * i] = x[i];
    normal[2 * i + 1] = x[i + half];
  }
  ops.rope(neox.data(), 1, head_dim, n_rot, cos.data(), sin.data(), RopeStyle::kNeox);
  ops.rope(normal.data(), 1, head_dim, n_rot, cos.data(), sin.data(), RopeStyle::kNormal);
  for (int i = 0; i < half; ++i) {
    // Equal up to rounding: the compiler may fuse a different product of each formula into a
    // multiply-add (it does on AArch64), 2u of |x0| + |x1| per rotated element either way.
    const double tol = 4 * kU * (std::fabs(x[i]) + std::fabs(x[i + half]));
    EXPECT_NEAR(neox[i], normal[2 * i], tol);
    EXPECT_NEAR(neox[i + half], normal[2 * i + 1], tol);
  }
}

TEST(OpsRopeTest, AnglesMatchDoubleFormula) {
  for (int n_rot : {2, 32, 64, 128}) {
    for (float base : {10000.0f, 1000000.0f}) {
      RopeParams params;
      params.n_rot = n_rot;
      params.freq_base = base;
      std::vector<float> factors(n_rot / 2);
      for (int i = 0; i < n_rot / 2; ++i) factors[i] = 1.0f + static_cast<float>(i % 4);
      for (bool use_factors : {false, true}) {
        params.freq_factors = use_factors ? factors.data() : nullptr;
        for (int32_t pos : {0, 3, 4096, 100000}) {
          std::vector<float> cos(n_rot / 2), sin(n_rot / 2);
          RopeAngles(pos, params, cos.data(), sin.data());
          for (int i = 0; i < n_rot / 2; ++i) {
            double theta = pos * std::pow(static_cast<double>(base), -2.0 * i / n_rot);
            if (use_factors) theta /= factors[i];
            // See RopeTolerance; the factor division adds one more u.
            const double tol = theta * (3.0 * (i + 1) + 1) * kU + kU;
            ASSERT_NEAR(cos[i], std::cos(theta), tol) << n_rot << " " << pos << " " << i;
            ASSERT_NEAR(sin[i], std::sin(theta), tol) << n_rot << " " << pos << " " << i;
          }
        }
      }
    }
  }
}

TEST(OpsRopeTest, RopeOverTokensUsesEachPositionAndStride) {
  const int n_heads = 3, head_dim = 16, n_tokens = 4;
  const size_t stride = n_heads * head_dim + 5;  // padding between token rows
  RopeParams params;
  params.n_rot = 12;
  params.style = RopeStyle::kNeox;
  const int32_t positions[n_tokens] = {0, 9, 3, 9};
  const std::vector<float> x = RandomFloats(n_tokens * stride, -2.0f, 2.0f, 17);
  std::vector<float> y = x;
  Rope(y.data(), n_tokens, n_heads, head_dim, stride, positions, params);
  const OpsKernels& ops = GetOpsKernels();
  for (int t = 0; t < n_tokens; ++t) {
    std::vector<float> cos(6), sin(6);
    RopeAngles(positions[t], params, cos.data(), sin.data());
    std::vector<float> want(x.begin() + t * stride, x.begin() + (t + 1) * stride);
    ops.rope(want.data(), n_heads, head_dim, params.n_rot, cos.data(), sin.data(), params.style);
    for (size_t i = 0; i < stride; ++i) ASSERT_EQ(y[t * stride + i], want[i]) << t << " " << i;
  }
}

// Every F16 bit pattern, converted by each ISA, gives exactly util/fp16.h's float (F16 to F32
// is exact, and signaling NaNs keep their payload), at every length and alignment of a row.
TEST(OpsF16ToF32Test, EveryHalfConvertsBitExactly) {
  std::vector<uint16_t> all(65536 + 37);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i * 40503u);
  for (uint32_t h = 0; h < 65536; ++h) all[h] = static_cast<uint16_t>(h);
  for (Isa isa : SupportedIsas()) {
    const OpsKernels& ops = GetOpsKernels(isa);
    for (size_t offset : {size_t{0}, size_t{1}, size_t{7}}) {
      const int64_t n = static_cast<int64_t>(all.size() - offset);
      std::vector<float> out(n);
      ops.f16_to_f32(all.data() + offset, out.data(), n);
      int mismatches = 0;
      for (int64_t i = 0; i < n; ++i) {
        const float want = Fp16ToFp32(all[offset + i]);
        uint32_t got_bits, want_bits;
        std::memcpy(&got_bits, &out[i], 4);
        std::memcpy(&want_bits, &want, 4);
        if (got_bits != want_bits && ++mismatches <= 3) {
          ADD_FAILURE() << IsaName(isa) << " half 0x" << std::hex << all[offset + i] << ": 0x"
                        << got_bits << " != 0x" << want_bits;
        }
      }
      EXPECT_EQ(mismatches, 0) << IsaName(isa) << " offset " << offset;
    }
  }
}

}  // namespace
}  // namespace autarky::kernels
