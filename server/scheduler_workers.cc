// The scheduler's fleet: workers joining, heartbeating, reconciling their
// running attempts after a reconnect, lost with their attempts, and the
// best-fit choice of a worker for a job (see scheduler.h).
#include <algorithm>
#include <climits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "server/scheduler.h"

namespace ladle {

absl::Status Scheduler::AddWorker(const std::string& worker_id,
                                  Resources capacity) {
  if (worker_id.empty())
    return absl::InvalidArgumentError("worker: id must not be empty");
  if (capacity.gpus < 0 || capacity.cpu_slots < 0) {
    return absl::InvalidArgumentError(
        "worker: gpus and cpu_slots must be >= 0");
  }
  Worker& w = workers_[worker_id];
  Unindex(worker_id, w);
  w.capacity = capacity;
  w.gpu_free.assign(capacity.gpus, true);
  w.free_gpus = capacity.gpus;
  w.gpu_used_milli.assign(capacity.gpus, 0);
  w.free_cpu = capacity.cpu_slots;
  // Attempts restored or still running on this worker keep their resources.
  for (int64_t a : w.attempts) {
    const Attempt& at = attempts_.at(a);
    w.free_cpu -= at.cpu_slots;
    for (int g : at.gpus) {
      if (g >= 0 && g < capacity.gpus) TakeGpu(w, g, at.milli_per_gpu);
    }
  }
  w.alive = true;
  w.draining = false;
  w.last_heartbeat_ms = clock_->NowMillis();
  Index(worker_id, w);
  return absl::OkStatus();
}

absl::Status Scheduler::DrainWorker(const std::string& worker_id) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || !it->second.alive) {
    return absl::NotFoundError(
        absl::StrCat("worker ", worker_id, " is not registered"));
  }
  Unindex(worker_id, it->second);
  it->second.draining = true;
  return absl::OkStatus();
}

void Scheduler::Index(const std::string& id, const Worker& w) {
  if (w.alive && !w.draining && (w.free_gpus > 0 || w.free_cpu > 0))
    free_index_.emplace(w.free_gpus, w.free_cpu, id);
}

void Scheduler::Unindex(const std::string& id, const Worker& w) {
  free_index_.erase(std::make_tuple(w.free_gpus, w.free_cpu, id));
}

std::vector<JobEvent> Scheduler::RemoveWorker(const std::string& worker_id) {
  std::vector<JobEvent> events;
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return events;
  LoseWorker(worker_id, it->second, "worker " + worker_id + " left", &events);
  Unindex(worker_id, it->second);
  workers_.erase(it);
  return events;
}

absl::Status Scheduler::Heartbeat(const std::string& worker_id) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || !it->second.alive) {
    return absl::NotFoundError(
        absl::StrCat("worker ", worker_id, " is not registered"));
  }
  const int64_t now = clock_->NowMillis();
  it->second.last_heartbeat_ms = now;
  for (int64_t a : it->second.attempts)
    attempts_.at(a).lease_expiry_ms = now + options_.lease_ms;
  return absl::OkStatus();
}

std::vector<int64_t> Scheduler::Reconcile(const std::string& worker_id,
                                          const std::vector<int64_t>& running,
                                          std::vector<JobEvent>* events) {
  std::vector<int64_t> to_stop;
  auto wit = workers_.find(worker_id);
  const std::set<int64_t> reported(running.begin(), running.end());
  for (int64_t a : reported) {
    auto it = attempts_.find(a);
    // Unknown or another worker's; or told to stop while the worker was
    // away (the stop may not have reached it).
    if (it == attempts_.end() || it->second.worker_id != worker_id ||
        it->second.stopping || jobs_.at(it->second.job_id).cancel_requested)
      to_stop.push_back(a);
  }
  if (wit != workers_.end()) {
    const std::set<int64_t> held = wit->second.attempts;
    for (int64_t a : held) {
      if (reported.count(a) == 0) {
        auto st =
            Complete(a, AttemptOutcome::kLost,
                     "worker " + worker_id + " no longer runs this attempt");
        if (st.ok()) events->insert(events->end(), st->begin(), st->end());
      }
    }
  }
  return to_stop;
}

void Scheduler::LoseWorker(const std::string& worker_id, Worker& w,
                           const std::string& reason,
                           std::vector<JobEvent>* events) {
  Unindex(worker_id, w);
  w.alive = false;
  const std::set<int64_t> held = w.attempts;
  for (int64_t a : held) {
    auto st = Complete(a, AttemptOutcome::kLost, reason);
    if (st.ok()) events->insert(events->end(), st->begin(), st->end());
  }
}

int Scheduler::alive_workers() const {
  int n = 0;
  for (const auto& [id, w] : workers_) n += w.alive;
  return n;
}

// --- Jobs
// -----------------------------------------------------------------------------------

namespace {

// How many ranks of `need` fit into `gpus` GPUs and `cpu` CPU slots.
int RanksFitting(const Resources& need, int gpus, int cpu) {
  int n = INT_MAX;
  if (need.gpus > 0) n = std::min(n, gpus / need.gpus);
  if (need.cpu_slots > 0) n = std::min(n, cpu / need.cpu_slots);
  return n;
}

}  // namespace

const std::string* Scheduler::PickWorker(
    const Job& job, const std::set<std::string>* skip) const {
  // Best fit = the smallest (free GPUs, free CPU slots) that holds the job,
  // ties by worker id; a worker other than the previous attempt's is
  // preferred over a better fit. Groups of equal free GPUs are visited in
  // order, each from its first entry with enough CPU slots.
  const Resources& need = job.req.resources;
  const std::string* previous = nullptr;
  int gpus = need.gpus;
  while (true) {
    auto it = free_index_.lower_bound(
        std::make_tuple(gpus, need.cpu_slots, std::string()));
    if (it == free_index_.end()) break;
    if (std::get<0>(*it) != gpus) {  // no fit with `gpus` free: next group
      gpus = std::get<0>(*it);
      continue;
    }
    for (; it != free_index_.end() && std::get<0>(*it) == gpus; ++it) {
      const std::string& id = std::get<2>(*it);
      if (skip != nullptr && skip->count(id)) continue;
      if (id != job.last_worker) return &workers_.find(id)->first;
      previous = &workers_.find(id)->first;
    }
    ++gpus;
  }
  return previous;
}

void Scheduler::TakeGpu(Worker& w, int g, int milli) {
  if (w.gpu_used_milli[g] == 0) {
    w.gpu_free[g] = false;
    --w.free_gpus;
  }
  w.gpu_used_milli[g] += milli;
}

void Scheduler::ReleaseGpu(Worker& w, int g, int milli) {
  w.gpu_used_milli[g] = std::max(0, w.gpu_used_milli[g] - milli);
  if (w.gpu_used_milli[g] == 0 && !w.gpu_free[g]) {
    w.gpu_free[g] = true;
    ++w.free_gpus;
  }
}

int Scheduler::ShareGpu(const Worker& w, int milli) {
  int best = -1;
  for (int g = 0; g < static_cast<int>(w.gpu_used_milli.size()); ++g) {
    const int used = w.gpu_used_milli[g];
    if (used + milli <= 1000 && (best < 0 || used > w.gpu_used_milli[best]))
      best = g;
  }
  return best;
}

const std::string* Scheduler::PickShare(
    const Job& job, const std::set<std::string>* skip) const {
  // GPU workers are few: a scan. Fullest fitting GPU first, then a worker
  // other than the previous attempt's, then by id.
  const Resources& need = job.req.resources;
  const std::string* best = nullptr;
  std::tuple<int, bool> best_key;
  for (const auto& [id, w] : workers_) {
    if (!w.alive || w.draining || w.free_cpu < need.cpu_slots ||
        (skip != nullptr && skip->count(id)))
      continue;
    const int g = ShareGpu(w, need.gpu_share_milli);
    if (g < 0) continue;
    const std::tuple<int, bool> key(-w.gpu_used_milli[g],
                                    id == job.last_worker);
    if (best == nullptr || key < best_key) {
      best = &id;
      best_key = key;
    }
  }
  return best;
}

bool Scheduler::PickGang(const Job& job, const std::set<std::string>* skip,
                         Placement* out) const {
  const Resources& need = job.req.resources;
  // (ranks that fit, worker id): most first, so the gang spans few workers.
  std::vector<std::pair<int, const std::string*>> fits;
  for (const auto& [gpus, cpu, id] : free_index_) {
    if (skip != nullptr && skip->count(id)) continue;
    const int n = RanksFitting(need, gpus, cpu);
    if (n > 0) fits.emplace_back(n, &workers_.find(id)->first);
  }
  std::sort(fits.begin(), fits.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : *a.second < *b.second;
  });
  Placement placement;
  for (const auto& [n, id] : fits) {
    for (int i = 0; i < n && static_cast<int>(placement.size()) < need.ranks;
         ++i)
      placement.push_back(id);
    if (static_cast<int>(placement.size()) == need.ranks) {
      *out = std::move(placement);
      return true;
    }
  }
  return false;
}

Scheduler::Reservation Scheduler::Reserve() const {
  Reservation r;
  const Job* gang = nullptr;
  for (const auto& [shape, queue] : queues_) {
    if (std::get<2>(shape) <= 1) continue;
    const Job& head = jobs_.at(std::get<2>(*queue.begin()));
    if (gang == nullptr || OrderOf(head) < OrderOf(*gang)) gang = &head;
  }
  Placement unused;
  if (gang == nullptr || PickGang(*gang, nullptr, &unused)) return r;
  // (ranks that fit now, ranks that fit when idle, id): the workers that
  // could start it soonest first.
  const Resources& need = gang->req.resources;
  std::vector<std::tuple<int, int, const std::string*>> candidates;
  for (const auto& [id, w] : workers_) {
    if (!w.alive || w.draining) continue;
    const int idle = RanksFitting(need, w.capacity.gpus, w.capacity.cpu_slots);
    if (idle > 0)
      candidates.emplace_back(RanksFitting(need, w.free_gpus, w.free_cpu), idle,
                              &id);
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const auto& a, const auto& b) {
              if (std::get<0>(a) != std::get<0>(b))
                return std::get<0>(a) > std::get<0>(b);
              if (std::get<1>(a) != std::get<1>(b))
                return std::get<1>(a) > std::get<1>(b);
              return *std::get<2>(a) < *std::get<2>(b);
            });
  int64_t covered = 0;
  for (const auto& [now, idle, id] : candidates) {
    r.workers.insert(*id);
    covered += idle;
    if (covered >= need.ranks) break;
  }
  if (covered < need.ranks) return Reservation();  // the fleet is too small
  r.active = true;
  r.order = OrderOf(*gang);
  r.job = gang->req.id;
  return r;
}

}  // namespace ladle
