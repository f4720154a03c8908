// The coordinator's submit path: parse and plan on the caller's thread,
// idempotent request ids, the durable write, and admission into the
// scheduler once committed (see coordinator.h).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "common/status_macros.h"
#include "server/coordinator.h"
#include "spec/kind.h"

namespace ladle {
namespace {

// A code archive comes with exactly the specs that name one.
absl::Status CheckCode(const ExperimentSpec& spec) {
  const bool names_code =
      spec.kind_config.is_object() && spec.kind_config.contains("code");
  if (!spec.code_sha256.empty() && spec.kind != "command") {
    return absl::InvalidArgumentError(absl::StrCat(
        "code_sha256: only kind command runs uploaded code; this spec is "
        "kind ",
        spec.kind));
  }
  if (names_code && spec.code_sha256.empty()) {
    return absl::InvalidArgumentError(
        "command.code: names a directory, but no code archive came with the "
        "submit. `ladle submit` packs and uploads it; API callers call "
        "UploadCode and pass its sha256 as code_sha256");
  }
  return absl::OkStatus();
}

// Keeps the planned jobs at `indices` (of jobs without dependencies), numbered
// anew from 0 in their order.
void KeepJobs(const std::vector<int>& indices, std::vector<PlannedJob>* planned,
              std::vector<std::string>* params) {
  std::vector<PlannedJob> kept_jobs;
  std::vector<std::string> kept_params;
  for (int i : indices) {
    if (i < 0 || i >= static_cast<int>(planned->size())) continue;
    kept_jobs.push_back(std::move((*planned)[i]));
    kept_jobs.back().index = static_cast<int>(kept_jobs.size()) - 1;
    kept_params.push_back(std::move((*params)[i]));
  }
  *planned = std::move(kept_jobs);
  *params = std::move(kept_params);
}

}  // namespace

JobRecord Coordinator::JobOf(const PlannedJob& p, const ExperimentSpec& spec,
                             const std::string& experiment_id,
                             std::string params, int64_t now_ms,
                             const SearchSegment* segment) {
  // Stored as the scheduler will make it (queued, or pending on its deps), so
  // its first event writes nothing.
  JobRecord j;
  j.id = absl::StrFormat("%s-%04d", experiment_id, p.index);
  j.experiment_id = experiment_id;
  j.index = p.index;
  j.kind = p.kind;
  j.state = p.deps.empty() ? "queued" : "pending";
  j.params = std::move(params);
  for (int d : p.deps)
    j.deps.push_back(absl::StrFormat("%s-%04d", experiment_id, d));
  j.gpus = p.resources.gpus;
  j.cpu_slots = p.resources.cpu_slots;
  j.ranks = p.resources.ranks;
  j.gpu_share_milli = p.resources.gpu_share_milli;
  j.priority = spec.priority;
  j.max_retries = spec.max_retries;
  j.timeout_seconds = spec.timeout_seconds;
  j.updated_ms = now_ms;
  if (segment != nullptr) {
    j.trial = segment->trial;
    j.rung = segment->rung;
    if (segment->resume_index >= 0) {
      j.resume_from =
          absl::StrFormat("%s-%04d", experiment_id, segment->resume_index);
    }
  }
  return j;
}

absl::Status Coordinator::PlanSearch(const ExperimentSpec& spec,
                                     std::unique_ptr<SearchRun>* search,
                                     std::vector<PlannedJob>* planned,
                                     std::vector<SearchSegment>* segments) {
  ASSIGN_OR_RETURN(*search, SearchRun::Create(spec));
  ASSIGN_OR_RETURN(*segments, (*search)->Start());
  planned->clear();
  for (const SearchSegment& s : *segments) planned->push_back(s.job);
  return absl::OkStatus();
}

void Coordinator::RerunAsync(const std::string& id, const std::string& owner,
                             bool failed_only, const std::string& request_id,
                             SubmitDone done) {
  absl::StatusOr<ExperimentRecord> e = store_->GetExperiment(id);
  if (!e.ok()) return done(e.status());
  RerunOf rerun{id, {}};
  if (failed_only) {
    if (e->state == "running") {
      return done(absl::FailedPreconditionError(
          absl::StrCat("rerun --failed: ", id,
                       " is still running; wait for it or cancel "
                       "it first")));
    }
    absl::StatusOr<std::vector<JobRecord>> jobs = store_->ListJobs(id);
    if (!jobs.ok()) return done(jobs.status());
    for (const JobRecord& j : *jobs) {
      if (j.trial >= 0) {
        return done(absl::FailedPreconditionError(absl::StrCat(
            "rerun --failed: ", id,
            " is a search, whose trials follow from each other's results; "
            "rerun it whole (without --failed)")));
      }
      if (!j.deps.empty()) {
        return done(absl::FailedPreconditionError(absl::StrCat(
            "rerun --failed: the jobs of a ", e->kind,
            " experiment depend on each other; rerun it whole (without "
            "--failed)")));
      }
      if (j.state == "failed" || j.state == "cancelled")
        rerun.job_indices.push_back(j.index);
    }
    if (rerun.job_indices.empty()) {
      return done(absl::FailedPreconditionError(absl::StrCat(
          "rerun --failed: no job of ", id, " failed or was cancelled")));
    }
  }
  SubmitAsync(e->spec, owner, false, std::move(done), request_id,
              e->code_sha256, &rerun);
}

absl::Status Coordinator::ParseAndPlan(const std::string& spec_text,
                                       const std::string& code_sha256,
                                       ExperimentSpec* spec,
                                       std::vector<PlannedJob>* planned,
                                       std::vector<std::string>* params,
                                       std::unique_ptr<SearchRun>* search,
                                       std::vector<SearchSegment>* segments) {
  try {  // a library throwing on some input must cost a request, not the
         // server
    ASSIGN_OR_RETURN(*spec, ParseExperimentSpec(spec_text, options_.parse));
    spec->code_sha256 = code_sha256;
    RETURN_IF_ERROR(CheckCode(*spec));
    ASSIGN_OR_RETURN(*planned, PlanExperiment(*spec));
    if (spec->has_search)
      RETURN_IF_ERROR(PlanSearch(*spec, search, planned, segments));
    params->reserve(planned->size());
    for (const PlannedJob& p : *planned)  // here, where a throw is caught
      params->push_back(p.params.dump());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("spec: cannot be processed (", e.what(), ")"));
  }
  if (static_cast<int64_t>(planned->size()) > options_.parse.max_jobs) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sweep: the ", spec->kind, " experiment expands to ", planned->size(),
        " jobs, more than the server's limit of ", options_.parse.max_jobs,
        " (--max_jobs_per_experiment); shrink the sweep or the repeats"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Coordinator::SubmitResult> Coordinator::Submit(
    const std::string& spec_text, const std::string& owner, bool dry_run,
    const std::string& request_id, const std::string& code_sha256) {
  absl::Notification finished;
  absl::StatusOr<SubmitResult> out;
  SubmitAsync(
      spec_text, owner, dry_run,
      [&](absl::StatusOr<SubmitResult> r) {
        out = std::move(r);
        finished.Notify();
      },
      request_id, code_sha256);
  finished.WaitForNotification();
  return out;
}

absl::StatusOr<Coordinator::SubmitResult> Coordinator::StoredSubmit(
    const std::string& spec_text, const std::string& owner,
    const std::string& request_id) {
  ASSIGN_OR_RETURN(const std::string id,
                   store_->FindSubmitRequest(owner, request_id));
  ASSIGN_OR_RETURN(const ExperimentRecord e, store_->GetExperiment(id));
  if (e.spec != spec_text) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request_id: '", request_id, "' created experiment ", id,
        " from another spec; a retry must send the same spec, and a new "
        "submit a new request id"));
  }
  ASSIGN_OR_RETURN(auto counts, store_->CountJobStates({id}));
  SubmitResult r;
  r.experiment_id = id;
  for (const auto& [state, n] : counts[id]) r.job_count += n;
  return r;
}

std::vector<Coordinator::SubmitDone> Coordinator::EndRequest(
    const std::string& key) {
  absl::MutexLock lock(&requests_mu_);
  auto node = requests_in_flight_.extract(key);
  return node.empty() ? std::vector<SubmitDone>{} : std::move(node.mapped());
}

bool Coordinator::AnswerRetriedSubmit(const std::string& spec_text,
                                      const std::string& owner,
                                      const std::string& request_id,
                                      SubmitDone* done) {
  std::string key = absl::StrCat(owner, absl::string_view("\0", 1), request_id);
  {
    absl::MutexLock lock(&requests_mu_);
    auto [it, fresh] = requests_in_flight_.try_emplace(key);
    if (!fresh) {  // the first is in flight: its outcome answers this one
      it->second.push_back(std::move(*done));
      return true;
    }
  }
  absl::StatusOr<SubmitResult> stored =
      StoredSubmit(spec_text, owner, request_id);
  if (!absl::IsNotFound(stored.status())) {
    for (SubmitDone& retry : EndRequest(key)) retry(stored);
    (*done)(std::move(stored));
    return true;
  }
  *done = [this, key = std::move(key),
           first = std::move(*done)](absl::StatusOr<SubmitResult> r) {
    for (SubmitDone& retry : EndRequest(key)) retry(r);
    first(std::move(r));
  };
  return false;
}

void Coordinator::SubmitAsync(const std::string& spec_text,
                              const std::string& owner, bool dry_run,
                              SubmitDone done, const std::string& request_id,
                              const std::string& code_sha256,
                              const RerunOf* rerun) {
  if (!dry_run && !request_id.empty() &&
      AnswerRetriedSubmit(spec_text, owner, request_id, &done)) {
    return;
  }
  ExperimentSpec spec;
  std::vector<PlannedJob> planned;
  std::vector<std::string> params;  // each job's sweep point as JSON text
  std::unique_ptr<SearchRun> search;
  std::vector<SearchSegment> segments;  // a search's: one per planned job
  if (absl::Status st = ParseAndPlan(spec_text, code_sha256, &spec, &planned,
                                     &params, &search, &segments);
      !st.ok()) {
    done(st);
    return;
  }
  if (rerun != nullptr && !rerun->job_indices.empty())
    KeepJobs(rerun->job_indices, &planned, &params);
  Admission a;
  SubmitResult& result = a.result;
  result.job_count = static_cast<int>(planned.size());
  if (dry_run) {
    result.experiment_id = "dry-run";
  } else {
    result.experiment_id = NewExperimentId();
  }
  const int64_t now = clock_->NowMillis();
  a.requests.reserve(planned.size());
  result.jobs.reserve(planned.size());
  std::vector<JobRecord> stored;  // with their specs, for the store
  if (!dry_run) stored.reserve(planned.size());
  for (PlannedJob& p : planned) {
    const size_t i = &p - planned.data();
    JobRecord j = JobOf(p, spec, result.experiment_id, std::move(params[i]),
                        now, segments.empty() ? nullptr : &segments[i]);
    a.requests.push_back(RequestOf(j));
    if (!dry_run) {
      result.jobs.push_back(j);  // without its spec (see SubmitResult)
      stored.push_back(std::move(j));
      stored.back().spec = std::move(p.spec);
    } else {
      j.spec = std::move(p.spec);
      result.jobs.push_back(std::move(j));
    }
  }
  if (dry_run) {
    done(std::move(result));
    return;
  }

  ExperimentRecord e;
  e.id = result.experiment_id;
  e.name = spec.name;
  e.kind = spec.kind;
  e.owner = owner;
  e.spec = spec_text;
  e.priority = spec.priority;
  e.created_ms = now;
  e.request_id = request_id;
  e.code_sha256 = code_sha256;
  if (rerun != nullptr) e.rerun_of = rerun->experiment_id;
  e.search_state = spec.has_search ? kSearchOpen : kSearchNone;
  // Durable before the reply and before any worker hears of it; concurrent
  // submits share the commit. Nothing waits for it: the writer's callback
  // queues the experiment for admission, once per group (AdmitCommitted).
  WriteBatch create;
  create.new_experiments.push_back({std::move(e), std::move(stored)});
  a.done = std::move(done);
  a.search = std::move(search);
  auto pending = std::make_shared<Admission>(std::move(a));
  writer_->Enqueue(std::move(create), [this, pending](const absl::Status& st) {
    pending->stored = st;
    absl::MutexLock lock(&admit_mu_);
    admissions_.push_back(std::move(*pending));
  });
}

void Coordinator::AdmitCommitted() {
  {
    absl::MutexLock lock(&admit_mu_);
    if (admissions_.empty()) return;
  }
  if (!mu_.TryLock()) {
    // Busy (or held by this very thread, committing inside Recover).
    absl::MutexLock lock(&admit_mu_);
    admit_wanted_ = true;
    return;
  }
  std::deque<Admission> group;
  {
    absl::MutexLock lock(&admit_mu_);
    group.swap(admissions_);
  }
  bool placed = false;
  std::vector<absl::StatusOr<SubmitResult>> outcomes =
      AdmitGroup(group, &placed);
  mu_.Unlock();
  if (placed) {
    absl::MutexLock lock(&admit_mu_);
    to_answer_.push_back({std::move(group), std::move(outcomes)});
    return;
  }
  Answer(group, outcomes);
}

void Coordinator::AdmitLoop() {
  while (true) {
    std::deque<Admission> group;
    std::vector<Admitted> answer;
    {
      absl::MutexLock lock(&admit_mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(admit_mu_) {
        return admit_wanted_ || !to_answer_.empty() || admit_stopping_;
      };
      admit_mu_.Await(absl::Condition(&ready));
      answer.swap(to_answer_);
      // (Wanted, admissions_ may be empty already: a later commit took them.)
      if (admit_wanted_ || admit_stopping_) group.swap(admissions_);
      admit_wanted_ = false;
      if (admit_stopping_ && group.empty() && answer.empty()) return;
    }
    for (Admitted& a : answer) Answer(a.group, a.outcomes);
    if (group.empty()) continue;
    std::vector<absl::StatusOr<SubmitResult>> outcomes;
    {
      absl::MutexLock lock(&mu_);
      bool placed;  // the replies go out from here either way
      outcomes = AdmitGroup(group, &placed);
    }
    Answer(group, outcomes);
  }
}

std::vector<absl::StatusOr<Coordinator::SubmitResult>> Coordinator::AdmitGroup(
    std::deque<Admission>& group, bool* placed) {
  std::vector<absl::StatusOr<SubmitResult>> outcomes;
  outcomes.reserve(group.size());
  for (Admission& a : group) outcomes.push_back(Admit(a));
  *placed = Dispatch();
  return outcomes;
}

void Coordinator::Answer(std::deque<Admission>& group,
                         std::vector<absl::StatusOr<SubmitResult>>& outcomes) {
  for (size_t i = 0; i < group.size(); ++i)
    group[i].done(std::move(outcomes[i]));
}

absl::StatusOr<Coordinator::SubmitResult> Coordinator::Admit(Admission& a) {
  if (!a.stored.ok()) {
    if (absl::IsResourceExhausted(a.stored)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the coordinator's disk is full, so the experiment was not stored "
          "(nothing of it was kept): free space where ladle-server keeps its "
          "--data_dir, then submit again [",
          a.stored.message(), "]"));
    }
    return a.stored;
  }
  const std::string& id = a.result.experiment_id;
  if (a.search != nullptr) searches_[id] = std::move(a.search);
  std::vector<std::string>& ids = experiment_jobs_[id];
  for (const JobRecord& j : a.result.jobs) {
    // Without its spec (SubmitResult has none): at a million queued jobs the
    // specs alone would be over a GiB; Dispatch reads each from the store (a
    // read connection, not behind commits).
    jobs_[j.id] = j;
    ids.push_back(j.id);
  }
  absl::StatusOr<std::vector<JobEvent>> events = scheduler_.Submit(a.requests);
  if (!events.ok()) {
    // Stored but not schedulable: record why instead of leaving it running
    // forever.
    WriteBatch failed;
    failed.experiment_states.push_back({id, "failed",
                                        std::string(events.status().message()),
                                        clock_->NowMillis()});
    writer_->Enqueue(std::move(failed));
    for (const JobRecord& j : a.result.jobs) jobs_.erase(j.id);
    experiment_jobs_.erase(id);
    searches_.erase(id);
    return events.status();
  }
  observer_->OnExperimentSubmitted(static_cast<int>(a.result.jobs.size()));
  Apply(*events);
  return std::move(a.result);
}

}  // namespace ladle
