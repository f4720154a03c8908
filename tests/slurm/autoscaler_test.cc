// ladle-slurm's decisions without Slurm: pilots for queued demand (each shape
// to the smallest pilot type that fits it, pilots on their way counted, a
// ceiling), idle pilots cancelled after the grace, pending surplus cancelled,
// drains before the time limit.
#include "slurm/autoscaler.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ladle::slurm {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Options TwoTypes() {
  Options o;
  o.types = {{"gpu", 2, 8, 0}, {"cpu", 0, 4, 0}};
  o.max_pilots = 5;
  o.idle_grace_ms = 60'000;
  o.drain_margin_ms = 300'000;
  return o;
}

Demand Cpu(int queued, int slots = 1) {
  Demand d;
  d.cpu_slots = slots;
  d.queued = queued;
  return d;
}

TEST(Autoscaler, EachShapeGoesToTheSmallestPilotThatHoldsIt) {
  Autoscaler a(TwoTypes());
  Demand gpu = Cpu(1);
  gpu.gpus = 1;
  Demand share = Cpu(1);
  share.gpu_share_milli = 250;
  EXPECT_EQ(a.TypeFor(Cpu(1))->name, "cpu");
  EXPECT_EQ(a.TypeFor(Cpu(1, 6))->name, "gpu");  // 6 CPU slots: only gpu's 8
  EXPECT_EQ(a.TypeFor(gpu)->name, "gpu");
  EXPECT_EQ(a.TypeFor(share)->name, "gpu");
  Demand huge = Cpu(1, 16);
  EXPECT_EQ(a.TypeFor(huge), nullptr);
  EXPECT_EQ(Autoscaler::RanksPerPilot({"gpu", 2, 8, 0}, share), 8);
  EXPECT_EQ(Autoscaler::RanksPerPilot({"gpu", 2, 8, 0}, gpu), 2);
}

TEST(Autoscaler, SubmitsEnoughPilotsCountingThoseOnTheirWayUpToTheCeiling) {
  Autoscaler a(TwoTypes());
  // 10 one-slot jobs: 3 CPU pilots of 4 slots.
  Actions first = a.Decide({Cpu(10)}, {}, {}, 0);
  EXPECT_THAT(first.submit, ElementsAre("cpu", "cpu", "cpu"));
  // Next tick: the three are pending in Slurm; nothing more is submitted.
  std::vector<Pilot> pending = {{"1", "cpu"}, {"2", "cpu"}, {"3", "cpu"}};
  EXPECT_THAT(a.Decide({Cpu(10)}, pending, {}, 1'000).submit, IsEmpty());
  // 40 queued would need 10; the ceiling is 5 pilots in all.
  EXPECT_THAT(a.Decide({Cpu(40)}, pending, {}, 2'000).submit,
              ElementsAre("cpu", "cpu"));
  // A gang of 4 ranks of 2 slots: 2 ranks per CPU pilot -> 2 pilots a job.
  Demand gang = Cpu(1, 2);
  gang.ranks = 4;
  EXPECT_THAT(a.Decide({gang}, {}, {}, 3'000).submit,
              ElementsAre("cpu", "cpu"));
}

TEST(Autoscaler, ShapesNoPilotFitsAreReportedNotSubmitted) {
  Autoscaler a(TwoTypes());
  Demand big = Cpu(3);
  big.gpus = 4;
  Actions act = a.Decide({big}, {}, {}, 0);
  EXPECT_THAT(act.submit, IsEmpty());
  ASSERT_EQ(act.unfit.size(), 1u);
  EXPECT_THAT(act.unfit[0], ::testing::HasSubstr("gpus=4"));
  Demand hungry = Cpu(1);
  hungry.max_memory_bytes = int64_t{64} << 30;
  Options o = TwoTypes();
  o.types[1].memory_bytes = int64_t{16} << 30;
  o.types[0].memory_bytes = int64_t{128} << 30;
  EXPECT_EQ(Autoscaler(o).TypeFor(hungry)->name, "gpu");  // memory decides
}

TEST(Autoscaler, AnIdlePilotIsCancelledAfterTheGraceABusyOneNever) {
  Autoscaler a(TwoTypes());
  std::vector<Pilot> pilots = {{"7", "cpu", true, 0, 0},
                               {"8", "cpu", true, 0, 0}};
  std::vector<PilotWorker> idle = {{"7", true, 0}, {"8", true, 2}};
  EXPECT_THAT(a.Decide({}, pilots, idle, 0).cancel, IsEmpty());
  EXPECT_THAT(a.Decide({}, pilots, idle, 59'999).cancel, IsEmpty());
  // Work arrives on 7 before the grace ends: its idle clock starts over.
  std::vector<PilotWorker> busy = {{"7", true, 1}, {"8", true, 2}};
  EXPECT_THAT(a.Decide({}, pilots, busy, 59'999).cancel, IsEmpty());
  EXPECT_THAT(a.Decide({}, pilots, idle, 100'000).cancel, IsEmpty());
  EXPECT_THAT(a.Decide({}, pilots, idle, 160'000).cancel, ElementsAre("7"));
  // Queued work for its type keeps an idle pilot (the scheduler is about to
  // place it there).
  Autoscaler b(TwoTypes());
  b.Decide({Cpu(1)}, pilots, idle, 0);
  EXPECT_THAT(b.Decide({Cpu(1)}, pilots, idle, 200'000).cancel, IsEmpty());
}

TEST(Autoscaler, PendingPilotsBeyondTheDemandAreCancelledNewestFirst) {
  Autoscaler a(TwoTypes());
  std::vector<Pilot> pending = {{"1", "cpu"}, {"2", "cpu"}, {"3", "cpu"}};
  EXPECT_THAT(a.Decide({Cpu(4)}, pending, {}, 0).cancel, ElementsAre("3", "2"));
  // One still starting its worker (running, not registered) is kept.
  pending[2].running = true;
  EXPECT_THAT(a.Decide({}, pending, {}, 0).cancel, ElementsAre("2", "1"));
}

TEST(Autoscaler, APilotDrainsOnceBeforeItsTimeLimit) {
  Autoscaler a(TwoTypes());
  std::vector<Pilot> pilots = {{"9", "gpu", true, 1'000'000, 3'600'000}};
  std::vector<PilotWorker> w = {{"9", true, 1}};
  EXPECT_THAT(a.Decide({}, pilots, w, 1'000'000 + 3'299'999).drain, IsEmpty());
  EXPECT_THAT(a.Decide({}, pilots, w, 1'000'000 + 3'300'000).drain,
              ElementsAre("9"));
  EXPECT_THAT(a.Decide({}, pilots, w, 1'000'000 + 3'400'000).drain, IsEmpty());
}

}  // namespace
}  // namespace ladle::slurm
