// Model-level checks on the CPU backend: gradients of the real model classes
// (MLP, ResMLP, GCN, dropout on) against finite differences in float, and
// training steps that allocate nothing.
#include "kernels/models.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/data/datasets.h"
#include "kernels/optim.h"

namespace ladle {
namespace {

class ModelGradTest : public ::testing::Test {
 protected:
  void SetUp() override { be_ = CreateCpuBackend(1); }

  void MakeInputs(int64_t rows, int64_t features, int64_t classes,
                  bool mask_some) {
    Rng rng(7);
    std::vector<float> x(rows * features);
    for (auto& v : x) v = static_cast<float>(rng.Normal());
    std::vector<int32_t> y(rows);
    for (int64_t i = 0; i < rows; ++i)
      y[i] = mask_some && i % 3 == 0 ? -1
                                     : static_cast<int32_t>(rng.Below(classes));
    x_ = *Tensor<float>::FromHost(be_.get(), {rows, features}, x);
    y_ = *Tensor<int32_t>::FromHost(be_.get(), {rows}, y);
    loss_ = *Tensor<float>::Zeros(be_.get(), {rows});
    dlogits_ = *Tensor<float>::Zeros(be_.get(), {rows, classes});
    rows_ = rows;
    classes_ = classes;
  }

  double Loss(Model& m, bool with_grad) {
    auto logits =
        m.Forward(x_.data(), rows_, /*training=*/true, /*dropout_seed=*/1234);
    EXPECT_TRUE(logits.ok()) << logits.status();
    const float scale = 1.0f / rows_;
    EXPECT_TRUE(be_->SoftmaxCrossEntropy(*logits, y_.data(), rows_, classes_,
                                         scale, loss_.data(),
                                         with_grad ? dlogits_.data() : nullptr)
                    .ok());
    if (with_grad) {
      EXPECT_TRUE(m.Backward(dlogits_.data()).ok());
    }
    auto host = *loss_.ToHost();
    double s = 0;
    for (float v : host) s += v;
    return s * scale;
  }

  // Compares the 24 largest-magnitude gradient entries with central
  // differences.
  void CheckGradients(Model& m) {
    Loss(m, true);
    ParamStore& ps = m.params();
    std::vector<float> grads = *ps.grads().ToHost();
    std::vector<float> params = *ps.params().ToHost();
    std::vector<int64_t> order(grads.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 24, order.end(),
                      [&](int64_t a, int64_t b) {
                        return std::fabs(grads[a]) > std::fabs(grads[b]);
                      });
    int mismatches = 0;
    const float eps = 1e-2f;
    for (int j = 0; j < 24; ++j) {
      const int64_t i = order[j];
      const float keep = params[i];
      params[i] = keep + eps;
      ASSERT_TRUE(ps.params().CopyFromHost(params.data(), params.size()).ok());
      const double up = Loss(m, false);
      params[i] = keep - eps;
      ASSERT_TRUE(ps.params().CopyFromHost(params.data(), params.size()).ok());
      const double down = Loss(m, false);
      params[i] = keep;
      ASSERT_TRUE(ps.params().CopyFromHost(params.data(), params.size()).ok());
      const double fd = (up - down) / (2 * eps);
      if (std::fabs(fd - grads[i]) > 3e-4 + 3e-2 * std::fabs(fd)) {
        ++mismatches;
        ADD_FAILURE() << "param " << i << ": analytic " << grads[i] << " vs fd "
                      << fd;
      }
    }
    EXPECT_EQ(mismatches, 0);
  }

  std::unique_ptr<Backend> be_;
  Tensor<float> x_, loss_, dlogits_;
  Tensor<int32_t> y_;
  int64_t rows_ = 0, classes_ = 0;
};

TEST_F(ModelGradTest, MlpGeluWithDropout) {
  MakeInputs(6, 5, 3, false);
  ModelConfig c;
  c.type = ModelConfig::Type::kMlp;
  c.hidden = {7, 6};
  c.activation = Activation::kGelu;
  c.dropout = 0.2f;
  auto m = CreateDenseModel(c, be_.get(), 5, 3, 6, 3);
  ASSERT_TRUE(m.ok()) << m.status();
  CheckGradients(**m);
}

TEST_F(ModelGradTest, MlpRelu) {
  MakeInputs(6, 5, 3, false);
  ModelConfig c;
  c.hidden = {8};
  auto m = CreateDenseModel(c, be_.get(), 5, 3, 8, 4);
  ASSERT_TRUE(m.ok()) << m.status();
  CheckGradients(**m);
}

TEST_F(ModelGradTest, ResMlpWithDropout) {
  MakeInputs(5, 4, 3, false);
  ModelConfig c;
  c.type = ModelConfig::Type::kResMlp;
  c.width = 6;
  c.blocks = 2;
  c.expansion = 2;
  c.dropout = 0.1f;
  auto m = CreateDenseModel(c, be_.get(), 4, 3, 5, 5);
  ASSERT_TRUE(m.ok()) << m.status();
  CheckGradients(**m);
}

TEST_F(ModelGradTest, ResMlpWithGroupedLayerNorm) {
  MakeInputs(5, 4, 3, false);
  ModelConfig c;
  c.type = ModelConfig::Type::kResMlp;
  c.width = 8;
  c.blocks = 2;
  c.expansion = 2;
  c.ln_groups = 2;
  auto m = CreateDenseModel(c, be_.get(), 4, 3, 5, 6);
  ASSERT_TRUE(m.ok()) << m.status();
  CheckGradients(**m);
  c.ln_groups = 3;  // does not divide the width
  EXPECT_EQ(CreateDenseModel(c, be_.get(), 4, 3, 5, 6).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelGradTest, GcnWithDropoutAndMaskedLabels) {
  CsbmConfig g;
  g.nodes = 24;
  g.classes = 3;
  g.avg_degree = 3;
  g.feature_dim = 5;
  auto graph = GenerateCsbm(g);
  ASSERT_TRUE(graph.ok());
  const Csr a = NormalizedAdjacency(*graph);
  DeviceCsr adj;
  adj.rows = a.rows;
  adj.cols = a.cols;
  adj.row_ptr = *Tensor<int32_t>::FromHost(be_.get(), {a.rows + 1}, a.row_ptr);
  adj.col_idx = *Tensor<int32_t>::FromHost(
      be_.get(), {int64_t(a.col_idx.size())}, a.col_idx);
  adj.values =
      *Tensor<float>::FromHost(be_.get(), {int64_t(a.values.size())}, a.values);
  MakeInputs(24, 5, 3, true);
  ModelConfig c;
  c.type = ModelConfig::Type::kGcn;
  c.hidden = {6, 5};
  c.dropout = 0.2f;
  auto m = CreateGcnModel(c, be_.get(), &adj, 5, 3, 6);
  ASSERT_TRUE(m.ok()) << m.status();
  CheckGradients(**m);
}

TEST(ModelWorkspace, TrainingStepsAllocateNothing) {
  auto be = CreateCpuBackend(2);
  ModelConfig c;
  c.type = ModelConfig::Type::kResMlp;
  c.width = 32;
  c.blocks = 2;
  c.dropout = 0.1f;
  auto m = CreateDenseModel(c, be.get(), 20, 10, 64, 1);
  ASSERT_TRUE(m.ok());
  OptimizerConfig oc;
  auto opt = CreateOptimizer(oc, &(*m)->params(), be.get());
  ASSERT_TRUE(opt.ok());
  auto x = *Tensor<float>::Zeros(be.get(), {64, 20});
  auto y = *Tensor<int32_t>::Zeros(be.get(), {64});
  auto loss = *Tensor<float>::Zeros(be.get(), {64});
  auto dl = *Tensor<float>::Zeros(be.get(), {64, 10});
  const int64_t before = be->allocation_count();
  for (int step = 0; step < 3; ++step) {
    auto logits = (*m)->Forward(x.data(), 64 - step, true, step);
    ASSERT_TRUE(logits.ok());
    ASSERT_TRUE(be->SoftmaxCrossEntropy(*logits, y.data(), 64 - step, 10,
                                        1.0f / 64, loss.data(), dl.data())
                    .ok());
    ASSERT_TRUE((*m)->Backward(dl.data()).ok());
    ASSERT_TRUE((*opt)->Step(1e-3f).ok());
  }
  EXPECT_EQ(be->allocation_count(), before);
  EXPECT_EQ((*m)->Forward(x.data(), 65, true, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Schedules, WarmupCosineAndLinear) {
  OptimizerConfig o;
  o.lr = 1.0f;
  ScheduleConfig s;
  s.warmup_steps = 10;
  s.type = ScheduleConfig::Type::kCosine;
  s.min_lr = 0.1f;
  EXPECT_FLOAT_EQ(LearningRate(o, s, 0, 110), 0.1f);
  EXPECT_FLOAT_EQ(LearningRate(o, s, 9, 110), 1.0f);
  EXPECT_FLOAT_EQ(LearningRate(o, s, 10, 110), 1.0f);
  EXPECT_NEAR(LearningRate(o, s, 60, 110), 0.55f, 1e-6);
  EXPECT_NEAR(LearningRate(o, s, 110, 110), 0.1f, 1e-6);
  s.type = ScheduleConfig::Type::kLinear;
  EXPECT_NEAR(LearningRate(o, s, 60, 110), 0.55f, 1e-6);
  s.type = ScheduleConfig::Type::kConstant;
  EXPECT_FLOAT_EQ(LearningRate(o, s, 100, 110), 1.0f);
}

}  // namespace
}  // namespace ladle
