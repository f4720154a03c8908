// Finite-difference gradient checks, in double, of every op with a backward
// pass (kernels/cpu/ref_ops.h, the reference every backend is compared with).
//
// Each check builds a scalar L = sum(w * op(inputs)) with random weights w, so
// dL/dout = w, and compares the analytic input gradients with central
// differences.
#include <cmath>
#include <functional>
#include <vector>

#include "common/random.h"
#include "gtest/gtest.h"
#include "kernels/cpu/ref_ops.h"

namespace ladle {
namespace {

using Vec = std::vector<double>;

Vec RandomVec(int64_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  Vec v(n);
  for (auto& x : v) x = scale * rng.Normal();
  return v;
}

double Dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Checks analytic gradient `grad` of `loss` w.r.t. `x` (modified in place and
// restored).
void ExpectGradMatches(const char* what, Vec& x, const Vec& grad,
                       const std::function<double()>& loss, double eps = 1e-6,
                       double tol = 1e-6) {
  ASSERT_EQ(x.size(), grad.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + eps;
    const double up = loss();
    x[i] = keep - eps;
    const double down = loss();
    x[i] = keep;
    const double fd = (up - down) / (2 * eps);
    EXPECT_NEAR(grad[i], fd, tol * (1 + std::fabs(fd)))
        << what << " element " << i;
  }
}

TEST(GradCheck, LinearWithBias) {
  for (bool ta : {false, true}) {
    const int64_t B = 3, in = 4, out = 5;
    Vec x = RandomVec(B * in, 1), w = RandomVec(out * in, 2),
        b = RandomVec(out, 3);
    const Vec wy = RandomVec(B * out, 4);
    // y = x W^T + b; with ta the same product is computed from xT stored [in,
    // B].
    auto forward = [&]() {
      Vec y(B * out);
      if (ta) {
        Vec xt(in * B);
        for (int64_t i = 0; i < B; ++i)
          for (int64_t j = 0; j < in; ++j) xt[j * B + i] = x[i * in + j];
        ref::Gemm<double>(true, true, B, out, in, 1.0, xt.data(), w.data(), 0.0,
                          y.data());
      } else {
        ref::Gemm<double>(false, true, B, out, in, 1.0, x.data(), w.data(), 0.0,
                          y.data());
      }
      ref::AddBias(y.data(), b.data(), B, out);
      return y;
    };
    auto loss = [&]() { return Dot(forward(), wy); };
    Vec dw(out * in), db(out), dx(B * in);
    ref::Gemm<double>(true, false, out, in, B, 1.0, wy.data(), x.data(), 0.0,
                      dw.data());
    ref::BiasGrad(wy.data(), B, out, db.data());
    ref::Gemm<double>(false, false, B, in, out, 1.0, wy.data(), w.data(), 0.0,
                      dx.data());
    ExpectGradMatches("dW", w, dw, loss);
    ExpectGradMatches("db", b, db, loss);
    ExpectGradMatches("dx", x, dx, loss);
  }
}

TEST(GradCheck, GemmAlphaBeta) {
  const int64_t m = 3, n = 4, k = 2;
  Vec a = RandomVec(m * k, 5), b = RandomVec(k * n, 6),
      c0 = RandomVec(m * n, 7);
  const Vec wy = RandomVec(m * n, 8);
  auto loss = [&]() {
    Vec c = c0;
    ref::Gemm<double>(false, false, m, n, k, 0.5, a.data(), b.data(), 2.0,
                      c.data());
    return Dot(c, wy);
  };
  Vec da(m * k), dc(m * n);
  ref::Gemm<double>(false, true, m, k, n, 0.5, wy.data(), b.data(), 0.0,
                    da.data());
  for (int64_t i = 0; i < m * n; ++i) dc[i] = 2.0 * wy[i];
  ExpectGradMatches("dA", a, da, loss);
  ExpectGradMatches("dC", c0, dc, loss);
}

TEST(GradCheck, Relu) {
  Vec x = RandomVec(20, 9);
  for (auto& v : x)
    if (std::fabs(v) < 1e-3) v = 0.5;  // keep away from the kink
  const Vec wy = RandomVec(20, 10);
  auto loss = [&]() {
    Vec y(20);
    ref::ReluForward(x.data(), y.data(), 20);
    return Dot(y, wy);
  };
  Vec dx(20);
  ref::ReluBackward(x.data(), wy.data(), dx.data(), 20);
  ExpectGradMatches("relu dx", x, dx, loss);
}

TEST(GradCheck, Gelu) {
  Vec x = RandomVec(20, 11, 2.0);
  const Vec wy = RandomVec(20, 12);
  auto loss = [&]() {
    Vec y(20);
    ref::GeluForward(x.data(), y.data(), 20);
    return Dot(y, wy);
  };
  Vec dx(20);
  ref::GeluBackward(x.data(), wy.data(), dx.data(), 20);
  ExpectGradMatches("gelu dx", x, dx, loss);
}

TEST(GradCheck, Dropout) {
  const int64_t n = 200;
  Vec x = RandomVec(n, 13);
  const Vec wy = RandomVec(n, 14);
  Vec mask(n);
  auto loss = [&]() {
    Vec y(n);
    ref::DropoutForward(x.data(), y.data(), mask.data(), n, 0.3f, 42, 7);
    return Dot(y, wy);
  };
  loss();
  int dropped = 0;
  for (double m : mask) dropped += m == 0.0;
  EXPECT_GT(dropped, 30);  // ~60 expected at p = 0.3
  EXPECT_LT(dropped, 90);
  Vec dx(n);
  ref::DropoutBackward(wy.data(), mask.data(), dx.data(), n);
  ExpectGradMatches("dropout dx", x, dx, loss);
}

TEST(GradCheck, LayerNorm) {
  const int64_t rows = 3, cols = 6;
  Vec x = RandomVec(rows * cols, 15), g = RandomVec(cols, 16),
      b = RandomVec(cols, 17);
  const Vec wy = RandomVec(rows * cols, 18);
  Vec mean(rows), rstd(rows);
  auto loss = [&]() {
    Vec y(rows * cols);
    ref::LayerNormForward(x.data(), g.data(), b.data(), y.data(), mean.data(),
                          rstd.data(), rows, cols, 1e-5);
    return Dot(y, wy);
  };
  loss();
  Vec dx(rows * cols), dg(cols), db(cols);
  ref::LayerNormBackward(x.data(), g.data(), mean.data(), rstd.data(),
                         wy.data(), dx.data(), dg.data(), db.data(), rows,
                         cols);
  ExpectGradMatches("ln dx", x, dx, loss);
  ExpectGradMatches("ln dgamma", g, dg, loss);
  ExpectGradMatches("ln dbeta", b, db, loss);
}

TEST(GradCheck, SoftmaxCrossEntropyIgnoresNegativeLabels) {
  const int64_t rows = 4, cols = 5;
  Vec logits = RandomVec(rows * cols, 19, 2.0);
  const std::vector<int32_t> labels = {1, -1, 4, 0};
  const double scale = 0.25;
  auto loss = [&]() {
    Vec row_loss(rows);
    ref::SoftmaxCrossEntropy<double>(logits.data(), labels.data(), rows, cols,
                                     scale, row_loss.data(), nullptr);
    double s = 0;
    for (double l : row_loss) s += l;
    return s * scale;
  };
  Vec row_loss(rows), dlogits(rows * cols);
  ref::SoftmaxCrossEntropy<double>(logits.data(), labels.data(), rows, cols,
                                   scale, row_loss.data(), dlogits.data());
  EXPECT_EQ(row_loss[1], 0.0);
  for (int64_t c = 0; c < cols; ++c) EXPECT_EQ(dlogits[cols + c], 0.0);
  ExpectGradMatches("xent dlogits", logits, dlogits, loss);
}

TEST(GradCheck, SpMMAggregation) {
  // A small symmetric normalised adjacency (path 0-1-2-3 plus self loops).
  const std::vector<int32_t> row_ptr = {0, 2, 5, 8, 10};
  const std::vector<int32_t> col = {0, 1, 0, 1, 2, 1, 2, 3, 2, 3};
  const double deg[4] = {2, 3, 3, 2};
  Vec val(col.size());
  for (int64_t r = 0, p = 0; r < 4; ++r)
    for (; p < row_ptr[r + 1]; ++p)
      val[p] = 1.0 / std::sqrt(deg[r] * deg[col[p]]);
  const int64_t f = 3;
  Vec x = RandomVec(4 * f, 20);
  const Vec wy = RandomVec(4 * f, 21);
  auto loss = [&]() {
    Vec y(4 * f);
    ref::SpMM<double>(4, row_ptr.data(), col.data(), val.data(), x.data(), f,
                      y.data());
    return Dot(y, wy);
  };
  Vec dx(4 * f);  // Âᵀ wy = Â wy for symmetric Â
  ref::SpMM<double>(4, row_ptr.data(), col.data(), val.data(), wy.data(), f,
                    dx.data());
  ExpectGradMatches("spmm dx", x, dx, loss);
}

// The residual MLP block h + W2 gelu(W1 LN(h) + b1) + b2, composed from the ops
// exactly as kernels/models.cc's ResMlp does, including its backward wiring.
TEST(GradCheck, ResidualMlpBlock) {
  const int64_t B = 2, d = 3, hdim = 4 * d;
  Vec h = RandomVec(B * d, 22), g = RandomVec(d, 23), be = RandomVec(d, 24);
  Vec w1 = RandomVec(hdim * d, 25, 0.5), b1 = RandomVec(hdim, 26);
  Vec w2 = RandomVec(d * hdim, 27, 0.5), b2 = RandomVec(d, 28);
  const Vec wy = RandomVec(B * d, 29);
  Vec ln(B * d), mean(B), rstd(B), z1(B * hdim), a1(B * hdim), out(B * d);
  auto forward = [&]() {
    ref::LayerNormForward(h.data(), g.data(), be.data(), ln.data(), mean.data(),
                          rstd.data(), B, d, 1e-5);
    ref::Gemm<double>(false, true, B, hdim, d, 1.0, ln.data(), w1.data(), 0.0,
                      z1.data());
    ref::AddBias(z1.data(), b1.data(), B, hdim);
    ref::GeluForward(z1.data(), a1.data(), B * hdim);
    ref::Gemm<double>(false, true, B, d, hdim, 1.0, a1.data(), w2.data(), 0.0,
                      out.data());
    ref::AddBias(out.data(), b2.data(), B, d);
    ref::Axpy(1.0, h.data(), out.data(), B * d);
    return Dot(out, wy);
  };
  forward();
  Vec dw2(d * hdim), db2(d), da1(B * hdim), dw1(hdim * d), db1(hdim),
      dln(B * d), dh(B * d), dg(d), dbe(d);
  ref::Gemm<double>(true, false, d, hdim, B, 1.0, wy.data(), a1.data(), 0.0,
                    dw2.data());
  ref::BiasGrad(wy.data(), B, d, db2.data());
  ref::Gemm<double>(false, false, B, hdim, d, 1.0, wy.data(), w2.data(), 0.0,
                    da1.data());
  ref::GeluBackward(z1.data(), da1.data(), da1.data(), B * hdim);
  ref::Gemm<double>(true, false, hdim, d, B, 1.0, da1.data(), ln.data(), 0.0,
                    dw1.data());
  ref::BiasGrad(da1.data(), B, hdim, db1.data());
  ref::Gemm<double>(false, false, B, d, hdim, 1.0, da1.data(), w1.data(), 0.0,
                    dln.data());
  ref::LayerNormBackward(h.data(), g.data(), mean.data(), rstd.data(),
                         dln.data(), dh.data(), dg.data(), dbe.data(), B, d);
  ref::Axpy(1.0, wy.data(), dh.data(), B * d);  // the residual path
  ExpectGradMatches("block dW2", w2, dw2, forward);
  ExpectGradMatches("block db2", b2, db2, forward);
  ExpectGradMatches("block dW1", w1, dw1, forward);
  ExpectGradMatches("block db1", b1, db1, forward);
  ExpectGradMatches("block dgamma", g, dg, forward);
  ExpectGradMatches("block dbeta", be, dbe, forward);
  ExpectGradMatches("block dh", h, dh, forward);
}

// Optimizer steps against hand-computed PyTorch formulas.
TEST(Optimizers, AdamWMatchesPyTorchFormula) {
  double p = 1.0, m = 0, v = 0;
  const double g = 0.5, lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
  ref::AdamWUpdate<double>(&p, &g, &m, &v, 1, lr, b1, b2, eps, wd, 1);
  // Step 1: p *= 1 - lr*wd; m_hat = g; v_hat = g^2; p -= lr * g / (|g| + eps).
  EXPECT_NEAR(p, 1.0 * (1 - lr * wd) - lr * g / (std::fabs(g) + eps), 1e-12);
  EXPECT_NEAR(m, (1 - b1) * g, 1e-15);
  EXPECT_NEAR(v, (1 - b2) * g * g, 1e-15);
}

TEST(Optimizers, SgdNesterovMatchesPyTorchFormula) {
  double p = 1.0, buf = 0;
  const double g = 0.5, lr = 0.1, mom = 0.9, wd = 0.1;
  ref::SgdUpdate<double>(&p, &g, &buf, 1, lr, mom, true, wd);
  const double gg = g + wd * 1.0;  // 0.6; buf = 0.6; step = gg + mom*buf = 1.14
  EXPECT_NEAR(buf, gg, 1e-15);
  EXPECT_NEAR(p, 1.0 - lr * (gg + mom * gg), 1e-12);
  ref::SgdUpdate<double>(&p, &g, &buf, 1, lr, mom, true, wd);
  const double g2 = g + wd * (1.0 - lr * (gg + mom * gg));
  EXPECT_NEAR(buf, mom * gg + g2, 1e-12);
}

}  // namespace
}  // namespace ladle
