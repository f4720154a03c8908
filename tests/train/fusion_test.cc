// Deep Fusion: the fused wide MLP computes exactly the mean of the two narrow
// MLPs' logits (fresh random parameters and inputs each run, seed printed),
// misshapen inputs are named, and the widened model can be trained further.
#include "train/fusion.h"

#include <cmath>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "kernels/device.h"
#include "kernels/tensor.h"

namespace ladle {
namespace {

using ::testing::HasSubstr;

SafeTensorsFile ParamsOf(Model& m) {
  SafeTensorsFile f;
  const std::vector<float> p = *m.params().params().ToHost();
  for (const ParamInfo& i : m.params().infos())
    f.tensors.push_back(
        SafeTensor::FromFloats(i.name, i.shape, p.data() + i.offset));
  return f;
}

void LoadInto(Model& m, const SafeTensorsFile& f) {
  std::vector<float> p(m.params().total());
  for (const ParamInfo& i : m.params().infos()) {
    const SafeTensor* t = f.Find(i.name);
    ASSERT_NE(t, nullptr) << i.name;
    ASSERT_EQ(t->shape, i.shape) << i.name;
    const std::vector<float> v = t->AsFloats();
    std::copy(v.begin(), v.end(), p.begin() + i.offset);
  }
  ASSERT_TRUE(m.params().params().CopyFromHost(p.data(), p.size()).ok());
}

std::vector<float> LogitsOf(Backend* be, Model& m, const std::vector<float>& x,
                            int64_t rows) {
  auto dx = *Tensor<float>::FromHost(be, {rows, m.input_dim()}, x);
  const float* logits = *m.Forward(dx.data(), rows, false, 0);
  std::vector<float> out(rows * m.num_classes());
  EXPECT_TRUE(
      be->CopyToHost(out.data(), logits, out.size() * sizeof(float)).ok());
  return out;
}

class FusionTest : public ::testing::TestWithParam<std::vector<int64_t>> {};

TEST_P(FusionTest, FusedLogitsAreTheMeanOfTheNarrowOnes) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  auto be = *CreateBackend(*ResolveDevice("cpu"), 1);
  ModelConfig narrow;
  narrow.hidden = GetParam();
  narrow.activation = seed % 2 ? Activation::kRelu : Activation::kGelu;
  constexpr int64_t kIn = 20, kClasses = 7, kRows = 33;
  auto a = *CreateDenseModel(narrow, be.get(), kIn, kClasses, kRows, seed);
  auto b = *CreateDenseModel(narrow, be.get(), kIn, kClasses, kRows, seed + 1);
  auto fused = FuseMlp(ParamsOf(*a), ParamsOf(*b), narrow);
  ASSERT_TRUE(fused.ok()) << fused.status();
  auto wide = *CreateDenseModel(WidenedConfig(narrow), be.get(), kIn, kClasses,
                                kRows, 0);
  LoadInto(*wide, *fused);
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(kRows * kIn);
  for (float& v : x) v = normal(rng);
  const std::vector<float> la = LogitsOf(be.get(), *a, x, kRows);
  const std::vector<float> lb = LogitsOf(be.get(), *b, x, kRows);
  const std::vector<float> lf = LogitsOf(be.get(), *wide, x, kRows);
  for (size_t i = 0; i < lf.size(); ++i) {
    const double mean = 0.5 * (double{la[i]} + double{lb[i]});
    EXPECT_NEAR(lf[i], mean, 1e-5 * std::max(1.0, std::fabs(mean))) << i;
  }
  // And the fused net is not simply one of them.
  double diff = 0;
  for (size_t i = 0; i < la.size(); ++i) diff += std::fabs(la[i] - lb[i]);
  EXPECT_GT(diff, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Depths, FusionTest,
                         ::testing::Values(std::vector<int64_t>{12},
                                           std::vector<int64_t>{16, 8},
                                           std::vector<int64_t>{8, 24, 5}));

// ResMLP: exact with grouped LayerNorm (affines folded into the next layer),
// not exact with one LayerNorm over the full width.
TEST(Fusion, ResMlpIsExactWithGroupedLayerNormOnly) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  auto be = *CreateBackend(*ResolveDevice("cpu"), 1);
  ModelConfig narrow;
  narrow.type = ModelConfig::Type::kResMlp;
  narrow.width = 6;
  narrow.blocks = 2;
  narrow.expansion = 2;
  constexpr int64_t kIn = 9, kClasses = 4, kRows = 17;
  auto a = *CreateDenseModel(narrow, be.get(), kIn, kClasses, kRows, seed);
  auto b = *CreateDenseModel(narrow, be.get(), kIn, kClasses, kRows, seed + 7);
  // Non-trivial LayerNorm affines, so folding them is exercised.
  SafeTensorsFile pa = ParamsOf(*a), pb = ParamsOf(*b);
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_real_distribution<float> u(0.5f, 1.5f);
  for (SafeTensorsFile* f : {&pa, &pb}) {
    for (SafeTensor& t : f->tensors) {
      if (t.name.find("norm") == std::string::npos) continue;
      std::vector<float> v = t.AsFloats();
      for (float& x : v)
        x = t.name.find("weight") != std::string::npos ? u(rng) : u(rng) - 1.0f;
      t = SafeTensor::FromFloats(t.name, t.shape, v.data());
    }
  }
  LoadInto(*a, pa);
  LoadInto(*b, pb);
  std::normal_distribution<float> normal(0.0f, 1.5f);
  std::vector<float> x(kRows * kIn);
  for (float& v : x) v = normal(rng);
  const std::vector<float> la = LogitsOf(be.get(), *a, x, kRows);
  const std::vector<float> lb = LogitsOf(be.get(), *b, x, kRows);
  for (FusionLayerNorm ln :
       {FusionLayerNorm::kGrouped, FusionLayerNorm::kFull}) {
    auto fused = FuseResMlp(pa, pb, narrow, ln);
    ASSERT_TRUE(fused.ok()) << fused.status();
    auto wide = *CreateDenseModel(WidenedConfig(narrow, ln), be.get(), kIn,
                                  kClasses, kRows, 0);
    LoadInto(*wide, *fused);
    const std::vector<float> lf = LogitsOf(be.get(), *wide, x, kRows);
    double max_err = 0;
    for (size_t i = 0; i < lf.size(); ++i) {
      const double mean = 0.5 * (double{la[i]} + double{lb[i]});
      max_err = std::max(
          max_err, std::fabs(lf[i] - mean) / std::max(1.0, std::fabs(mean)));
    }
    if (ln == FusionLayerNorm::kGrouped) {
      EXPECT_LT(max_err, 1e-5) << "grouped";
    } else {
      EXPECT_GT(max_err, 1e-3) << "full-width LayerNorm should not be exact";
    }
  }
}

TEST(Fusion, NamesAMisshapenTensor) {
  auto be = *CreateBackend(*ResolveDevice("cpu"), 1);
  ModelConfig narrow;
  narrow.hidden = {8};
  ModelConfig other;
  other.hidden = {9};
  auto a = *CreateDenseModel(narrow, be.get(), 5, 3, 4, 1);
  auto b = *CreateDenseModel(other, be.get(), 5, 3, 4, 2);
  auto fused = FuseMlp(ParamsOf(*a), ParamsOf(*b), narrow);
  ASSERT_EQ(fused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(fused.status().message()),
              HasSubstr("fuse.b: tensor layers.0.weight"));
  ModelConfig res;
  res.type = ModelConfig::Type::kResMlp;
  EXPECT_EQ(FuseMlp(ParamsOf(*a), ParamsOf(*a), res).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      FuseResMlp(ParamsOf(*a), ParamsOf(*a), res, FusionLayerNorm::kGrouped)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);  // an mlp checkpoint
}

TEST(Fusion, WidenedConfigDoublesEveryHiddenWidth) {
  ModelConfig c;
  c.hidden = {3, 5};
  EXPECT_EQ(WidenedConfig(c).hidden, (std::vector<int64_t>{6, 10}));
}

}  // namespace
}  // namespace ladle
