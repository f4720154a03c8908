// The trial spec of `ladle-train` (docs/TRAIN_SPEC.md): parsing, validation and
// the resolved form with every default filled in.
//
// Parsing is strict: unknown keys, wrong types and out-of-range values are
// INVALID_ARGUMENT errors whose message starts with the key path (e.g.
// "train.optimizer.lr: must be > 0").
#ifndef LADLE_SPEC_TRAIN_SPEC_H_
#define LADLE_SPEC_TRAIN_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "spec/config.h"

namespace ladle {

struct DataSpec {
  enum class Kind { kFashionMnist, kCsbm, kFashionMnistKnn };
  Kind kind = Kind::kFashionMnist;
  std::string path = kFashionMnistDir;  // fashion-mnist, fashion-mnist-knn
  double val_fraction = 0.1;            // fashion-mnist
  int64_t limit = 0;  // fashion-mnist: keep this many training images
  uint64_t seed = 1;  // fashion-mnist: the train/val split (not train.seed, so
                      // trials of different seeds share one validation set)
  CsbmConfig csbm;
  KnnConfig knn;

  bool is_graph() const { return kind != Kind::kFashionMnist; }
};

// What ladle-train does with a spec.
enum class TrainTask {
  kTrain,  // train `model` on `data` (the default)
  kFuse,   // Deep Fusion: build the width-2x model from two trained narrow
           // ones (`model` is the narrow config), check it, evaluate it
  kSoup,   // model soups (Graph Ladling) of trained ingredients of `model`
};

struct SoupSpec {
  std::vector<std::string> ingredients;  // ladle checkpoints (paths)
  int64_t alpha_steps = 20;  // interpolation grid: alpha = 0, 1/n, ..., 1
};

struct FuseSpec {
  std::string a, b;                   // narrow ladle checkpoints (paths)
  std::string layernorm = "grouped";  // resmlp: grouped (exact) | full
};

// How a GCN sees the graph while training (evaluation always uses the full
// graph).
struct SamplerSpec {
  enum class Type {
    kFull,     // the whole graph every step
    kCluster,  // ClusterGCN: METIS parts; each step the subgraph induced by
               // parts_per_step random parts, every part once per epoch
    kNodes,    // each step the subgraph induced by a random `fraction` of the
               // nodes, every node once per epoch
  };
  Type type = Type::kFull;
  int64_t parts = 16;
  int64_t parts_per_step = 4;
  double fraction = 0.25;
  uint64_t seed = 0;            // which parts/nodes per step; 0: train.seed
  uint64_t partition_seed = 1;  // METIS's seed: the same partition for all
};

// DropCompute (train/dropcompute.h): synchronous data parallelism over
// `ranks` ranks of `micro_batches` micro-batches of train.batch_size each per
// step, with a compute-time threshold. Timing is simulated: gradients are
// computed for real, micro-batch times drawn from the noise model around a
// measured base time.
struct DropComputeSpec {
  bool enabled = false;
  int64_t ranks = 8;
  int64_t micro_batches = 8;
  enum class Threshold { kNone, kAuto, kSeconds, kMedianMultiple };
  Threshold threshold = Threshold::kNone;
  double threshold_value = 0;  // seconds, or multiple of the median time
  std::string threshold_text = "none";
  bool renormalize = false;  // divide by the computed count, not N·M
  // simulated: times drawn, step time computed; real: ranks are CPU threads
  // on the wall clock, each micro-batch padded (sleep) to its drawn time.
  std::string timing = "simulated";
  std::string noise = "lognormal";  // lognormal | paper
  double sigma = 0.5;               // lognormal
  double delay_factor = 1.0;        // paper
  int64_t slow_ranks = 0;
  double slow_factor = 2.0;
  int64_t calibration_steps = 20;  // auto / multiples: steps without dropping
  double comm_seconds = 0;         // all-reduce time added to every step
  double base_seconds = 0;         // one micro-batch's compute; 0: measure it
};

struct TrainSpec {
  TrainTask task = TrainTask::kTrain;
  FuseSpec fuse;  // task: fuse
  SoupSpec soup;  // task: soup
  // Parameters to start from (a ladle checkpoint of this model; optimizer and
  // step start fresh). Relative paths resolve against the working directory: a
  // worker runs each attempt in its attempt directory, with the artifacts of
  // the job's dependencies under inputs/<job index>/.
  std::string init_checkpoint;
  ModelConfig model;
  DataSpec data;
  int64_t epochs = 1;           // 0 (with init.checkpoint): evaluate only
  int64_t batch_size = 128;     // ignored by gcn (full graph per step)
  int64_t max_steps = 0;        // > 0 stops early
  int64_t log_every = 50;       // steps between metric lines
  int64_t eval_every = 1;       // epochs between validation passes
  SamplerSpec sampler;          // gcn only
  DropComputeSpec dropcompute;  // dense models only
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  uint64_t seed = 1;
  std::string device = "auto";
  int threads = 0;  // cpu: 0 = all cores
};

// Parses a YAML (or JSON) spec.
absl::StatusOr<TrainSpec> ParseTrainSpec(const std::string& text);
// The same from an already-parsed JSON value (sweep points: no text round
// trip). Its strings must already be valid UTF-8 without control characters.
absl::StatusOr<TrainSpec> ParseTrainSpecJson(const nlohmann::json& spec);
absl::StatusOr<TrainSpec> LoadTrainSpec(const std::string& path);

// Every field, defaults included, in the spec's own key layout (round-trips
// through ParseTrainSpec).
nlohmann::ordered_json SpecToJson(const TrainSpec& spec);
// SpecToJson(spec).dump(), byte for byte, written directly (the form every
// planned job is stored in; several times faster than building the value).
std::string SpecText(const TrainSpec& spec);

}  // namespace ladle

#endif  // LADLE_SPEC_TRAIN_SPEC_H_
