// The configuration structs a spec resolves to and the training core consumes:
// models, optimizers, schedules and the generated datasets. Plain data, no
// behaviour: kernels/ includes this header (never the reverse), so the
// coordinator and the CLI can plan and check specs without linking the core.
#ifndef LADLE_SPEC_CONFIG_H_
#define LADLE_SPEC_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

namespace ladle {

enum class Activation { kRelu, kGelu };

struct ModelConfig {
  enum class Type { kMlp, kResMlp, kGcn };
  Type type = Type::kMlp;
  // mlp: hidden widths; gcn: hidden widths too (layers = hidden.size() + 1).
  std::vector<int64_t> hidden = {256};
  Activation activation = Activation::kRelu;  // mlp
  float dropout = 0.0f;                       // all: drop probability in [0, 1)
  // resmlp: embed to `width`, `blocks` pre-LN residual blocks width ->
  // expansion*width -> width.
  int64_t width = 256;
  int64_t blocks = 2;
  int64_t expansion = 4;
  // resmlp: each LayerNorm normalises `ln_groups` equal slices of the width
  // separately, with one affine (width / ln_groups) shared by the slices.
  // Deep Fusion uses 2 to keep a fused model exact.
  int64_t ln_groups = 1;
};

struct OptimizerConfig {
  enum class Type { kSgd, kAdamW };
  Type type = Type::kAdamW;
  float lr = 1e-3f;
  float weight_decay = 0.0f;
  float momentum = 0.0f;                            // sgd
  bool nesterov = false;                            // sgd (needs momentum > 0)
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // adamw
};

struct ScheduleConfig {
  enum class Type { kConstant, kCosine, kLinear };
  Type type = Type::kConstant;
  int64_t warmup_steps = 0;  // linear warm-up from lr/warmup_steps to lr
  float min_lr = 0.0f;       // floor of cosine / linear decay
};

inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// Contextual SBM: labels uniform over classes; each undirected edge joins two
// nodes of the same class with probability `homophily`, else of different
// classes; features are separation * u_class + N(0, I), with u_class random
// unit vectors.
struct CsbmConfig {
  int64_t nodes = 2000;
  int64_t classes = 5;
  double avg_degree = 10;
  double homophily = 0.8;
  int64_t feature_dim = 32;
  double separation = 1.0;
  double train_fraction = 0.6;
  double val_fraction = 0.2;
  uint64_t seed = 1;
};

// k-NN graph over Fashion-MNIST images (the first `nodes` of a seeded
// permutation of all 70k): each node links to its k nearest neighbours in pixel
// space, made symmetric.
struct KnnConfig {
  std::string dir = kFashionMnistDir;
  int64_t nodes = 10000;
  int64_t k = 10;
  double train_fraction = 0.6;
  double val_fraction = 0.2;
  uint64_t seed = 1;
};

}  // namespace ladle

#endif  // LADLE_SPEC_CONFIG_H_
