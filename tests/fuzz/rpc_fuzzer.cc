// libFuzzer target: every RPC of the public API (ExperimentService) and of the
// worker protocol (WorkerService) with fuzzed requests, through a real
// in-process gRPC server over a real Coordinator (SQLite in memory, log and
// artifact stores in a temp dir). Each input is a short sequence of calls;
// every field of each request message is filled by reflection from the input
// bytes (strings, NaN/inf doubles, negative and huge integers, unknown enum
// values, nested and repeated messages), and id fields often name things that
// exist, so the calls get past the first lookup. Errors are fine; a crash, a
// hang or an ASan/UBSan report is not. Built by tests/fuzz/run.sh with clang.
#include <fuzzer/FuzzedDataProvider.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ladle/v1/experiments.grpc.pb.h"
#include "ladle/v1/workers.grpc.pb.h"
#include "server/artifact_store.h"
#include "server/auth.h"
#include "server/coordinator.h"
#include "server/log_store.h"
#include "server/service.h"
#include "server/store.h"

namespace ladle {
namespace {

namespace pb = google::protobuf;

// Names that exist in the server, so lookups sometimes succeed.
struct Names {
  std::vector<std::string> ids = {"w-fuzz-1", "w-fuzz-2"};
};

std::string FuzzString(FuzzedDataProvider& in, const pb::FieldDescriptor* f,
                       const Names& names) {
  const bool id_like = f->name().find("id") != std::string::npos ||
                       f->name() == "name" || f->name() == "stream";
  if (id_like && !names.ids.empty() && in.ConsumeBool()) {
    return names
        .ids[in.ConsumeIntegralInRange<size_t>(0, names.ids.size() - 1)];
  }
  return in.ConsumeRandomLengthString(200);
}

double FuzzDouble(FuzzedDataProvider& in) {
  const uint64_t bits = in.ConsumeIntegral<uint64_t>();
  double d;
  std::memcpy(&d, &bits, sizeof d);  // NaN, inf, denormals included
  return d;
}

void Fill(FuzzedDataProvider& in, pb::Message* m, int depth,
          const Names& names) {
  const pb::Descriptor* d = m->GetDescriptor();
  const pb::Reflection* r = m->GetReflection();
  for (int i = 0; i < d->field_count() && in.remaining_bytes() > 0; ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (!in.ConsumeBool()) continue;
    const int n = f->is_repeated() ? in.ConsumeIntegralInRange(0, 3) : 1;
    for (int k = 0; k < n; ++k) {
      const bool rep = f->is_repeated();
      switch (f->cpp_type()) {
        case pb::FieldDescriptor::CPPTYPE_INT32: {
          const auto v = in.ConsumeIntegral<int32_t>();
          rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_INT64: {
          const auto v = in.ConsumeIntegral<int64_t>();
          rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_UINT32: {
          const auto v = in.ConsumeIntegral<uint32_t>();
          rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_UINT64: {
          const auto v = in.ConsumeIntegral<uint64_t>();
          rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_DOUBLE: {
          const double v = FuzzDouble(in);
          rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_FLOAT: {
          const float v = static_cast<float>(FuzzDouble(in));
          rep ? r->AddFloat(m, f, v) : r->SetFloat(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_BOOL: {
          const bool v = in.ConsumeBool();
          rep ? r->AddBool(m, f, v) : r->SetBool(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_ENUM: {
          const int v = in.ConsumeIntegralInRange(-2, 12);  // unknown too
          rep ? r->AddEnumValue(m, f, v) : r->SetEnumValue(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_STRING: {
          std::string v = FuzzString(in, f, names);
          rep ? r->AddString(m, f, std::move(v))
              : r->SetString(m, f, std::move(v));
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_MESSAGE:
          if (depth < 3) {
            Fill(in, rep ? r->AddMessage(m, f) : r->MutableMessage(m, f),
                 depth + 1, names);
          }
          break;
      }
    }
  }
}

// The server under test, built once per process.
struct Server {
  std::string dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<Coordinator> coordinator;
  std::unique_ptr<LogStore> logs;
  std::unique_ptr<ArtifactStore> artifacts;
  Authenticator auth;  // off, as on loopback without --token_file
  std::unique_ptr<ExperimentServiceImpl> experiments;
  std::unique_ptr<WorkerServiceImpl> workers;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::ExperimentService::Stub> users;
  std::unique_ptr<v1::WorkerService::Stub> worker_api;
  Names names;

  Server() {
    dir = std::filesystem::temp_directory_path() /
          ("ladle-rpc-fuzz-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    store = *OpenSqliteStore(":memory:");
    Coordinator::Options o;
    o.parse.max_jobs = 64;
    coordinator = std::make_unique<Coordinator>(o, store.get(),
                                                SystemClock::Get(), nullptr);
    (void)coordinator->Recover();
    logs = std::make_unique<LogStore>(dir + "/logs", 1 << 20);
    artifacts = std::make_unique<ArtifactStore>(dir + "/artifacts", 1 << 20);
    experiments = std::make_unique<ExperimentServiceImpl>(
        coordinator.get(), store.get(), logs.get(), artifacts.get(), &auth);
    workers = std::make_unique<WorkerServiceImpl>(
        coordinator.get(), store.get(), logs.get(), artifacts.get(), &auth,
        /*heartbeat_interval_ms=*/1000, /*lease_ms=*/60000);
    grpc::ServerBuilder b;
    b.RegisterService(experiments.get());
    b.RegisterService(workers.get());
    b.SetMaxReceiveMessageSize(4 << 20);
    server = b.BuildAndStart();
    auto channel = server->InProcessChannel(grpc::ChannelArguments());
    users = v1::ExperimentService::NewStub(channel);
    worker_api = v1::WorkerService::NewStub(channel);
    // Something to find: a small sweep, its jobs, and their ids.
    for (const char* spec :
         {"name: seed\ntrial: {train: {epochs: 1}}\nsweep: {grid: "
          "{train.seed: [1, 2]}}\n",
          "name: seed2\nkind: fusion\n"}) {
      auto r = coordinator->Submit(spec, "fuzz", false);
      if (!r.ok()) continue;
      names.ids.push_back(r->experiment_id);
      for (const JobRecord& j : r->jobs) names.ids.push_back(j.id);
    }
    names.ids.push_back("1");
  }
};

std::unique_ptr<grpc::ClientContext> Context(int ms) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(ms));
  return ctx;
}

// Reads a few messages of a server stream, then cancels it.
template <typename Reply, typename Reader>
void Drain(grpc::ClientContext* ctx, Reader reader) {
  Reply r;
  for (int i = 0; i < 8 && reader->Read(&r); ++i) {
  }
  ctx->TryCancel();
  reader->Finish();
}

template <typename Msg>
Msg Fuzzed(FuzzedDataProvider& in, const Names& names) {
  Msg m;
  Fill(in, &m, 0, names);
  return m;
}

void OneCall(Server& s, FuzzedDataProvider& in) {
  const Names& n = s.names;
  switch (in.ConsumeIntegralInRange(0, 12)) {
    case 0: {
      auto req = Fuzzed<v1::SubmitExperimentRequest>(in, n);
      req.set_dry_run(true);  // bounded state: nothing accumulates
      v1::SubmitExperimentResponse resp;
      s.users->SubmitExperiment(Context(2000).get(), req, &resp);
      break;
    }
    case 1: {
      v1::Experiment resp;
      s.users->GetExperiment(Context(2000).get(),
                             Fuzzed<v1::GetExperimentRequest>(in, n), &resp);
      break;
    }
    case 2: {
      v1::ListExperimentsResponse resp;
      s.users->ListExperiments(Context(2000).get(),
                               Fuzzed<v1::ListExperimentsRequest>(in, n),
                               &resp);
      break;
    }
    case 3: {
      v1::GetResultsRequest req = Fuzzed<v1::GetResultsRequest>(in, n);
      v1::ExperimentResults resp;
      s.users->GetResults(Context(2000).get(), req, &resp);
      break;
    }
    case 4: {
      v1::ListWorkersResponse resp;
      s.users->ListWorkers(Context(2000).get(),
                           Fuzzed<v1::ListWorkersRequest>(in, n), &resp);
      break;
    }
    case 5: {
      auto ctx = Context(30);
      Drain<v1::ExperimentEvent>(
          ctx.get(), s.users->WatchExperiment(
                         ctx.get(), Fuzzed<v1::WatchExperimentRequest>(in, n)));
      break;
    }
    case 6: {
      auto ctx = Context(200);
      Drain<v1::LogChunk>(
          ctx.get(),
          s.users->GetLogs(ctx.get(), Fuzzed<v1::GetLogsRequest>(in, n)));
      break;
    }
    case 7: {
      auto ctx = Context(200);
      Drain<v1::ArtifactChunk>(
          ctx.get(),
          s.users->DownloadArtifact(
              ctx.get(), Fuzzed<v1::DownloadArtifactRequest>(in, n)));
      break;
    }
    case 8: {
      auto ctx = Context(500);
      v1::UploadArtifactResponse resp;
      auto writer = s.worker_api->UploadArtifact(ctx.get(), &resp);
      const int chunks = in.ConsumeIntegralInRange(0, 3);
      for (int i = 0; i < chunks; ++i)
        writer->Write(Fuzzed<v1::ArtifactChunk>(in, n));
      writer->WritesDone();
      writer->Finish();
      break;
    }
    case 9:
    case 10: {
      // A worker session: often a valid hello first, then fuzzed messages
      // (results, metrics, logs, heartbeats for attempts that may exist).
      auto ctx = Context(500);
      auto stream = s.worker_api->Session(ctx.get());
      if (in.ConsumeBool()) {
        v1::WorkerMessage hello;
        hello.mutable_hello()->set_worker_id(in.ConsumeBool() ? "w-fuzz-1"
                                                              : "w-fuzz-2");
        hello.mutable_hello()->set_cpu_slots(in.ConsumeIntegralInRange(0, 4));
        hello.mutable_hello()->set_gpus(in.ConsumeIntegralInRange(0, 2));
        stream->Write(hello);
      }
      const int msgs = in.ConsumeIntegralInRange(0, 4);
      for (int i = 0; i < msgs; ++i)
        stream->Write(Fuzzed<v1::WorkerMessage>(in, n));
      stream->WritesDone();
      v1::CoordinatorMessage reply;
      for (int i = 0; i < 16 && stream->Read(&reply); ++i) {
      }
      ctx->TryCancel();
      stream->Finish();
      break;
    }
    case 12: {  // the worker side's download (a job's inputs)
      auto ctx = Context(200);
      Drain<v1::ArtifactChunk>(
          ctx.get(),
          s.worker_api->DownloadArtifact(
              ctx.get(), Fuzzed<v1::DownloadArtifactRequest>(in, n)));
      break;
    }
    case 11: {
      v1::Experiment resp;
      auto req = Fuzzed<v1::CancelExperimentRequest>(in, n);
      // Only ids that do not exist: cancelling the seed experiments would
      // leave nothing for later inputs to find.
      if (req.experiment_id().rfind("exp-", 0) == 0)
        req.set_experiment_id(req.experiment_id() + "-x");
      s.users->CancelExperiment(Context(2000).get(), req, &resp);
      break;
    }
  }
}

}  // namespace
}  // namespace ladle

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ladle::Server* server = new ladle::Server();  // lives for the process
  FuzzedDataProvider in(data, size);
  for (int call = 0; call < 4 && in.remaining_bytes() > 0; ++call) {
    ladle::OneCall(*server, in);
  }
  server->coordinator->Tick();
  return 0;
}
