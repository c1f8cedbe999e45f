#include "io/hf_cache.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace saediff {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

}  // namespace

std::string hf_hub_cache_dir() {
  if (const std::string v = env("HF_HUB_CACHE"); !v.empty()) return v;
  if (const std::string v = env("HF_HOME"); !v.empty()) return (std::filesystem::path(v) / "hub").string();
  if (const std::string v = env("XDG_CACHE_HOME"); !v.empty()) return (std::filesystem::path(v) / "huggingface" / "hub").string();
  return (std::filesystem::path(env("HOME")) / ".cache" / "huggingface" / "hub").string();
}

HfCacheLookup find_in_hf_cache(const std::string& repo, const std::string& file, const std::string& type) {
  namespace fs = std::filesystem;
  const auto slash = repo.find('/');
  SAEDIFF_CHECK(slash != std::string::npos && slash > 0 && slash + 1 < repo.size() && repo.find('/', slash + 1) == std::string::npos,
                "'", repo, "' is not a Hugging Face repo id (owner/name)");
  const fs::path dir = fs::path(hf_hub_cache_dir()) / (type + "s--" + repo.substr(0, slash) + "--" + repo.substr(slash + 1));
  HfCacheLookup out;
  std::error_code ec;
  std::string main_rev;
  if (std::ifstream ref(dir / "refs" / "main"); ref) std::getline(ref, main_rev);
  if (!main_rev.empty()) {
    const fs::path p = dir / "snapshots" / main_rev / file;
    out.searched.push_back(p.string());
    if (fs::exists(p, ec)) {
      out.path = p.string();
      return out;
    }
  }
  fs::file_time_type newest{};
  if (fs::is_directory(dir / "snapshots", ec)) {
    for (const fs::directory_entry& snap : fs::directory_iterator(dir / "snapshots", ec)) {
      const fs::path p = snap.path() / file;
      if (snap.path().filename() == main_rev) continue;
      out.searched.push_back(p.string());
      if (!fs::exists(p, ec)) continue;
      const auto t = fs::last_write_time(p, ec);
      if (out.path.empty() || t > newest) {
        out.path = p.string();
        newest = t;
      }
    }
  } else {
    out.searched.push_back((dir / "snapshots").string() + " (absent)");
  }
  return out;
}

namespace {

bool looks_like_repo(const std::string& spec, size_t parts) {
  if (spec.empty() || spec.front() == '/' || spec.front() == '.' || spec.find("..") != std::string::npos) return false;
  return static_cast<size_t>(std::count(spec.begin(), spec.end(), '/')) == parts - 1;
}

std::string searched_text(const HfCacheLookup& l) {
  std::string out;
  for (const std::string& s : l.searched) out += "\n  " + s;
  return out;
}

}  // namespace

std::string resolve_model_dir(const std::string& spec) {
  std::error_code ec;
  if (std::filesystem::is_directory(spec, ec)) return spec;
  SAEDIFF_CHECK(looks_like_repo(spec, 2), "model folder '", spec, "' does not exist (nor is it a repo id owner/name)");
  const HfCacheLookup found = find_in_hf_cache(spec, "config.json");
  SAEDIFF_CHECK(!found.path.empty(), "model '", spec, "' is neither a folder nor in the Hugging Face cache; searched:",
                searched_text(found), "\nDownload it where there is network (huggingface-cli download ", spec,
                ") or pass the folder");
  return std::filesystem::path(found.path).parent_path().string();
}

std::string resolve_checkpoint_file(const std::string& spec) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(spec, ec)) return spec;
  if (looks_like_repo(spec, 3)) {
    const size_t cut = spec.rfind('/');
    const HfCacheLookup found = find_in_hf_cache(spec.substr(0, cut), spec.substr(cut + 1));
    SAEDIFF_CHECK(!found.path.empty(), "checkpoint '", spec, "' is neither a file nor in the Hugging Face cache; searched:",
                  searched_text(found));
    return found.path;
  }
  SAEDIFF_CHECK(looks_like_repo(spec, 2), "checkpoint file '", spec, "' does not exist (nor is it owner/name[/file])");
  // The repo's only checkpoint file, in the snapshot refs/main names (or the newest).
  const HfCacheLookup config = find_in_hf_cache(spec, ".");
  std::vector<std::string> found;
  if (!config.path.empty()) {
    for (const auto& e : std::filesystem::directory_iterator(config.path, ec)) {
      const std::string ext = e.path().extension().string();
      if (ext == ".pth" || ext == ".pt" || ext == ".safetensors") found.push_back(e.path().string());
    }
  }
  SAEDIFF_CHECK(found.size() == 1, "checkpoint '", spec, "': expected exactly one .pth/.pt/.safetensors file in its cached "
                "snapshot, found ", found.size(), "; searched:", searched_text(config), "\nName the file: ", spec, "/FILE");
  return found.front();
}

}  // namespace saediff
