#include "app/options.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"

namespace saediff {

std::string bound_text(double x) {
  const double l = std::log2(std::fabs(x));
  if (std::fabs(x) >= 1 << 20 && l == std::floor(l)) return cat(x < 0 ? "-" : "", "2^", static_cast<int>(l));
  std::ostringstream out;
  out << std::setprecision(15) << x;
  return out.str();
}

namespace {

// A validator over the option's text as a number: `ok` says whether the value is allowed, `rule` how it is
// described ("at least 0").
CLI::Validator number_rule(std::function<bool(double)> ok, const std::string& rule) {
  return CLI::Validator(
      [ok = std::move(ok), rule](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v)) {
          return cat("'", text, "' is not a number (it must be ", rule, ")");
        }
        return ok(v) ? std::string() : cat("must be ", rule, ", got ", text);
      },
      rule);
}

}  // namespace

CLI::Validator at_least(double lo) { return number_rule([lo](double v) { return v >= lo; }, "at least " + bound_text(lo)); }
CLI::Validator greater_than(double lo) {
  return number_rule([lo](double v) { return v > lo; }, "greater than " + bound_text(lo));
}
CLI::Validator in_range(double lo, double hi) {
  return number_rule([lo, hi](double v) { return lo <= v && v <= hi; }, "from " + bound_text(lo) + " to " + bound_text(hi));
}

namespace {

// Options whose values are paths: relative paths in a config file resolve against the file's folder.
const std::set<std::string> kPathOptions = {"prompts", "out",     "responses", "sae",           "tokenizer",
                                            "encoded", "labels",  "model-dir", "demo-tokenizer", "demo-plant", "plant",
                                            "api-key-file", "llm-labels", "features"};

std::string option_key(std::string name) {
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

}  // namespace

void add_collect_options(CLI::App& app, CollectConfig& c) {
  app.add_option("--prompts", c.prompts, "Prompt CSV with columns id,category,prompt")->check(CLI::ExistingFile);
  app.add_option_function<std::vector<std::string>>(
         "--model",
         [&c](const std::vector<std::string>& specs) {
           c.models.clear();
           for (const std::string& s : specs) c.models.push_back(parse_model_spec(s));
         },
         "NAME=ID: a set name and the provider's model id; repeat for each model")
      ->take_all();
  app.add_option("--out", c.out, "Output folder: responses.jsonl (append-only, resumable) and responses.csv");
  add_client_options(app, c);
}

void add_client_options(CLI::App& app, CollectConfig& c) {
  app.add_option("--base-url", c.base_url, "OpenAI-compatible API root; POSTs to {base-url}/chat/completions");
  app.add_option("--concurrency", c.concurrency, "Requests in flight")->check(in_range(1, 1024));
  app.add_option("--max-tokens", c.max_tokens, "max_tokens per response")->check(greater_than(0));
  app.add_option("--temperature", c.temperature, "Sampling temperature")->check(in_range(0.0, 2.0));
  app.add_option("--max-attempts", c.max_attempts, "Attempts per pair and run (429, 5xx and timeouts retry)")
      ->check(in_range(1, 100));
  app.add_option("--timeout", c.timeout_s, "Seconds per request")->check(greater_than(0));
  app.add_option("--max-response-bytes", c.max_response_bytes,
                 "A reply body larger than this fails its pair, unstored (default 4 MiB)")
      ->check(in_range(1, 0x1p40));
  app.add_option("--api-key-env", c.api_key_env, "Environment variable that holds the API key");
  app.add_option("--api-key-file", c.api_key_file, "File whose first line is the API key (instead of the variable)");
  app.add_flag("--no-key", c.no_key, "Send no API key: only with a loopback --base-url (a local test server)");
  app.add_option("--connect-timeout", c.connect_timeout_s, "Seconds per connection attempt")->check(greater_than(0));
  app.add_option("--rpm", c.rpm, "Requests started per minute, at most (0: no limit)")->check(at_least(0));
  app.add_option("--reasoning", c.reasoning,
                 "JSON object sent as \"reasoning\" (OpenRouter), e.g. {\"max_tokens\": 1024, \"exclude\": true}");
  app.add_option("--extra-body", c.extra_body, "JSON object merged into every request body");
  app.add_option("--progress-interval", c.progress_interval_s, "Seconds between progress lines off a terminal")
      ->check(greater_than(0));
  app.add_option("--retry-base", c.retry_base_s, "Seconds of the first retry delay (doubles per attempt)")
      ->check(at_least(0));
}

void add_encode_options(CLI::App& app, EncodeConfig& c) {
  app.add_option("--responses", c.responses, "responses.jsonl from collect (failed pairs are skipped)");
  app.add_option("--model", c.model,
                 "HF Llama folder (config.json, model*.safetensors, tokenizer.json), or a repo id such as "
                 "meta-llama/Llama-3.1-8B-Instruct found in the local HF cache");
  app.add_option("--sae", c.sae,
                 "SAE state dict (.pth or .safetensors), or owner/name[/file] in the local HF cache, e.g. "
                 "Goodfire/Llama-3.1-8B-Instruct-SAE-l19");
  app.add_option("--layer", c.layer, "Decoder layer whose output is encoded (0-indexed; HF hidden_states[L+1])")
      ->check(at_least(0));
  app.add_option("--out", c.out, "Output HDF5 file (written with parallel HDF5)");
  app.add_option("--pool", c.pool, "Tokens pooled per document: content (the response) or all (the reference)")
      ->check(CLI::IsMember({"content", "all"}));
  app.add_option("--dtype", c.dtype, "Reader and SAE dtype")->check(CLI::IsMember({"float32", "bfloat16"}));
  app.add_option("--device", c.device, "cpu or cuda (each rank takes GPU local_rank % n_gpu)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_flag("--share-gpus", c.share_gpus,
               "cuda: allow more ranks on a node than it has visible GPUs (ranks then share GPUs; refused otherwise)");
  app.add_option("--tokenizer", c.tokenizer, "tokenizer.json (default: MODEL/tokenizer.json)");
  app.add_option("--threshold", c.threshold, "active_docs counts documents whose pooled max exceeds this")
      ->check(at_least(0));
  app.add_option("--threads", c.threads, "libtorch threads per rank (0: cores per node / ranks per node)")
      ->check(at_least(0));
  app.add_option("--reduce", c.reduce, "Count reduction: auto (NCCL on GPUs), mpi or nccl")
      ->check(CLI::IsMember({"auto", "mpi", "nccl"}));
  app.add_option("--max-doc-tokens", c.max_doc_tokens,
                 "Tokens read per document, at most (0: the model's max_position_embeddings); a longer document is "
                 "cut to its first N tokens, counted and listed in the report")
      ->check(number_rule([](double v) { return v == 0 || v >= 64; }, "0 (the model's limit) or at least 64"));
  app.add_option("--token-topk", c.token_topk,
                 "Strongest features stored per pooled token for the report's token-level evidence (0: none)")
      ->check(in_range(0, 1024));
  app.add_option("--evidence-features", c.evidence_features,
                 "Top-diff features per pair of sets and direction whose exact per-token activations are stored")
      ->check(in_range(0, 100000));
  app.add_option("--evidence-docs", c.evidence_docs, "... in their this many strongest documents per set (0: none)")
      ->check(in_range(0, 100000));
  app.add_option("--chunk-tokens", c.chunk_tokens,
                 "Work unit rank 0 hands out: documents of similar length, up to about this many tokens")
      ->check(in_range(1, 0x1p40));
  app.add_option("--batch-tokens", c.batch_tokens,
                 "Documents read by one packed forward pass (no padding), up to about this many tokens (1: one "
                 "document at a time)")
      ->check(in_range(1, 0x1p40));
  app.add_option("--progress-seconds", c.progress_seconds, "Rank 0 logs progress, rate and ETA this often (0: never)")
      ->check(at_least(0));
  app.add_flag("--keep-spool", c.keep_spool,
               "Keep OUT.parts (each document's encoded record) after encoded.h5 is written");
}

void add_label_options(CLI::App& app, LabelConfig& c) {
  app.add_option("--encoded", c.encoded, "encoded.h5 from encode (with text and token rows)")->check(CLI::ExistingFile);
  app.add_option("--features", c.features, "features.csv from diff: its first rows are the features labelled")
      ->check(CLI::ExistingFile);
  app.add_option("--out", c.out, "Folder for llm_labels.json and the (resumable) requests");
  app.add_option("--labeler", c.labeler, "Provider id of the labelling model, e.g. openai/gpt-4o-mini");
  app.add_option("--top", c.top, "Features to label (the first rows of features.csv)")->check(greater_than(0));
  app.add_option("--positives", c.positives, "Top-activating examples shown per feature")->check(in_range(1, 100));
  app.add_option("--negatives", c.negatives, "Never-active examples shown per feature")->check(in_range(1, 100));
  app.add_option("--held-out", c.held_out, "Positives and negatives each kept back for --score")->check(in_range(0, 100));
  app.add_option("--window", c.window, "Tokens either side of the strongest token")->check(in_range(1, 4096));
  app.add_option("--seed", c.seed, "Seed of the example sampling");
  app.add_flag("--score", c.score, "Score each label: can the LLM pick held-out positives from negatives by it?");
  c.client.temperature = 0.0;
  c.client.max_tokens = 512;
  add_client_options(app, c.client);
}

void add_diff_options(CLI::App& app, DiffConfig& c) {
  app.add_option("--encoded", c.encoded, "encoded.h5 from encode");  // run_diff says clearly if it is absent
  app.add_option("--baseline", c.baseline, "Baseline set name");
  app.add_option("--candidate", c.candidate, "Candidate set name");
  app.add_option("--threshold", c.threshold, "A document has a feature when its pooled max exceeds this (0: reference)")
      ->check(at_least(0));
  app.add_option("--out", c.out, "Report folder");
  app.add_option("--top-k", c.top_k, "Features per direction in report.md")->check(greater_than(0));
  app.add_option("--top-docs", c.top_docs, "Evidence documents per feature and set")->check(at_least(0));
  app.add_option("--labels", c.labels,
                 "Feature labels: a JSON {feature_id: label} or CSV feature,label file; hf: Goodfire's labels "
                 "(nickjiang/feature_labels) from the HF cache; none: no labels");
  app.add_option("--llm-labels", c.llm_labels, "llm_labels.json from `saediff label`, shown beside the labels")
      ->check(CLI::ExistingFile);
  app.add_option("--length-bins", c.length_bins, "Length strata for the length-controlled diff")
      ->check(in_range(1, 100));
  app.add_option("--cluster-npmi", c.cluster_npmi, "NPMI (average linkage) at which top features join a cluster")
      ->check(in_range(-1.0, 1.0));
  app.add_option("--alpha", c.alpha, "q-value below which a difference is called significant")
      ->check(in_range(0.0, 1.0));
  app.add_option("--findings", c.findings, "findings.json from `saediff interpret`: the report leads with them")
      ->check(CLI::ExistingFile);
}

void add_interpret_options(CLI::App& app, InterpretConfig& c) {
  app.add_option("--encoded", c.encoded, "encoded.h5 from encode (with text and token rows)");
  app.add_option("--report", c.report, "The diff's report folder (summary.json, features.csv)");
  app.add_option("--responses", c.responses, "responses.jsonl the encoded file was made from");
  app.add_option("--out", c.out, "Folder for findings.json and the (resumable) requests");
  app.add_option("--proposer", c.proposer, "Provider id of the model that proposes hypotheses");
  app.add_option("--judge", c.judge, "Provider id of the model that judges held-out answer pairs");
  app.add_option("--hypotheses", c.hypotheses, "Hypotheses per source (SAE features, raw pairs), at most")
      ->check(in_range(1, 100));
  app.add_option("--held-out-fraction", c.held_out_fraction, "Share of each category's prompts held out for verification")
      ->check(in_range(0.01, 0.99));
  app.add_option("--seed", c.seed, "Seed of the discovery / held-out split");
  app.add_option("--alpha", c.alpha, "q below which a hypothesis is verified")->check(in_range(1e-9, 0.5));
  app.add_option("--features", c.features, "Top discovery features shown to the proposer")->check(in_range(1, 1000));
  app.add_option("--excerpts", c.excerpts, "Marked excerpts per feature")->check(in_range(1, 20));
  app.add_option("--window", c.window, "Tokens either side of an excerpt's strongest token")->check(in_range(1, 4096));
  app.add_option("--baseline-pairs", c.baseline_pairs, "Raw discovery answer pairs shown for the baseline hypotheses")
      ->check(in_range(1, 1000));
  app.add_option("--answer-bytes", c.answer_bytes, "An answer shown to the judge is cut to this many bytes")
      ->check(in_range(100, 1 << 20));
  app.add_flag("--no-baseline", c.no_baseline, "Skip the LLM-only baseline (hypotheses from raw pairs)");
  app.add_flag("--use-llm-labels", c.use_llm_labels,
               "Show the proposer features.csv's llm_label too (written by `label` from documents of both parts)");
  c.client.temperature = 0.0;
  c.client.max_tokens = 1024;
  add_client_options(app, c.client);
}

namespace {

// The configurable option of `app` that `key` (dashes or underscores) names, or null.
const CLI::Option* config_option(const CLI::App& app, const std::string& key) {
  const CLI::Option* opt = app.get_option_no_throw("--" + option_key(key));
  return opt != nullptr && opt->get_configurable() ? opt : nullptr;
}

// The subcommand `name` of `root`, or null (CLI11 2.3 has no get_subcommand_no_throw).
const CLI::App* subcommand(const CLI::App& root, const std::string& name) {
  const auto subs = root.get_subcommands([&](const CLI::App* a) { return a->get_name() == name; });
  return subs.empty() ? nullptr : subs.front();
}

std::string section_names(const CLI::App& root) {
  std::vector<std::string> names;
  for (const CLI::App* sub : root.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() != "run" && sub->get_option_no_throw("--config") != nullptr) names.push_back(sub->get_name());
  }
  std::sort(names.begin(), names.end());
  return CLI::detail::join(names, ", ");
}

}  // namespace

void check_config_file(const CLI::App& root, const ConfigFile& file, const std::string& reader) {
  const CLI::App* run = subcommand(root, "run");
  SAEDIFF_CHECK(run != nullptr, "internal: no run subcommand");
  for (const ConfigSection& s : file.sections) {
    const CLI::App* sub = subcommand(root, s.name);
    SAEDIFF_CHECK(sub != nullptr && s.name != "run" && sub->get_option_no_throw("--config") != nullptr, file.path, ":",
                  s.line, ": unknown section [", s.name, "] (the sections are ", section_names(root), ")");
  }
  std::map<std::pair<std::string, const CLI::Option*>, const ConfigEntry*> seen;
  for (const ConfigEntry& e : file.entries) {
    const CLI::App* owner = e.section.empty() ? run : subcommand(root, e.section);
    const CLI::Option* opt = config_option(*owner, e.key);
    if (opt == nullptr && e.section.empty()) {
      const CLI::App* sub = subcommand(root, reader);
      const bool reader_key = reader != "run" && sub != nullptr && config_option(*sub, e.key) != nullptr;
      SAEDIFF_FAIL(file.path, ":", e.line, ": unknown top-level key '", e.key, "': top-level keys are `saediff run`'s",
                   reader_key ? "; " + reader + "'s '" + e.key + "' goes under [" + reader + "]" : std::string());
    }
    SAEDIFF_CHECK(opt != nullptr, file.path, ":", e.line, ": unknown key '", e.key, "' in [", e.section, "]: ",
                  e.section, " has no --", option_key(e.key), " (saediff ", e.section, " --help lists its options)");
    const auto [it, fresh] = seen.emplace(std::make_pair(e.section, opt), &e);
    SAEDIFF_CHECK(fresh, file.path, ":", e.line, ": '", e.key, "' sets --", option_key(e.key), " again (as '",
                  it->second->key, "' on line ", it->second->line, ")");
  }
  if (reader == "run" || file.has_section(reader)) return;
  std::string has;
  for (const ConfigSection& s : file.sections) has += (has.empty() ? " (it has [" : ", [") + s.name + "]";
  SAEDIFF_FAIL(file.path, " has no [", reader, "] section, so nothing in it applies to `saediff ", reader, "`",
               has.empty() ? std::string(" (its keys are at the top level, which is `saediff run`'s)") : has + ")");
}

void apply_config(CLI::App& app, const ConfigFile& file, const std::string& section) {
  const std::filesystem::path base = std::filesystem::absolute(file.path).parent_path();
  for (const ConfigEntry& e : file.entries) {
    if (e.section != section) continue;
    const std::string key = option_key(e.key);
    CLI::Option* opt = app.get_option_no_throw("--" + key);
    SAEDIFF_CHECK(opt != nullptr && opt->get_configurable(), file.path, ":", e.line, ": unknown key '", e.key, "'",
                  section.empty() ? std::string() : " in [" + section + "]");
    if (opt->count() > 0) continue;  // the command line wins
    std::vector<std::string> inputs = e.values;
    if (kPathOptions.count(key) || (key == "model" && section == "encode")) {
      for (std::string& v : inputs) {
        if (key == "labels" && (v == "hf" || v == "none")) continue;  // keywords, not paths
        // --model/--sae may be repo ids (resolved in the HF cache): kept as given unless the path exists.
        if ((key == "model" || key == "sae") && !std::filesystem::exists(base / v)) continue;
        if (!v.empty() && std::filesystem::path(v).is_relative()) v = (base / v).lexically_normal().string();
      }
    }
    try {
      opt->add_result(inputs);
      opt->run_callback();
    } catch (const CLI::Error& err) {
      SAEDIFF_FAIL(file.path, ":", e.line, ": bad value for '", e.key, "'", section.empty() ? "" : " in [" + section + "]",
                   ": ", err.what());
    }
  }
}

std::string resolved_toml(const CLI::App& app, const std::string& section) {
  std::string body = app.config_to_str(/*default_also=*/true, /*write_description=*/false);
  return section.empty() ? body : "[" + section + "]\n" + body;
}

void require_options(const CLI::App& app, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    const CLI::Option* opt = app.get_option_no_throw("--" + name);
    SAEDIFF_CHECK(opt != nullptr && !opt->as<std::string>().empty(), app.get_name(), " needs --", name,
                  " (on the command line or as '", name, "' in the config file)");
  }
}

}  // namespace saediff
