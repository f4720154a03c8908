// The HTTP transport's streams (experiment events as Server-Sent Events, job
// logs), downloads, one job, and the web UI's compiled-in assets.
#include <httplib.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "server/http_api.h"
#include "server/http_internal.h"
#include "ui/ui_assets.h"

namespace ladle {
namespace {

using namespace http_internal;  // NOLINT: the transport's own helpers

const char* EventName(const v1::ExperimentEvent& e) {
  switch (e.event_case()) {
    case v1::ExperimentEvent::kSnapshot:
      return "snapshot";
    case v1::ExperimentEvent::kJob:
      return "job";
    case v1::ExperimentEvent::kMetric:
      return "metric";
    case v1::ExperimentEvent::kFinished:
      return "finished";
    default:
      return "message";
  }
}

// A stream's `cancelled`: the server is stopping, or the client left. An idle
// stream writes an SSE comment every 15 s, which is how a client that left
// quietly is noticed (and keeps proxies from closing the connection).
class StreamGuard {
 public:
  StreamGuard(httplib::DataSink& sink, const std::atomic<bool>& stopping,
              bool keepalive)
      : sink_(sink), stopping_(stopping), keepalive_(keepalive) {}
  bool Write(const std::string& data) {
    last_ = std::chrono::steady_clock::now();
    return sink_.write(data.data(), data.size());
  }
  bool Cancelled() {
    if (stopping_.load()) return true;
    if (!keepalive_ ||
        std::chrono::steady_clock::now() - last_ < std::chrono::seconds(15))
      return false;
    return !Write(": keepalive\n\n");
  }

 private:
  httplib::DataSink& sink_;
  const std::atomic<bool>& stopping_;
  const bool keepalive_;
  std::chrono::steady_clock::time_point last_ =
      std::chrono::steady_clock::now();
};

// The caller of a stream request; the error is replied to when there is none.
bool Caller(const Authenticator& auth, const httplib::Request& req,
            httplib::Response& res, Principal* out) {
  absl::StatusOr<Principal> p =
      ApiCaller(auth, req.get_header_value("Authorization"));
  if (!p.ok()) Reply(p.status(), "", res);
  if (p.ok()) *out = *p;
  return p.ok();
}

std::string QuotedFileName(const std::string& name) {
  return absl::StrCat(
      "\"", absl::StrReplaceAll(name, {{"\"", "_"}, {"\\", "_"}, {"\n", "_"}}),
      "\"");
}

}  // namespace

void HttpApi::StreamRoutes() {
  const std::string exp = R"(/api/v1/experiments/([A-Za-z0-9._-]+))";
  const std::string job = R"(/api/v1/jobs/([A-Za-z0-9._-]+))";
  // Server-Sent Events: `snapshot` (the Experiment), then `job`, `metric`
  // (include_metrics=true) and a last `finished`, each `data:` protobuf JSON.
  // Refusals are checked before the stream starts, so they get their status.
  server_->Get(exp + "/events", [this](const httplib::Request& req,
                                       httplib::Response& res) {
    Principal p;
    if (!Caller(*auth_, req, res, &p)) return;
    v1::WatchExperimentRequest w;
    if (absl::Status st = QueryToMessage(req, &w); !st.ok())
      return Reply(st, "", res);
    w.set_experiment_id(req.matches[1]);
    if (auto v = api_->Visible(p, w.experiment_id()); !v.ok())
      return Reply(v.status(), "", res);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [this, p, w](size_t, httplib::DataSink& sink) {
          StreamGuard guard(sink, stopping_, /*keepalive=*/true);
          absl::Status st = api_->WatchExperiment(
              p, w,
              [&guard](const v1::ExperimentEvent& e) {
                std::string json;
                return ToJson(e, &json).ok() &&
                       guard.Write(absl::StrCat("event: ", EventName(e),
                                                "\ndata: ", json, "\n\n"));
              },
              [&guard] { return guard.Cancelled(); });
          if (!st.ok()) {
            guard.Write(absl::StrCat(
                "event: error\ndata: ",
                absl::StrReplaceAll(st.message(), {{"\n", " "}}), "\n\n"));
          }
          sink.done();
          return true;
        });
  });
  // The logs as text: every attempt's stdout and stderr as they were stored;
  // follow=true keeps the response open until the job has ended.
  server_->Get(job + "/logs", [this](const httplib::Request& req,
                                     httplib::Response& res) {
    Principal p;
    if (!Caller(*auth_, req, res, &p)) return;
    v1::GetLogsRequest l;
    if (absl::Status st = QueryToMessage(req, &l); !st.ok())
      return Reply(st, "", res);
    l.set_job_id(req.matches[1]);
    if (absl::Status st = api_->CheckJobVisible(p, l.job_id()); !st.ok())
      return Reply(st, "", res);
    res.set_header("Cache-Control", "no-cache");
    if (l.follow()) {
      // httplib compresses text/* replies the client accepts compressed, and
      // a compressor holds back what it has until the end: a followed log
      // would reach a browser only once the job ended. httplib decides from
      // the request after this handler, and owns it as non-const.
      const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    }
    res.set_chunked_content_provider(
        "text/plain; charset=utf-8",
        [this, p, l](size_t, httplib::DataSink& sink) {
          StreamGuard guard(sink, stopping_, /*keepalive=*/false);
          api_->GetLogs(
                  p, l,
                  [&guard](const v1::LogChunk& c) {
                    return guard.Write(c.data());
                  },
                  [&guard] { return guard.Cancelled(); })
              .IgnoreError();  // checked above; a broken stream is the
                               // client's to notice
          sink.done();
          return true;
        });
  });
  server_->Get(job + R"(/artifacts/([^/]+))", [this](
                                                  const httplib::Request& req,
                                                  httplib::Response& res) {
    Principal p;
    if (!Caller(*auth_, req, res, &p)) return;
    auto file = api_->FindArtifact(p, req.matches[1], req.matches[2]);
    if (!file.ok()) return Reply(file.status(), "", res);
    std::FILE* f = std::fopen(file->path.c_str(), "rb");
    if (f == nullptr)
      return Reply(absl::InternalError("artifact file unreadable"), "", res);
    res.set_header(
        "Content-Disposition",
        "attachment; filename=" + QuotedFileName(file->header.name()));
    res.set_header("X-Ladle-Sha256", file->header.sha256());
    res.set_content_provider(
        static_cast<size_t>(file->header.size_bytes()),
        "application/octet-stream",
        [f](size_t offset, size_t length, httplib::DataSink& sink) {
          char buf[1 << 16];
          std::fseek(f, static_cast<long>(offset), SEEK_SET);
          const size_t n = std::fread(buf, 1, std::min(length, sizeof buf), f);
          return n > 0 && sink.write(buf, n);
        },
        [f](bool) { std::fclose(f); });
  });
}

void HttpApi::UiRoutes() {
  auto serve_asset = [](const ui::Asset* a, httplib::Response& res) {
    if (a == nullptr) {
      res.status = 404;
      return res.set_content("not found\n", "text/plain");
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_content(std::string(a->data), std::string(a->content_type));
  };
  server_->Get("/", [serve_asset](const httplib::Request&,
                                  httplib::Response& res) {
    // The page runs only its own scripts and talks only to this server; an
    // escaping slip stays text rather than running (defence in depth: every
    // string is escaped by the page anyway).
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'self'; style-src 'self' "
                   "'unsafe-inline'; img-src 'self' data:; connect-src "
                   "'self'; frame-ancestors 'none'; base-uri 'none'; "
                   "form-action 'none'");
    serve_asset(ui::FindAsset("index.html"), res);
  });
  // Liveness and readiness (Kubernetes probes): served once the store is open
  // and recovered, which is before this port opens; no token needed.
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server_->Get(
      R"(/ui/([A-Za-z0-9._-]+))",
      [serve_asset](const httplib::Request& req, httplib::Response& res) {
        serve_asset(ui::FindAsset(req.matches[1].str()), res);
      });
}

}  // namespace ladle
