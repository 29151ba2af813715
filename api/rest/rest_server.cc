// The only translation unit that includes cpprest. Converts cpprest requests into plain
// rest::Request values and back; catches everything cpprest throws.
#include "api/rest/rest_server.h"

#include <cpprest/http_listener.h>
#include <pplx/threadpool.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "api/types/endpoint.h"

namespace sk::rest {

namespace http = web::http;
using http::experimental::listener::http_listener;

Response JsonError(int status, const std::string& code, const std::string& message) {
  nlohmann::json j = {{"error", {{"code", code}, {"message", message}}}};
  return Response{status, "application/json", j.dump(), {}};
}

void InitThreadPool(int threads) { crossplat::threadpool::initialize_with_threads(threads); }

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void Reply(http::http_request req, const Response& r) {
  http::http_response resp(static_cast<http::status_code>(r.status));
  for (const auto& [k, v] : r.headers) resp.headers().add(k, v);
  resp.set_body(r.body, r.content_type);
  req.reply(resp).then([](pplx::task<void> t) {
    try {
      t.get();
    } catch (const std::exception& e) {
      spdlog::debug("api: reply failed: {}", e.what());
    }
  });
}

class CppRestServer : public Server {
 public:
  CppRestServer(std::string addr, Handler h) : addr_(std::move(addr)), handler_(std::move(h)) {}

  Status Open() {
    try {
      listener_ = std::make_unique<http_listener>("http://" + addr_ + "/");
      listener_->support([this](http::http_request req) { Handle(std::move(req)); });
      listener_->open().wait();
    } catch (const std::exception& e) {
      return Unavailable("cannot listen on " + addr_ + ": " + e.what());
    }
    return Status::Ok();
  }

  void Stop() override {
    if (!listener_) return;
    try {
      listener_->close().wait();
    } catch (const std::exception& e) {
      spdlog::debug("api: close: {}", e.what());
    }
    listener_.reset();
  }

  ~CppRestServer() override { Stop(); }
  std::string address() const override { return addr_; }

 private:
  void Handle(http::http_request req) {
    try {
      Request r;
      r.method = req.method();
      r.path = web::uri::decode(req.relative_uri().path());
      for (const auto& [k, v] : web::uri::split_query(req.relative_uri().query())) {
        r.query[web::uri::decode(k)] = web::uri::decode(v);
      }
      for (const auto& [k, v] : req.headers()) r.headers[Lower(k)] = v;
      // Refuse oversized bodies by their declared length before reading them.
      if (req.headers().content_length() > kMaxBodyBytes) {
        Reply(req, JsonError(413, "PayloadTooLarge", "request body over 1 MiB"));
        return;
      }
      if (r.method == "POST" || r.method == "PUT" || r.method == "PATCH") {
        std::vector<unsigned char> bytes = req.extract_vector().get();
        if (bytes.size() > kMaxBodyBytes) {
          Reply(req, JsonError(413, "PayloadTooLarge", "request body over 1 MiB"));
          return;
        }
        r.body.assign(bytes.begin(), bytes.end());
      }
      Reply(req, handler_(r));
    } catch (const std::exception& e) {
      spdlog::warn("api: {} {}: {}", req.method(), req.relative_uri().path(), e.what());
      Reply(req, JsonError(400, "BadRequest", e.what()));
    }
  }

  std::string addr_;
  Handler handler_;
  std::unique_ptr<http_listener> listener_;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::Start(const std::string& addr, Handler handler) {
  auto ep = ParseEndpoint(addr);
  if (!ep.ok()) return InvalidArgument("--api " + addr + ": " + ep.error().message());
  auto server = std::make_unique<CppRestServer>(addr, std::move(handler));
  SK_TRY(server->Open());
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace sk::rest
