#include "spec/widen.h"

namespace ladle {

ModelConfig WidenedConfig(const ModelConfig& narrow, FusionLayerNorm ln) {
  ModelConfig wide = narrow;
  for (int64_t& h : wide.hidden) h *= 2;
  if (narrow.type == ModelConfig::Type::kResMlp) {
    wide.width = 2 * narrow.width;
    wide.ln_groups = ln == FusionLayerNorm::kGrouped ? 2 : 1;
  }
  return wide;
}

}  // namespace ladle
