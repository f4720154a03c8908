// Every backend against the double-precision reference ops, on fresh random
// inputs each run (the seed is printed so a failure can be replayed with
// LADLE_TEST_SEED=N). The CPU backend always runs; the CUDA backend runs when a
// GPU is usable and is skipped (with the reason) otherwise.
#include "kernels/backend.h"

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/collective.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/ref_ops.h"
#include "kernels/tensor.h"

namespace ladle {
namespace {

uint64_t TestSeed() {
  static const uint64_t seed = [] {
    if (const char* env = std::getenv("LADLE_TEST_SEED")) {
      return static_cast<uint64_t>(std::strtoull(env, nullptr, 10));
    }
    return static_cast<uint64_t>(std::random_device{}());
  }();
  return seed;
}

std::vector<float> Rand(int64_t n, uint64_t salt, double scale = 1.0) {
  Rng rng(TestSeed() * 1000003 + salt);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(scale * rng.Normal());
  return v;
}
std::vector<double> D(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

void ExpectClose(const std::vector<float>& got, const std::vector<double>& want,
                 double atol, double rtol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 5; ++i) {
    if (!(std::fabs(got[i] - want[i]) <= atol + rtol * std::fabs(want[i]))) {
      ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want "
                    << want[i] << " (LADLE_TEST_SEED=" << TestSeed() << ")";
      ++bad;
    }
  }
}

struct BackendCase {
  std::string name;
  Device device;
  CpuGemmLibrary gemm = CpuGemmLibrary::kOneDnn;
};

void PrintTo(const BackendCase& c, std::ostream* os) { *os << c.name; }

class BackendTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    const BackendCase& c = GetParam();
    if (c.device.kind == DeviceKind::kCuda) {
      if (!CudaBackendBuilt())
        GTEST_SKIP() << "built without the CUDA backend (no nvcc)";
      if (CudaDeviceCount() == 0)
        GTEST_SKIP() << "no CUDA GPU or driver on this machine";
      auto be = CreateBackend(c.device, 0);
      ASSERT_TRUE(be.ok()) << be.status();
      backend_ = std::move(*be);
    } else {
      backend_ = CreateCpuBackend(2, c.gemm);
    }
  }

  template <typename T>
  Tensor<T> Up(const std::vector<T>& host) {
    auto t = Tensor<T>::FromHost(backend_.get(),
                                 {static_cast<int64_t>(host.size())}, host);
    EXPECT_TRUE(t.ok()) << t.status();
    return std::move(*t);
  }
  template <typename T>
  std::vector<T> Down(const Tensor<T>& t) {
    auto h = t.ToHost();
    EXPECT_TRUE(h.ok()) << h.status();
    return *h;
  }

  std::unique_ptr<Backend> backend_;
};

TEST_P(BackendTest, GemmAllTransposes) {
  // Odd sizes catch edge handling; the large case exercises blocked paths.
  const int64_t shapes[][3] = {{7, 5, 3}, {33, 17, 65}, {128, 256, 96}};
  uint64_t salt = 0;
  for (const auto& s : shapes) {
    const int64_t m = s[0], n = s[1], k = s[2];
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        const auto a = Rand(m * k, ++salt), b = Rand(k * n, ++salt),
                   c = Rand(m * n, ++salt);
        auto da = Up(a), db = Up(b), dc = Up(c);
        ASSERT_TRUE(backend_
                        ->Gemm(ta, tb, m, n, k, 0.7f, da.data(), db.data(),
                               0.3f, dc.data())
                        .ok());
        std::vector<double> want = D(c);
        const auto ad = D(a), bd = D(b);
        ref::Gemm<double>(ta, tb, m, n, k, 0.7, ad.data(), bd.data(), 0.3,
                          want.data());
        ExpectClose(Down(dc), want, 1e-4, 1e-4,
                    "gemm m=" + std::to_string(m) + " ta=" +
                        std::to_string(ta) + " tb=" + std::to_string(tb));
      }
    }
  }
}

TEST_P(BackendTest, BiasAndAxpy) {
  const int64_t rows = 37, cols = 130;
  const auto y = Rand(rows * cols, 1), b = Rand(cols, 2);
  auto dy = Up(y), dbias = Up(b);
  ASSERT_TRUE(backend_->AddBias(dy.data(), dbias.data(), rows, cols).ok());
  std::vector<double> want = D(y);
  const auto bd = D(b);
  ref::AddBias(want.data(), bd.data(), rows, cols);
  ExpectClose(Down(dy), want, 1e-6, 1e-6, "add_bias");

  auto grad = Up(std::vector<float>(cols));
  auto g = Up(y);
  ASSERT_TRUE(backend_->BiasGrad(g.data(), rows, cols, grad.data()).ok());
  std::vector<double> want_db(cols);
  const auto yd = D(y);
  ref::BiasGrad(yd.data(), rows, cols, want_db.data());
  ExpectClose(Down(grad), want_db, 1e-5, 1e-5, "bias_grad");

  auto x = Up(b);
  auto acc = Up(b);
  ASSERT_TRUE(backend_->Axpy(-2.0f, x.data(), acc.data(), cols).ok());
  std::vector<double> want_axpy(cols);
  for (int64_t i = 0; i < cols; ++i) want_axpy[i] = -1.0 * b[i];
  ExpectClose(Down(acc), want_axpy, 1e-6, 1e-6, "axpy");
}

TEST_P(BackendTest, Activations) {
  const int64_t n = 5000;
  const auto x = Rand(n, 3, 3.0), dy = Rand(n, 4);
  const auto xd = D(x), dyd = D(dy);
  for (Activation act : {Activation::kRelu, Activation::kGelu}) {
    auto dx_in = Up(x), out = Up(std::vector<float>(n)), ddy = Up(dy),
         dgrad = Up(std::vector<float>(n));
    ASSERT_TRUE(
        backend_->ActivationForward(act, dx_in.data(), out.data(), n).ok());
    ASSERT_TRUE(
        backend_
            ->ActivationBackward(act, dx_in.data(), ddy.data(), dgrad.data(), n)
            .ok());
    std::vector<double> y(n), g(n);
    if (act == Activation::kRelu) {
      ref::ReluForward(xd.data(), y.data(), n);
      ref::ReluBackward(xd.data(), dyd.data(), g.data(), n);
    } else {
      ref::GeluForward(xd.data(), y.data(), n);
      ref::GeluBackward(xd.data(), dyd.data(), g.data(), n);
    }
    ExpectClose(Down(out), y, 1e-5, 1e-5, "activation forward");
    ExpectClose(Down(dgrad), g, 1e-5, 1e-5, "activation backward");
  }
}

TEST_P(BackendTest, DropoutMasksAreTheReferenceMasks) {
  const int64_t n = 10000;
  const auto x = Rand(n, 5);
  auto dx = Up(x), y = Up(std::vector<float>(n)),
       mask = Up(std::vector<float>(n));
  ASSERT_TRUE(backend_
                  ->DropoutForward(dx.data(), y.data(), mask.data(), n, 0.25f,
                                   99, 12345)
                  .ok());
  std::vector<double> want_y(n), want_mask(n);
  const auto xd = D(x);
  ref::DropoutForward(xd.data(), want_y.data(), want_mask.data(), n, 0.25f, 99,
                      12345);
  ExpectClose(Down(mask), want_mask, 0, 1e-6, "dropout mask");
  ExpectClose(Down(y), want_y, 1e-6, 1e-6, "dropout y");
  double kept = 0;
  for (double m : want_mask) kept += m != 0.0;
  EXPECT_NEAR(kept / n, 0.75, 0.02);
}

TEST_P(BackendTest, LayerNorm) {
  const int64_t rows = 71, cols = 300;
  const auto x = Rand(rows * cols, 6, 2.0), g = Rand(cols, 7),
             b = Rand(cols, 8), dy = Rand(rows * cols, 9);
  auto dx_ = Up(x), dg_ = Up(g), db_ = Up(b),
       y = Up(std::vector<float>(rows * cols)),
       mean = Up(std::vector<float>(rows)), rstd = Up(std::vector<float>(rows)),
       ddy = Up(dy), dx = Up(std::vector<float>(rows * cols)),
       dgamma = Up(std::vector<float>(cols)),
       dbeta = Up(std::vector<float>(cols));
  ASSERT_TRUE(backend_
                  ->LayerNormForward(dx_.data(), dg_.data(), db_.data(),
                                     y.data(), mean.data(), rstd.data(), rows,
                                     cols, 1e-5f)
                  .ok());
  ASSERT_TRUE(backend_
                  ->LayerNormBackward(dx_.data(), dg_.data(), mean.data(),
                                      rstd.data(), ddy.data(), dx.data(),
                                      dgamma.data(), dbeta.data(), rows, cols)
                  .ok());
  const auto xd = D(x), gd = D(g), bd = D(b), dyd = D(dy);
  std::vector<double> wy(rows * cols), wm(rows), wr(rows), wdx(rows * cols),
      wdg(cols), wdb(cols);
  ref::LayerNormForward(xd.data(), gd.data(), bd.data(), wy.data(), wm.data(),
                        wr.data(), rows, cols, 1e-5);
  ref::LayerNormBackward(xd.data(), gd.data(), wm.data(), wr.data(), dyd.data(),
                         wdx.data(), wdg.data(), wdb.data(), rows, cols);
  ExpectClose(Down(y), wy, 1e-4, 1e-4, "layernorm y");
  ExpectClose(Down(dx), wdx, 1e-4, 1e-3, "layernorm dx");
  ExpectClose(Down(dgamma), wdg, 1e-4, 1e-3, "layernorm dgamma");
  ExpectClose(Down(dbeta), wdb, 1e-4, 1e-4, "layernorm dbeta");
}

TEST_P(BackendTest, SoftmaxCrossEntropyArgmaxAndSum) {
  const int64_t rows = 50, cols = 10;
  const auto logits = Rand(rows * cols, 10, 3.0);
  std::vector<int32_t> labels(rows);
  for (int64_t r = 0; r < rows; ++r)
    labels[r] = r % 7 == 3 ? -1 : static_cast<int32_t>((r * 7) % cols);
  auto dl = Up(logits);
  auto dlab = Up(labels);
  auto loss = Up(std::vector<float>(rows)),
       grad = Up(std::vector<float>(rows * cols));
  ASSERT_TRUE(backend_
                  ->SoftmaxCrossEntropy(dl.data(), dlab.data(), rows, cols,
                                        0.02f, loss.data(), grad.data())
                  .ok());
  const auto ld = D(logits);
  std::vector<double> wl(rows), wg(rows * cols);
  ref::SoftmaxCrossEntropy<double>(ld.data(), labels.data(), rows, cols, 0.02,
                                   wl.data(), wg.data());
  ExpectClose(Down(loss), wl, 1e-5, 1e-5, "xent loss");
  ExpectClose(Down(grad), wg, 1e-6, 1e-4, "xent dlogits");

  auto acc = Up(std::vector<float>{1.5f});
  ASSERT_TRUE(backend_->SumInto(loss.data(), rows, 0.5f, acc.data()).ok());
  double s = 0;
  for (double v : wl) s += v;
  ExpectClose(Down(acc), {1.5 + 0.5 * s}, 1e-4, 1e-5, "sum_into");

  auto preds = Up(std::vector<int32_t>(rows));
  ASSERT_TRUE(backend_->ArgmaxRows(dl.data(), rows, cols, preds.data()).ok());
  std::vector<int32_t> want(rows);
  ref::ArgmaxRows(logits.data(), rows, cols, want.data());
  EXPECT_EQ(Down(preds), want);
}

TEST_P(BackendTest, GatherRowsAndLabels) {
  const int64_t n = 40, cols = 17, rows = 9;
  const auto src = Rand(n * cols, 11);
  std::vector<int32_t> labels(n), index(rows);
  for (int64_t i = 0; i < n; ++i) labels[i] = static_cast<int32_t>(i * 3);
  for (int64_t i = 0; i < rows; ++i)
    index[i] = static_cast<int32_t>((i * 13 + 5) % n);
  auto dsrc = Up(src);
  auto dlab = Up(labels), didx = Up(index),
       out_lab = Up(std::vector<int32_t>(rows));
  auto out = Up(std::vector<float>(rows * cols));
  ASSERT_TRUE(
      backend_->GatherRows(dsrc.data(), didx.data(), rows, cols, out.data())
          .ok());
  ASSERT_TRUE(
      backend_->GatherLabels(dlab.data(), didx.data(), rows, out_lab.data())
          .ok());
  std::vector<double> want(rows * cols);
  std::vector<int32_t> want_lab(rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c)
      want[r * cols + c] = src[index[r] * cols + c];
    want_lab[r] = labels[index[r]];
  }
  ExpectClose(Down(out), want, 0, 0, "gather_rows");
  EXPECT_EQ(Down(out_lab), want_lab);
}

TEST_P(BackendTest, SpMM) {
  // A random sparse matrix with empty rows and a dense-ish row.
  const int64_t rows = 300, cols = 200, f = 37;
  Rng rng(TestSeed() + 12);
  std::vector<int32_t> row_ptr = {0}, col;
  std::vector<float> val;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t deg = r % 50 == 0 ? 0
                        : r == 7    ? 150
                                    : static_cast<int64_t>(rng.Below(12));
    for (int64_t j = 0; j < deg; ++j) {
      col.push_back(static_cast<int32_t>(rng.Below(cols)));
      val.push_back(static_cast<float>(rng.Normal()));
    }
    row_ptr.push_back(static_cast<int32_t>(col.size()));
  }
  const auto x = Rand(cols * f, 13);
  auto drp = Up(row_ptr), dcol = Up(col);
  auto dval = Up(val), dx = Up(x), y = Up(std::vector<float>(rows * f, 7.0f));
  CsrView a{rows,       cols,        static_cast<int64_t>(val.size()),
            drp.data(), dcol.data(), dval.data()};
  ASSERT_TRUE(backend_->SpMM(a, dx.data(), f, y.data()).ok());
  std::vector<double> want(rows * f);
  const auto vd = D(val), xd = D(x);
  ref::SpMM<double>(rows, row_ptr.data(), col.data(), vd.data(), xd.data(), f,
                    want.data());
  ExpectClose(Down(y), want, 1e-4, 1e-4, "spmm");
}

TEST_P(BackendTest, Optimizers) {
  const int64_t n = 3000;
  const auto p = Rand(n, 14), g = Rand(n, 15);
  auto dp = Up(p), dg = Up(g), m = Up(std::vector<float>(n)),
       v = Up(std::vector<float>(n));
  std::vector<double> wp = D(p), wm(n), wv(n);
  const auto gd = D(g);
  for (int64_t step = 1; step <= 3; ++step) {
    AdamWParams hp{0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, step};
    ASSERT_TRUE(
        backend_->AdamWUpdate(dp.data(), dg.data(), m.data(), v.data(), n, hp)
            .ok());
    ref::AdamWUpdate<double>(wp.data(), gd.data(), wm.data(), wv.data(), n,
                             0.01, 0.9, 0.999, 1e-8, 0.1, step);
  }
  ExpectClose(Down(dp), wp, 1e-5, 1e-4, "adamw param");
  ExpectClose(Down(v), wv, 1e-6, 1e-4, "adamw v");

  auto sp = Up(p), buf = Up(std::vector<float>(n));
  std::vector<double> sp_want = D(p), buf_want(n);
  for (int step = 0; step < 3; ++step) {
    SgdParams hp{0.05f, 0.9f, true, 0.01f};
    ASSERT_TRUE(
        backend_->SgdUpdate(sp.data(), dg.data(), buf.data(), n, hp).ok());
    ref::SgdUpdate<double>(sp_want.data(), gd.data(), buf_want.data(), n, 0.05,
                           0.9, true, 0.01);
  }
  ExpectClose(Down(sp), sp_want, 1e-5, 1e-4, "sgd param");
}

TEST_P(BackendTest, RejectsBadArguments) {
  // Checked once in front of every backend (Backend's non-virtual ops): the
  // same refusals, naming the op, whichever backend runs.
  auto x = Up(std::vector<float>(4));
  auto idx = Up(std::vector<int32_t>(4));
  float* f = x.data();
  const int32_t* i = idx.data();
  CsrView bad_csr;
  bad_csr.rows = -1;
  AdamWParams step0;
  step0.step = 0;
  const std::vector<std::pair<std::string, absl::Status>> calls = {
      {"gemm", backend_->Gemm(false, false, -1, 2, 2, 1, f, f, 0, f)},
      {"add_bias", backend_->AddBias(f, f, 2, -2)},
      {"bias_grad", backend_->BiasGrad(f, -2, 2, f)},
      {"axpy", backend_->Axpy(1, f, f, -1)},
      {"fill", backend_->Fill(f, -1, 0)},
      {"activation", backend_->ActivationForward(Activation::kRelu, f, f, -1)},
      {"activation_backward",
       backend_->ActivationBackward(Activation::kGelu, f, f, f, -1)},
      {"dropout: p", backend_->DropoutForward(f, f, f, 4, 1.0f, 1, 0)},
      {"dropout_backward", backend_->DropoutBackward(f, f, f, -4)},
      {"layernorm", backend_->LayerNormForward(f, f, f, f, f, f, -1, 4, 1e-5f)},
      {"layernorm_backward",
       backend_->LayerNormBackward(f, f, f, f, f, f, f, f, 1, -4)},
      {"softmax_xent",
       backend_->SoftmaxCrossEntropy(f, i, -1, 4, 1, f, nullptr)},
      {"sum_into", backend_->SumInto(f, -1, 1, f)},
      {"argmax: cols", backend_->ArgmaxRows(f, 1, 0, idx.data())},
      {"gather_rows", backend_->GatherRows(f, i, -1, 4, f)},
      {"gather_labels", backend_->GatherLabels(i, i, -1, idx.data())},
      {"spmm", backend_->SpMM(bad_csr, f, 4, f)},
      {"adamw: step", backend_->AdamWUpdate(f, f, f, f, 4, step0)},
      {"sgd", backend_->SgdUpdate(f, f, f, -1, SgdParams{})},
  };
  for (const auto& [op, st] : calls) {
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << op;
    EXPECT_THAT(std::string(st.message()), ::testing::StartsWith(op)) << st;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Backends, BackendTest,
    ::testing::Values(BackendCase{"cpu_onednn", Device{DeviceKind::kCpu, 0},
                                  CpuGemmLibrary::kOneDnn},
                      BackendCase{"cpu_openblas", Device{DeviceKind::kCpu, 0},
                                  CpuGemmLibrary::kOpenBlas},
                      BackendCase{"cuda", Device{DeviceKind::kCuda, 0}}),
    [](const ::testing::TestParamInfo<BackendCase>& info) {
      return info.param.name;
    });

TEST(Device, ResolveNamesTheProblem) {
  EXPECT_EQ(ResolveDevice("cpu")->kind, DeviceKind::kCpu);
  EXPECT_EQ(ResolveDevice("tpu").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveDevice("cuda:x").status().code(),
            absl::StatusCode::kInvalidArgument);
  if (CudaDeviceCount() == 0) {
    EXPECT_EQ(ResolveDevice("auto")->kind, DeviceKind::kCpu);
    const absl::Status st = ResolveDevice("cuda").status();
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(st.message().find("device: cpu"), absl::string_view::npos) << st;
  } else {
    EXPECT_EQ(ResolveDevice("auto")->kind, DeviceKind::kCuda);
    EXPECT_EQ(ResolveDevice("cuda:999").status().code(),
              absl::StatusCode::kFailedPrecondition);
  }
}

TEST(NcclCollective, RefusesCpuRanksByName) {
  auto cpu = CreateCpuBackend(1, CpuGemmLibrary::kOneDnn);
  const absl::Status st = CreateNcclCollective({cpu.get()}).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
}

// One rank per GPU present (one on a single-GPU machine: NCCL still runs its
// all-reduce and broadcast kernels): sums and copies match the host's exactly
// for small integers, within fp32 rounding for random values.
TEST(NcclCollective, AllReduceAndBroadcastMatchTheHost) {
  if (CudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA GPU or driver";
  std::vector<std::unique_ptr<Backend>> owned;
  std::vector<Backend*> ranks;
  for (int d = 0; d < CudaDeviceCount(); ++d) {
    auto be = CreateBackend(Device{DeviceKind::kCuda, d}, 0);
    ASSERT_TRUE(be.ok()) << be.status();
    ranks.push_back(be->get());
    owned.push_back(std::move(*be));
  }
  auto coll = CreateNcclCollective(ranks);
  if (!coll.ok() &&
      absl::StrContains(coll.status().message(), "could not be loaded"))
    GTEST_SKIP() << coll.status();
  ASSERT_TRUE(coll.ok()) << coll.status();
  const int64_t n = 100003;  // odd size: no chunk boundary lines up
  std::vector<Tensor<float>> bufs;
  std::vector<float*> ptrs;
  std::vector<double> want(n, 0.0);
  for (size_t r = 0; r < ranks.size(); ++r) {
    ASSERT_TRUE(ranks[r]->MakeCurrent().ok());
    const std::vector<float> host = Rand(n, 900 + r);
    for (int64_t i = 0; i < n; ++i) want[i] += host[i];
    auto t = Tensor<float>::FromHost(ranks[r], {n}, host);
    ASSERT_TRUE(t.ok()) << t.status();
    ptrs.push_back(t->data());
    bufs.push_back(std::move(*t));
  }
  ASSERT_TRUE((*coll)->AllReduceSum(ptrs, n).ok());
  for (size_t r = 0; r < ranks.size(); ++r) {
    ASSERT_TRUE(ranks[r]->MakeCurrent().ok());
    ASSERT_TRUE(ranks[r]->Synchronize().ok());
    auto got = bufs[r].ToHost();
    ASSERT_TRUE(got.ok());
    ExpectClose(*got, want, 1e-5, 1e-5,
                absl::StrCat("all-reduce rank ", r, " of ", ranks.size()));
  }
  // Broadcast from the last rank after overwriting it.
  const int root = static_cast<int>(ranks.size()) - 1;
  const std::vector<float> src = Rand(n, 999);
  ASSERT_TRUE(ranks[root]->MakeCurrent().ok());
  ASSERT_TRUE(bufs[root].CopyFromHost(src.data(), n).ok());
  ASSERT_TRUE((*coll)->Broadcast(ptrs, n, root).ok());
  for (size_t r = 0; r < ranks.size(); ++r) {
    ASSERT_TRUE(ranks[r]->MakeCurrent().ok());
    ASSERT_TRUE(ranks[r]->Synchronize().ok());
    auto got = bufs[r].ToHost();
    ASSERT_TRUE(got.ok());
    ExpectClose(*got, D(src), 0, 0, absl::StrCat("broadcast rank ", r));
  }
  EXPECT_EQ((*coll)->AllReduceSum({}, n).code(),
            absl::StatusCode::kInvalidArgument);
  std::cout << "NCCL: " << (*coll)->Describe() << ", " << ranks.size()
            << " rank(s)\n";
}

}  // namespace
}  // namespace ladle
