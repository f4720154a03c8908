// kind: command — the user's own program, one job per sweep point:
//
//   command:
//     argv: [python3, train.py, --lr, "{lr}"]  # {name}: a parameter's value
//     env: {OMP_NUM_THREADS: "2"}               # templates allowed here too
//     code: .        # a directory beside the spec, uploaded by `ladle submit`
//     outputs: out/  # relative to the working directory, uploaded at the end
//   params: {lr: 0.001, seed: 1}  # defaults; sweep points override them
//   seed_param: seed              # results: mean ± std over this parameter
//   ranks: 1      # > 1: one job of that many processes (a gang), each with
//                 # torchrun's RANK, WORLD_SIZE, MASTER_ADDR, ...
//
// Sweep keys are parameter names (a sweep may add parameters params does not
// list). Its tables: every job with the numeric keys of its summary, and per
// configuration (the sweep point without seed_param) their mean ± std.
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "spec/command_job.h"
#include "spec/kinds/builtin.h"
#include "spec/sweep.h"
#include "spec/yaml_reader.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

constexpr int kMaxRanks = 1024;
constexpr size_t kMaxTableKeys = 8;  // summary columns shown; JSON has all

bool ValidParamName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  if (!std::isalpha(static_cast<unsigned char>(s[0])) && s[0] != '_')
    return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' &&
        c != '-')
      return false;
  }
  return true;
}

bool ValidEnvName(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// A relative path that stays inside the working directory.
bool ContainedPath(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  for (const auto& part : absl::StrSplit(p, '/'))
    if (part == "..") return false;
  return true;
}

// A scalar as argv/env text; false for collections and null.
bool ScalarText(const Json& v, std::string* out) {
  if (v.is_string()) {
    *out = v.get<std::string>();
    return true;
  }
  if (v.is_number() || v.is_boolean()) {
    *out = v.dump();
    return true;
  }
  return false;
}

// The `command:` section and the top-level keys, before templates resolve.
struct CommandSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string outputs = "out";
  Json params = Json::object();
  std::string seed_param;
  int ranks = 1;
};

absl::Status ParseArgv(const Json& v, CommandSpec* c) {
  if (!v.is_array() || v.empty() || v.size() > 4096) {
    return Invalid("command.argv",
                   "must be a list of 1 to 4096 arguments, the program first "
                   "(e.g. [python3, train.py, --lr, \"{lr}\"])");
  }
  for (size_t i = 0; i < v.size(); ++i) {
    std::string s;
    if (!ScalarText(v[i], &s)) {
      return Invalid(absl::StrCat("command.argv[", i, "]"),
                     "must be a string or a number");
    }
    c->argv.push_back(std::move(s));
  }
  if (c->argv[0].empty())
    return Invalid("command.argv[0]", "names the program; it is empty");
  return absl::OkStatus();
}

absl::Status ParseEnv(const Json& v, CommandSpec* c) {
  if (!v.is_object())
    return Invalid("command.env", "must be a mapping of NAME: value");
  for (const auto& [name, value] : v.items()) {
    const std::string path = "command.env." + name;
    if (!ValidEnvName(name)) {
      return Invalid(path, "not a variable name (letters, digits, '_')");
    }
    if (name.rfind("LADLE_", 0) == 0 || name == "CUDA_VISIBLE_DEVICES") {
      return Invalid(path,
                     "is set by the worker (docs/EXPERIMENTS.md); drop it "
                     "here (GPUs come from resources.gpus)");
    }
    if (!ScalarText(value, &c->env[name]))
      return Invalid(path, "must be a string or a number");
  }
  return absl::OkStatus();
}

absl::Status ParseSection(const Json& section, CommandSpec* c) {
  if (!section.contains("argv")) {
    return Invalid("command.argv",
                   "is required: the program and its arguments");
  }
  for (const auto& [key, value] : section.items()) {
    if (key == "argv") {
      RETURN_IF_ERROR(ParseArgv(value, c));
    } else if (key == "env") {
      RETURN_IF_ERROR(ParseEnv(value, c));
    } else if (key == "code") {
      if (!value.is_string() || value.get<std::string>().empty()) {
        return Invalid("command.code",
                       "must be a directory, relative to the spec file");
      }
    } else if (key == "outputs") {
      std::string o = value.is_string() ? value.get<std::string>() : "";
      while (o.size() > 1 && o.back() == '/') o.pop_back();
      if (!ContainedPath(o) || o == "." || o == "./") {
        return Invalid("command.outputs",
                       "must be a directory inside the working directory, "
                       "e.g. out/");
      }
      c->outputs = o;
    } else {
      return Invalid("command." + key,
                     "unknown key; known: argv, env, code, outputs");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseTopKeys(const ExperimentSpec& spec, CommandSpec* c) {
  const Json& keys = spec.kind_keys;
  if (keys.contains("params")) {
    const Json& p = keys["params"];
    if (!p.is_object())
      return Invalid("params", "must be a mapping of name: default value");
    for (const auto& [name, value] : p.items()) {
      if (!ValidParamName(name)) {
        return Invalid("params." + name,
                       "not a parameter name (a letter or '_', then letters, "
                       "digits, '_', '.', '-'; at most 64)");
      }
      if (value.is_null())
        return Invalid("params." + name, "has no value; give a default");
    }
    c->params = p;
  }
  for (const auto& [key, values] : spec.grid) {
    if (!ValidParamName(key))
      return Invalid("sweep.grid." + key, "not a parameter name");
    if (!c->params.contains(key)) c->params[key] = values.front();
  }
  for (const SearchDimension& d : spec.random_space) {
    if (!ValidParamName(d.key))
      return Invalid("sweep.random.space." + d.key, "not a parameter name");
    // Every point sets it; the default only makes the name known.
    if (!c->params.contains(d.key)) c->params[d.key] = d.low;
  }
  if (spec.has_search) {
    for (const SearchDimension& d : spec.search.space) {
      if (!ValidParamName(d.key))
        return Invalid("search.space." + d.key, "not a parameter name");
      if (!c->params.contains(d.key)) c->params[d.key] = d.low;
    }
    const std::string& budget = spec.search.budget_param;
    if (!budget.empty() && !ValidParamName(budget))
      return Invalid("search.budget.param", "not a parameter name");
    if (!budget.empty() && !c->params.contains(budget))
      c->params[budget] = spec.search.budget_min;
  }
  if (keys.contains("seed_param")) {
    const Json& s = keys["seed_param"];
    if (!s.is_string() || !c->params.contains(s.get<std::string>())) {
      return Invalid(
          "seed_param",
          "must name a parameter (under params or swept); got " + s.dump());
    }
    c->seed_param = s.get<std::string>();
  }
  if (keys.contains("ranks")) {
    const Json& r = keys["ranks"];
    if (!r.is_number_integer() || r.get<int64_t>() < 1 ||
        r.get<int64_t>() > kMaxRanks) {
      return Invalid(
          "ranks", absl::StrCat("must be an integer in [1, ", kMaxRanks, "]"));
    }
    c->ranks = r.get<int>();
  }
  if (c->ranks > 1) {
    for (const char* name :
         {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
          "MASTER_PORT"}) {
      if (c->env.count(name)) {
        return Invalid(absl::StrCat("command.env.", name),
                       "is set by the worker for each rank of a gang "
                       "(ranks > 1); drop it here");
      }
    }
  }
  return absl::OkStatus();
}

// The job of one sweep point: parameters resolved, templates expanded.
absl::StatusOr<CommandJob> Resolve(const CommandSpec& c, const Json& point,
                                   const Resources& resources) {
  CommandJob job;
  job.params = c.params;
  for (const auto& [k, v] : point.items()) job.params[k] = v;
  for (size_t i = 0; i < c.argv.size(); ++i) {
    ASSIGN_OR_RETURN(std::string arg,
                     ExpandTemplate(c.argv[i], job.params,
                                    absl::StrCat("command.argv[", i, "]")));
    job.argv.push_back(std::move(arg));
  }
  for (const auto& [name, value] : c.env) {
    ASSIGN_OR_RETURN(job.env[name],
                     ExpandTemplate(value, job.params, "command.env." + name));
  }
  job.outputs = c.outputs;
  job.memory_bytes = resources.memory_bytes;
  job.ranks = c.ranks;
  return job;
}

// "0.8472 ± 0.0049" in general notation: users' numbers have any scale.
std::string MeanStdG(const std::vector<double>& values) {
  if (values.empty()) return "-";
  const MeanAndStd s = Summarize(values);
  if (values.size() == 1) return absl::StrFormat("%.6g ± -", s.mean);
  // Equal values give a std of rounding noise (1e-17): that is 0.
  const double std =
      s.std <= 1e-12 * std::max(1.0, std::abs(s.mean)) ? 0.0 : s.std;
  return absl::StrFormat("%.6g ± %.2g", s.mean, std);
}

// The numeric top-level keys of the summaries, sorted.
std::vector<std::string> NumericKeys(const std::vector<JobView>& jobs) {
  std::set<std::string> keys;
  for (const JobView& j : jobs) {
    if (!j.summary.is_object()) continue;
    for (const auto& [k, v] : j.summary.items())
      if (v.is_number()) keys.insert(k);
  }
  return {keys.begin(), keys.end()};
}

ReportTable JobTable(const std::vector<JobView>& jobs,
                     const std::vector<std::string>& keys) {
  ReportTable t;
  t.title = "jobs";
  t.columns = {"job", "state", "params"};
  t.columns.insert(t.columns.end(), keys.begin(), keys.end());
  for (const JobView& j : jobs) {
    std::vector<std::string> row = {j.id, j.state, PointOf(j.params, {})};
    for (const std::string& k : keys) {
      const double v = JsonNumber(j.summary, k.c_str());
      row.push_back(std::isnan(v) ? "-" : absl::StrFormat("%.6g", v));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

// Mean ± std of each key per configuration; none unless some repeat.
std::vector<ReportTable> ConfigTable(const std::vector<JobView>& jobs,
                                     const std::vector<std::string>& keys,
                                     const std::string& seed_param) {
  std::map<std::string, std::vector<const JobView*>> groups;
  for (const JobView& j : jobs) {
    if (!j.summary.is_object()) continue;
    Json point = j.params.is_object() ? j.params : Json::object();
    point.erase(seed_param);
    groups[point.empty() ? "(base)" : point.dump()].push_back(&j);
  }
  size_t grouped = 0;
  for (const auto& [config, members] : groups) grouped += members.size();
  if (groups.empty() || grouped <= groups.size()) return {};
  ReportTable t;
  t.title = "per configuration, over " + seed_param;
  t.columns = {"configuration", "n"};
  for (const std::string& k : keys) t.columns.push_back(k + " mean ± std");
  for (const auto& [config, members] : groups) {
    std::vector<std::string> row = {config, absl::StrCat(members.size())};
    for (const std::string& k : keys) {
      std::vector<double> values;
      for (const JobView* j : members) {
        const double v = JsonNumber(j->summary, k.c_str());
        if (!std::isnan(v)) values.push_back(v);
      }
      row.push_back(MeanStdG(values));
    }
    t.rows.push_back(std::move(row));
  }
  t.notes.push_back("sample standard deviation over the values of " +
                    seed_param + "; n counts jobs with a summary");
  return {t};
}

class CommandKind final : public ExperimentKind {
 public:
  absl::string_view name() const override { return "command"; }
  bool needs_trial() const override { return false; }
  bool supports_search() const override { return true; }
  std::vector<absl::string_view> top_level_keys() const override {
    return {"params", "seed_param", "ranks"};
  }
  bool HasJobTable() const override { return true; }

  absl::StatusOr<std::vector<PlannedJob>> Plan(
      const ExperimentSpec& spec) const override {
    return PlanPoints(spec, SweepPoints(spec), 0);
  }

  absl::StatusOr<std::vector<PlannedJob>> PlanPoints(
      const ExperimentSpec& spec, std::vector<Json> points,
      int first_index) const override {
    CommandSpec c;
    if (!spec.kind_config.is_object() || spec.kind_config.empty()) {
      return Invalid("command",
                     "is required: {argv: [program, args...]} (see "
                     "docs/EXPERIMENTS.md)");
    }
    RETURN_IF_ERROR(ParseSection(spec.kind_config, &c));
    RETURN_IF_ERROR(ParseTopKeys(spec, &c));
    if (c.ranks > 1 && spec.resources.gpu_share_milli > 0) {
      return Invalid("resources.gpus",
                     "a gang's ranks take whole GPUs (gpus: 1 or more, or 0); "
                     "a fraction of one is for single-process jobs");
    }
    std::vector<PlannedJob> jobs;
    for (Json& point : points) {
      PlannedJob job;
      job.index = first_index + static_cast<int>(jobs.size());
      job.kind = "command";
      ASSIGN_OR_RETURN(CommandJob resolved, Resolve(c, point, spec.resources));
      resolved.code_sha256 = spec.code_sha256;
      job.spec = CommandJobToJson(resolved).dump();
      job.params = std::move(point);
      job.resources = spec.resources;
      job.resources.ranks = c.ranks;
      jobs.push_back(std::move(job));
    }
    return jobs;
  }

  std::vector<ReportTable> Tables(
      const ExperimentSpec& spec,
      const std::vector<JobView>& jobs) const override {
    std::vector<std::string> keys = NumericKeys(jobs);
    if (keys.size() > kMaxTableKeys) keys.resize(kMaxTableKeys);
    std::vector<ReportTable> tables = {JobTable(jobs, keys)};
    const Json& seed = spec.kind_keys.is_object()
                           ? spec.kind_keys.value("seed_param", Json())
                           : Json();
    if (seed.is_string() && !keys.empty()) {
      for (ReportTable& t : ConfigTable(jobs, keys, seed.get<std::string>()))
        tables.push_back(std::move(t));
    }
    if (NumericKeys(jobs).size() > kMaxTableKeys) {
      tables.front().notes.push_back(absl::StrCat(
          "the first ", kMaxTableKeys,
          " numeric summary keys by name; --format json has them all"));
    }
    return tables;
  }
};

}  // namespace

std::unique_ptr<ExperimentKind> NewCommandKind() {
  return std::make_unique<CommandKind>();
}

}  // namespace ladle
