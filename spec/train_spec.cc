#include "spec/train_spec.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <type_traits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "spec/yaml_reader.h"

namespace ladle {
namespace {

constexpr int64_t kMaxWidth = 1 << 20;

absl::Status ParseModel(MapReader& top, TrainSpec* spec) {
  MapReader m(top.Child("model"), "model");
  RETURN_IF_ERROR(m.CheckIsMap());
  std::string type = "mlp";
  RETURN_IF_ERROR(m.String("type", &type, {"mlp", "resmlp", "gcn"}));
  ModelConfig& c = spec->model;
  RETURN_IF_ERROR(m.Float("dropout", &c.dropout, 0.0, 1.0, false, true));
  if (type == "mlp") {
    c.type = ModelConfig::Type::kMlp;
    c.hidden = {256};
    RETURN_IF_ERROR(m.IntList("hidden", &c.hidden, 1, kMaxWidth));
    std::string act = "relu";
    RETURN_IF_ERROR(m.String("activation", &act, {"relu", "gelu"}));
    c.activation = act == "relu" ? Activation::kRelu : Activation::kGelu;
  } else if (type == "resmlp") {
    c.type = ModelConfig::Type::kResMlp;
    RETURN_IF_ERROR(m.Int("width", &c.width, 1, kMaxWidth));
    RETURN_IF_ERROR(m.Int("blocks", &c.blocks, 0, 1024));
    RETURN_IF_ERROR(m.Int("expansion", &c.expansion, 1, 64));
    RETURN_IF_ERROR(m.Int("ln_groups", &c.ln_groups, 1, 64));
    if (c.width % c.ln_groups != 0)
      return Invalid("model.ln_groups", "must divide model.width");
  } else {
    c.type = ModelConfig::Type::kGcn;
    c.hidden = {128};
    RETURN_IF_ERROR(m.IntList("hidden", &c.hidden, 1, kMaxWidth));
  }
  return m.Finish();
}

// train_fraction and val_fraction of a graph's nodes; the test split gets the
// rest.
absl::Status NodeSplit(MapReader& d, double* train_fraction,
                       double* val_fraction) {
  RETURN_IF_ERROR(
      d.Double("train_fraction", train_fraction, 0.0, 1.0, true, true));
  RETURN_IF_ERROR(
      d.Double("val_fraction", val_fraction, 0.0, 1.0, false, true));
  if (*train_fraction + *val_fraction >= 1.0) {
    return Invalid(
        "data.val_fraction",
        "train_fraction + val_fraction must be < 1 (test gets the rest)");
  }
  return absl::OkStatus();
}

absl::Status ParseData(MapReader& top, TrainSpec* spec) {
  MapReader d(top.Child("data"), "data");
  RETURN_IF_ERROR(d.CheckIsMap());
  std::string dataset = "fashion-mnist";
  RETURN_IF_ERROR(d.String("dataset", &dataset,
                           {"fashion-mnist", "csbm", "fashion-mnist-knn"}));
  DataSpec& ds = spec->data;
  if (dataset == "fashion-mnist") {
    ds.kind = DataSpec::Kind::kFashionMnist;
    RETURN_IF_ERROR(d.String("path", &ds.path));
    RETURN_IF_ERROR(
        d.Double("val_fraction", &ds.val_fraction, 0.0, 1.0, false, true));
    RETURN_IF_ERROR(d.Int("limit", &ds.limit, 0, 60000));
    RETURN_IF_ERROR(d.Seed("seed", &ds.seed));
  } else if (dataset == "csbm") {
    ds.kind = DataSpec::Kind::kCsbm;
    CsbmConfig& c = ds.csbm;
    RETURN_IF_ERROR(d.Int("nodes", &c.nodes, 2, int64_t{1} << 30));
    RETURN_IF_ERROR(d.Int("classes", &c.classes, 2, 1 << 16));
    RETURN_IF_ERROR(d.Double("avg_degree", &c.avg_degree, 0.0, 1e6, true));
    RETURN_IF_ERROR(d.Double("homophily", &c.homophily, 0.0, 1.0));
    RETURN_IF_ERROR(d.Int("feature_dim", &c.feature_dim, 1, kMaxWidth));
    RETURN_IF_ERROR(d.Double("separation", &c.separation, 0.0, 1e6));
    RETURN_IF_ERROR(NodeSplit(d, &c.train_fraction, &c.val_fraction));
    RETURN_IF_ERROR(d.Seed("seed", &c.seed));
    if (c.classes > c.nodes)
      return Invalid("data.classes", "must not exceed data.nodes");
    if (c.avg_degree >= c.nodes)
      return Invalid("data.avg_degree", "must be below data.nodes");
  } else {
    ds.kind = DataSpec::Kind::kFashionMnistKnn;
    KnnConfig& c = ds.knn;
    RETURN_IF_ERROR(d.String("path", &ds.path));
    RETURN_IF_ERROR(d.Int("nodes", &c.nodes, 2, 70000));
    RETURN_IF_ERROR(d.Int("k", &c.k, 1, 1000));
    RETURN_IF_ERROR(NodeSplit(d, &c.train_fraction, &c.val_fraction));
    RETURN_IF_ERROR(d.Seed("seed", &c.seed));
    c.dir = ds.path;
    if (c.k >= c.nodes) return Invalid("data.k", "must be below data.nodes");
  }
  return d.Finish();
}

// train.dropcompute.threshold: none, auto, seconds or a multiple of the
// median micro-batch time (6x).
absl::Status ParseThreshold(MapReader& dc, DropComputeSpec* out) {
  if (!dc.Has("threshold")) return absl::OkStatus();
  DropComputeSpec& d = *out;
  const YamlNode& n = dc.Child("threshold");
  const std::string text = n.IsScalar() ? n.scalar() : "";
  double v = 0;
  if (text == "none") {
    d.threshold = DropComputeSpec::Threshold::kNone;
  } else if (text == "auto") {
    d.threshold = DropComputeSpec::Threshold::kAuto;
  } else if (text.size() > 1 && text.back() == 'x' &&
             absl::SimpleAtod(text.substr(0, text.size() - 1), &v) && v > 0 &&
             std::isfinite(v)) {
    d.threshold = DropComputeSpec::Threshold::kMedianMultiple;
    d.threshold_value = v;
  } else if (absl::SimpleAtod(text, &v) && v > 0 && std::isfinite(v)) {
    d.threshold = DropComputeSpec::Threshold::kSeconds;
    d.threshold_value = v;
  } else {
    return Invalid("train.dropcompute.threshold",
                   "use none, auto, seconds (e.g. 0.05) or a multiple of "
                   "the median micro-batch time (e.g. 6x), got '" +
                       text + "'");
  }
  d.threshold_text = text;
  return absl::OkStatus();
}

absl::Status ParseSampler(MapReader& t, TrainSpec* spec) {
  MapReader sm(t.Child("sampler"), "train.sampler");
  RETURN_IF_ERROR(sm.CheckIsMap());
  SamplerSpec& sp = spec->sampler;
  std::string stype = "full";
  RETURN_IF_ERROR(sm.String("type", &stype, {"full", "cluster", "nodes"}));
  sp.type = stype == "full"      ? SamplerSpec::Type::kFull
            : stype == "cluster" ? SamplerSpec::Type::kCluster
                                 : SamplerSpec::Type::kNodes;
  RETURN_IF_ERROR(sm.Int("parts", &sp.parts, 1, 1 << 20));
  RETURN_IF_ERROR(sm.Int("parts_per_step", &sp.parts_per_step, 1, 1 << 20));
  RETURN_IF_ERROR(sm.Double("fraction", &sp.fraction, 0.0, 1.0, true));
  RETURN_IF_ERROR(sm.Seed("seed", &sp.seed));
  RETURN_IF_ERROR(sm.Seed("partition_seed", &sp.partition_seed));
  RETURN_IF_ERROR(sm.Finish());
  if (sp.parts_per_step > sp.parts) {
    return Invalid("train.sampler.parts_per_step", "must not exceed parts");
  }

  return absl::OkStatus();
}

absl::Status ParseDropCompute(MapReader& t, TrainSpec* spec) {
  if (!t.Has("dropcompute")) return absl::OkStatus();
  MapReader dc(t.Child("dropcompute"), "train.dropcompute");
  RETURN_IF_ERROR(dc.CheckIsMap());
  DropComputeSpec& d = spec->dropcompute;
  d.enabled = true;
  RETURN_IF_ERROR(dc.Int("ranks", &d.ranks, 1, 4096));
  RETURN_IF_ERROR(dc.Int("micro_batches", &d.micro_batches, 1, 1024));
  RETURN_IF_ERROR(ParseThreshold(dc, &d));
  RETURN_IF_ERROR(dc.Bool("renormalize", &d.renormalize));
  RETURN_IF_ERROR(dc.String("timing", &d.timing, {"simulated", "real"}));
  RETURN_IF_ERROR(dc.String("noise", &d.noise, {"lognormal", "paper"}));
  RETURN_IF_ERROR(dc.Double("sigma", &d.sigma, 0.0, 5.0));
  RETURN_IF_ERROR(dc.Double("delay_factor", &d.delay_factor, 0.0, 100.0));
  RETURN_IF_ERROR(dc.Int("slow_ranks", &d.slow_ranks, 0, 4096));
  RETURN_IF_ERROR(dc.Double("slow_factor", &d.slow_factor, 1.0, 1000.0));
  RETURN_IF_ERROR(dc.Int("calibration_steps", &d.calibration_steps, 1, 100000));
  RETURN_IF_ERROR(dc.Double("comm_seconds", &d.comm_seconds, 0.0, 3600.0));
  RETURN_IF_ERROR(dc.Double("base_seconds", &d.base_seconds, 0.0, 3600.0));
  RETURN_IF_ERROR(dc.Finish());
  if (d.slow_ranks > d.ranks) {
    return Invalid("train.dropcompute.slow_ranks", "must not exceed ranks");
  }
  return absl::OkStatus();
}

absl::Status ParseOptimizer(MapReader& t, TrainSpec* spec) {
  MapReader o(t.Child("optimizer"), "train.optimizer");
  RETURN_IF_ERROR(o.CheckIsMap());
  OptimizerConfig& opt = spec->optimizer;
  std::string name = "adamw";
  RETURN_IF_ERROR(o.String("name", &name, {"adamw", "sgd"}));
  opt.type = name == "adamw" ? OptimizerConfig::Type::kAdamW
                             : OptimizerConfig::Type::kSgd;
  if (opt.type == OptimizerConfig::Type::kSgd) opt.lr = 0.1f;
  RETURN_IF_ERROR(o.Float("lr", &opt.lr, 0.0, 1e3, true));
  RETURN_IF_ERROR(o.Float("weight_decay", &opt.weight_decay, 0.0, 1e3));
  if (opt.type == OptimizerConfig::Type::kSgd) {
    RETURN_IF_ERROR(o.Float("momentum", &opt.momentum, 0.0, 1.0, false, true));
    RETURN_IF_ERROR(o.Bool("nesterov", &opt.nesterov));
    if (opt.nesterov && opt.momentum == 0.0f) {
      return Invalid("train.optimizer.nesterov", "needs momentum > 0");
    }
  } else {
    RETURN_IF_ERROR(o.Float("beta1", &opt.beta1, 0.0, 1.0, false, true));
    RETURN_IF_ERROR(o.Float("beta2", &opt.beta2, 0.0, 1.0, false, true));
    RETURN_IF_ERROR(o.Float("eps", &opt.eps, 0.0, 1.0, true));
  }
  if (opt.lr * opt.weight_decay >= 1.0f) {
    return Invalid("train.optimizer.weight_decay",
                   "lr * weight_decay must be < 1");
  }
  RETURN_IF_ERROR(o.Finish());

  return absl::OkStatus();
}

absl::Status ParseSchedule(MapReader& t, TrainSpec* spec) {
  const OptimizerConfig& opt = spec->optimizer;
  MapReader s(t.Child("schedule"), "train.schedule");
  RETURN_IF_ERROR(s.CheckIsMap());
  ScheduleConfig& sc = spec->schedule;
  std::string sname = "constant";
  RETURN_IF_ERROR(s.String("name", &sname, {"constant", "cosine", "linear"}));
  sc.type = sname == "constant" ? ScheduleConfig::Type::kConstant
            : sname == "cosine" ? ScheduleConfig::Type::kCosine
                                : ScheduleConfig::Type::kLinear;
  RETURN_IF_ERROR(s.Int("warmup_steps", &sc.warmup_steps, 0, int64_t{1} << 40));
  RETURN_IF_ERROR(s.Float("min_lr", &sc.min_lr, 0.0, 1e3));
  if (sc.min_lr > opt.lr)
    return Invalid("train.schedule.min_lr",
                   "must not exceed train.optimizer.lr");
  RETURN_IF_ERROR(s.Finish());
  return absl::OkStatus();
}

absl::Status ParseTrain(MapReader& top, TrainSpec* spec) {
  MapReader t(top.Child("train"), "train");
  RETURN_IF_ERROR(t.CheckIsMap());
  RETURN_IF_ERROR(t.Int("epochs", &spec->epochs, 0, 1000000));
  RETURN_IF_ERROR(t.Int("batch_size", &spec->batch_size, 1, 1 << 20));
  RETURN_IF_ERROR(t.Int("max_steps", &spec->max_steps, 0, int64_t{1} << 40));
  RETURN_IF_ERROR(t.Int("log_every", &spec->log_every, 1, int64_t{1} << 40));
  RETURN_IF_ERROR(t.Int("eval_every", &spec->eval_every, 1, 1000000));
  RETURN_IF_ERROR(t.Seed("seed", &spec->seed));
  RETURN_IF_ERROR(ParseSampler(t, spec));
  RETURN_IF_ERROR(ParseDropCompute(t, spec));
  RETURN_IF_ERROR(ParseOptimizer(t, spec));
  RETURN_IF_ERROR(ParseSchedule(t, spec));
  return t.Finish();
}

}  // namespace

namespace {

// JSON value → YAML node with the scalars YAML::Load would give for the same
// value's JSON text.
YamlNode ToYaml(const nlohmann::json& j) {
  using T = nlohmann::json::value_t;
  switch (j.type()) {
    case T::object: {
      YamlNode n = YamlNode::Map();
      for (const auto& [k, v] : j.items())
        n.Insert(YamlNode::Scalar(k, "!"), ToYaml(v));
      return n;
    }
    case T::array: {
      YamlNode n = YamlNode::Sequence();
      for (const auto& v : j) n.Append(ToYaml(v));
      return n;
    }
    case T::string:
      return YamlNode::Scalar(j.get_ref<const std::string&>(), "!");
    case T::null:
    case T::discarded:
      return YamlNode();
    default:  // numbers and booleans: their JSON text
      return YamlNode::Scalar(j.dump(), "?");
  }
}

absl::StatusOr<TrainSpec> ParseTrainSpecNode(const YamlNode& root);

}  // namespace

absl::StatusOr<TrainSpec> ParseTrainSpecJson(const nlohmann::json& spec) {
  if (!spec.is_object()) {
    return Invalid("spec",
                   "must be a mapping of key: value (model, data, "
                   "train, device)");
  }
  return ParseTrainSpecNode(ToYaml(spec));
}

absl::StatusOr<TrainSpec> ParseTrainSpec(const std::string& text) {
  ASSIGN_OR_RETURN(YamlNode root,
                   LoadYamlMapping(text, "model, data, train, device"));
  return ParseTrainSpecNode(root);
}

namespace {

// task, soup and fuse: what ladle-train does with the spec.
absl::Status ParseTask(MapReader& top, TrainSpec* spec) {
  std::string task = "train";
  RETURN_IF_ERROR(top.String("task", &task, {"train", "fuse", "soup"}));
  spec->task = task == "fuse"   ? TrainTask::kFuse
               : task == "soup" ? TrainTask::kSoup
                                : TrainTask::kTrain;
  MapReader soup(top.Child("soup"), "soup");
  RETURN_IF_ERROR(soup.CheckIsMap());
  RETURN_IF_ERROR(
      soup.StringList("ingredients", &spec->soup.ingredients, 1024));
  RETURN_IF_ERROR(soup.Int("alpha_steps", &spec->soup.alpha_steps, 1, 1000));
  RETURN_IF_ERROR(soup.Finish());
  MapReader fuse(top.Child("fuse"), "fuse");
  RETURN_IF_ERROR(fuse.CheckIsMap());
  RETURN_IF_ERROR(fuse.String("a", &spec->fuse.a));
  RETURN_IF_ERROR(fuse.String("b", &spec->fuse.b));
  RETURN_IF_ERROR(
      fuse.String("layernorm", &spec->fuse.layernorm, {"grouped", "full"}));
  return fuse.Finish();
}

// What holds across sections: the task's inputs, and which models take
// which data, samplers and DropCompute.
absl::Status CheckConsistent(const TrainSpec& spec) {
  if (spec.device != "auto" && spec.device != "cpu" &&
      spec.device.rfind("cuda", 0) != 0) {
    return Invalid("device", "unknown device '" + spec.device +
                                 "'; use auto, cpu, cuda or cuda:N");
  }
  if (spec.task == TrainTask::kFuse) {
    if (spec.fuse.a.empty() || spec.fuse.b.empty()) {
      return Invalid("fuse", "task fuse needs fuse.a and fuse.b (checkpoints)");
    }
    if (spec.model.type == ModelConfig::Type::kGcn) {
      return Invalid("model.type", "task fuse fuses mlp and resmlp models");
    }
    if (spec.model.type == ModelConfig::Type::kResMlp &&
        spec.model.ln_groups != 1) {
      return Invalid("model.ln_groups",
                     "task fuse takes narrow models with ln_groups 1");
    }
  } else if (!spec.fuse.a.empty() || !spec.fuse.b.empty()) {
    return Invalid("fuse", "only for task: fuse");
  }
  if (spec.task == TrainTask::kSoup && spec.soup.ingredients.empty()) {
    return Invalid("soup.ingredients",
                   "task soup needs a list of ingredient checkpoints");
  }
  if (spec.task != TrainTask::kSoup && !spec.soup.ingredients.empty()) {
    return Invalid("soup", "only for task: soup");
  }
  if (spec.epochs == 0 && spec.init_checkpoint.empty() &&
      spec.task == TrainTask::kTrain) {
    return Invalid("train.epochs",
                   "must be >= 1 (0, evaluation only, needs init.checkpoint)");
  }
  if (spec.dropcompute.enabled && spec.model.type == ModelConfig::Type::kGcn) {
    return Invalid("train.dropcompute",
                   "data-parallel micro-batching is for mlp/resmlp models");
  }
  if (spec.sampler.type != SamplerSpec::Type::kFull &&
      spec.model.type != ModelConfig::Type::kGcn) {
    return Invalid("train.sampler", "subgraph sampling is for gcn models");
  }
  if (spec.model.type == ModelConfig::Type::kGcn && !spec.data.is_graph()) {
    return Invalid(
        "model.type",
        "gcn needs a graph dataset (data.dataset: csbm or fashion-mnist-knn)");
  }
  return absl::OkStatus();
}

absl::StatusOr<TrainSpec> ParseTrainSpecNode(const YamlNode& root) {
  TrainSpec spec;
  MapReader top(root, "");
  RETURN_IF_ERROR(ParseTask(top, &spec));
  MapReader init(top.Child("init"), "init");
  RETURN_IF_ERROR(init.CheckIsMap());
  RETURN_IF_ERROR(init.String("checkpoint", &spec.init_checkpoint));
  RETURN_IF_ERROR(init.Finish());
  RETURN_IF_ERROR(ParseModel(top, &spec));
  RETURN_IF_ERROR(ParseData(top, &spec));
  RETURN_IF_ERROR(ParseTrain(top, &spec));
  RETURN_IF_ERROR(top.String("device", &spec.device));
  int64_t threads = 0;
  RETURN_IF_ERROR(top.Int("threads", &threads, 0, 1024));
  spec.threads = static_cast<int>(threads);
  RETURN_IF_ERROR(top.Finish());
  RETURN_IF_ERROR(CheckConsistent(spec));
  return spec;
}

}  // namespace

absl::StatusOr<TrainSpec> LoadTrainSpec(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return absl::NotFoundError(
        absl::StrCat("spec file ", path, " cannot be read"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseTrainSpec(ss.str());
}

}  // namespace ladle
