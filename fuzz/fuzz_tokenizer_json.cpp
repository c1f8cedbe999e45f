// libFuzzer: loading tokenizer.json. Any input must load or throw saediff::Error with a message: never
// crash, hang or throw anything else. What loads must then encode and decode a fixed text safely.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "text/tokenizer.h"

using namespace saediff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  try {
    const Tokenizer tok = Tokenizer::from_json_text(json, "fuzz.json");
    const std::vector<int32_t> ids = tok.encode("Hello, world! 'll  \n\n 123456 日本語 <|eot_id|> ");
    (void)tok.decode(ids);
    (void)tok.decode_pieces(ids);
  } catch (const Error&) {
  }
  return 0;
}
