// TPE (search/tpe.h) against random search on two standard test functions,
// minimised: Branin (2-D, minimum 0.397887) and Hartmann-6 (6-D, minimum
// -3.32237). Prints one JSON line per (function, sampler, seed) with the best
// value after each of --trials trials; bench/tpe_vs_optuna.py runs Optuna's
// TPE on the same functions and budgets and prints them side by side.
//   build/bin/tpe_quality --seeds 10 --trials 100
#include <cmath>
#include <functional>
#include <iostream>

#include "CLI/CLI.hpp"
#include "search/tpe.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

double Branin(const Json& p) {
  const double x = p["x1"].get<double>(), y = p["x2"].get<double>();
  const double a = 1, b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, r = 6, s = 10,
               t = 1 / (8 * M_PI);
  return a * std::pow(y - b * x * x + c * x - r, 2) +
         s * (1 - t) * std::cos(x) + s;
}

double Hartmann6(const Json& p) {
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                 {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8},
                                 {17, 8, 0.05, 10, 0.1, 14}};
  static const double P[4][6] = {
      {0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
      {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
      {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
      {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    double inner = 0;
    for (int j = 0; j < 6; ++j) {
      const double x = p["x" + std::to_string(j + 1)].get<double>();
      inner += A[i][j] * (x - P[i][j]) * (x - P[i][j]);
    }
    sum += alpha[i] * std::exp(-inner);
  }
  return -sum;
}

struct Problem {
  std::string name;
  std::vector<SearchDimension> space;
  std::function<double(const Json&)> f;
};

std::vector<Problem> Problems() {
  std::vector<SearchDimension> hartmann;
  for (int j = 1; j <= 6; ++j)
    hartmann.push_back(
        {"x" + std::to_string(j), SearchDimension::Kind::kUniform, 0, 1, {}});
  return {{"branin",
           {{"x1", SearchDimension::Kind::kUniform, -5, 10, {}},
            {"x2", SearchDimension::Kind::kUniform, 0, 15, {}}},
           Branin},
          {"hartmann6", hartmann, Hartmann6}};
}

}  // namespace
}  // namespace ladle

int main(int argc, char** argv) {
  CLI::App app("TPE vs random search on Branin and Hartmann-6 (minimised)");
  int seeds = 10, trials = 100;
  app.add_option("--seeds", seeds)->check(CLI::Range(1, 1000));
  app.add_option("--trials", trials)->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);
  for (const ladle::Problem& problem : ladle::Problems()) {
    for (const char* sampler : {"tpe", "random"}) {
      for (int seed = 1; seed <= seeds; ++seed) {
        ladle::TpeOptions o;
        o.maximize = false;
        o.seed = static_cast<uint64_t>(seed);
        if (std::string(sampler) == "random") o.n_startup_trials = trials + 1;
        ladle::Tpe tpe(problem.space, o);
        nlohmann::json best = nlohmann::json::array();
        double so_far = INFINITY;
        for (int t = 0; t < trials; ++t) {
          const nlohmann::json p = tpe.Ask();
          const double v = problem.f(p);
          tpe.Tell(p, v);
          so_far = std::min(so_far, v);
          best.push_back(so_far);
        }
        std::cout << nlohmann::json{{"function", problem.name},
                                    {"sampler",
                                     std::string("ladle-") + sampler},
                                    {"seed", seed},
                                    {"best", best}}
                         .dump()
                  << "\n";
      }
    }
  }
  return 0;
}
