#include "train/soup.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/safetensors.h"
#include "spec/result_table.h"
#include "train/checkpoint.h"

namespace ladle {
namespace {

ParamVector Mean(const std::vector<ParamVector>& all,
                 const std::vector<int>& which) {
  ParamVector m(all[which[0]].size(), 0.0f);
  for (int i : which) {
    for (size_t k = 0; k < m.size(); ++k) m[k] += all[i][k];
  }
  const float inv = 1.0f / static_cast<float>(which.size());
  for (float& v : m) v *= inv;
  return m;
}

absl::Status CheckShapes(const std::vector<ParamVector>& ingredients) {
  if (ingredients.empty())
    return absl::InvalidArgumentError("soup: no ingredients");
  for (const ParamVector& p : ingredients) {
    if (p.size() != ingredients[0].size()) {
      return absl::InvalidArgumentError(
          "soup: ingredients differ in size (not one architecture)");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SoupResult> UniformSoup(
    const std::vector<ParamVector>& ingredients, const ScoreFn& score) {
  RETURN_IF_ERROR(CheckShapes(ingredients));
  SoupResult r;
  for (int i = 0; i < static_cast<int>(ingredients.size()); ++i)
    r.members.push_back(i);
  r.params = Mean(ingredients, r.members);
  ASSIGN_OR_RETURN(r.scores, score(r.params));
  return r;
}

absl::StatusOr<SoupResult> GreedySoup(
    const std::vector<ParamVector>& ingredients, const std::vector<int>& order,
    const ScoreFn& score) {
  RETURN_IF_ERROR(CheckShapes(ingredients));
  SoupResult r;
  r.members = {order[0]};
  r.params = ingredients[order[0]];
  ASSIGN_OR_RETURN(r.scores, score(r.params));
  for (size_t k = 1; k < order.size(); ++k) {
    std::vector<int> trial = r.members;
    trial.push_back(order[k]);
    ParamVector candidate = Mean(ingredients, trial);
    ASSIGN_OR_RETURN(EvalScores s, score(candidate));
    if (s.val_accuracy >= r.scores.val_accuracy) {
      r.members = std::move(trial);
      r.params = std::move(candidate);
      r.scores = s;
    }
  }
  return r;
}

absl::StatusOr<SoupResult> InterpolationSoup(
    const std::vector<ParamVector>& ingredients, const std::vector<int>& order,
    int alpha_steps, const ScoreFn& score) {
  RETURN_IF_ERROR(CheckShapes(ingredients));
  SoupResult r;
  r.members = {order[0]};
  r.params = ingredients[order[0]];
  ASSIGN_OR_RETURN(r.scores, score(r.params));
  ParamVector candidate(r.params.size());
  for (size_t k = 1; k < order.size(); ++k) {
    const ParamVector& theta = ingredients[order[k]];
    // α = 1 (keep the soup) is the incumbent; a smaller α must do better.
    double best_alpha = 1.0;
    EvalScores best = r.scores;
    ParamVector best_params;
    for (int step = 0; step < alpha_steps; ++step) {
      const double alpha = static_cast<double>(step) / alpha_steps;
      const float a = static_cast<float>(alpha);
      for (size_t i = 0; i < candidate.size(); ++i)
        candidate[i] = a * r.params[i] + (1.0f - a) * theta[i];
      ASSIGN_OR_RETURN(EvalScores s, score(candidate));
      if (s.val_accuracy > best.val_accuracy) {
        best = s;
        best_alpha = alpha;
        best_params = candidate;
      }
    }
    r.alphas.push_back(best_alpha);
    if (best_alpha < 1.0) {
      r.params = std::move(best_params);
      r.scores = best;
      r.members.push_back(order[k]);
    }
  }
  return r;
}

namespace {

using Json = nlohmann::ordered_json;

// The ingredients' parameters, laid out as the model's flat vector.
absl::StatusOr<std::vector<ParamVector>> ReadIngredients(
    const TrainSpec& spec, const std::vector<ParamInfo>& infos, int64_t total) {
  std::vector<ParamVector> ingredients;
  for (size_t i = 0; i < spec.soup.ingredients.size(); ++i) {
    const std::string& path = spec.soup.ingredients[i];
    absl::StatusOr<SafeTensorsFile> f = ReadSafeTensors(path);
    if (!f.ok()) {
      return absl::Status(
          f.status().code(),
          absl::StrCat("soup.ingredients[", i, "]: ", f.status().message()));
    }
    ParamVector flat(total, 0.0f);
    for (const ParamInfo& p : infos) {
      const SafeTensor* t = f->Find(p.name);
      if (t == nullptr || t->shape != p.shape || t->dtype != "F32") {
        return absl::InvalidArgumentError(absl::StrCat(
            "soup.ingredients[", i, "]: ", path, ": tensor ", p.name,
            " missing or of another shape (not this spec's model)"));
      }
      const std::vector<float> v = t->AsFloats();
      std::copy(v.begin(), v.end(), flat.begin() + p.offset);
    }
    ingredients.push_back(std::move(flat));
  }
  return ingredients;
}

// The interpolation soup as the job's model: a ladle checkpoint of the
// trial's model, step 0.
absl::Status WriteSoupModel(const TrainSpec& spec,
                            const std::vector<ParamInfo>& infos,
                            const ParamVector& params,
                            const std::string& out_dir) {
  SafeTensorsFile out;
  for (const ParamInfo& p : infos) {
    out.tensors.push_back(
        SafeTensor::FromFloats(p.name, p.shape, params.data() + p.offset));
  }
  TrainSpec model_spec = spec;
  model_spec.task = TrainTask::kTrain;
  model_spec.soup = {};
  out.metadata["format"] = kCheckpointFormat;
  out.metadata["step"] = "0";
  out.metadata["spec"] = SpecToJson(model_spec).dump();
  return WriteSafeTensors(
      (std::filesystem::path(out_dir) / "model.safetensors").string(), out);
}

// summary.json of a soup job: the interpolation soup's scores on top, each
// ingredient's and each soup's below.
Json SoupSummary(const TrainSpec& spec, const std::vector<EvalScores>& each,
                 const SoupResult& uniform, const SoupResult& greedy,
                 const SoupResult& interp, int evaluations) {
  auto scores = [](const EvalScores& s) {
    return Json{{summary_keys::kValAccuracy, s.val_accuracy},
                {"val_loss", s.val_loss},
                {summary_keys::kTestAccuracy, s.test_accuracy},
                {"test_loss", s.test_loss}};
  };
  Json s;
  s[summary_keys::kTestAccuracy] = interp.scores.test_accuracy;
  s[summary_keys::kValAccuracy] = interp.scores.val_accuracy;
  s["test_loss"] = interp.scores.test_loss;
  s["val_loss"] = interp.scores.val_loss;
  Json ing = Json::array();
  for (size_t i = 0; i < each.size(); ++i) {
    Json e = scores(each[i]);
    e["path"] = spec.soup.ingredients[i];
    ing.push_back(e);
  }
  s["ingredients"] = ing;
  Json soups;
  soups["uniform"] = scores(uniform.scores);
  soups["greedy"] = scores(greedy.scores);
  soups["greedy"]["members"] = greedy.members;
  soups["interpolation"] = scores(interp.scores);
  soups["interpolation"]["members"] = interp.members;
  soups["interpolation"]["alphas"] = interp.alphas;
  s[summary_keys::kSoups] = soups;
  s["evaluations"] = evaluations;
  s[summary_keys::kSteps] = 0;
  s[summary_keys::kTrainFlops] = 0;
  return s;
}

}  // namespace

absl::StatusOr<TrainResult> RunSoup(const TrainSpec& spec,
                                    const TrainOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  const std::string scratch =
      (std::filesystem::path(options.out_dir) / "soup-eval").string();
  ASSIGN_OR_RETURN(std::unique_ptr<Evaluator> eval,
                   Evaluator::Create(spec, scratch));
  const std::vector<ParamInfo>& infos = eval->params();
  ASSIGN_OR_RETURN(std::vector<ParamVector> ingredients,
                   ReadIngredients(spec, infos, eval->flat_size()));
  int evaluations = 0;
  ScoreFn score = [&](const ParamVector& p) {
    ++evaluations;
    return eval->Evaluate(p);
  };
  std::vector<EvalScores> each;
  for (const ParamVector& p : ingredients) {
    ASSIGN_OR_RETURN(EvalScores s, score(p));
    each.push_back(s);
  }
  std::vector<int> order(ingredients.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return each[a].val_accuracy > each[b].val_accuracy;
  });
  ASSIGN_OR_RETURN(SoupResult uniform, UniformSoup(ingredients, score));
  ASSIGN_OR_RETURN(SoupResult greedy, GreedySoup(ingredients, order, score));
  ASSIGN_OR_RETURN(
      SoupResult interp,
      InterpolationSoup(ingredients, order,
                        static_cast<int>(spec.soup.alpha_steps), score));

  RETURN_IF_ERROR(WriteSoupModel(spec, infos, interp.params, options.out_dir));
  std::filesystem::remove_all(scratch, ec);
  Json s = SoupSummary(spec, each, uniform, greedy, interp, evaluations);
  s[summary_keys::kWallSeconds] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  s["spec"] = SpecToJson(spec);
  std::ofstream(std::filesystem::path(options.out_dir) / "summary.json")
      << s.dump(2) << "\n";
  TrainResult result;
  result.summary = std::move(s);
  return result;
}

}  // namespace ladle
