#include "connectors/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>

namespace payorch::connectors {

namespace {

constexpr size_t kMaxBody = 1 << 20;

std::once_flag g_curl_init;

void InitCurl() {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * n > kMaxBody) return 0;
  body->append(data, size * n);
  return size * n;
}

Transport TransportOf(CURLcode rc) {
  switch (rc) {
    case CURLE_OK:
      return Transport::kAnswered;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_URL_MALFORMAT:
      return Transport::kNotSent;
    case CURLE_OPERATION_TIMEDOUT:
      return Transport::kTimedOut;
    default:
      return Transport::kBrokenAfterSend;
  }
}

}  // namespace

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) { InitCurl(); }

HttpClient::~HttpClient() {
  for (void* h : handles_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::TakeHandle() {
  {
    std::lock_guard lock(mu_);
    if (!handles_.empty()) {
      void* h = handles_.back();
      handles_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::GiveHandle(void* handle) {
  std::lock_guard lock(mu_);
  handles_.push_back(handle);
}

HttpResult HttpClient::Perform(const HttpCall& call) {
  HttpResult result;
  CURL* curl = static_cast<CURL*>(TakeHandle());
  if (curl == nullptr) return result;  // kNotSent
  curl_easy_reset(curl);
  const uint32_t timeout_ms =
      call.timeout_ms > 0 ? std::min(options_.timeout_ms, call.timeout_ms) : options_.timeout_ms;
  const std::string url = options_.base_url + call.path;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("Content-Type: " + call.content_type).c_str());
  headers = curl_slist_append(headers, "Accept: application/json");
  for (const auto& [name, value] : call.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  if (!options_.bearer_token.empty()) {
    headers =
        curl_slist_append(headers, ("Authorization: Bearer " + options_.bearer_token).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(options_.connect_timeout_ms, timeout_ms)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  if (call.post) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call.body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(call.body.size()));
  }
  if (!options_.client_cert_path.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, options_.client_cert_path.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, options_.client_key_path.c_str());
  }
  if (!options_.ca_path.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_path.c_str());
  const auto started = std::chrono::steady_clock::now();
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  if (rc == CURLE_OK) {
    GiveHandle(curl);  // keeps its connection for the next call
  } else {
    curl_easy_cleanup(curl);
  }
  result.transport = TransportOf(rc);
  result.status = static_cast<int>(status);
  result.latency_ms = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::steady_clock::now() - started)
                                                .count());
  if (options_.on_result) options_.on_result(call, result);
  return result;
}

std::string PercentEncode(std::string_view text) {
  InitCurl();
  char* escaped = curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size()));
  if (escaped == nullptr) return "";
  std::string out(escaped);
  curl_free(escaped);
  return out;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    // Brackets stay literal in names, as Stripe's own client libraries send them.
    std::string n = PercentEncode(name);
    for (const auto& [from, to] : {std::pair{"%5B", "["}, std::pair{"%5D", "]"}}) {
      for (size_t at = n.find(from); at != std::string::npos; at = n.find(from, at + 1)) {
        n.replace(at, 3, to);
      }
    }
    out += n + '=' + PercentEncode(value);
  }
  return out;
}

}  // namespace payorch::connectors
