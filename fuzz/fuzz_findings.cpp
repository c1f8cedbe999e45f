// libFuzzer: findings.json (`saediff interpret` writes it, `diff --findings` reads it, a user may edit it).
// Properties: a file reads or throws saediff::Error, nothing else; what reads is written back and reads again to
// the same hypotheses.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "analysis/findings.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/saediff_fuzz_findings_" + std::to_string(getpid());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    const saediff::Findings a = saediff::read_findings(path);
    saediff::write_findings(path, a);
    const saediff::Findings b = saediff::read_findings(path);
    if (b.hypotheses.size() != a.hypotheses.size()) __builtin_trap();
    for (size_t i = 0; i < a.hypotheses.size(); ++i) {
      if (a.hypotheses[i].text != b.hypotheses[i].text || a.hypotheses[i].outcomes != b.hypotheses[i].outcomes ||
          a.hypotheses[i].stats.wins_candidate != b.hypotheses[i].stats.wins_candidate)
        __builtin_trap();
    }
  } catch (const saediff::Error&) {
  }
  return 0;
}
