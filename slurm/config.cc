#include "slurm/config.h"

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "spec/experiment.h"
#include "spec/yaml_reader.h"

namespace ladle::slurm {
namespace {

absl::Status ParsePilots(const YamlNode& node, Options* out) {
  if (!node.IsSequence() || node.items().empty()) {
    return Invalid("pilots",
                   "a list of pilot types, e.g. - {name: cpu, cpus: 4}");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < node.items().size(); ++i) {
    const std::string path = absl::StrCat("pilots[", i, "]");
    MapReader r(node.items()[i], path);
    RETURN_IF_ERROR(r.CheckIsMap());
    PilotType t;
    int64_t gpus = 0, cpus = 1;
    RETURN_IF_ERROR(r.String("name", &t.name));
    RETURN_IF_ERROR(r.Int("gpus", &gpus, 0, 64));
    RETURN_IF_ERROR(r.Int("cpus", &cpus, 1, 4096));
    if (r.Has("memory")) {
      RETURN_IF_ERROR(
          ParseByteSize(r.Child("memory"), path + ".memory", &t.memory_bytes));
    }
    RETURN_IF_ERROR(r.Finish());
    bool ok = !t.name.empty() && t.name.size() <= 32;
    for (char c : t.name) ok = ok && (isalnum(c) || c == '-' || c == '_');
    if (!ok) return Invalid(path + ".name", "1-32 of a-z, 0-9, '-', '_'");
    if (!names.insert(t.name).second)
      return Invalid(path + ".name", "'" + t.name + "' is named twice");
    t.gpus = static_cast<int>(gpus);
    t.cpu_slots = static_cast<int>(cpus);
    out->types.push_back(t);
  }
  return absl::OkStatus();
}

absl::Status ParseSbatch(MapReader& top, SbatchOptions* out) {
  MapReader r(top.Child("sbatch"), "sbatch");
  RETURN_IF_ERROR(r.CheckIsMap());
  RETURN_IF_ERROR(r.String("partition", &out->partition));
  RETURN_IF_ERROR(r.String("account", &out->account));
  RETURN_IF_ERROR(r.String("qos", &out->qos));
  RETURN_IF_ERROR(r.String("time_limit", &out->time_limit));
  RETURN_IF_ERROR(r.StringList("args", &out->args, 64));
  RETURN_IF_ERROR(r.Finish());
  if (!out->time_limit.empty()) {
    out->time_limit_seconds = SlurmDurationSeconds(out->time_limit);
    if (out->time_limit_seconds < 0) {
      return Invalid("sbatch.time_limit",
                     "Slurm's format, e.g. 04:00:00 or 1-00:00:00; got '" +
                         out->time_limit + "'");
    }
  }
  return absl::OkStatus();
}

}  // namespace

int64_t SlurmDurationSeconds(const std::string& text) {
  if (text == "UNLIMITED" || text == "INFINITE") return 0;
  int64_t days = 0;
  std::string rest = text;
  const size_t dash = text.find('-');
  if (dash != std::string::npos) {
    if (!absl::SimpleAtoi(text.substr(0, dash), &days) || days < 0) return -1;
    rest = text.substr(dash + 1);
  }
  std::vector<std::string> parts = absl::StrSplit(rest, ':');
  std::vector<int64_t> v;
  for (const std::string& p : parts) {
    int64_t x = 0;
    if (p.empty() || !absl::SimpleAtoi(p, &x) || x < 0) return -1;
    v.push_back(x);
  }
  if (v.empty() || v.size() > 3) return -1;
  int64_t h = 0, m = 0, s = 0;
  if (dash != std::string::npos) {  // D-HH[:MM[:SS]]
    h = v[0];
    if (v.size() > 1) m = v[1];
    if (v.size() > 2) s = v[2];
  } else if (v.size() == 1) {  // MM
    m = v[0];
  } else if (v.size() == 2) {  // MM:SS
    m = v[0];
    s = v[1];
  } else {  // HH:MM:SS
    h = v[0];
    m = v[1];
    s = v[2];
  }
  return ((days * 24 + h) * 60 + m) * 60 + s;
}

absl::StatusOr<Config> ParseConfig(const std::string& text) {
  ASSIGN_OR_RETURN(
      YamlNode root,
      LoadYamlMapping(text, "coordinator, worker, work_dir, pilots, ..."));
  MapReader top(root, "");
  Config c;
  RETURN_IF_ERROR(top.String("coordinator", &c.coordinator));
  RETURN_IF_ERROR(top.String("token_file", &c.token_file));
  RETURN_IF_ERROR(top.String("worker_token_file", &c.worker_token_file));
  RETURN_IF_ERROR(top.String("tls_ca", &c.tls_ca));
  RETURN_IF_ERROR(top.String("worker", &c.worker));
  RETURN_IF_ERROR(top.String("work_dir", &c.work_dir));
  int64_t max_pilots = 4, grace_s = 120, margin_s = 600;
  RETURN_IF_ERROR(top.Int("max_pilots", &max_pilots, 1, 10000));
  RETURN_IF_ERROR(top.Int("idle_grace_seconds", &grace_s, 0, 86400));
  RETURN_IF_ERROR(top.Int("drain_margin_seconds", &margin_s, 0, 86400));
  RETURN_IF_ERROR(ParseSbatch(top, &c.sbatch));
  RETURN_IF_ERROR(ParsePilots(top.Child("pilots"), &c.autoscaler));
  RETURN_IF_ERROR(top.Finish());
  for (const auto& [key, value] : {std::pair<const char*, const std::string&>{
                                       "coordinator", c.coordinator},
                                   {"worker", c.worker},
                                   {"work_dir", c.work_dir}}) {
    if (value.empty()) return Invalid(key, "is required");
  }
  c.autoscaler.max_pilots = static_cast<int>(max_pilots);
  c.autoscaler.idle_grace_ms = grace_s * 1000;
  c.autoscaler.drain_margin_ms = margin_s * 1000;
  return c;
}

}  // namespace ladle::slurm
