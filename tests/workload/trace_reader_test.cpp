// The Mooncake JSONL trace reader: fields, replay order, bad lines named by number, and replay as
// a Workload (shared hash ids give shared keys).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "support/test_support.h"
#include "workload/trace_reader.h"

namespace kvtier::workload {
namespace {

TEST(TraceReader, ParsesAndOrdersByTimestamp) {
  const std::string text =
      "{\"timestamp\": 30, \"input_length\": 1024, \"output_length\": 10, \"hash_ids\": [1, 2]}\n"
      "\n"
      "{\"timestamp\": 10, \"input_length\": 1536, \"output_length\": 20, \"hash_ids\": [1, 2, 3]}\n"
      "{\"timestamp\": 30, \"input_length\": 512, \"output_length\": 5, \"hash_ids\": [9]}\n";
  Result<std::vector<TraceRequest>> t = parse_trace(text);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[0].timestamp_ms, 10u);
  EXPECT_EQ((*t)[0].line, 3u);
  EXPECT_EQ((*t)[0].input_length, 1536u);
  EXPECT_EQ((*t)[0].output_length, 20u);
  EXPECT_EQ((*t)[0].hash_ids, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ((*t)[1].line, 1u);  // ties keep file order
  EXPECT_EQ((*t)[2].line, 4u);
}

void expect_bad(const std::string& text, const std::string& line_and_reason) {
  Result<std::vector<TraceRequest>> t = parse_trace(text);
  ASSERT_FALSE(t.ok()) << text;
  EXPECT_NE(t.status().message().find(line_and_reason), std::string::npos) << t.status().message();
}

TEST(TraceReader, BadLinesAreRejectedWithTheirLineNumber) {
  const std::string good = "{\"timestamp\": 1, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [1]}\n";
  expect_bad(good + "{\"timestamp\": 2,\n", "trace line 2: not valid JSON");
  expect_bad(good + good + "[1, 2]\n", "trace line 3: not a JSON object");
  expect_bad(good + "{\"input_length\": 1, \"output_length\": 1, \"hash_ids\": []}\n",
             "trace line 2: missing \"timestamp\"");
  expect_bad("{\"timestamp\": -5, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": []}\n",
             "trace line 1: \"timestamp\" must be a non-negative integer");
  expect_bad("{\"timestamp\": 1, \"input_length\": \"9\", \"output_length\": 1, \"hash_ids\": []}\n",
             "trace line 1: \"input_length\" must be a non-negative integer");
  expect_bad(good + "{\"timestamp\": 1, \"input_length\": 1, \"output_length\": 1}\n",
             "trace line 2: missing \"hash_ids\"");
  expect_bad("{\"timestamp\": 1, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": 7}\n",
             "trace line 1: \"hash_ids\" must be a list");
  expect_bad("{\"timestamp\": 1, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [1, 2.5]}\n",
             "trace line 1: hash_ids[1] must be a non-negative integer");
}

TEST(TraceReader, FileErrorsNameTheFile) {
  testing::TempDir dir;
  std::string path = dir.path() + "/t.jsonl";
  std::ofstream(path) << "not json\n";
  Result<std::vector<TraceRequest>> t = read_trace(path);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find(path + ": trace line 1"), std::string::npos) << t.status().message();
  EXPECT_FALSE(read_trace(dir.path() + "/absent.jsonl").ok());
}

TEST(TraceReader, ReplaySharesKeysWhereHashIdsAreShared) {
  Result<std::vector<TraceRequest>> t = parse_trace(
      "{\"timestamp\": 0, \"input_length\": 32, \"output_length\": 1, \"hash_ids\": [5, 6]}\n"
      "{\"timestamp\": 7, \"input_length\": 48, \"output_length\": 1, \"hash_ids\": [5, 6, 8]}\n");
  ASSERT_TRUE(t.ok());
  Key ns = testing::test_key(42);
  std::unique_ptr<Workload> w = make_trace_workload(*t, ns, 2);
  WorkloadRequest a, b, c;
  ASSERT_TRUE(w->next(a));
  ASSERT_TRUE(w->next(b));
  EXPECT_EQ(a.new_from, 0u);
  EXPECT_EQ(b.new_from, 2u);
  ASSERT_EQ(b.chain.size(), 3u);
  EXPECT_EQ(b.chain[0], a.chain[0]);
  EXPECT_EQ(b.chain[1], a.chain[1]);
  EXPECT_EQ(b.chain[2], trace_block_key(ns, 8));
  EXPECT_EQ(b.prompt_tokens, 48u);
  ASSERT_TRUE(w->next(c));  // second pass: everything seen, clock continues
  EXPECT_EQ(c.new_from, c.chain.size());
  EXPECT_EQ(c.timestamp_ms, 8u);
  ASSERT_TRUE(w->next(c));
  EXPECT_FALSE(w->next(c));
}

}  // namespace
}  // namespace kvtier::workload
