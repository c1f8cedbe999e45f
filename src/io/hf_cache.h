#pragma once
// Files in the local Hugging Face hub cache, found the way huggingface_hub lays them out:
//   <cache>/<type>s--<owner>--<name>/snapshots/<revision>/<path>, with refs/main naming the revision.
// <cache> is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub. Nothing is downloaded.
#include <string>
#include <vector>

namespace saediff {

std::string hf_hub_cache_dir();

struct HfCacheLookup {
  std::string path;                   // the file, or empty when not found
  std::vector<std::string> searched;  // where it was looked for (for the error message)
};

// `repo` is "owner/name"; `type` is "model", "dataset" or "space"; `file` a path in the repo ("." for the
// snapshot folder itself). Prefers the revision refs/main names, then any snapshot holding it (the most
// recently modified).
HfCacheLookup find_in_hf_cache(const std::string& repo, const std::string& file, const std::string& type = "model");

// `spec` when it is an existing folder; else, for a repo id "owner/name", the cached snapshot folder that
// holds config.json. Throws, listing where it looked, when neither.
std::string resolve_model_dir(const std::string& spec);

// `spec` when it is an existing file; else, for "owner/name/file", that file of the cached repo, or for
// "owner/name", the repo's only .pth/.pt/.safetensors file. Throws, listing where it looked, when neither.
std::string resolve_checkpoint_file(const std::string& spec);

}  // namespace saediff
