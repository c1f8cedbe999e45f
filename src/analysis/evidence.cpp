#include "analysis/evidence.h"

#include <algorithm>
#include <cstdio>

#include "text/utf8.h"

namespace saediff {
namespace {

// Whether `s` ends on a complete UTF-8 character (a broken sequence counts as complete: it will be
// replaced, and waiting for more bytes would not fix it).
bool ends_on_char_boundary(const std::string& s) {
  size_t i = s.size();
  int continuation = 0;
  while (i > 0 && continuation < 4 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) {
    --i;
    ++continuation;
  }
  if (i == 0) return true;
  const auto lead = static_cast<unsigned char>(s[i - 1]);
  const int need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
  return continuation >= need;
}

}  // namespace

std::vector<EvidenceDoc> top_documents(const EncodedSet& set, int32_t feature, int k) {
  std::vector<EvidenceDoc> all;
  for (size_t r = 0; r + 1 < set.max.indptr.size(); ++r) {
    const auto b = set.max.indices.begin() + set.max.indptr[r];
    const auto e = set.max.indices.begin() + set.max.indptr[r + 1];
    const auto it = std::lower_bound(b, e, feature);
    if (it != e && *it == feature) {
      all.push_back({r, set.doc_ids[r], set.max.values[static_cast<size_t>(it - set.max.indices.begin())]});
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const EvidenceDoc& a, const EvidenceDoc& b) { return a.max > b.max; });
  if (all.size() > static_cast<size_t>(std::max(k, 0))) all.resize(static_cast<size_t>(std::max(k, 0)));
  return all;
}

std::vector<size_t> inactive_rows(const EncodedSet& set, int32_t feature) {
  std::vector<size_t> out;
  for (size_t r = 0; r + 1 < set.max.indptr.size(); ++r) {
    const auto b = set.max.indices.begin() + set.max.indptr[r];
    const auto e = set.max.indices.begin() + set.max.indptr[r + 1];
    if (!std::binary_search(b, e, feature)) out.push_back(r);
  }
  return out;
}

TokenWindow token_window(const EncodedSet& set, size_t row, int32_t feature, int64_t radius, int64_t centre_if_absent) {
  TokenWindow w;
  const TokenRows& t = set.tokens;
  if (t.empty() || set.texts.size() != set.doc_ids.size()) {  // no token rows: the text, unmarked
    if (set.texts.size() == set.doc_ids.size()) w.spans.push_back({to_valid_utf8(set.texts.row(row)), 0.0f});
    return w;
  }
  const int64_t first = t.indptr[row], last = t.indptr[row + 1];
  std::vector<float> value(static_cast<size_t>(last - first), 0.0f);
  int64_t peak_at = -1;
  int64_t n_exact = 0;
  if (const float* exact = set.evidence.find(static_cast<int64_t>(row), feature, n_exact); exact != nullptr) {
    w.exact = true;
    for (int64_t j = 0; j < std::min(n_exact, last - first); ++j) {
      value[static_cast<size_t>(j)] = exact[j];
      if (exact[j] > 0 && (peak_at < 0 || exact[j] > w.peak)) {
        w.peak = exact[j];
        peak_at = j;
      }
    }
  }
  for (int64_t j = first; j < last && !w.exact; ++j) {
    for (int64_t s = 0; s < t.k; ++s) {
      const size_t at = static_cast<size_t>(j * t.k + s);
      if (t.topk_feature[at] == feature) {
        value[static_cast<size_t>(j - first)] = t.topk_value[at];
        if (peak_at < 0 || t.topk_value[at] > w.peak) {
          w.peak = t.topk_value[at];
          peak_at = j - first;
        }
        break;
      }
    }
  }
  w.found = peak_at >= 0;
  const int64_t n = last - first;
  int64_t lo = 0, hi = n;
  if (radius >= 0 && n > 0) {
    const int64_t centre = w.found ? peak_at : std::clamp<int64_t>(centre_if_absent, 0, n - 1);
    lo = std::max<int64_t>(0, centre - radius);
    hi = std::min<int64_t>(n, lo + 2 * radius + 1);
    lo = std::max<int64_t>(0, std::min(lo, hi - 2 * radius - 1));  // near the end: keep the window's width
  }
  w.cut_before = lo > 0;
  w.cut_after = hi < n;
  const std::string_view text = set.texts.row(row);
  const auto start_of = [&](int64_t j) { return j == 0 ? int64_t{0} : t.end[static_cast<size_t>(first + j - 1)]; };
  // Start on a character boundary: skip continuation bytes a previous token began.
  int64_t begin = start_of(lo);
  while (begin < static_cast<int64_t>(text.size()) && (static_cast<unsigned char>(text[static_cast<size_t>(begin)]) & 0xC0) == 0x80) ++begin;
  std::string pending;
  float pending_value = 0.0f;
  for (int64_t j = lo; j < hi; ++j) {
    const int64_t b = std::max(begin, start_of(j)), e = t.end[static_cast<size_t>(first + j)];
    if (e > b) pending.append(text.substr(static_cast<size_t>(b), static_cast<size_t>(e - b)));
    pending_value = std::max(pending_value, value[static_cast<size_t>(j)]);
    if (!pending.empty() && (ends_on_char_boundary(pending) || j + 1 == hi)) {
      w.spans.push_back({to_valid_utf8(pending), pending_value});
      pending.clear();
      pending_value = 0.0f;
    }
  }
  return w;
}

std::string window_text(const TokenWindow& w, bool marked) {
  std::string out = w.cut_before ? "… " : "";
  for (const TextSpan& s : w.spans) {
    if (marked && s.value > 0) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.1f", s.value);
      out += "⟦" + s.text + "|" + buf + "⟧";
    } else {
      out += s.text;
    }
  }
  return out + (w.cut_after ? " …" : "");
}

}  // namespace saediff
