#include "text/added_tokens.h"

#include <algorithm>

namespace saediff {

void AddedTokenMatcher::add(const std::string& content, int32_t id) {
  const auto first = static_cast<unsigned char>(content[0]);
  auto& bucket = by_first_[first];
  for (auto& [text, existing] : bucket) {
    if (text == content) {  // listed twice: the later id wins, as in HF's added vocabulary map
      existing = id;
      return;
    }
  }
  bucket.emplace_back(content, id);
  std::stable_sort(bucket.begin(), bucket.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  starts_[first] = true;
  ++n_token_;
}

bool AddedTokenMatcher::find(std::string_view text, size_t from, Match& match) const {
  if (n_token_ == 0) return false;
  for (size_t p = from; p < text.size(); ++p) {
    const auto b = static_cast<unsigned char>(text[p]);
    if (!starts_[b]) continue;
    for (const auto& [content, id] : by_first_[b]) {
      if (text.compare(p, content.size(), content) == 0) {
        match = {p, content.size(), id};
        return true;
      }
    }
  }
  return false;
}

}  // namespace saediff
