// Real training runs on real data (CPU, 2 threads), each a few seconds at most.
#include "train/trainer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernels/safetensors.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

std::string FreshDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/trainer_test/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

TrainResult RunSpec(const std::string& yaml, const std::string& dir,
                    int64_t stop_at = 0, const std::string& resume = "") {
  auto spec = ParseTrainSpec(yaml);
  EXPECT_TRUE(spec.ok()) << spec.status();
  TrainOptions o;
  o.out_dir = dir;
  o.stop_at_step = stop_at;
  o.resume_from = resume;
  o.log_progress = false;
  auto r = RunTrial(*spec, o);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : TrainResult{};
}

std::vector<Json> Metrics(const std::string& dir) {
  std::ifstream in(dir + "/metrics.jsonl");
  std::vector<Json> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(Json::parse(line));
  return lines;
}

// The metrics that must be identical run to run (timings excluded).
std::vector<std::string> Trajectory(const std::vector<Json>& lines) {
  std::vector<std::string> out;
  for (Json j : lines) {
    j.erase("samples_per_second");
    j.erase("elapsed_seconds");
    out.push_back(j.dump());
  }
  return out;
}

TEST(Trainer, MlpReaches84PercentOnFashionMnistInOneEpoch) {
  const std::string dir = FreshDir("mlp");
  TrainResult r = RunSpec(R"(
model: {type: mlp, hidden: [256]}
data: {dataset: fashion-mnist, val_fraction: 0.1}
train: {epochs: 1, batch_size: 128, optimizer: {name: adamw, lr: 0.001}, seed: 1}
device: cpu
threads: 2
)",
                          dir);
  EXPECT_GE(r.summary["test_accuracy"].get<double>(), 0.84)
      << r.summary.dump(2);
  EXPECT_EQ(r.summary["steps"], 422);  // ceil(54000 / 128)
  EXPECT_EQ(r.summary["device"], "cpu");
  // The artifacts a worker uploads.
  for (const char* f : {"metrics.jsonl", "summary.json", "model.safetensors"}) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;
  }
  auto model = ReadSafeTensors(dir + "/model.safetensors");
  ASSERT_TRUE(model.ok());
  ASSERT_NE(model->Find("layers.0.weight"), nullptr);
  EXPECT_EQ(model->Find("layers.0.weight")->shape,
            (std::vector<int64_t>{256, 784}));
  EXPECT_NE(model->Find("optimizer.adamw.exp_avg.layers.1.bias"), nullptr);
  const auto lines = Metrics(dir);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(lines.back().contains("val_accuracy"));
  EXPECT_LT(lines.back()["train_loss"].get<double>(), 0.6);
}

TEST(Trainer, GcnBeatsMlpWhereFeaturesAloneAreWeak) {
  const std::string graph = R"(
data: {dataset: csbm, nodes: 3000, classes: 5, avg_degree: 10, homophily: 0.8, feature_dim: 32, separation: 1.0}
train: {epochs: 100, batch_size: 1800, optimizer: {name: adamw, lr: 0.01, weight_decay: 0.0005}, log_every: 100}
threads: 2
)";
  TrainResult mlp =
      RunSpec("model: {type: mlp, hidden: [64], dropout: 0.5}\n" + graph,
              FreshDir("csbm_mlp"));
  TrainResult gcn =
      RunSpec("model: {type: gcn, hidden: [64], dropout: 0.5}\n" + graph,
              FreshDir("csbm_gcn"));
  const double mlp_acc = mlp.summary["test_accuracy"],
               gcn_acc = gcn.summary["test_accuracy"];
  EXPECT_LT(mlp_acc, 0.6) << "features alone should not suffice";
  EXPECT_GT(gcn_acc, mlp_acc + 0.25)
      << "gcn " << gcn_acc << " vs mlp " << mlp_acc;
}

TEST(Trainer, GcnLearnsTheFashionMnistKnnGraph) {
  TrainResult r = RunSpec(R"(
model: {type: gcn, hidden: [64], dropout: 0.2}
data: {dataset: fashion-mnist-knn, nodes: 3000, k: 8}
train: {epochs: 60, optimizer: {name: adamw, lr: 0.01}}
threads: 2
)",
                          FreshDir("knn"));
  EXPECT_GT(r.summary["test_accuracy"].get<double>(), 0.7) << r.summary.dump(2);
}

TEST(Trainer, ResMlpAndSgdTrain) {
  TrainResult r = RunSpec(R"(
model: {type: resmlp, width: 128, blocks: 2, expansion: 2, dropout: 0.1}
data: {dataset: fashion-mnist, limit: 6000}
train:
  epochs: 2
  batch_size: 64
  optimizer: {name: sgd, lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 0.0001}
  schedule: {name: cosine, warmup_steps: 20}
threads: 2
)",
                          FreshDir("resmlp"));
  EXPECT_GT(r.summary["test_accuracy"].get<double>(), 0.75)
      << r.summary.dump(2);
}

constexpr char kSmallSpec[] = R"(
model: {type: mlp, hidden: [64, 32], activation: gelu, dropout: 0.2}
data: {dataset: fashion-mnist, limit: 3000}
train: {epochs: 2, batch_size: 100, log_every: 7, optimizer: {name: adamw, lr: 0.002, weight_decay: 0.01}, schedule: {name: cosine, warmup_steps: 5}, seed: 5}
threads: 2
)";

TEST(Trainer, SameSpecSameSeedSameThreadsGiveIdenticalMetrics) {
  const std::string a = FreshDir("det_a"), b = FreshDir("det_b");
  TrainResult ra = RunSpec(kSmallSpec, a);
  TrainResult rb = RunSpec(kSmallSpec, b);
  EXPECT_EQ(Trajectory(Metrics(a)), Trajectory(Metrics(b)));
  EXPECT_EQ(ra.summary["test_accuracy"], rb.summary["test_accuracy"]);
  EXPECT_EQ(ra.summary["final_train_loss"], rb.summary["final_train_loss"]);
  // A different seed takes a different path.
  std::string other = kSmallSpec;
  other.replace(other.find("seed: 5"), 7, "seed: 6");
  const std::string c = FreshDir("det_c");
  RunSpec(other, c);
  EXPECT_NE(Trajectory(Metrics(a)), Trajectory(Metrics(c)));
}

TEST(Trainer, ResumeFromAMidEpochCheckpointContinuesTheSameTrajectory) {
  const std::string full = FreshDir("full"), split = FreshDir("split");
  RunSpec(kSmallSpec, full);
  // 27 steps per epoch: stop inside the first epoch, between log lines.
  TrainResult stopped = RunSpec(kSmallSpec, split, /*stop_at=*/17);
  ASSERT_TRUE(stopped.preempted);
  ASSERT_TRUE(std::filesystem::exists(stopped.checkpoint_path));
  TrainResult resumed = RunSpec(kSmallSpec, split, 0, stopped.checkpoint_path);
  ASSERT_FALSE(resumed.preempted);
  EXPECT_EQ(resumed.summary["resumed_from_step"], 17);
  EXPECT_EQ(Trajectory(Metrics(full)), Trajectory(Metrics(split)));
  auto a = ReadSafeTensors(full + "/model.safetensors");
  auto b = ReadSafeTensors(split + "/model.safetensors");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->tensors.size(), b->tensors.size());
  for (size_t i = 0; i < a->tensors.size(); ++i) {
    EXPECT_EQ(a->tensors[i].bytes, b->tensors[i].bytes) << a->tensors[i].name;
  }
}

// ASHA's rung boundary: a finished trial's model.safetensors is a full
// checkpoint (optimizer and counters too), so a promoted segment with more
// epochs resumes from it. With a schedule that does not depend on the total
// (constant here) the weights equal a straight run's bit for bit; a cosine
// schedule over the total would differ (its curve stretches), which is why a
// search's docs say to use one that does not.
TEST(Trainer, AFinishedTrialResumesIntoMoreEpochsBitForBit) {
  constexpr char kOneEpoch[] = R"(
model: {type: mlp, hidden: [32]}
data: {dataset: fashion-mnist, limit: 2000}
train: {epochs: 1, batch_size: 100, optimizer: {name: adamw, lr: 0.002}, seed: 4}
threads: 2
)";
  std::string three = kOneEpoch;
  three.replace(three.find("epochs: 1"), 9, "epochs: 3");
  const std::string straight = FreshDir("rung_straight"),
                    rung0 = FreshDir("rung0"), rung1 = FreshDir("rung1");
  RunSpec(three, straight);
  RunSpec(kOneEpoch, rung0);
  TrainResult promoted = RunSpec(three, rung1, 0, rung0 + "/model.safetensors");
  ASSERT_FALSE(promoted.preempted);
  EXPECT_GT(promoted.summary["resumed_from_step"].get<int64_t>(), 0);
  EXPECT_EQ(promoted.summary["epochs"], 3);
  auto a = ReadSafeTensors(straight + "/model.safetensors");
  auto b = ReadSafeTensors(rung1 + "/model.safetensors");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->tensors.size(), b->tensors.size());
  for (size_t i = 0; i < a->tensors.size(); ++i)
    EXPECT_EQ(a->tensors[i].bytes, b->tensors[i].bytes) << a->tensors[i].name;
}

// DropCompute with no threshold is plain synchronous data parallelism: N ranks
// × M micro-batches × b rows summed and divided by N·M·b is the gradient of
// one global batch of N·M·b rows, so the weights match training at that batch
// size bit for bit. A threshold that drops work changes them.
TEST(Trainer, DropComputeWithoutThresholdIsPlainDataParallelBitForBit) {
  constexpr char kPlain[] = R"(
model: {type: mlp, hidden: [32]}
data: {limit: 2000}
train: {epochs: 2, batch_size: 150, seed: 3}
threads: 2
)";
  constexpr char kNone[] = R"(
model: {type: mlp, hidden: [32]}
data: {limit: 2000}
train: {epochs: 2, batch_size: 25, seed: 3,
        dropcompute: {ranks: 2, micro_batches: 3, threshold: none}}
threads: 2
)";
  constexpr char kDrop[] = R"(
model: {type: mlp, hidden: [32]}
data: {limit: 2000}
train: {epochs: 2, batch_size: 25, seed: 3,
        dropcompute: {ranks: 2, micro_batches: 3, threshold: 2.2x,
                      calibration_steps: 2}}
threads: 2
)";
  const std::string plain = FreshDir("dc_plain"), none = FreshDir("dc_none"),
                    drop = FreshDir("dc_drop");
  RunSpec(kPlain, plain);
  const TrainResult n = RunSpec(kNone, none);
  const TrainResult d = RunSpec(kDrop, drop);
  EXPECT_EQ(n.summary["dropcompute"]["drop_rate"], 0.0);
  EXPECT_EQ(n.summary["dropcompute"]["measured_speedup"], 1.0);
  EXPECT_GT(d.summary["dropcompute"]["drop_rate"].get<double>(), 0.0);
  auto a = ReadSafeTensors(plain + "/model.safetensors");
  auto b = ReadSafeTensors(none + "/model.safetensors");
  auto c = ReadSafeTensors(drop + "/model.safetensors");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  bool any_differs = false;
  for (const SafeTensor& t : a->tensors) {
    if (t.name.rfind("layers.", 0) != 0) continue;
    ASSERT_NE(b->Find(t.name), nullptr);
    EXPECT_EQ(t.bytes, b->Find(t.name)->bytes) << t.name;
    any_differs |= t.bytes != c->Find(t.name)->bytes;
  }
  EXPECT_TRUE(any_differs);
}

// timing: real — ranks are threads on the wall clock, each micro-batch padded
// to its drawn time (3 ms × heavy-tailed noise, so the sleeps dominate): a
// threshold drops micro-batches and shortens the steps; with none, the model
// learns like the simulated run (same gradients, summed in another order).
TEST(Trainer, DropComputeRealTimingDropsStragglersOnTheWallClock) {
  auto spec = [](const char* threshold, const char* timing) {
    return absl::StrCat(R"(
model: {type: mlp, hidden: [32]}
data: {limit: 3000}
train: {epochs: 1, batch_size: 16, seed: 5,
        dropcompute: {ranks: 4, micro_batches: 4, threshold: )",
                        threshold, ", timing: ", timing, R"(, noise: paper,
                      delay_factor: 2, base_seconds: 0.003,
                      calibration_steps: 4}}
device: cpu
threads: 1
)");
  };
  const TrainResult none = RunSpec(spec("none", "real"), FreshDir("dcr_none"));
  const TrainResult cut = RunSpec(spec("5x", "real"), FreshDir("dcr_cut"));
  const TrainResult sim =
      RunSpec(spec("none", "simulated"), FreshDir("dcr_sim"));
  const Json& n = none.summary["dropcompute"];
  const Json& c = cut.summary["dropcompute"];
  EXPECT_EQ(n["drop_rate"], 0.0);
  EXPECT_GT(c["drop_rate"].get<double>(), 0.0);
  EXPECT_LT(c["mean_step_seconds"].get<double>(),
            n["mean_step_seconds"].get<double>());
  EXPECT_NEAR(none.summary["test_accuracy"].get<double>(),
              sim.summary["test_accuracy"].get<double>(), 0.01);
}

// timing: real on GPUs: one rank per GPU, gradients summed by an NCCL
// all-reduce. Compared with the CPU-thread ranks on the same draws (τ = none:
// nothing dropped, so both train on the same global batches). On a one-GPU
// machine this runs one rank (NCCL still runs its broadcast and all-reduce);
// asking for more ranks than GPUs is refused by name.
TEST(Trainer, DropComputeGpuRanksAllReduceWithNccl) {
  if (CudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA GPU or driver";
  const int ranks = std::min(CudaDeviceCount(), 4);
  auto spec = [&](const char* device, int n) {
    return absl::StrCat(R"(
model: {type: mlp, hidden: [64]}
data: {limit: 3000}
train: {epochs: 1, batch_size: 16, seed: 5,
        dropcompute: {ranks: )",
                        n, R"(, micro_batches: 4, threshold: none,
                      timing: real, base_seconds: 0.001}}
device: )",
                        device, R"(
threads: 1
)");
  };
  const TrainResult gpu = RunSpec(spec("cuda", ranks), FreshDir("dcg_gpu"));
  const TrainResult cpu = RunSpec(spec("cpu", ranks), FreshDir("dcg_cpu"));
  const Json& g = gpu.summary["dropcompute"];
  EXPECT_NE(g["all_reduce"].get<std::string>().find("NCCL"), std::string::npos)
      << g.dump();
  EXPECT_EQ(g["drop_rate"], 0.0);
  EXPECT_NEAR(gpu.summary["test_accuracy"].get<double>(),
              cpu.summary["test_accuracy"].get<double>(), 0.01);
  EXPECT_NEAR(gpu.summary["final_train_loss"].get<double>(),
              cpu.summary["final_train_loss"].get<double>(), 0.02);

  auto too_many = ParseTrainSpec(spec("cuda", CudaDeviceCount() + 1));
  ASSERT_TRUE(too_many.ok()) << too_many.status();
  TrainOptions o;
  o.out_dir = FreshDir("dcg_too_many");
  o.log_progress = false;
  const absl::Status st = RunTrial(*too_many, o).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(st.message().find("train.dropcompute.ranks"), std::string::npos)
      << st;
}

TEST(Trainer, ResumeRejectsACheckpointOfAnotherModel) {
  const std::string dir = FreshDir("mismatch");
  TrainResult stopped = RunSpec(kSmallSpec, dir, 3);
  ASSERT_TRUE(stopped.preempted);
  std::string other = kSmallSpec;
  other.replace(other.find("[64, 32]"), 8, "[64, 16]");
  auto spec = ParseTrainSpec(other);
  TrainOptions o;
  o.out_dir = dir;
  o.resume_from = stopped.checkpoint_path;
  o.log_progress = false;
  auto r = RunTrial(*spec, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("layers.1.weight"), std::string::npos)
      << r.status();
}

TEST(Trainer, CudaWithoutAGpuIsAClearError) {
  if (CudaDeviceCount() > 0) GTEST_SKIP() << "a GPU is present";
  auto spec = ParseTrainSpec("device: cuda\ndata: {limit: 100}");
  ASSERT_TRUE(spec.ok());
  TrainOptions o;
  o.out_dir = FreshDir("nocuda");
  auto r = RunTrial(*spec, o);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("device: cpu"), std::string::npos)
      << r.status();
}

}  // namespace
}  // namespace ladle

namespace ladle {
namespace {

// A stop after whole epochs (with validation passes behind it) must checkpoint
// cleanly too.
TEST(Trainer, StopAfterSeveralEpochsCheckpointsAndResumes) {
  const std::string spec = R"(
model: {type: mlp, hidden: [64]}
data: {limit: 2000}
train: {epochs: 5, batch_size: 200, log_every: 5}
threads: 1
)";
  const std::string dir = FreshDir("late_stop");
  TrainResult stopped = RunSpec(spec, dir, /*stop_at=*/23);
  ASSERT_TRUE(stopped.preempted);
  TrainResult resumed = RunSpec(spec, dir, 0, stopped.checkpoint_path);
  EXPECT_EQ(resumed.summary["steps"], 45);
  EXPECT_EQ(resumed.summary["epochs"], 5);
}

}  // namespace
}  // namespace ladle
