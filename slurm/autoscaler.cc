#include "slurm/autoscaler.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace ladle::slurm {

const PilotType* Autoscaler::TypeFor(const Demand& d) const {
  const PilotType* best = nullptr;
  for (const PilotType& t : options_.types) {
    if (RanksPerPilot(t, d) < 1) continue;
    if (d.max_memory_bytes > 0 && t.memory_bytes > 0 &&
        t.memory_bytes < d.max_memory_bytes)
      continue;
    if (best == nullptr ||
        std::tie(t.gpus, t.cpu_slots) < std::tie(best->gpus, best->cpu_slots))
      best = &t;
  }
  return best;
}

int Autoscaler::RanksPerPilot(const PilotType& type, const Demand& d) {
  int by_cpu = d.cpu_slots > 0 ? type.cpu_slots / d.cpu_slots : d.ranks;
  int by_gpu = by_cpu;
  if (d.gpus > 0) by_gpu = type.gpus / d.gpus;
  if (d.gpu_share_milli > 0) by_gpu = type.gpus * 1000 / d.gpu_share_milli;
  return std::max(0, std::min(by_cpu, by_gpu));
}

std::map<std::string, int> Autoscaler::Needed(const std::vector<Demand>& demand,
                                              Actions* actions) const {
  // Ranks waiting, as fractions of a pilot of the type that serves them.
  std::map<std::string, double> pilots;
  for (const Demand& d : demand) {
    if (d.queued == 0) continue;
    const PilotType* t = TypeFor(d);
    if (t == nullptr) {
      actions->unfit.push_back(absl::StrCat(
          "gpus=", d.gpus, " cpu_slots=", d.cpu_slots, " ranks=", d.ranks,
          " gpu_share_milli=", d.gpu_share_milli,
          " memory_bytes=", d.max_memory_bytes, " (", d.queued, " queued)"));
      continue;
    }
    pilots[t->name] +=
        static_cast<double>(d.queued) * d.ranks / RanksPerPilot(*t, d);
  }
  std::map<std::string, int> out;
  for (const auto& [name, n] : pilots)
    out[name] = static_cast<int>(n + 0.999999);  // ceil, past rounding
  return out;
}

Actions Autoscaler::Decide(const std::vector<Demand>& demand,
                           const std::vector<Pilot>& pilots,
                           const std::vector<PilotWorker>& workers,
                           int64_t now_ms) {
  Actions actions;
  std::map<std::string, int> needed = Needed(demand, &actions);
  std::map<std::string, const PilotWorker*> worker_of;
  for (const PilotWorker& w : workers) worker_of[w.slurm_job_id] = &w;
  // Supply on its way: pilots pending in Slurm or running without a worker
  // registered yet (they will take queued jobs as soon as they do).
  std::map<std::string, std::vector<const Pilot*>> incoming;
  std::set<std::string> known;
  for (const Pilot& p : pilots) {
    known.insert(p.slurm_job_id);
    auto w = worker_of.find(p.slurm_job_id);
    const bool serving = p.running && w != worker_of.end() && w->second->alive;
    if (!serving) {
      incoming[p.type].push_back(&p);
      continue;
    }
    // Drain before the time limit: its attempts checkpoint and run
    // elsewhere, instead of dying with the pilot.
    if (p.time_limit_ms > 0 &&
        now_ms >= p.started_ms + p.time_limit_ms - options_.drain_margin_ms &&
        drained_.insert(p.slurm_job_id).second) {
      actions.drain.push_back(p.slurm_job_id);
    }
    // Idle: nothing runs on it and nothing queued is for its type.
    const bool idle = w->second->running_attempts == 0 && needed[p.type] == 0;
    if (!idle) {
      idle_since_.erase(p.slurm_job_id);
      continue;
    }
    auto [it, fresh] = idle_since_.emplace(p.slurm_job_id, now_ms);
    if (!fresh && now_ms - it->second >= options_.idle_grace_ms)
      actions.cancel.push_back(p.slurm_job_id);
  }
  // Forget pilots Slurm no longer lists.
  for (auto it = idle_since_.begin(); it != idle_since_.end();)
    it = known.count(it->first) ? std::next(it) : idle_since_.erase(it);
  int total = static_cast<int>(pilots.size() - actions.cancel.size());
  for (const PilotType& t : options_.types) {
    const int want = needed[t.name];
    std::vector<const Pilot*>& on_way = incoming[t.name];
    const int have = static_cast<int>(on_way.size());
    for (int i = have; i < want && total < options_.max_pilots; ++i, ++total)
      actions.submit.push_back(t.name);
    // Pending surplus (demand went away before they started): cancelled,
    // newest first. A running pilot still starting its worker is kept.
    for (int i = have - 1, surplus = have - want; i >= 0 && surplus > 0; --i) {
      if (on_way[i]->running) continue;
      actions.cancel.push_back(on_way[i]->slurm_job_id);
      --surplus;
    }
  }
  return actions;
}

}  // namespace ladle::slurm
