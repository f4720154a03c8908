// The trial's data sources: dense rows of the epoch's order, DropCompute's
// kept micro-batches with their loss denominator, the full graph.
#include "train/batch_source.h"

#include <numeric>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ladle {
namespace {

class BatchSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = *CreateBackend(Device{DeviceKind::kCpu, 0}, 1);
    // 64 rows of 2 features: row r is (r, -r), label r % 10.
    std::vector<float> x;
    std::vector<int32_t> y;
    for (int r = 0; r < 64; ++r) {
      x.push_back(r);
      x.push_back(-r);
      y.push_back(r % 10);
    }
    train_.x = *Tensor<float>::FromHost(backend_.get(), {64, 2}, x);
    train_.y = *Tensor<int32_t>::FromHost(backend_.get(), {64}, y);
    train_.size = 64;
    order_.resize(64);
    std::iota(order_.rbegin(), order_.rend(), 0);  // 63, 62, ..., 0
  }
  std::unique_ptr<Backend> backend_;
  DeviceSplit train_;
  std::vector<int32_t> order_;
};

TEST_F(BatchSourceTest, DenseRowsAreGatheredInTheEpochsOrder) {
  auto dense = *DenseBatches::Create(backend_.get(), train_, 2, 16);
  absl::StatusOr<std::optional<StepBatch>> b = dense->Next(0, order_, 4, 8);
  ASSERT_TRUE(b.ok() && b->has_value()) << b.status();
  EXPECT_EQ((*b)->rows, 4);
  EXPECT_EQ((*b)->counted, 4);
  EXPECT_FALSE((*b)->graph.has_value());
  EXPECT_THAT(std::vector<float>((*b)->x, (*b)->x + 8),
              ::testing::ElementsAre(59, -59, 58, -58, 57, -57, 56, -56));
  EXPECT_THAT(std::vector<int32_t>((*b)->y, (*b)->y + 4),
              ::testing::ElementsAre(9, 8, 7, 6));
}

TEST_F(BatchSourceTest,
       DropComputeKeepsWholeMicroBatchesAndCountsTheGlobalBatch) {
  DropComputeSpec d;
  d.enabled = true;
  d.ranks = 2;
  d.micro_batches = 4;
  d.threshold = DropComputeSpec::Threshold::kSeconds;
  d.threshold_value = 2.2;  // base 1 s, sigma 0.5: some micro-batches past it
  d.sigma = 0.5;
  for (bool renormalize : {false, true}) {
    DropComputeSchedule schedule(d, 7, /*micro_batch_size=*/4, 1.0);
    auto dense = *DenseBatches::Create(backend_.get(), train_, 2, 32);
    dense->KeepMicroBatches(&schedule, 32, renormalize);
    int64_t kept_rows = 0, all_rows = 0;
    for (int64_t step = 0; step < 20; ++step) {
      absl::StatusOr<std::optional<StepBatch>> b =
          dense->Next(step, order_, 0, 32);
      ASSERT_TRUE(b.ok()) << b.status();
      all_rows += 32;
      if (!b->has_value()) continue;  // every micro-batch dropped
      EXPECT_EQ((*b)->rows % 4, 0);   // whole micro-batches
      EXPECT_EQ((*b)->counted, renormalize ? (*b)->rows : 32);
      kept_rows += (*b)->rows;
    }
    EXPECT_LT(kept_rows, all_rows);  // the threshold dropped some
    EXPECT_GT(kept_rows, 0);
  }
}

TEST_F(BatchSourceTest, TheFullGraphIsEveryNodeCountedOverTheTrainingSplit) {
  TrialData data;
  data.adjacency.rows = 64;
  data.train_size = 40;
  data.graph_x = *Tensor<float>::Zeros(backend_.get(), {64, 2});
  data.train.y = *Tensor<int32_t>::Zeros(backend_.get(), {64});
  auto source = FullGraphBatches(data);
  absl::StatusOr<std::optional<StepBatch>> b = source->Next(3, {}, 0, 0);
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->rows, 64);
  EXPECT_EQ((*b)->counted, 40);
  EXPECT_EQ((*b)->x, data.graph_x.data());
}

}  // namespace
}  // namespace ladle
