// scrub_secrets: what the collector stores or logs of a server's reply never holds the request's key, nor (in
// error bodies) any Bearer value, whatever surrounds it.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "collect/collector.h"

namespace saediff {
namespace {

const std::string kKey = "sk-or-v1-0123456789abcdef";

TEST(ScrubSecrets, KeyAndBearerValuesAreRedacted) {
  EXPECT_EQ(scrub_secrets("bad key " + kKey + "!", kKey), "bad key [redacted]!");
  EXPECT_EQ(scrub_secrets(kKey + kKey, kKey), "[redacted][redacted]");
  EXPECT_EQ(scrub_secrets("{\"auth\": \"Bearer " + kKey + "\"}", kKey), "{\"auth\": \"Bearer [redacted]\"}");
  // Another token after Bearer, any case, tabs or several spaces: still redacted in an error body.
  EXPECT_EQ(scrub_secrets("authorization: bEaReR \t abc.DEF-123/+=x; next", kKey),
            "authorization: bEaReR \t [redacted]; next");
  EXPECT_EQ(scrub_secrets("Bearer a Bearer b", kKey), "Bearer [redacted] Bearer [redacted]");
  // "bearer" with no value after it, or glued to a word, stays.
  EXPECT_EQ(scrub_secrets("a bearer", kKey), "a bearer");
  EXPECT_EQ(scrub_secrets("bearer: none", kKey), "bearer: none");
  EXPECT_EQ(scrub_secrets("Bearerless", kKey), "Bearerless");
  // An answer (bearer_values = false) loses the key only.
  EXPECT_EQ(scrub_secrets("the bearer of news, " + kKey, kKey, false), "the bearer of news, [redacted]");
  // A key too short to search for safely is left alone, and an empty key matches nothing.
  EXPECT_EQ(scrub_secrets("a key abc", "abc"), "a key abc");
  EXPECT_EQ(scrub_secrets("text", ""), "text");
}

// Random bodies with the key spliced in at random places (inside words, at the ends, overlapping runs of its
// own characters): the key never survives, and scrubbing twice changes nothing more.
TEST(ScrubSecrets, RandomBodiesNeverKeepTheKey) {
  std::mt19937 rng(20261207);
  const std::string alphabet = "ab -_\"{}:sk-or-v1-0123456789Bearer \t\n";
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 200);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    const int copies = static_cast<int>(rng() % 4);
    for (int c = 0; c < copies; ++c) text.insert(text.empty() ? 0 : rng() % (text.size() + 1), kKey);
    for (const bool bearer : {true, false}) {
      const std::string once = scrub_secrets(text, kKey, bearer);
      EXPECT_EQ(once.find(kKey), std::string::npos) << text;
      EXPECT_EQ(scrub_secrets(once, kKey, bearer), once) << text;
      if (copies > 0) {
        EXPECT_NE(once.find("[redacted]"), std::string::npos);
      }
    }
  }
}

}  // namespace
}  // namespace saediff
