// Responses JSONL reading: records, torn tails, latest outcome per pair.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/responses.h"

namespace saediff {
namespace {

std::string write_temp(const std::string& name, const std::string& data) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path, std::ios::binary) << data;
  return path.string();
}

TEST(Responses, ReadsRecordsAndRepairsTornTail) {
  const std::string ok =
      R"({"prompt_id":"p1","set":"a","category":"c","prompt":"q","model":"m","response":"hi","error":null,"attempts":1})"
      "\n";
  const std::string failed =
      R"({"prompt_id":"p2","set":"a","response":null,"error":"HTTP 500","attempts":4})"
      "\n";
  const std::string path = write_temp("saediff_resp_torn.jsonl", ok + failed + R"({"prompt_id":"p3","se)");
  const ReadResponsesResult r = read_responses(path);
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_TRUE(r.torn_tail);
  EXPECT_EQ(r.valid_bytes, ok.size() + failed.size());
  EXPECT_TRUE(r.records[0].ok());
  EXPECT_EQ(*r.records[0].response, "hi");
  EXPECT_FALSE(r.records[1].ok());
  EXPECT_EQ(*r.records[1].error, "HTTP 500");
}

TEST(Responses, BadLineInTheMiddleIsAnErrorWithItsLineNumber) {
  const std::string path = write_temp("saediff_resp_bad.jsonl", "{\"prompt_id\":\"p1\",\"set\":\"a\",\"response\":\"x\"}\n"
                                                                 "not json\n"
                                                                 "{\"prompt_id\":\"p2\",\"set\":\"a\",\"response\":\"y\"}\n");
  try {
    read_responses(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(":2: not valid JSON"), std::string::npos) << e.what();
  }
}

TEST(Responses, LatestOutcomePrefersSuccess) {
  ResponseRecord fail;
  fail.prompt_id = "p1";
  fail.set = "a";
  fail.error = "timeout";
  ResponseRecord ok = fail;
  ok.error.reset();
  ok.response = "answer";
  ResponseRecord other = fail;
  other.set = "b";
  const auto out = latest_outcomes({fail, ok, fail, other});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].ok());
  EXPECT_EQ(*out[0].response, "answer");
  EXPECT_EQ(out[1].set, "b");
  EXPECT_FALSE(out[1].ok());
}

TEST(Responses, JsonRoundTrip) {
  ResponseRecord r;
  r.prompt_id = "7";
  r.set = "gemini-2.5";
  r.response = "multi\nline \"quoted\" ✓";
  r.usage = {{"prompt_tokens", 3}};
  const ResponseRecord back = ResponseRecord::from_json(nlohmann::json::parse(r.to_json().dump()));
  EXPECT_EQ(back.response, r.response);
  EXPECT_EQ(back.usage, r.usage);
  EXPECT_FALSE(back.error.has_value());
}

}  // namespace
}  // namespace saediff
