// `kvtier plan fleet` end to end: the built binary with the built-in shapes and with a shapes
// file, the table, --json against hand-computed numbers, --set and --shapes, exit code 2 for
// every kind of bad input, and the worked example of docs/PLAN.md run as written.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "plan/fleet_test_shapes.h"
#include "support/child_process.h"
#include "support/test_support.h"

namespace kvtier::plan {
namespace {

using nlohmann::json;
using kvtier::testing::ProcessResult;
using kvtier::testing::run_kvtier;

class PlanFleetCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(shapes_) << testing::kTestShapes;
  }
  // `plan fleet` on the test shapes at 1 PB, 2:1, 8+2, with `extra` flags.
  ProcessResult run_test_shapes(std::vector<std::string> extra) {
    std::vector<std::string> args = {"plan", "fleet", "--shapes-file", shapes_, "--capacity",
                                     "1 PB", "--reduction", "2", "--protection", "8+2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_kvtier(args);
  }
  json shape_json(const json& doc, const std::string& name) {
    for (const json& s : doc["shapes"]) {
      if (s["name"] == name) return s;
    }
    ADD_FAILURE() << "no shape " << name;
    return json::object();
  }

  kvtier::testing::TempDir dir_;
  std::string shapes_ = dir_.file("shapes.toml");
};

TEST_F(PlanFleetCli, DefaultRunComparesEveryBuiltInShape) {
  ProcessResult r = run_kvtier({"plan", "fleet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("kvtier plan fleet: 1 EB (1.00 EB), reduction 1.00:1, protection 8+2", 0), 0u)
      << r.out;
  for (const char* shape : {"L96s_v4", "L32aos_v4", "L160ias_v5", "L160iaos_v5", "qlc_1u_61TB",
                            "qlc_1u_122TB", "blob_premium", "blob_hot", "blob_cool", "blob_cold",
                            "blob_archive"}) {
    EXPECT_NE(r.out.find("\n" + std::string(shape) + " "), std::string::npos) << shape << r.out;
  }
  EXPECT_NE(r.out.find("figures of these shapes are assumptions"), std::string::npos);
}

TEST_F(PlanFleetCli, JsonCarriesTheHandComputedNumbers) {
  ProcessResult r = run_test_shapes({"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc["inputs"]["capacity_bytes"].get<double>(), 1e15);
  EXPECT_EQ(doc["stored_bytes"].get<double>(), 5e14);
  const json vm = shape_json(doc, "vm_a");
  EXPECT_EQ(vm["units"].get<double>(), 32);
  EXPECT_EQ(vm["binding"], "capacity");
  EXPECT_EQ(vm["bottleneck"], "network");
  EXPECT_EQ(vm["usd_per_month"].get<double>(), 46720);
  EXPECT_TRUE(vm["racks"].is_null());
  EXPECT_EQ(vm["figures"]["price_per_hour"]["assumption"], true);
  EXPECT_EQ(vm["figures"]["network_bandwidth"]["text"], "80 Gbps");
  const json enc = shape_json(doc, "enc_a");
  EXPECT_EQ(enc["units"].get<double>(), 4);
  EXPECT_EQ(enc["racks"].get<double>(), 1);
  EXPECT_DOUBLE_EQ(enc["usd_per_month"].get<double>(), 2438);
  EXPECT_DOUBLE_EQ(enc["facility_power_kw"].get<double>(), 6);
  const json obj = shape_json(doc, "obj_a");
  EXPECT_EQ(obj["units"].get<double>(), 5);
  EXPECT_EQ(obj["bottleneck"], "request rate");
  EXPECT_TRUE(obj["raw_bytes"].is_null());
  EXPECT_DOUBLE_EQ(obj["full_read_seconds"].get<double>(), 25000);
  EXPECT_EQ(doc["sources"]["test"]["title"], "hand-made figures for the tests");
}

TEST_F(PlanFleetCli, BandwidthBindsWhenItNeedsMoreUnits) {
  ProcessResult r = run_test_shapes({"--json", "--bandwidth", "8 Tbps"});  // 1 TB/s
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json doc = json::parse(r.out);
  const json vm = shape_json(doc, "vm_a");
  EXPECT_EQ(vm["units"].get<double>(), 100);
  EXPECT_EQ(vm["units_for_capacity"].get<double>(), 32);
  EXPECT_EQ(vm["binding"], "bandwidth");
  EXPECT_EQ(shape_json(doc, "enc_a")["units"].get<double>(), 80);  // 1 TB/s / 12.5 GB/s
  EXPECT_EQ(shape_json(doc, "obj_a")["units"].get<double>(), 250);  // 1 TB/s / 4 GB/s

  r = run_test_shapes({"--bandwidth", "8 Tbps"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("required read bandwidth: 8 Tbps (1.00 TB/s)"), std::string::npos) << r.out;
  const std::size_t row = r.out.find("\nvm_a ");
  ASSERT_NE(row, std::string::npos) << r.out;
  const std::string line = r.out.substr(row + 1, r.out.find('\n', row + 1) - row - 1);
  EXPECT_NE(line.find("100 VMs  bandwidth"), std::string::npos) << line;
  EXPECT_NE(line.find("network"), std::string::npos) << line;
}

TEST_F(PlanFleetCli, SetOverridesAFigureAndShapesSelects) {
  ProcessResult r = run_test_shapes({"--json", "--set", "vm_a.price_per_hour=3", "--set",
                                     "common.hours_per_month=720", "--shapes", "vm_a"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json doc = json::parse(r.out);
  ASSERT_EQ(doc["shapes"].size(), 1u);
  const json vm = doc["shapes"][0];
  EXPECT_EQ(vm["usd_per_month"].get<double>(), 32 * 3 * 720.0);
  EXPECT_EQ(vm["figures"]["price_per_hour"]["overridden"], true);
  EXPECT_EQ(vm["figures"]["price_per_hour"]["source"], "command line");

  r = run_kvtier({"plan", "fleet", "--set", "L96s_v4.price_per_hour=9.5", "--shapes",
                  "L96s_v4,blob_hot"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--set L96s_v4.price_per_hour=9.5"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("qlc_1u_61TB"), std::string::npos) << r.out;
}

// Every bad input: exit code 2 and one line on stderr that says what is wrong.
void expect_usage_error(const ProcessResult& r, const std::string& says) {
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("kvtier plan fleet: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(PlanFleetCli, BadInputIsExitCodeTwo) {
  expect_usage_error(run_kvtier({"plan", "fleet", "--capacity", "-1 EB"}), "must not be negative");
  expect_usage_error(run_kvtier({"plan", "fleet", "--capacity", "1 XB"}), "unknown unit \"XB\"");
  expect_usage_error(run_kvtier({"plan", "fleet", "--capacity", "0"}), "more than 0");
  expect_usage_error(run_kvtier({"plan", "fleet", "--bandwidth", "2 TB"}), "--bandwidth");
  expect_usage_error(run_kvtier({"plan", "fleet", "--bandwidth", "-2 TB/s"}), "negative");
  expect_usage_error(run_kvtier({"plan", "fleet", "--reduction", "0.5"}), "--reduction");
  expect_usage_error(run_kvtier({"plan", "fleet", "--reduction", "2x"}), "--reduction");
  expect_usage_error(run_kvtier({"plan", "fleet", "--protection", "8-2"}), "bad protection");
  expect_usage_error(run_kvtier({"plan", "fleet", "--shapes", "L96s_v4,L1000"}),
                     "unknown shape \"L1000\"");
  expect_usage_error(run_kvtier({"plan", "fleet", "--set", "L96s_v4.price=1"}),
                     "has no field \"price\"");
  expect_usage_error(run_kvtier({"plan", "fleet", "--shapes-file", dir_.file("none.toml")}),
                     "cannot open");

  std::string text(testing::kTestShapes);
  const std::string line = "pue = { value = 1.5, source = \"test\", date = \"2026-12-02\" }\n";
  text.erase(text.find(line), line.size());
  std::ofstream(dir_.file("missing.toml")) << text;
  expect_usage_error(run_kvtier({"plan", "fleet", "--shapes-file", dir_.file("missing.toml")}),
                     "is missing the figure \"pue\"");
}

TEST_F(PlanFleetCli, UnwritableHtmlIsExitCodeThree) {
  ProcessResult r = run_test_shapes({"--html", dir_.file("no/such/dir/report.html")});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("cannot write"), std::string::npos) << r.err;
}

// The words of a shell command line: spaces separate, double quotes group.
std::vector<std::string> shell_words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool quoted = false, any = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
      any = true;
    } else if (c == ' ' && !quoted) {
      if (any) words.push_back(word);
      word.clear();
      any = false;
    } else {
      word += c;
      any = true;
    }
  }
  if (any) words.push_back(word);
  return words;
}

// The text of the first ``` block after `marker` in `doc` (the lines between the fences).
std::string block_after(const std::string& doc, const std::string& marker, std::size_t* from) {
  const std::size_t open = doc.find("```", doc.find(marker, *from));
  const std::size_t start = doc.find('\n', open) + 1;
  const std::size_t close = doc.find("\n```", start);
  if (open == std::string::npos || close == std::string::npos) return "";
  *from = close + 4;
  return doc.substr(start, close + 1 - start);
}

TEST_F(PlanFleetCli, DocsWorkedExampleIsWhatTheCommandPrints) {
  std::ifstream in(std::string(KVTIER_SOURCE_DIR) + "/docs/PLAN.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const std::string marker = "<!-- fleet-worked-example -->";
  ASSERT_NE(doc.find(marker), std::string::npos) << "docs/PLAN.md lacks " << marker;
  std::size_t at = 0;
  std::string command = block_after(doc, marker, &at);
  const std::string expected = block_after(doc, "", &at);
  ASSERT_FALSE(command.empty());
  ASSERT_FALSE(expected.empty());
  command.pop_back();  // the newline
  std::vector<std::string> words = shell_words(command);
  ASSERT_GE(words.size(), 3u);
  ASSERT_EQ(words[0], "kvtier");
  words.erase(words.begin());
  ProcessResult r = run_kvtier(words);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected);
}

}  // namespace
}  // namespace kvtier::plan
