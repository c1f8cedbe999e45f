#include "io/hf_cache.h"

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
    if (fs::is_regular_file(p, ec)) {
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
      if (!fs::is_regular_file(p, ec)) continue;
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

}  // namespace saediff
