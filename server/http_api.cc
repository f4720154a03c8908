#include "server/http_api.h"

#include <httplib.h>

#include <chrono>
#include <functional>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "server/http_internal.h"

namespace ladle {
namespace http_internal {

void Reply(const absl::Status& st, const std::string& json,
           httplib::Response& res) {
  if (st.ok()) {
    res.set_content(json, "application/json");
    return;
  }
  res.status = HttpStatusOf(st.code());
  res.set_content(
      nlohmann::json{{"code", static_cast<int>(st.code())},
                     {"status", absl::StatusCodeToString(st.code())},
                     {"message", std::string(st.message())}}
          .dump(),
      "application/json");
}

absl::Status ToJson(const google::protobuf::Message& m, std::string* json) {
  google::protobuf::util::JsonPrintOptions o;
  o.always_print_primitive_fields = true;
  auto st = google::protobuf::util::MessageToJsonString(m, json, o);
  if (!st.ok()) return absl::InternalError(std::string(st.message()));
  return absl::OkStatus();
}

namespace {

namespace pb = google::protobuf;

// `text` as the value of a scalar field; INVALID_ARGUMENT naming it.
absl::Status SetScalar(const pb::FieldDescriptor* f, const std::string& text,
                       pb::Message* m) {
  const pb::Reflection* r = m->GetReflection();
  auto bad = [&](absl::string_view want) {
    return absl::InvalidArgumentError(
        absl::StrCat(f->name(), ": not ", want, ": '", text, "'"));
  };
  int64_t i = 0;
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      if (text != "true" && text != "false") return bad("true or false");
      r->SetBool(m, f, text == "true");
      return absl::OkStatus();
    case pb::FieldDescriptor::CPPTYPE_INT32:
      if (!absl::SimpleAtoi(text, &i) || i < INT32_MIN || i > INT32_MAX)
        return bad("an integer");
      r->SetInt32(m, f, static_cast<int32_t>(i));
      return absl::OkStatus();
    case pb::FieldDescriptor::CPPTYPE_INT64:
      if (!absl::SimpleAtoi(text, &i)) return bad("an integer");
      r->SetInt64(m, f, i);
      return absl::OkStatus();
    case pb::FieldDescriptor::CPPTYPE_STRING:
      r->SetString(m, f, text);
      return absl::OkStatus();
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      // By its full name or the part after the type's prefix: state=running.
      const std::string upper = absl::AsciiStrToUpper(text);
      std::vector<std::string> names;
      for (int v = 0; v < f->enum_type()->value_count(); ++v) {
        const pb::EnumValueDescriptor* e = f->enum_type()->value(v);
        if (e->number() == 0) continue;  // unspecified: leave the param out
        if (e->name() == upper || absl::EndsWith(e->name(), "_" + upper)) {
          r->SetEnum(m, f, e);
          return absl::OkStatus();
        }
        names.push_back(
            absl::AsciiStrToLower(e->name().substr(e->name().rfind('_') + 1)));
      }
      return absl::InvalidArgumentError(
          absl::StrCat(f->name(), ": unknown value '", text, "'; use ",
                       absl::StrJoin(names, ", ")));
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(f->name(), ": not settable from a query parameter"));
  }
}

}  // namespace

absl::Status QueryToMessage(const httplib::Request& req, pb::Message* m) {
  const pb::Descriptor* d = m->GetDescriptor();
  // The URL's query only: httplib also files a form-encoded body's fields
  // under params, and a spec posted as a form (curl -d) is no parameter.
  httplib::Params query;
  const size_t q = req.target.find('?');
  if (q != std::string::npos)
    httplib::detail::parse_query_text(req.target.substr(q + 1), query);
  for (const auto& [name, value] : query) {
    const pb::FieldDescriptor* f = d->FindFieldByName(name);
    if (f == nullptr || f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      std::vector<std::string> known;
      for (int i = 0; i < d->field_count(); ++i) {
        if (d->field(i)->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE)
          known.push_back(d->field(i)->name());
      }
      return absl::InvalidArgumentError(
          absl::StrCat("unknown query parameter '", name, "'; ", d->name(),
                       " takes ", absl::StrJoin(known, ", ")));
    }
    if (!f->is_repeated()) {
      RETURN_IF_ERROR(SetScalar(f, value, m));
      continue;
    }
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": not settable from a query parameter"));
    }
    for (absl::string_view v : absl::StrSplit(value, ',', absl::SkipEmpty()))
      m->GetReflection()->AddString(m, f, std::string(v));
  }
  return absl::OkStatus();
}

}  // namespace http_internal

namespace {

using namespace http_internal;  // NOLINT: this file's own helpers

// A call's outcome as the reply: its response in JSON, or its error.
absl::Status Answer(const absl::Status& called,
                    const google::protobuf::Message& resp, std::string* json) {
  if (!called.ok()) return called;
  return ToJson(resp, json);
}

absl::Status FromJson(const std::string& body, google::protobuf::Message* m) {
  if (body.empty()) return absl::OkStatus();
  auto st = google::protobuf::util::JsonStringToMessage(body, m);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("body: not a ", m->GetTypeName(), " in JSON (",
                     std::string(st.message()), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

absl::Status CheckCorsOrigin(const std::string& origin) {
  if (origin.empty()) return absl::OkStatus();
  static const std::regex kOrigin(R"(https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)");
  if (std::regex_match(origin, kOrigin)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "--http_cors_origin " + origin +
      ": name one origin as scheme://host[:port], e.g. "
      "https://notebooks.example.org (no path, no '*': a token-bearing API "
      "is opened to one site at a time)");
}

HttpApi::HttpApi(ExperimentApi* api, const Authenticator* auth,
                 std::string cors_origin, HttpMetrics* metrics)
    : api_(api),
      auth_(auth),
      cors_origin_(std::move(cors_origin)),
      metrics_(metrics),
      server_(std::make_unique<httplib::Server>()) {
  // Open streams (a UI tab holds an event stream and maybe a log follow)
  // each take a thread: more than httplib's default of 8.
  server_->new_task_queue = [] { return new httplib::ThreadPool(64); };
  Headers();
  ExperimentRoutes();
  ControlRoutes();
  StreamRoutes();
  UiRoutes();
}

HttpApi::~HttpApi() {
  stopping_ = true;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

namespace {
// When the request this thread serves arrived (httplib serves a request,
// handlers to logger, on one thread).
thread_local std::chrono::steady_clock::time_point request_start;
}  // namespace

void HttpApi::Headers() {
  // The logger runs once the reply (a stream: all of it) is written.
  server_->set_logger(
      [this](const httplib::Request& req, const httplib::Response& res) {
        if (metrics_ == nullptr) return;
        metrics_->Record(req.path, req.method, res.status,
                         std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - request_start)
                             .count());
      });
  // httplib answers a browser's "Accept-Encoding: gzip, deflate, br" with
  // brotli at its highest quality: ~1 s for a 0.5 MB reply (gzip: ~10 ms).
  // Offering it gzip only keeps the compression and drops the wait. httplib
  // reads the header after the handlers, and owns the request as non-const.
  server_->set_pre_routing_handler(
      [](const httplib::Request& req, httplib::Response&) {
        auto it = req.headers.find("Accept-Encoding");
        if (it != req.headers.end() && absl::StrContains(it->second, "br")) {
          std::string offered;
          for (absl::string_view e : absl::StrSplit(it->second, ',')) {
            e = absl::StripAsciiWhitespace(e);
            if (e != "br" && !absl::StartsWith(e, "br;"))
              absl::StrAppend(&offered, offered.empty() ? "" : ", ", e);
          }
          const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
          const_cast<httplib::Request&>(req).headers.emplace("Accept-Encoding",
                                                             offered);
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
  server_->set_post_routing_handler(
      [this](const httplib::Request&, httplib::Response& res) {
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_header("Referrer-Policy", "no-referrer");
        if (!cors_origin_.empty()) {
          res.set_header("Access-Control-Allow-Origin", cors_origin_);
          res.set_header("Vary", "Origin");
        }
      });
  if (cors_origin_.empty()) return;  // no preflight answered: no CORS
  server_->Options(
      R"(/api/.*)", [this](const httplib::Request&, httplib::Response& res) {
        res.status = 204;
        res.set_header("Access-Control-Allow-Methods", "GET, POST");
        res.set_header("Access-Control-Allow-Headers",
                       "Authorization, Content-Type");
        res.set_header("Access-Control-Max-Age", "600");
      });
}

std::function<void(const httplib::Request&, httplib::Response&)> HttpApi::Serve(
    Handler h) {
  return [this, h](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<Principal> caller =
        ApiCaller(*auth_, req.get_header_value("Authorization"));
    std::string json;
    absl::Status st = caller.status();
    if (st.ok()) st = h(*caller, req, &json);
    Reply(st, json, res);
  };
}

void HttpApi::ExperimentRoutes() {
  const std::string exp = R"(/api/v1/experiments/([A-Za-z0-9._-]+))";
  server_->set_payload_max_length(2 << 20);  // a spec is at most 1 MiB
  // The spec as the body (YAML or JSON text), or a SubmitExperimentRequest
  // when the body is application/json and an object with "spec".
  server_->Post(
      "/api/v1/experiments",
      Serve([this](const Principal& p, const httplib::Request& r,
                   std::string* json) {
        v1::SubmitExperimentRequest req;
        const bool message =
            absl::StartsWith(r.get_header_value("Content-Type"),
                             "application/json") &&
            nlohmann::json::parse(r.body, nullptr, false).contains("spec");
        if (message) {
          if (absl::Status st = FromJson(r.body, &req); !st.ok()) return st;
        } else {
          RETURN_IF_ERROR(QueryToMessage(r, &req));
          req.set_spec(r.body);
        }
        v1::SubmitExperimentResponse resp;
        return Answer(api_->Submit(p, req, &resp), resp, json);
      }));
  server_->Post(exp + ":rerun",
                Serve([this](const Principal& p, const httplib::Request& r,
                             std::string* json) {
                  v1::RerunExperimentRequest req;
                  if (absl::Status st = FromJson(r.body, &req); !st.ok())
                    return st;
                  req.set_experiment_id(r.matches[1]);
                  v1::SubmitExperimentResponse resp;
                  return Answer(api_->RerunExperiment(p, req, &resp), resp,
                                json);
                }));
  server_->Get("/api/v1/experiments",
               Serve([this](const Principal& p, const httplib::Request& r,
                            std::string* json) {
                 v1::ListExperimentsRequest req;
                 RETURN_IF_ERROR(QueryToMessage(r, &req));
                 v1::ListExperimentsResponse resp;
                 return Answer(api_->ListExperiments(p, req, &resp), resp,
                               json);
               }));
  server_->Get(exp, Serve([this](const Principal& p, const httplib::Request& r,
                                 std::string* json) {
                 v1::GetExperimentRequest req;
                 RETURN_IF_ERROR(QueryToMessage(r, &req));
                 req.set_experiment_id(r.matches[1]);
                 v1::Experiment resp;
                 return Answer(api_->GetExperiment(p, req, &resp), resp, json);
               }));
  server_->Get(exp + "/results",
               Serve([this](const Principal& p, const httplib::Request& r,
                            std::string* json) {
                 v1::GetResultsRequest req;
                 RETURN_IF_ERROR(QueryToMessage(r, &req));
                 req.set_experiment_id(r.matches[1]);
                 v1::ExperimentResults resp;
                 return Answer(api_->GetResults(p, req, &resp), resp, json);
               }));
}

void HttpApi::ControlRoutes() {
  const std::string exp = R"(/api/v1/experiments/([A-Za-z0-9._-]+))";
  server_->Post(exp + ":cancel",
                Serve([this](const Principal& p, const httplib::Request& r,
                             std::string* json) {
                  v1::CancelExperimentRequest req;
                  RETURN_IF_ERROR(QueryToMessage(r, &req));
                  req.set_experiment_id(r.matches[1]);
                  v1::Experiment resp;
                  return Answer(api_->CancelExperiment(p, req, &resp), resp,
                                json);
                }));
  server_->Post(exp + ":close",
                Serve([this](const Principal& p, const httplib::Request& r,
                             std::string* json) {
                  v1::CloseExperimentRequest req;
                  RETURN_IF_ERROR(QueryToMessage(r, &req));
                  req.set_experiment_id(r.matches[1]);
                  v1::Experiment resp;
                  return Answer(api_->CloseExperiment(p, req, &resp), resp,
                                json);
                }));
  server_->Post(exp + "/trials",
                Serve([this](const Principal& p, const httplib::Request& r,
                             std::string* json) {
                  v1::AddTrialsRequest req;
                  if (absl::Status st = FromJson(r.body, &req); !st.ok())
                    return st;
                  req.set_experiment_id(r.matches[1]);
                  v1::AddTrialsResponse resp;
                  return Answer(api_->AddTrials(p, req, &resp), resp, json);
                }));
  server_->Get(R"(/api/v1/jobs/([A-Za-z0-9._-]+))",
               Serve([this](const Principal& p, const httplib::Request& r,
                            std::string* json) {
                 v1::GetJobRequest req;
                 RETURN_IF_ERROR(QueryToMessage(r, &req));
                 req.set_job_id(r.matches[1]);
                 v1::JobResult resp;
                 return Answer(api_->GetJob(p, req, &resp), resp, json);
               }));
  server_->Get("/api/v1/queue",
               Serve([this](const Principal& p, const httplib::Request& r,
                            std::string* json) {
                 v1::GetQueueSummaryRequest req;
                 RETURN_IF_ERROR(QueryToMessage(r, &req));
                 v1::QueueSummary resp;
                 return Answer(api_->GetQueueSummary(p, req, &resp), resp,
                               json);
               }));
  server_->Get("/api/v1/workers",
               Serve([this](const Principal& p, const httplib::Request&,
                            std::string* json) {
                 v1::ListWorkersResponse resp;
                 return Answer(api_->ListWorkers(p, {}, &resp), resp, json);
               }));
}

absl::Status HttpApi::Start(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError("--http_listen " + listen +
                                      ": use HOST:PORT, e.g. 127.0.0.1:8080");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  port_ = port == 0 ? server_->bind_to_any_port(host)
                    : (server_->bind_to_port(host, port) ? port : -1);
  if (port_ <= 0) {
    return absl::InvalidArgumentError("--http_listen " + listen +
                                      ": cannot listen there");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return absl::OkStatus();
}

}  // namespace ladle
