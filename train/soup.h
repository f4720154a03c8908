// Model soups (Graph Ladling, Jaiswal et al. ICML 2023): ingredients are
// models of one architecture trained independently (different seeds, different
// views of the graph); a soup averages their weights.
//
//   uniform        the mean of all ingredients
//   greedy         ingredients by validation accuracy, best first; each joins
//                  the (uniform) soup only if validation accuracy does not drop
//   interpolation  best first; for each next ingredient θ, the soup becomes
//                  α·soup + (1−α)·θ with α on a grid over [0, 1] maximising
//                  validation accuracy (α = 1 keeps the soup, so validation
//                  accuracy never falls below the best ingredient's)
#ifndef LADLE_TRAIN_SOUP_H_
#define LADLE_TRAIN_SOUP_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/train_spec.h"
#include "train/trainer.h"

namespace ladle {

using ParamVector = std::vector<float>;
// Scores one parameter vector (validation accuracy is what soups maximise).
using ScoreFn = std::function<absl::StatusOr<EvalScores>(const ParamVector&)>;

struct SoupResult {
  ParamVector params;
  EvalScores scores;
  std::vector<int> members;    // greedy: ingredients in the soup
  std::vector<double> alphas;  // interpolation: α chosen at each ingredient
};

absl::StatusOr<SoupResult> UniformSoup(
    const std::vector<ParamVector>& ingredients, const ScoreFn& score);
// `order`: ingredient indices, best validation accuracy first.
absl::StatusOr<SoupResult> GreedySoup(
    const std::vector<ParamVector>& ingredients, const std::vector<int>& order,
    const ScoreFn& score);
absl::StatusOr<SoupResult> InterpolationSoup(
    const std::vector<ParamVector>& ingredients, const std::vector<int>& order,
    int alpha_steps, const ScoreFn& score);

// ladle-train's `task: soup`: scores every ingredient and the three soups,
// writes the interpolation soup to out_dir/model.safetensors and a summary
// whose test/val accuracy are the interpolation soup's, with every
// ingredient's and soup's scores beside them.
absl::StatusOr<TrainResult> RunSoup(const TrainSpec& spec,
                                    const TrainOptions& options);

}  // namespace ladle

#endif  // LADLE_TRAIN_SOUP_H_
