// The kinds that ship with Ladle, one file each; kind.cc registers them.
#ifndef LADLE_SPEC_KINDS_BUILTIN_H_
#define LADLE_SPEC_KINDS_BUILTIN_H_

#include <memory>

#include "spec/kind.h"

namespace ladle {

std::unique_ptr<ExperimentKind> NewTrainKind();        // kinds/train.cc
std::unique_ptr<ExperimentKind> NewFusionKind();       // kinds/fusion.cc
std::unique_ptr<ExperimentKind> NewLadlingKind();      // kinds/ladling.cc
std::unique_ptr<ExperimentKind> NewDropComputeKind();  // kinds/dropcompute.cc
std::unique_ptr<ExperimentKind> NewCommandKind();      // kinds/command.cc

}  // namespace ladle

#endif  // LADLE_SPEC_KINDS_BUILTIN_H_
