// The wide model of Deep Fusion as a config: what the planner of kind fusion
// needs to plan the wide arms without the fusion code (train/fusion.h).
#ifndef LADLE_SPEC_WIDEN_H_
#define LADLE_SPEC_WIDEN_H_

#include "spec/config.h"

namespace ladle {

enum class FusionLayerNorm { kGrouped, kFull };

// `narrow` with every hidden width (mlp) or the width (resmlp) doubled;
// resmlp gets ln_groups 2 for kGrouped.
ModelConfig WidenedConfig(const ModelConfig& narrow,
                          FusionLayerNorm ln = FusionLayerNorm::kGrouped);

}  // namespace ladle

#endif  // LADLE_SPEC_WIDEN_H_
