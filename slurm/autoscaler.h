// ladle-slurm's decisions, pure: from the coordinator's queue summary
// (GetQueueSummary), the workers it lists (ListWorkers: label slurm_job_id)
// and the pilot jobs Slurm runs (squeue), which pilots to submit, cancel or
// drain. No I/O and no clock of its own: the daemon feeds it and carries the
// actions out with sbatch and scancel, so every rule is unit-tested here.
//
// Thread safety: not thread-safe (one daemon loop calls it).
#ifndef LADLE_SLURM_AUTOSCALER_H_
#define LADLE_SLURM_AUTOSCALER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace ladle::slurm {

// One kind of pilot: a Slurm job running one ladle-worker with these
// resources (its --gres=gpu:N, --cpus-per-task, --mem).
struct PilotType {
  std::string name;  // e.g. "gpu"; pilots are named ladle-pilot-<name>
  int gpus = 0;
  int cpu_slots = 1;
  int64_t memory_bytes = 0;  // 0: the partition's default
};

// Jobs of one resource shape (per rank), from GetQueueSummary.
struct Demand {
  int gpus = 0;
  int cpu_slots = 1;
  int ranks = 1;
  int gpu_share_milli = 0;
  int queued = 0;
  int64_t max_memory_bytes = 0;
};

// A pilot Slurm knows (squeue).
struct Pilot {
  std::string slurm_job_id;
  std::string type;  // its PilotType's name
  bool running = false;
  int64_t started_ms = 0;     // when it started running
  int64_t time_limit_ms = 0;  // its Slurm time limit; 0: none
};

// A pilot's ladle-worker as the coordinator lists it.
struct PilotWorker {
  std::string slurm_job_id;  // its slurm_job_id label
  bool alive = false;
  int running_attempts = 0;
};

struct Options {
  std::vector<PilotType> types;
  int max_pilots = 4;                 // pending and running, all types
  int64_t idle_grace_ms = 120'000;    // an idle pilot is cancelled after
  int64_t drain_margin_ms = 600'000;  // drain this long before the limit
};

struct Actions {
  std::vector<std::string> submit;  // a PilotType name per pilot to submit
  std::vector<std::string> cancel;  // Slurm job ids
  std::vector<std::string> drain;   // Slurm job ids: stop taking attempts
  // Shapes no pilot type fits (the daemon logs them; they wait for workers
  // started otherwise): "gpus=8 cpu_slots=1 ...".
  std::vector<std::string> unfit;
};

class Autoscaler {
 public:
  explicit Autoscaler(Options options) : options_(std::move(options)) {}

  // What to do now. Remembers since when each pilot has been idle and which
  // it told to drain, so call it with every observation.
  Actions Decide(const std::vector<Demand>& demand,
                 const std::vector<Pilot>& pilots,
                 const std::vector<PilotWorker>& workers, int64_t now_ms);

  // The smallest type that holds one rank of `d` (fewest GPUs, then CPU
  // slots); nullptr when none does.
  const PilotType* TypeFor(const Demand& d) const;
  // Ranks of `d` one pilot of `type` holds at once (>= 1 when it fits).
  static int RanksPerPilot(const PilotType& type, const Demand& d);

 private:
  // Pilots each type needs for the queued demand.
  std::map<std::string, int> Needed(const std::vector<Demand>& demand,
                                    Actions* actions) const;

  Options options_;
  std::map<std::string, int64_t> idle_since_;  // Slurm job id -> ms
  std::set<std::string> drained_;
};

}  // namespace ladle::slurm

#endif  // LADLE_SLURM_AUTOSCALER_H_
