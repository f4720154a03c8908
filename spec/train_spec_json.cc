// SpecToJson and SpecText: a TrainSpec in its resolved form, every default
// filled in, through one list of fields (EmitSpec) for both the JSON value
// and the text written directly.
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "spec/train_spec.h"
#include "spec/yaml_reader.h"

namespace ladle {

namespace {
// Floats print as their shortest decimal (0.001, not 0.0010000000474974513).
// Memoized per thread by the float's bits (a pure function): specs repeat a
// few values (defaults, a sweep's grid), and this round trip through text was
// a quarter of writing a spec.
double Num(float f) {
  struct Entry {
    uint32_t bits = 0;
    bool used = false;
    double value = 0;
  };
  thread_local std::array<Entry, 64> memo;
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  Entry& e = memo[(bits * 2654435761u) >> 26];
  if (!e.used || e.bits != bits) {
    e.bits = bits;
    e.used = true;
    e.value = std::stod(absl::StrCat(f));
  }
  return e.value;
}
}  // namespace

namespace {
using J = nlohmann::ordered_json;
// An object with room for `keys` keys. ordered_json keeps an object's members
// in a vector of pairs whose keys are const, so growing it copies every
// member, nested objects included: sized up front, nothing is copied.
J ObjectFor(size_t keys) {
  J j = J::object();
  j.get_ref<J::object_t&>().reserve(keys);
  return j;
}

// Builds the spec as an ordered_json (SpecToJson).
class JsonOut {
 public:
  JsonOut() : root_(ObjectFor(8)) { open_.push_back(&root_); }
  // Opens an object under `key` with room for `keys` members.
  void Open(const char* key, size_t keys) {
    J& child = (*open_.back())[key] = ObjectFor(keys);
    open_.push_back(&child);
  }
  void Close() { open_.pop_back(); }
  template <typename T>
  void Put(const char* key, const T& value) {
    (*open_.back())[key] = value;
  }
  J Take() { return std::move(root_); }

 private:
  J root_;
  // The open objects, innermost last. Members are added only to the
  // innermost one, so the pointers stay valid.
  std::vector<J*> open_;
};

// Writes the spec as compact JSON text, byte for byte what
// SpecToJson(spec).dump() gives (numbers through nlohmann's own formatter),
// without building the JSON value: every job a sweep plans is stored as this
// text, and building then dumping the value was the bigger part of planning.
class TextOut {
 public:
  TextOut() {
    text_.reserve(1024);
    text_ += '{';
  }
  void Open(const char* key, size_t) {
    Key(key);
    text_ += '{';
    first_ = true;
  }
  void Close() {
    text_ += '}';
    first_ = false;
  }
  void Put(const char* key, const char* v) {
    Key(key);
    String(v);
  }
  void Put(const char* key, const std::string& v) {
    Key(key);
    String(v);
  }
  void Put(const char* key, bool v) {
    Key(key);
    text_ += v ? "true" : "false";
  }
  void Put(const char* key, int v) { Put(key, static_cast<int64_t>(v)); }
  void Put(const char* key, int64_t v) {
    Key(key);
    Integer(v);
  }
  void Put(const char* key, uint64_t v) {
    Key(key);
    Integer(v);
  }
  void Put(const char* key, double v) {
    Key(key);
    if (!std::isfinite(v)) {  // as nlohmann dumps NaN and infinities
      text_ += "null";
      return;
    }
    // Memoized per thread by the double's bits, as Num above.
    struct Entry {
      uint64_t bits = 0;
      uint8_t size = 0;  // 0: unused (every number prints something)
      char text[39];
    };
    thread_local std::array<Entry, 64> memo;
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof(bits));
    Entry& e = memo[(bits * 0x9E3779B97F4A7C15ull) >> 58];
    if (e.size == 0 || e.bits != bits) {
      char buf[64];
      char* end = nlohmann::detail::to_chars(buf, buf + sizeof(buf), v);
      const size_t n = static_cast<size_t>(end - buf);
      if (n > sizeof(e.text)) {  // cannot happen (at most 24), but be exact
        text_.append(buf, n);
        return;
      }
      e.bits = bits;
      e.size = static_cast<uint8_t>(n);
      std::memcpy(e.text, buf, n);
    }
    text_.append(e.text, e.size);
  }
  // Lists: hidden layers (integers), soup ingredients (strings).
  template <typename T>
  void Put(const char* key, const std::vector<T>& v) {
    Key(key);
    text_ += '[';
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) text_ += ',';
      if constexpr (std::is_same_v<T, std::string>) {
        String(v[i]);
      } else {
        Integer(v[i]);
      }
    }
    text_ += ']';
  }
  // False if a string was not valid UTF-8 (nlohmann's dump throws there).
  bool valid() const { return valid_; }
  std::string Take() {
    text_ += '}';
    return std::move(text_);
  }

 private:
  // Keys are this file's literals: plain ASCII, nothing to escape.
  void Key(const char* key) {
    if (!first_) text_ += ',';
    first_ = false;
    text_ += '"';
    text_ += key;
    text_ += "\":";
  }
  template <typename T>
  void Integer(T v) {
    char buf[24];
    text_.append(buf, std::to_chars(buf, buf + sizeof(buf), v).ptr);
  }
  // JSON string escaping as nlohmann's dump does it (ensure_ascii off).
  void String(absl::string_view v) {
    text_ += '"';
    // Most values (names, paths) need no escape: one append.
    bool plain = true, ascii = true;
    for (const char c : v) {
      const auto u = static_cast<unsigned char>(c);
      plain &= u >= 0x20 && c != '"' && c != '\\';
      ascii &= u < 0x80;
    }
    if (!ascii && FirstInvalidUtf8(v) >= 0) valid_ = false;
    if (plain) {
      text_.append(v.data(), v.size());
      text_ += '"';
      return;
    }
    for (const char c : v) {
      switch (c) {
        case '"':
          text_ += "\\\"";
          break;
        case '\\':
          text_ += "\\\\";
          break;
        case '\b':
          text_ += "\\b";
          break;
        case '\f':
          text_ += "\\f";
          break;
        case '\n':
          text_ += "\\n";
          break;
        case '\r':
          text_ += "\\r";
          break;
        case '\t':
          text_ += "\\t";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x",
                          static_cast<unsigned>(static_cast<unsigned char>(c)));
            text_ += buf;
          } else {
            text_ += c;
          }
      }
    }
    text_ += '"';
  }

  std::string text_;
  bool first_ = true;
  bool valid_ = true;
};

// Every field of the spec, in its key layout, into `o` (JsonOut or TextOut):
// one list of fields for both forms.
template <typename Out>
void EmitSpec(const TrainSpec& s, Out& o) {
  if (s.task == TrainTask::kFuse) {
    o.Put("task", "fuse");
    o.Open("fuse", 3);
    o.Put("a", s.fuse.a);
    o.Put("b", s.fuse.b);
    if (s.model.type == ModelConfig::Type::kResMlp)
      o.Put("layernorm", s.fuse.layernorm);
    o.Close();
  }
  if (s.task == TrainTask::kSoup) {
    o.Put("task", "soup");
    o.Open("soup", 2);
    o.Put("ingredients", s.soup.ingredients);
    o.Put("alpha_steps", s.soup.alpha_steps);
    o.Close();
  }
  if (!s.init_checkpoint.empty()) {
    o.Open("init", 1);
    o.Put("checkpoint", s.init_checkpoint);
    o.Close();
  }
  o.Open("model", 5);
  switch (s.model.type) {
    case ModelConfig::Type::kMlp:
      o.Put("type", "mlp");
      o.Put("hidden", s.model.hidden);
      o.Put("activation",
            s.model.activation == Activation::kRelu ? "relu" : "gelu");
      break;
    case ModelConfig::Type::kResMlp:
      o.Put("type", "resmlp");
      o.Put("width", s.model.width);
      o.Put("blocks", s.model.blocks);
      o.Put("expansion", s.model.expansion);
      if (s.model.ln_groups != 1) o.Put("ln_groups", s.model.ln_groups);
      break;
    case ModelConfig::Type::kGcn:
      o.Put("type", "gcn");
      o.Put("hidden", s.model.hidden);
      break;
  }
  o.Put("dropout", Num(s.model.dropout));
  o.Close();
  o.Open("data", 10);
  switch (s.data.kind) {
    case DataSpec::Kind::kFashionMnist:
      o.Put("dataset", "fashion-mnist");
      o.Put("path", s.data.path);
      o.Put("val_fraction", s.data.val_fraction);
      o.Put("limit", s.data.limit);
      o.Put("seed", s.data.seed);
      break;
    case DataSpec::Kind::kCsbm: {
      const CsbmConfig& c = s.data.csbm;
      o.Put("dataset", "csbm");
      o.Put("nodes", c.nodes);
      o.Put("classes", c.classes);
      o.Put("avg_degree", c.avg_degree);
      o.Put("homophily", c.homophily);
      o.Put("feature_dim", c.feature_dim);
      o.Put("separation", c.separation);
      o.Put("train_fraction", c.train_fraction);
      o.Put("val_fraction", c.val_fraction);
      o.Put("seed", c.seed);
      break;
    }
    case DataSpec::Kind::kFashionMnistKnn: {
      const KnnConfig& c = s.data.knn;
      o.Put("dataset", "fashion-mnist-knn");
      o.Put("path", s.data.path);
      o.Put("nodes", c.nodes);
      o.Put("k", c.k);
      o.Put("train_fraction", c.train_fraction);
      o.Put("val_fraction", c.val_fraction);
      o.Put("seed", c.seed);
      break;
    }
  }
  o.Close();
  o.Open("train", 10);
  o.Put("epochs", s.epochs);
  o.Put("batch_size", s.batch_size);
  o.Put("max_steps", s.max_steps);
  o.Put("log_every", s.log_every);
  o.Put("eval_every", s.eval_every);
  o.Put("seed", s.seed);
  const OptimizerConfig& opt = s.optimizer;
  o.Open("optimizer", 6);
  o.Put("name", opt.type == OptimizerConfig::Type::kAdamW ? "adamw" : "sgd");
  o.Put("lr", Num(opt.lr));
  o.Put("weight_decay", Num(opt.weight_decay));
  if (opt.type == OptimizerConfig::Type::kAdamW) {
    o.Put("beta1", Num(opt.beta1));
    o.Put("beta2", Num(opt.beta2));
    o.Put("eps", Num(opt.eps));
  } else {
    o.Put("momentum", Num(opt.momentum));
    o.Put("nesterov", opt.nesterov);
  }
  o.Close();
  o.Open("schedule", 3);
  o.Put("name", s.schedule.type == ScheduleConfig::Type::kConstant ? "constant"
                : s.schedule.type == ScheduleConfig::Type::kCosine ? "cosine"
                                                                   : "linear");
  o.Put("warmup_steps", s.schedule.warmup_steps);
  o.Put("min_lr", Num(s.schedule.min_lr));
  o.Close();
  if (s.sampler.type != SamplerSpec::Type::kFull) {
    o.Open("sampler", 5);
    o.Put("type",
          s.sampler.type == SamplerSpec::Type::kCluster ? "cluster" : "nodes");
    if (s.sampler.type == SamplerSpec::Type::kCluster) {
      o.Put("parts", s.sampler.parts);
      o.Put("parts_per_step", s.sampler.parts_per_step);
      o.Put("partition_seed", s.sampler.partition_seed);
    } else {
      o.Put("fraction", s.sampler.fraction);
    }
    o.Put("seed", s.sampler.seed);
    o.Close();
  }
  if (s.dropcompute.enabled) {
    const DropComputeSpec& d = s.dropcompute;
    o.Open("dropcompute", 16);
    o.Put("ranks", d.ranks);
    o.Put("micro_batches", d.micro_batches);
    o.Put("threshold", d.threshold_text);
    o.Put("renormalize", d.renormalize);
    o.Put("timing", d.timing);
    o.Put("noise", d.noise);
    if (d.noise == "lognormal") {
      o.Put("sigma", d.sigma);
    } else {
      o.Put("delay_factor", d.delay_factor);
    }
    o.Put("slow_ranks", d.slow_ranks);
    o.Put("slow_factor", d.slow_factor);
    o.Put("calibration_steps", d.calibration_steps);
    o.Put("comm_seconds", d.comm_seconds);
    o.Put("base_seconds", d.base_seconds);
    o.Close();
  }
  o.Close();
  o.Put("device", s.device);
  o.Put("threads", s.threads);
}
}  // namespace

nlohmann::ordered_json SpecToJson(const TrainSpec& s) {
  JsonOut out;
  EmitSpec(s, out);
  return out.Take();
}

std::string SpecText(const TrainSpec& s) {
  TextOut out;
  EmitSpec(s, out);
  // Not valid UTF-8: nlohmann's dump throws, and so must this.
  if (!out.valid()) return SpecToJson(s).dump();
  return out.Take();
}

}  // namespace ladle
