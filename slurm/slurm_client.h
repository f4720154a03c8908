// Slurm through its commands (sbatch, squeue, scancel): what ladle-slurm asks
// of it. The argument lists and the squeue parsing are plain functions,
// unit-tested; CommandSlurm runs them.
//
// Thread safety: CommandSlurm's methods may run concurrently (each spawns its
// own command).
#ifndef LADLE_SLURM_SLURM_CLIENT_H_
#define LADLE_SLURM_SLURM_CLIENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "slurm/autoscaler.h"
#include "slurm/config.h"

namespace ladle::slurm {

inline constexpr char kPilotPrefix[] = "ladle-pilot-";

class SlurmClient {
 public:
  virtual ~SlurmClient() = default;
  // Submits a pilot of `type`; its Slurm job id.
  virtual absl::StatusOr<std::string> Submit(const PilotType& type) = 0;
  // This user's pilots (jobs named ladle-pilot-*) Slurm still lists.
  virtual absl::StatusOr<std::vector<Pilot>> ListPilots() = 0;
  virtual absl::Status Cancel(const std::string& job_id) = 0;
  // SIGTERM to the pilot's worker: it drains (no new attempts; running ones
  // checkpoint and are retried elsewhere), then exits.
  virtual absl::Status Drain(const std::string& job_id) = 0;
};

// sbatch's arguments for a pilot of `type` (the worker's command line in
// --wrap: a Slurm job running one ladle-worker with the pilot's resources).
std::vector<std::string> SbatchArgv(const Config& config,
                                    const PilotType& type);
// squeue -h -o '%i|%j|%T|%S|%l' output as pilots (other jobs skipped);
// start times in this host's time zone.
absl::StatusOr<std::vector<Pilot>> ParseSqueue(const std::string& out);

class CommandSlurm final : public SlurmClient {
 public:
  // `timeout_ms`: each command's limit (a hung slurmctld must not hang us).
  explicit CommandSlurm(Config config, int64_t timeout_ms = 30'000)
      : config_(std::move(config)), timeout_ms_(timeout_ms) {}
  absl::StatusOr<std::string> Submit(const PilotType& type) override;
  absl::StatusOr<std::vector<Pilot>> ListPilots() override;
  absl::Status Cancel(const std::string& job_id) override;
  absl::Status Drain(const std::string& job_id) override;

 private:
  // Runs `argv`; its stdout, or UNAVAILABLE with its stderr's last line.
  absl::StatusOr<std::string> Run(const std::vector<std::string>& argv) const;

  const Config config_;
  const int64_t timeout_ms_;
};

}  // namespace ladle::slurm

#endif  // LADLE_SLURM_SLURM_CLIENT_H_
