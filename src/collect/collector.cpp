#include "collect/collector.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <string_view>

#include <nlohmann/json.hpp>

#include "collect/curl_check.h"
#include "collect/progress.h"
#include "core/files.h"
#include "core/log.h"
#include "core/signals.h"
#include "io/json_text.h"
#include "io/prompts.h"
#include "io/responses.h"
#include "text/utf8.h"

namespace saediff {
namespace {

using Clock = std::chrono::steady_clock;

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// At most `n` bytes of a server's body for an error message, as valid UTF-8 (a cut character or a body in
// another encoding becomes U+FFFD), so that the record can always be written as JSON.
std::string excerpt(const std::string& body, size_t n) { return to_valid_utf8(std::string_view(body).substr(0, n)); }

}  // namespace

std::string scrub_secrets(std::string text, const std::string& key, bool bearer_values) {
  static constexpr std::string_view kRedacted = "[redacted]";
  if (key.size() >= 8) {
    for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + kRedacted.size())) {
      text.replace(at, key.size(), kRedacted);
    }
  }
  if (!bearer_values) return text;
  const auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  const auto token_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("-._~+/=").find(c) != std::string_view::npos;
  };
  constexpr std::string_view kBearer = "bearer";
  for (size_t at = 0; at + kBearer.size() <= text.size(); ++at) {
    size_t i = 0;
    while (i < kBearer.size() && lower(text[at + i]) == kBearer[i]) ++i;
    if (i < kBearer.size()) continue;
    size_t begin = at + kBearer.size();
    while (begin < text.size() && (text[begin] == ' ' || text[begin] == '\t')) ++begin;
    size_t end = begin;
    while (end < text.size() && token_char(text[end])) ++end;
    if (begin == at + kBearer.size() || end == begin) continue;  // "bearer" as a word, not a header value
    text.replace(begin, end - begin, kRedacted);
    at = begin + kRedacted.size() - 1;
  }
  return text;
}

namespace {

// `s` without leading and trailing ASCII whitespace (a key file's newline, a header's padding).
std::string trim_ascii(std::string s) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.back())) s.pop_back();
  size_t first = 0;
  while (first < s.size() && space(s[first])) ++first;
  return s.substr(first);
}

bool is_loopback(const std::string& url) {
  static const std::regex re(R"(^https?://(localhost|127\.[0-9.]+|\[::1\])(:[0-9]+)?(/.*)?$)");
  return std::regex_match(url, re);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  std::string lower = line;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.rfind("retry-after:", 0) == 0) *static_cast<std::string*>(user) = line.substr(12);
  return size * n;
}

struct Pair {
  size_t prompt = 0;  // index into prompts
  size_t model = 0;   // index into config.models
  int attempts = 0;   // made so far in this run
  Clock::time_point not_before{};
};

struct Transfer {
  Pair pair;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string request, body, retry_after;
  size_t max_body = 0;     // --max-response-bytes
  bool too_large = false;  // the body passed max_body: the transfer was stopped there
  Clock::time_point started;
};

// A reply body larger than --max-response-bytes stops its transfer there (returning less than given makes libcurl
// fail it with CURLE_WRITE_ERROR), so that one runaway answer is never held or stored whole.
size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  if (t.body.size() + size * n > t.max_body) {
    t.too_large = true;
    return 0;
  }
  t.body.append(data, size * n);
  return size * n;
}

// Appends one JSON line and syncs it, so a crash loses at most the pairs in flight.
class JsonlAppender {
 public:
  explicit JsonlAppender(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    SAEDIFF_CHECK(fd_ >= 0, "cannot open '", path, "' for appending");
  }
  ~JsonlAppender() {
    if (fd_ >= 0) {
      ::fsync(fd_);
      ::close(fd_);
    }
  }
  // A last line without its newline (a file from another tool, a hand edit) gets one, so that the next
  // record starts on a line of its own.
  void end_last_line() {
    const off_t size = ::lseek(fd_, 0, SEEK_END);
    char last = '\n';
    if (size > 0 && ::pread(fd_, &last, 1, size - 1) == 1 && last != '\n') {
      SAEDIFF_CHECK(::write(fd_, "\n", 1) == 1, "write to '", path_, "' failed");
    }
  }
  void append(const nlohmann::json& j) {
    const std::string line = j.dump() + "\n";
    size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      SAEDIFF_CHECK(n > 0, "write to '", path_, "' failed");
      done += static_cast<size_t>(n);
    }
    // On disk before the next request can finish: a crash or power loss keeps every recorded answer.
    SAEDIFF_CHECK(::fdatasync(fd_) == 0, "fdatasync of '", path_, "' failed");
  }

 private:
  std::string path_;
  int fd_ = -1;
};

void write_responses_csv(const std::string& path, const std::vector<Prompt>& prompts, const CollectConfig& config,
                         const std::vector<ResponseRecord>& records) {
  std::map<std::pair<std::string, std::string>, std::string> ok;  // (set, prompt_id) -> last success
  for (const ResponseRecord& r : records)
    if (r.ok()) ok[{r.set, r.prompt_id}] = *r.response;
  std::string csv = "prompt_id,category,prompt";
  for (const ModelSpec& m : config.models) csv += "," + csv_escape("response_" + m.set);
  csv += "\n";
  for (const Prompt& p : prompts) {
    csv += csv_escape(p.id) + "," + csv_escape(p.category) + "," + csv_escape(p.text);
    for (const ModelSpec& m : config.models) {
      auto it = ok.find({m.set, p.id});
      csv += "," + csv_escape(it == ok.end() ? std::string() : it->second);
    }
    csv += "\n";
  }
  write_file_atomic(path, csv);
}

// A JSON object given as an option's text ("" gives an empty object).
nlohmann::json json_object_option(const std::string& text, const char* option) {
  if (text.empty()) return nlohmann::json::object();
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  SAEDIFF_CHECK(!j.is_discarded() && j.is_object(), "--", option, " must be a JSON object, e.g. ",
                std::string(option) == "reasoning" ? R"({"max_tokens": 1024})" : R"({"usage": {"include": true}})",
                "; got: ", text);
  return j;
}

int64_t usage_int(const nlohmann::json& usage, const char* key) {
  return usage.is_object() && usage.contains(key) && usage[key].is_number() ? usage[key].get<int64_t>() : 0;
}

nlohmann::json summary_json(const CollectSummary& s) {
  nlohmann::json sets = nlohmann::json::object();
  for (const auto& [set, u] : s.usage) {
    sets[set] = {{"ok", u.n_ok}, {"failed", u.n_failed}, {"truncated", u.n_truncated},
                 {"prompt_tokens", u.prompt_tokens}, {"completion_tokens", u.completion_tokens},
                 {"reasoning_tokens", u.reasoning_tokens}, {"cost", u.has_cost ? nlohmann::json(u.cost) : nlohmann::json()}};
  }
  return {{"pairs", s.n_pairs}, {"already_collected", s.n_skipped}, {"collected", s.n_ok}, {"failed", s.n_failed},
          {"retries", s.n_retries}, {"interrupted_by_signal", s.interrupted_by}, {"sets", sets},
          {"finished_at", utc_now()}};
}

}  // namespace

std::string read_api_key(const CollectConfig& config) {
  std::string key;
  if (!config.api_key_file.empty()) {
    std::ifstream in(config.api_key_file);
    SAEDIFF_CHECK(in, "cannot read the API key file '", config.api_key_file, "'");
    std::getline(in, key);
  } else if (const char* env = std::getenv(config.api_key_env.c_str()); env != nullptr) {
    key = env;
  }
  return trim_ascii(key);
}

ModelSpec parse_model_spec(const std::string& text) {
  static const std::regex re(R"(^([^=]*)=(\S+)$)");
  std::smatch m;
  SAEDIFF_CHECK(std::regex_match(text, m, re), "--model '", text,
                "' must be NAME=ID, with NAME of letters, digits, '.', '_' or '-' (e.g. gemini-2.5=google/gemini-2.5-flash)");
  const std::string problem = set_name_problem(m[1].str());
  SAEDIFF_CHECK(problem.empty(), "--model '", text, "': the NAME of NAME=ID, '", m[1].str(), "', cannot name a set: ",
                problem, " (e.g. gemini-2.5=google/gemini-2.5-flash)");
  return {m[1].str(), m[2].str()};
}

CollectSummary collect_responses(const CollectConfig& config) {
  SAEDIFF_CHECK(!config.models.empty(), "collect needs at least one --model NAME=ID");
  std::set<std::string> names;
  for (const ModelSpec& m : config.models) SAEDIFF_CHECK(names.insert(m.set).second, "duplicate model NAME '", m.set, "'");
  const std::vector<Prompt> prompts = read_prompts(config.prompts);
  SAEDIFF_CHECK(config.base_url.rfind("https://", 0) == 0 || is_loopback(config.base_url), "--base-url '",
                config.base_url, "' is not https: the API key would travel unencrypted (only loopback may use http)");
  SAEDIFF_CHECK(!config.no_key || is_loopback(config.base_url), "--no-key is for a loopback --base-url only (a local ",
                "test server), not '", config.base_url, "'");
  const std::string api_key = config.no_key ? std::string() : read_api_key(config);
  SAEDIFF_CHECK(!api_key.empty() || config.no_key, "no API key: set ", config.api_key_env,
                " or give --api-key-file (a loopback --base-url may go without one with --no-key)");
  const nlohmann::json reasoning = json_object_option(config.reasoning, "reasoning");
  const nlohmann::json extra_body = json_object_option(config.extra_body, "extra-body");
  check_output_path(config.out, OutputKind::folder, "collect --out");
  const OutputLock lock(config.out, "collect --out");  // held until every pair is stored

  std::filesystem::create_directories(config.out);
  const std::string jsonl = (std::filesystem::path(config.out) / "responses.jsonl").string();
  std::vector<ResponseRecord> records;
  if (std::filesystem::exists(jsonl)) {
    ReadResponsesResult read = read_responses(jsonl);
    if (read.torn_tail) {
      log_warn(jsonl, ": repairing a torn last line (an interrupted run); its pair will be requested again");
      std::filesystem::resize_file(jsonl, read.valid_bytes);
    }
    records = std::move(read.records);
  }
  std::set<std::pair<std::string, std::string>> done;
  for (const ResponseRecord& r : records)
    if (r.ok()) done.insert({r.set, r.prompt_id});

  CollectSummary summary;
  std::deque<Pair> queue;
  for (size_t p = 0; p < prompts.size(); ++p) {
    for (size_t m = 0; m < config.models.size(); ++m) {
      ++summary.n_pairs;
      if (done.count({config.models[m].set, prompts[p].id})) {
        ++summary.n_skipped;
        continue;
      }
      queue.push_back({p, m, 0, {}});
    }
  }
  log_info("collect: ", summary.n_pairs, " pairs, ", summary.n_skipped, " already collected, ", queue.size(),
           " to request from ", config.base_url);

  JsonlAppender out(jsonl);
  out.end_last_line();
  std::mt19937_64 rng(std::random_device{}());
  CURLM* multi = curl_multi_init();
  SAEDIFF_CHECK(multi != nullptr, "curl_multi_init failed");
  // HTTP/2 multiplexing where the server offers it; connections are kept and reused by the multi handle.
  CURLM_CHECK(curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX));
  std::map<std::string, size_t> set_index;
  for (const ModelSpec& m : config.models) {
    set_index[m.set] = summary.usage.size();
    summary.usage.emplace_back(m.set, ModelUsage{});
  }
  CollectProgress progress(static_cast<int64_t>(queue.size()), config.progress_interval_s);
  const StopSignals stop;
  // --rpm: starts are spaced at least 60/rpm seconds apart.
  const auto start_spacing = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(config.rpm > 0 ? 60.0 / config.rpm : 0.0));
  Clock::time_point next_start_allowed = Clock::now();
  std::map<CURL*, Transfer> active;
  JsonRepairCounts repaired;  // invalid UTF-8 / lone surrogates in response bodies, made U+FFFD
  const std::string url = config.base_url + "/chat/completions";
  const std::string auth = "Authorization: Bearer " + api_key;

  auto finish = [&](const Pair& pair, std::optional<std::string> response, std::optional<std::string> error,
                    std::optional<std::string> finish_reason, nlohmann::json usage, double latency_ms) {
    ResponseRecord r;
    r.prompt_id = prompts[pair.prompt].id;
    r.category = prompts[pair.prompt].category;
    r.prompt = prompts[pair.prompt].text;
    r.set = config.models[pair.model].set;
    r.model = config.models[pair.model].id;
    r.response = std::move(response);
    r.error = std::move(error);
    r.finish_reason = std::move(finish_reason);
    r.usage = std::move(usage);
    r.latency_ms = latency_ms;
    r.attempts = pair.attempts;
    r.collected_at = utc_now();
    out.append(r.to_json());
    (r.ok() ? summary.n_ok : summary.n_failed)++;
    ModelUsage& u = summary.usage[set_index.at(r.set)].second;
    (r.ok() ? u.n_ok : u.n_failed)++;
    if (r.finish_reason == "length") ++u.n_truncated;
    u.prompt_tokens += usage_int(r.usage, "prompt_tokens");
    u.completion_tokens += usage_int(r.usage, "completion_tokens");
    if (r.usage.is_object() && r.usage.contains("completion_tokens_details"))
      u.reasoning_tokens += usage_int(r.usage["completion_tokens_details"], "reasoning_tokens");
    if (r.usage.is_object() && r.usage.contains("cost") && r.usage["cost"].is_number()) {
      u.cost += r.usage["cost"].get<double>();
      u.has_cost = true;
    }
    progress.pair_done(r.ok());
    if (!r.ok()) log_warn("collect: ", r.set, "/", r.prompt_id, " failed after ", r.attempts, " attempts: ", *r.error);
    records.push_back(std::move(r));
  };

  auto start = [&](Pair pair) {
    Transfer t;
    ++pair.attempts;
    t.pair = pair;
    nlohmann::json body = {{"model", config.models[pair.model].id},
                           {"messages", {{{"role", "user"}, {"content", prompts[pair.prompt].text}}}},
                           {"max_tokens", config.max_tokens},
                           {"temperature", config.temperature}};
    if (!reasoning.empty()) body["reasoning"] = reasoning;
    body.update(extra_body);
    t.request = body.dump();
    t.easy = curl_easy_init();
    SAEDIFF_CHECK(t.easy != nullptr, "curl_easy_init failed");
    t.headers = curl_slist_append(nullptr, "Content-Type: application/json");
    if (!api_key.empty()) t.headers = curl_slist_append(t.headers, auth.c_str());
    t.started = Clock::now();
    auto [it, inserted] = active.emplace(t.easy, std::move(t));
    Transfer& a = it->second;
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_URL, url.c_str()));
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_HTTPHEADER, a.headers));
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_POSTFIELDS, a.request.c_str()));
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_WRITEFUNCTION, on_body));
    a.max_body = static_cast<size_t>(config.max_response_bytes);
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_WRITEDATA, &a));
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_HEADERFUNCTION, on_header));
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_HEADERDATA, &a.retry_after));
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_TIMEOUT_MS, static_cast<long>(config.timeout_s * 1000)));
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config.connect_timeout_s * 1000)));
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS)));
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_TCP_KEEPALIVE, 1L));
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_SSL_VERIFYPEER, 1L));  // never turned off
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_SSL_VERIFYHOST, 2L));
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_NOSIGNAL, 1L));
    CURL_CHECK(curl_easy_setopt(a.easy, CURLOPT_USERAGENT, "saediff"));
    CURLM_CHECK(curl_multi_add_handle(multi, a.easy));
  };

  auto backoff = [&](const Pair& pair, const std::string& retry_after) {
    double delay = config.retry_base_s * std::pow(2.0, pair.attempts - 1) * std::uniform_real_distribution<>(0.5, 1.5)(rng);
    const std::string value = trim_ascii(retry_after);  // "120" (seconds) or an HTTP-date
    if (!value.empty()) {
      char* end = nullptr;
      const double seconds = std::strtod(value.c_str(), &end);
      if (end != value.c_str() && *end == '\0') {
        delay = std::max(delay, seconds);
      } else if (const time_t when = curl_getdate(value.c_str(), nullptr); when > 0) {
        delay = std::max(delay, std::difftime(when, std::time(nullptr)));
      }
    }
    return Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(std::min(delay, 300.0) * 1000));
  };

  // Transfers still in flight (an error, or a stop signal) are dropped unrecorded; a resume requests them.
  const auto close_transfers = [&] {
    for (auto& [easy, t] : active) {
      curl_multi_remove_handle(multi, easy);
      curl_easy_cleanup(easy);
      curl_slist_free_all(t.headers);
    }
    active.clear();
    curl_multi_cleanup(multi);
  };
  const std::string csv_path = (std::filesystem::path(config.out) / "responses.csv").string();

  try {
    while ((!queue.empty() || !active.empty()) && stop.caught() == 0) {
      // Start every ready pair while there is room (and the rate limit allows).
      for (auto it = queue.begin(); it != queue.end() && active.size() < static_cast<size_t>(config.concurrency);) {
        const auto now = Clock::now();
        if (now < next_start_allowed) break;
        if (it->not_before <= now) {
          start(*it);
          next_start_allowed = now + start_spacing;
          it = queue.erase(it);
        } else {
          ++it;
        }
      }
      int running = 0;
      CURLM_CHECK(curl_multi_perform(multi, &running));
      int n_msg = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &n_msg)) {
        if (msg->msg != CURLMSG_DONE) continue;
        auto node = active.extract(msg->easy_handle);
        Transfer& t = node.mapped();
        long status = 0;
        curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
        const CURLcode code = msg->data.result;
        curl_multi_remove_handle(multi, t.easy);
        curl_easy_cleanup(t.easy);
        curl_slist_free_all(t.headers);
        const double latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - t.started).count();
        progress.request_done();
        // Before anything of it is parsed, stored or logged: an answer loses only the key, an error body any
        // Bearer value too.
        t.body = scrub_secrets(std::move(t.body), api_key, code != CURLE_OK || status != 200);

        std::string error;
        bool retryable = false;
        if (t.too_large) {
          // Not retried: the same prompt would run away again.
          error = cat("reply body larger than --max-response-bytes (", config.max_response_bytes,
                      " bytes); not stored");
          log_warn("collect: ", config.models[t.pair.model].set, "/", prompts[t.pair.prompt].id, ": ", error);
        } else if (code != CURLE_OK) {
          error = cat("network: ", curl_easy_strerror(code));
          retryable = true;
        } else if (status == 401) {
          // The key itself is refused: every other request would be too. Record it and stop at once.
          finish(t.pair, std::nullopt, cat("HTTP 401: ", excerpt(t.body, 300)), std::nullopt, nullptr, latency_ms);
          SAEDIFF_FAIL("the API refused the key (HTTP 401 from ", scrub_secrets(url, api_key), "): check ",
                       config.api_key_env,
                       config.api_key_file.empty() ? "" : " / --api-key-file", "; nothing more was requested");
        } else if (status != 200) {
          error = cat("HTTP ", status, ": ", excerpt(t.body, 300));
          retryable = status == 408 || status == 429 || status >= 500;
          // 400 (invalid request) and 403 (OpenRouter: the input was flagged by moderation) concern this pair
          // only: it fails at once, without retries, and the run goes on.
          if (status == 400 || status == 403)
            log_warn("collect: ", config.models[t.pair.model].set, "/", prompts[t.pair.prompt].id, ": not retried: ",
                     error);
        } else if (t.body.empty()) {
          error = "empty body (HTTP 200 with nothing in it)";
          retryable = true;
        } else {
          const nlohmann::json j = parse_json_lossy(t.body, repaired);
          if (j.is_discarded() || !j.is_object()) {
            error = "response is not JSON: " + scrub_secrets(excerpt(t.body, 200), api_key);
            retryable = true;
          } else if (j.contains("error")) {
            error = "API error: " + scrub_secrets(excerpt(j["error"].dump(), 300), api_key);
            retryable = true;
          } else {
            const auto* content = j.contains("choices") && j["choices"].is_array() && !j["choices"].empty() &&
                                          j["choices"][0].contains("message") &&
                                          j["choices"][0]["message"].contains("content")
                                      ? &j["choices"][0]["message"]["content"]
                                      : nullptr;
            if (content == nullptr || !content->is_string() || content->get<std::string>().empty()) {
              error = "empty response (no choices[0].message.content)";
              retryable = true;
            } else {
              const auto& choice = j["choices"][0];
              std::optional<std::string> reason;
              if (choice.contains("finish_reason") && choice["finish_reason"].is_string())
                reason = choice["finish_reason"].get<std::string>();
              finish(t.pair, content->get<std::string>(), std::nullopt, reason,
                     j.contains("usage") ? j["usage"] : nlohmann::json(nullptr), latency_ms);
              continue;
            }
          }
        }
        if (retryable && t.pair.attempts < config.max_attempts) {
          Pair again = t.pair;
          again.not_before = backoff(again, t.retry_after);
          log_debug("collect: ", config.models[again.model].set, "/", prompts[again.prompt].id, " attempt ",
                    again.attempts, ": ", error, "; retrying");
          queue.push_back(again);
          ++summary.n_retries;
          progress.retried();
        } else {
          finish(t.pair, std::nullopt, error, std::nullopt, nullptr, latency_ms);
        }
      }
      progress.update();
      // Wait for network activity, but not past the moment a queued pair may start: a finished transfer
      // leaves room that the next pass fills at once.
      const auto now = Clock::now();
      auto wake = now + std::chrono::milliseconds(50);
      if (active.size() < static_cast<size_t>(config.concurrency)) {
        for (const Pair& q : queue) wake = std::min(wake, std::max(q.not_before, next_start_allowed));
      }
      const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count();
      if (wait_ms > 0 && (!queue.empty() || !active.empty()))
        CURLM_CHECK(curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait_ms), nullptr));
    }
  } catch (...) {
    close_transfers();
    write_responses_csv(csv_path, prompts, config, records);
    throw;
  }
  const size_t n_dropped = active.size();  // stopped by a signal: these go unrecorded, a resume asks again
  close_transfers();
  summary.interrupted_by = stop.caught();
  progress.finish();
  write_responses_csv(csv_path, prompts, config, records);
  write_file_atomic((std::filesystem::path(config.out) / "collect_summary.json").string(),
                    summary_json(summary).dump(2) + "\n");
  if (repaired.total() > 0) log_warn("collect: response bodies: ", describe_repairs(repaired));
  if (summary.interrupted_by != 0) {
    log_warn("collect: stopped by signal ", summary.interrupted_by, " with ", n_dropped + queue.size(),
             " pairs not done; run the same command again to resume");
  }
  log_info("collect: ", summary.n_ok, " collected, ", summary.n_failed, " failed, ", summary.n_skipped,
           " already there, ", summary.n_retries, " retries; wrote ", jsonl);
  for (const auto& [set, u] : summary.usage) {
    log_info("collect: ", set, ": ", u.n_ok, " ok, ", u.n_failed, " failed, ", u.n_truncated,
             " truncated (finish_reason length); tokens ", u.prompt_tokens, " prompt + ", u.completion_tokens,
             " completion", u.reasoning_tokens > 0 ? cat(" (", u.reasoning_tokens, " reasoning)") : std::string(),
             u.has_cost ? cat("; cost ", u.cost) : std::string());
  }
  return summary;
}

}  // namespace saediff
