// libFuzzer: the encode spool's record decoder on arbitrary bytes (a damaged OUT.parts file). Property: a record
// it accepts is self-consistent (pool range inside the ids, token rows and top-k rows match it, pooled arrays of
// one length) and encodes back to the same bytes; anything else throws saediff::Error.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "io/spool.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const saediff::spool::Record r = saediff::spool::decode_record(bytes, "fuzz.spool");
    const auto n_pooled = static_cast<size_t>(r.pool_end - r.pool_begin);
    const saediff::PooledDoc& d = r.doc;
    if (r.pool_begin < 0 || r.pool_end < r.pool_begin || static_cast<size_t>(r.pool_end) > r.ids.size() ||
        d.token_id.size() != n_pooled || d.token_end.size() != n_pooled || d.max.size() != d.feature.size() ||
        d.sum.size() != d.feature.size() || d.count.size() != d.feature.size() ||
        d.topk_value.size() != d.topk_feature.size()) {
      __builtin_trap();
    }
    if (saediff::spool::encode_record(r) != bytes) __builtin_trap();
  } catch (const saediff::Error&) {
  }
  return 0;
}
