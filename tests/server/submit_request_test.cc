// Idempotent submits (SubmitExperiment's request_id): a retry finds the
// experiment its first try created — stored, in flight, or stored by a
// coordinator that has since restarted — and never creates a second one.
#include <atomic>
#include <filesystem>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator.h"

namespace ladle {
namespace {

using ::testing::HasSubstr;

constexpr char kSweep[] = R"(
name: six
trial: {model: {hidden: [16]}, data: {limit: 100}}
sweep: {grid: {train.seed: [1, 2, 3], train.optimizer.lr: [0.001, 0.002]}}
)";

int64_t Experiments(Store& store) {
  ExperimentFilter f;
  f.page_size = 1000;
  return static_cast<int64_t>(store.ListExperiments(f)->experiments.size());
}

class SubmitRequestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*OpenSqliteStore(":memory:"));
    coord_ = std::make_unique<Coordinator>(Coordinator::Options{}, store_.get(),
                                           &clock_);
    ASSERT_TRUE(coord_->Recover().ok());
  }
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Coordinator> coord_;
};

TEST_F(SubmitRequestTest, ARetryAnswersWithTheFirstExperiment) {
  auto first = coord_->Submit(kSweep, "alice", false, "req-1");
  ASSERT_TRUE(first.ok()) << first.status();
  auto retry = coord_->Submit(kSweep, "alice", false, "req-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->experiment_id, first->experiment_id);
  EXPECT_EQ(retry->job_count, 6);
  EXPECT_EQ(first->job_count, 6);
  EXPECT_EQ(Experiments(*store_), 1);
  // Without a request id, or with another, a submit is a new experiment.
  ASSERT_TRUE(coord_->Submit(kSweep, "alice", false).ok());
  ASSERT_TRUE(coord_->Submit(kSweep, "alice", false, "req-2").ok());
  // Request ids are per owner.
  auto bob = coord_->Submit(kSweep, "bob", false, "req-1");
  ASSERT_TRUE(bob.ok());
  EXPECT_NE(bob->experiment_id, first->experiment_id);
  EXPECT_EQ(Experiments(*store_), 4);
}

TEST_F(SubmitRequestTest, ARequestIdWithAnotherSpecIsRefused) {
  ASSERT_TRUE(coord_->Submit(kSweep, "alice", false, "req-1").ok());
  auto other = coord_->Submit("name: other\ntrial: {data: {limit: 100}}\n",
                              "alice", false, "req-1");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(other.status().message()),
              HasSubstr("request_id: 'req-1' created experiment"));
  EXPECT_EQ(Experiments(*store_), 1);
}

TEST_F(SubmitRequestTest, RetriesInFlightTogetherCreateOneExperiment) {
  constexpr int kClients = 8;
  std::vector<std::string> ids(kClients);
  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      coord_->SubmitAsync(
          kSweep, "alice", false,
          [&, i](absl::StatusOr<Coordinator::SubmitResult> r) {
            ASSERT_TRUE(r.ok()) << r.status();
            ids[i] = r->experiment_id;
            ++answered;
          },
          "same");
    });
  }
  for (std::thread& t : clients) t.join();
  coord_->Sync();
  for (int i = 0; i < 100 && answered < kClients; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(answered, kClients);
  for (const std::string& id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(Experiments(*store_), 1);
}

TEST(SubmitRequestFile, ARetryAfterARestartFindsTheStoredExperiment) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "ladle-submit-request.db")
          .string();
  std::filesystem::remove(path);
  FakeClock clock;
  std::string id;
  {
    auto store = std::move(*OpenSqliteStore(path));
    Coordinator c({}, store.get(), &clock);
    ASSERT_TRUE(c.Recover().ok());
    auto r = c.Submit(kSweep, "alice", false, "req-9");
    ASSERT_TRUE(r.ok()) << r.status();
    id = r->experiment_id;
  }  // the reply was lost with the process
  auto store = std::move(*OpenSqliteStore(path));
  Coordinator c({}, store.get(), &clock);
  ASSERT_TRUE(c.Recover().ok());
  auto retry = c.Submit(kSweep, "alice", false, "req-9");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->experiment_id, id);
  EXPECT_EQ(retry->job_count, 6);
  EXPECT_EQ(Experiments(*store), 1);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ladle
