// The worker's decisions about a child, on made-up times and wait statuses.
#include "worker/child_control.h"

#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ladle {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kGrace = 1000;

TEST(NextSignal, NothingWithoutADeadlineOrASigterm) {
  ChildTimers t;
  EXPECT_EQ(NextSignal(t, 1'000'000, kGrace), ChildSignal::kNone);
}

TEST(NextSignal, TheDeadlineSendsSigtermOnceThenSigkillEveryGrace) {
  ChildTimers t;
  t.timeout_seconds = 5;
  t.deadline_ms = 5000;
  EXPECT_EQ(NextSignal(t, 4999, kGrace), ChildSignal::kNone);
  EXPECT_EQ(NextSignal(t, 5000, kGrace), ChildSignal::kTerm);
  EXPECT_TRUE(t.timed_out);
  EXPECT_EQ(NextSignal(t, 5500, kGrace), ChildSignal::kNone);  // in grace
  EXPECT_EQ(NextSignal(t, 6000, kGrace), ChildSignal::kKill);  // outlived it
  EXPECT_EQ(NextSignal(t, 6500, kGrace), ChildSignal::kNone);
  EXPECT_EQ(NextSignal(t, 7000, kGrace), ChildSignal::kKill);  // until reaped
}

TEST(NextSignal, ACancelledChildIsNotTimedOutButStillKilledAfterTheGrace) {
  ChildTimers t;
  t.deadline_ms = 5000;
  t.cancel_requested = true;
  t.term_sent_ms = 4000;  // the cancel's SIGTERM
  EXPECT_EQ(NextSignal(t, 4500, kGrace), ChildSignal::kNone);
  EXPECT_EQ(NextSignal(t, 5000, kGrace), ChildSignal::kKill);
  EXPECT_FALSE(t.timed_out);
}

class ExitResultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("ladle-child-" + std::to_string(getpid())))
               .string();
    std::filesystem::create_directories(dir_ + "/out");
    std::ofstream(dir_ + "/out/summary.json") << R"({"test_accuracy": 0.5})";
    std::ofstream(dir_ + "/stderr.log") << "loading\nspec: bad key\n\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

int Exited(int code) { return code << 8; }  // as waitpid reports it

TEST_F(ExitResultTest, ExitZeroSucceedsWithItsSummary) {
  v1::AttemptResult r = ExitResult(7, Exited(0), {}, TrainLayout(dir_));
  ASSERT_TRUE(WIFEXITED(Exited(0)));
  EXPECT_EQ(r.attempt_id(), 7);
  EXPECT_EQ(r.outcome(), v1::AttemptResult::OUTCOME_SUCCEEDED);
  EXPECT_EQ(r.summary_json(), R"({"test_accuracy": 0.5})");
}

TEST_F(ExitResultTest, AFailureNamesTheCodeAndTheLastLineOfStderr) {
  v1::AttemptResult r = ExitResult(7, Exited(2), {}, TrainLayout(dir_));
  EXPECT_EQ(r.outcome(), v1::AttemptResult::OUTCOME_FAILED);
  EXPECT_EQ(r.exit_code(), 2);
  EXPECT_EQ(r.reason(), "ladle-train exited with code 2: spec: bad key");
}

TEST_F(ExitResultTest, ASignalIs128PlusItAndTimeoutsAndCancelsSaySo) {
  ChildTimers timed_out;
  timed_out.timed_out = true;
  timed_out.timeout_seconds = 30;
  v1::AttemptResult r = ExitResult(7, SIGTERM, timed_out, TrainLayout(dir_));
  EXPECT_EQ(r.exit_code(), 128 + SIGTERM);
  EXPECT_EQ(r.outcome(), v1::AttemptResult::OUTCOME_FAILED);
  EXPECT_THAT(r.reason(), HasSubstr("timed out: still running after "
                                    "timeout_seconds = 30"));
  ChildTimers cancelled;
  cancelled.cancel_requested = true;
  r = ExitResult(7, SIGKILL, cancelled, TrainLayout(dir_));
  EXPECT_EQ(r.outcome(), v1::AttemptResult::OUTCOME_CANCELLED);
  EXPECT_EQ(r.reason(), "stopped on request");
}

}  // namespace
}  // namespace ladle
