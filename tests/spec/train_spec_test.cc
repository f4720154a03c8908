#include "spec/train_spec.h"

#include "gtest/gtest.h"

namespace ladle {
namespace {

TEST(TrainSpec, DefaultsAndRoundTrip) {
  auto spec = ParseTrainSpec(R"(
model: {type: mlp, hidden: [1024, 1024], activation: relu}
data:  {dataset: fashion-mnist, val_fraction: 0.1}
train:
  epochs: 1
  batch_size: 128
  optimizer: {name: adamw, lr: 0.001, weight_decay: 0.0}
  seed: 1
device: auto
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->model.hidden, (std::vector<int64_t>{1024, 1024}));
  EXPECT_FLOAT_EQ(spec->optimizer.lr, 0.001f);
  EXPECT_EQ(spec->batch_size, 128);
  const auto json = SpecToJson(*spec);
  EXPECT_EQ(json["train"]["optimizer"]["lr"], 0.001);
  auto again = ParseTrainSpec(json.dump());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(SpecToJson(*again), json);
}

TEST(TrainSpec, EmptySpecMeansDefaults) {
  auto spec = ParseTrainSpec("{}");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->model.type, ModelConfig::Type::kMlp);
  EXPECT_EQ(spec->data.kind, DataSpec::Kind::kFashionMnist);
}

TEST(TrainSpec, GraphSpecs) {
  auto gcn = ParseTrainSpec(R"(
model: {type: gcn, hidden: [128], dropout: 0.5}
data: {dataset: csbm, nodes: 20000, classes: 5, avg_degree: 10, homophily: 0.8, feature_dim: 64, separation: 1.0}
train: {epochs: 100, optimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true}, schedule: {name: cosine, warmup_steps: 5}}
)");
  ASSERT_TRUE(gcn.ok()) << gcn.status();
  EXPECT_EQ(gcn->data.csbm.nodes, 20000);
  EXPECT_TRUE(gcn->optimizer.nesterov);
  auto knn = ParseTrainSpec(
      "model: {type: gcn}\ndata: {dataset: fashion-mnist-knn, nodes: 5000, k: "
      "8}");
  ASSERT_TRUE(knn.ok()) << knn.status();
  EXPECT_EQ(knn->data.knn.k, 8);
}

// SpecText is what the planner stores for every job; it must be exactly the
// text of SpecToJson, over every branch of the emitter.
TEST(TrainSpec, SpecTextIsTheDumpOfSpecToJson) {
  const char* specs[] = {
      "{}",
      "model: {type: mlp, hidden: [64, 32], activation: gelu, dropout: 0.1}\n"
      "data: {dataset: fashion-mnist, path: /data/fm, limit: 1000, seed: 9}\n"
      "train: {epochs: 3, batch_size: 512, max_steps: 7, log_every: 2,\n"
      "  seed: 1099511627776, optimizer: {name: adamw, lr: 3.0e-4,\n"
      "  weight_decay: 0.01, beta1: 0.85, beta2: 0.995, eps: 1e-8},\n"
      "  schedule: {name: cosine, warmup_steps: 10, min_lr: 1e-6}}\n"
      "device: cuda:1\nthreads: 3\n",
      "model: {type: resmlp, width: 64, blocks: 2, expansion: 2, ln_groups: "
      "2}\n"
      "train: {optimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true},"
      " schedule: {name: linear}}\n",
      "model: {type: resmlp, width: 32, blocks: 1}\n"
      "train: {dropcompute: {ranks: 4, micro_batches: 2, threshold: 6x,\n"
      "  noise: paper, delay_factor: 0.5, slow_ranks: 1, comm_seconds: "
      "0.01}}\n",
      "train: {dropcompute: {threshold: auto, renormalize: false,\n"
      "  timing: real, sigma: 0.25, base_seconds: 0.002}}\n",
      "model: {type: gcn, hidden: [16]}\n"
      "data: {dataset: csbm, nodes: 500, classes: 3, avg_degree: 4.5,\n"
      "  homophily: 0.7, feature_dim: 8, separation: 1.25, train_fraction: 0.3,"
      "\n  val_fraction: 0.2, seed: 4}\n"
      "train: {sampler: {type: cluster, parts: 8, parts_per_step: 2,\n"
      "  partition_seed: 5, seed: 6}}\n",
      "model: {type: gcn}\n"
      "data: {dataset: fashion-mnist-knn, path: x, nodes: 300, k: 5}\n"
      "train: {sampler: {type: nodes, fraction: 0.125}}\n",
      "task: fuse\nfuse: {a: \"a\\\"q.safetensors\", b: 'b\\back'}\n"
      "model: {type: mlp}\n",
      "task: fuse\nfuse: {a: a, b: b, layernorm: full}\n"
      "model: {type: resmlp, width: 8, blocks: 1}\n",
      "task: soup\nsoup: {ingredients: [x, \"y\\tz\\n\", \"\\x01\u00e9\"],"
      " alpha_steps: 5}\n",
      "init: {checkpoint: \"c\\\\d\\r\\f\\b.safetensors\"}\ntrain: {epochs: "
      "0}\n",
  };
  for (const char* text : specs) {
    SCOPED_TRACE(text);
    auto spec = ParseTrainSpec(text);
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(SpecText(*spec), SpecToJson(*spec).dump());
  }
  // Floats and doubles away from round numbers, through nlohmann's formatter.
  TrainSpec odd;
  odd.optimizer.lr = 1.0f / 3.0f;
  odd.data.val_fraction = 2.0 / 3.0;
  odd.model.dropout = 1e-7f;
  odd.dropcompute.enabled = true;
  odd.dropcompute.sigma = 1e300;
  odd.dropcompute.comm_seconds = 123456789012.0;
  EXPECT_EQ(SpecText(odd), SpecToJson(odd).dump());
  // Not UTF-8: both refuse the same way.
  odd.device = "cuda\xff";
  EXPECT_THROW(SpecToJson(odd).dump(), nlohmann::json::exception);
  EXPECT_THROW(SpecText(odd), nlohmann::json::exception);
}

struct BadSpec {
  const char* yaml;
  const char* must_mention;
};

void PrintTo(const BadSpec& b, std::ostream* os) { *os << b.must_mention; }

class BadSpecTest : public ::testing::TestWithParam<BadSpec> {};

TEST_P(BadSpecTest, IsRejectedNamingTheKey) {
  auto spec = ParseTrainSpec(GetParam().yaml);
  ASSERT_FALSE(spec.ok()) << GetParam().yaml;
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find(GetParam().must_mention),
            std::string::npos)
      << "message: " << spec.status().message();
}

// Found by tests/fuzz/spec_fuzzer: a NUL inside a key crashed the planner.
TEST(SpecText, ControlCharactersAreRefusedByPosition) {
  const std::string text("train: {lu\0_every: 3}\n", 22);
  auto spec = ParseTrainSpec(text);
  ASSERT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find("control character 0x0 at byte 10"),
            std::string::npos)
      << spec.status();
  EXPECT_TRUE(ParseTrainSpec("train:\t{epochs: 1}\r\n").ok());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadSpecTest,
    ::testing::Values(
        BadSpec{"model: {type: mlp\n", "malformed YAML"},
        BadSpec{"- a\n- b\n", "spec: must be a mapping"},
        BadSpec{"modle: {}\n", "modle: unknown key"},
        BadSpec{"model: {type: mlp, width: 3}\n", "model.width: unknown key"},
        BadSpec{"model: {type: transformer}\n",
                "model.type: unknown value 'transformer'"},
        BadSpec{"model: {hidden: [256, -1]}\n", "model.hidden[1]"},
        BadSpec{"model: {hidden: 256}\n", "model.hidden: must be a list"},
        BadSpec{"model: {dropout: 1.0}\n", "model.dropout"},
        BadSpec{"train: {epochs: 0}\n", "train.epochs"},
        BadSpec{"task: distill\n", "task"},
        BadSpec{"model: {type: \"ml\xffp\"}\n", "not valid UTF-8 (byte 17)"},
        BadSpec{"train: {seed: \xc0\x80}\n", "not valid UTF-8"},
        BadSpec{"task: fuse\n", "fuse"},
        BadSpec{"task: fuse\nfuse: {a: x, b: y}\nmodel: {type: gcn}\ndata: "
                "{dataset: csbm}\n",
                "model.type"},
        BadSpec{"task: fuse\nfuse: {a: x, b: y, layernorm: half}\n",
                "fuse.layernorm"},
        BadSpec{"model: {type: resmlp, width: 6, ln_groups: 4}\n",
                "model.ln_groups"},
        BadSpec{"fuse: {a: x, b: y}\n", "fuse: only for task: fuse"},
        BadSpec{"task: soup\n", "soup.ingredients"},
        BadSpec{"task: soup\nsoup: {ingredients: []}\n", "soup.ingredients"},
        BadSpec{"init: {checkpoint: [1]}\n", "init.checkpoint"},
        BadSpec{"train: {sampler: {type: cluster}}\n",
                "train.sampler: subgraph sampling is for gcn"},
        BadSpec{"model: {type: gcn}\ndata: {dataset: csbm}\ntrain: {sampler: "
                "{type: cluster, parts: 4, parts_per_step: 5}}\n",
                "train.sampler.parts_per_step"},
        BadSpec{"model: {type: gcn}\ndata: {dataset: csbm}\ntrain: {sampler: "
                "{type: nodes, fraction: 0}}\n",
                "train.sampler.fraction"},
        BadSpec{"train: {epochs: 1.5}\n", "train.epochs: must be an integer"},
        BadSpec{"train: {batch_size: lots}\n",
                "train.batch_size: must be an integer"},
        BadSpec{"train: {optimizer: {lr: .nan}}\n",
                "train.optimizer.lr: must be a finite number"},
        BadSpec{"train: {optimizer: {lr: -0.1}}\n", "train.optimizer.lr"},
        BadSpec{"train: {optimizer: {name: adam}}\n", "train.optimizer.name"},
        BadSpec{"train: {optimizer: {name: sgd, nesterov: true}}\n",
                "train.optimizer.nesterov"},
        BadSpec{"train: {optimizer: {name: adamw, momentum: 0.9}}\n",
                "train.optimizer.momentum: unknown key"},
        BadSpec{"train: {schedule: {name: cosine, min_lr: 1.0}}\n",
                "train.schedule.min_lr"},
        BadSpec{"train: {seed: -3}\n", "train.seed"},
        BadSpec{"data: {dataset: imagenet}\n",
                "data.dataset: unknown value 'imagenet'"},
        BadSpec{"data: {val_fraction: 1.0}\n", "data.val_fraction"},
        BadSpec{"data: {dataset: csbm, homophily: 2}\n", "data.homophily"},
        BadSpec{"data: {dataset: csbm, nodes: 10, classes: 20}\n",
                "data.classes"},
        BadSpec{
            "data: {dataset: csbm, train_fraction: 0.7, val_fraction: 0.3}\n",
            "data.val_fraction"},
        BadSpec{"data: {dataset: fashion-mnist-knn, nodes: 100, k: 100}\n",
                "data.k"},
        BadSpec{"model: {type: gcn}\n",
                "model.type: gcn needs a graph dataset"},
        BadSpec{"device: tpu\n", "device: unknown device"},
        BadSpec{"threads: many\n", "threads: must be an integer"}));

}  // namespace
}  // namespace ladle
