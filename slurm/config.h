// ladle-slurm's configuration file (YAML; docs/SERVER.md "Running on Slurm"):
//
//   coordinator: login1:7070            # ladle-server, as the pilots' workers
//   reach it token_file: /etc/ladle/admin_token  # an admin token: the queue
//   summary spans all users worker_token_file: /etc/ladle/worker_token   #
//   given to each pilot's worker tls_ca: /etc/ladle/ca.crt            #
//   optional: TLS to the coordinator worker: /opt/ladle/bin/ladle-worker  # on
//   the compute nodes work_dir: /scratch/ladle             # pilots work in
//   <work_dir>/pilot-<job id> max_pilots: 8 idle_grace_seconds: 120 # an idle
//   pilot is cancelled after drain_margin_seconds: 600           # a pilot
//   drains this long before its time limit sbatch: {partition: gpu, account:
//   lab, qos: normal, time_limit: "04:00:00", args: []} pilots:
//     - {name: gpu, gpus: 1, cpus: 8, memory: 32GiB}
//     - {name: cpu, cpus: 4, memory: 8GiB}
#ifndef LADLE_SLURM_CONFIG_H_
#define LADLE_SLURM_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "slurm/autoscaler.h"

namespace ladle::slurm {

struct SbatchOptions {
  std::string partition, account, qos;
  std::string time_limit;          // Slurm's format ("04:00:00"); empty: none
  int64_t time_limit_seconds = 0;  // the same in seconds (0: none)
  std::vector<std::string> args;   // more sbatch arguments, as given
};

struct Config {
  std::string coordinator;
  std::string token_file, worker_token_file, tls_ca;
  std::string worker;    // ladle-worker's path on the nodes
  std::string work_dir;  // pilots' work dirs under it
  SbatchOptions sbatch;
  Options autoscaler;  // pilot types, max_pilots, grace, drain margin
};

// Parses and checks the file's text; INVALID_ARGUMENT names the key and the
// fix.
absl::StatusOr<Config> ParseConfig(const std::string& text);

// Slurm's time format ("MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM",
// "D-HH:MM:SS"; "UNLIMITED"/"INFINITE": 0) in seconds; -1 when malformed.
int64_t SlurmDurationSeconds(const std::string& text);

}  // namespace ladle::slurm

#endif  // LADLE_SLURM_CONFIG_H_
