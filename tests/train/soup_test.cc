// Soup algorithms on a synthetic score (validation accuracy as a known
// function of the weights), so each rule's choice can be checked exactly.
#include "train/soup.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ladle {
namespace {

using ::testing::ElementsAre;

// Two weights; "accuracy" peaks at (1, 1): 1 - distance².
ScoreFn Peak() {
  return [](const ParamVector& p) -> absl::StatusOr<EvalScores> {
    EvalScores s;
    const double d = (p[0] - 1) * (p[0] - 1) + (p[1] - 1) * (p[1] - 1);
    s.val_accuracy = 1.0 - d;
    s.test_accuracy = 1.0 - 1.1 * d;
    return s;
  };
}

TEST(Soup, UniformIsTheMean) {
  auto r = UniformSoup({{0, 0}, {2, 2}, {1, 4}}, Peak());
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->params, ElementsAre(1.0f, 2.0f));
  EXPECT_DOUBLE_EQ(r->scores.val_accuracy, 0.0);
}

TEST(Soup, GreedyAddsOnlyIngredientsThatDoNotHurt) {
  // Ingredients: 0 at (0.5, 1) val 0.75; 1 at (1.5, 1) val 0.75; 2 far away.
  std::vector<ParamVector> ing = {{0.5, 1}, {1.5, 1}, {5, 5}};
  auto r = GreedySoup(ing, {0, 1, 2}, Peak());
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->members, ElementsAre(0, 1));  // (1, 1): val 1.0; 2 refused
  EXPECT_DOUBLE_EQ(r->scores.val_accuracy, 1.0);
}

TEST(Soup, InterpolationNeverFallsBelowTheBestIngredient) {
  std::vector<ParamVector> ing = {{0.8, 1}, {2, 1}, {-9, -9}};
  auto r = InterpolationSoup(ing, {0, 1, 2}, 20, Peak());
  ASSERT_TRUE(r.ok());
  // α·(0.8) + (1−α)·2 = 1 at α = 5/6; the grid's nearest, α = 0.85, gives
  // 0.98; the far ingredient is kept out (α = 1).
  ASSERT_EQ(r->alphas.size(), 2u);
  EXPECT_DOUBLE_EQ(r->alphas[0], 0.85);
  EXPECT_DOUBLE_EQ(r->alphas[1], 1.0);
  EXPECT_THAT(r->members, ElementsAre(0, 1));
  EXPECT_NEAR(r->params[0], 0.85 * 0.8 + 0.15 * 2, 1e-6);
  EXPECT_GE(r->scores.val_accuracy, 1.0 - 0.04);  // best ingredient: 0.96
}

TEST(Soup, RefusesIngredientsOfDifferentShapes) {
  EXPECT_EQ(UniformSoup({{1, 2}, {1}}, Peak()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ladle
