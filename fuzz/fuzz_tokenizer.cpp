// libFuzzer: the tokenizer and the UTF-8/JSON repair on arbitrary bytes, with the real Llama 3.1
// tokenizer.json. Properties checked on every input (a violation aborts, which libFuzzer reports):
//   - valid UTF-8: encode succeeds, decode(encode(x)) == x, and decode_pieces joins to decode;
//   - invalid UTF-8: encode throws saediff::Error (never crashes), and to_valid_utf8 makes it valid,
//     idempotently, after which the round trip holds;
//   - the chat template's content range lies inside the document;
//   - repair_json_text always yields valid UTF-8, and parsing it never crashes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.h"
#include "io/json_text.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

using namespace saediff;

namespace {

void require(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz_tokenizer: property violated: %s\n", what);
    std::abort();
  }
}

const Tokenizer& tokenizer() {
  static const Tokenizer tok = Tokenizer::from_file(SAEDIFF_TOKENIZER_JSON);
  return tok;
}

void round_trip(const Tokenizer& tok, std::string_view text) {
  const std::vector<int32_t> ids = tok.encode(text);
  const std::string back = tok.decode(ids);
  require(back == text, "decode(encode(x)) == x");
  std::string joined;
  for (const std::string& p : tok.decode_pieces(ids)) joined += p;
  require(joined == back, "decode_pieces joins to decode");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Tokenizer& tok = tokenizer();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (find_invalid_utf8(input) == std::string_view::npos) {
    round_trip(tok, input);
    const TemplatedDoc doc = tokenize_document(tok, input, ChatTemplate::llama3);
    require(doc.content_begin == 30 && doc.content_begin <= doc.content_end &&
                static_cast<size_t>(doc.content_end) < doc.ids.size(),
            "content range inside the templated document");
  } else {
    bool threw = false;
    try {
      tok.encode(input);
    } catch (const Error&) {
      threw = true;
    }
    require(threw, "encode refuses invalid UTF-8");
    int64_t n = 0;
    const std::string fixed = to_valid_utf8(input, &n);
    require(n > 0 && find_invalid_utf8(fixed) == std::string::npos, "to_valid_utf8 repairs");
    require(to_valid_utf8(fixed) == fixed, "to_valid_utf8 is idempotent");
    round_trip(tok, fixed);
  }
  JsonRepairCounts counts;
  const std::string repaired = repair_json_text(input, counts);
  require(find_invalid_utf8(repaired) == std::string::npos, "repair_json_text yields UTF-8");
  (void)parse_json_lossy(input, counts);
  return 0;
}
