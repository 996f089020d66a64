// The HTML report of `kvtier plan fleet` in a real browser: Debian's chromium, headless, started
// by the test with a private profile and a bounded run time. The DOM it renders carries every
// number of the --json output of the same run (compared value by value and as formatted text),
// and a screenshot of the page is a real, non-trivial PNG. The page fetches nothing: no scripts,
// no external links.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "plan/fleet_format.h"
#include "support/child_process.h"
#include "plan/units.h"
#include "support/test_support.h"

namespace kvtier::plan {
namespace {

using nlohmann::json;
using kvtier::testing::ProcessResult;

constexpr const char* kChromium = "/usr/bin/chromium";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class PlanFleetHtml : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kChromium))
        << kChromium << " is missing: scripts/install-deps.sh installs Debian's chromium";
    // 50 TB/s makes some shapes bandwidth-bound; the override shows up as such in the page.
    ProcessResult r = kvtier::testing::run_kvtier({"plan", "fleet", "--bandwidth", "50 TB/s", "--set",
                                           "L96s_v4.price_per_hour=9.5", "--json", "--html",
                                           html_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    doc_ = json::parse(r.out);
  }

  // Chromium with `mode_flags`, the page, a private profile and nothing fetched in the background.
  ProcessResult chromium(std::vector<std::string> mode_flags) {
    std::vector<std::string> argv = {kChromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                                     "--user-data-dir=" + dir_.file("profile"),
                                     "--no-first-run", "--disable-extensions",
                                     "--disable-background-networking", "--disable-sync",
                                     "--disable-component-update", "--disable-default-apps",
                                     "--disable-dev-shm-usage"};
    argv.insert(argv.end(), mode_flags.begin(), mode_flags.end());
    argv.push_back("file://" + html_);
    return kvtier::testing::run_process(std::move(argv), std::chrono::seconds(120));
  }

  const json& shape(const std::string& name) const {
    for (const json& s : doc_["shapes"]) {
      if (s["name"] == name) return s;
    }
    static const json none;
    ADD_FAILURE() << "no shape " << name << " in the JSON";
    return none;
  }

  kvtier::testing::TempDir dir_;
  std::string html_ = dir_.file("report.html");
  json doc_;
};

// How the page writes the number of `field` (the report's formats, plan/fleet_format.h).
std::string formatted(const std::string& field, double v) {
  if (field == "usd_per_month" || field == "usd_per_tb_month") return format_usd(v);
  if (field == "units" || field == "racks") return format_count(v);
  if (field == "raw_bytes" || field == "usable_bytes") return format_bytes(v);
  if (field == "read_bytes_per_s") return format_bandwidth(v);
  if (field == "facility_power_kw") return format_power_kw(v);
  if (field == "network_to_nvme_ratio") return format_ratio(v);
  if (field == "full_read_seconds") return format_duration(v);
  ADD_FAILURE() << "no format for " << field;
  return "";
}

TEST_F(PlanFleetHtml, FetchesNothing) {
  const std::string html = read_file(html_);
  ASSERT_FALSE(html.empty());
  for (const char* forbidden : {"<script", "<link", "<img", "<iframe", "@import", "url(", " src="}) {
    EXPECT_EQ(html.find(forbidden), std::string::npos) << forbidden;
  }
}

TEST_F(PlanFleetHtml, RenderedNumbersEqualTheJson) {
  ProcessResult r = chromium({"--dump-dom"});
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(0, 4000);
  const std::string& dom = r.out;
  ASSERT_NE(dom.find("<h1>What 1 EB costs on each deployment shape</h1>"), std::string::npos)
      << dom.substr(0, 2000);

  // Table cells and spans: the value is the JSON's, and the text is how the report formats it.
  const std::regex cell(
      "<(td|span) class=\"num\" data-shape=\"([^\"]+)\" data-field=\"([^\"]+)\" "
      "data-value=\"([^\"]+)\">([^<]*)</(td|span)>");
  std::map<std::string, std::set<std::string>> seen;  // shape -> fields
  int inputs = 0;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), cell); it != std::sregex_iterator();
       ++it) {
    const std::string name = (*it)[2], field = (*it)[3], text = (*it)[5];
    const double value = std::stod((*it)[4]);
    if (name == "inputs") {
      const json& v = doc_["inputs"].contains(field) ? doc_["inputs"][field] : doc_[field];
      ASSERT_TRUE(v.is_number()) << field;
      EXPECT_EQ(value, v.get<double>()) << field;
      ++inputs;
      continue;
    }
    const json& s = shape(name);
    ASSERT_TRUE(s.contains(field) && s[field].is_number()) << name << "." << field;
    EXPECT_EQ(value, s[field].get<double>()) << name << "." << field;
    EXPECT_EQ(text, formatted(field, value)) << name << "." << field;
    seen[name].insert(field);
  }
  EXPECT_EQ(inputs, 6);  // capacity, reduction, protection, stored, raw, bandwidth

  // Every number of every shape that the JSON has (not null) is on the page.
  const std::vector<std::string> fields = {"units", "racks", "raw_bytes", "usable_bytes",
                                           "facility_power_kw", "usd_per_month", "usd_per_tb_month",
                                           "read_bytes_per_s", "network_to_nvme_ratio",
                                           "full_read_seconds"};
  ASSERT_EQ(doc_["shapes"].size(), 11u);
  for (const json& s : doc_["shapes"]) {
    const std::string name = s["name"];
    for (const std::string& f : fields) {
      EXPECT_EQ(seen[name].count(f), s[f].is_null() ? 0u : 1u) << name << "." << f;
    }
  }

  // The four charts: one bar per shape, each bar's value the JSON's.
  const std::regex bar("<rect [^>]*data-shape=\"([^\"]+)\" data-field=\"([^\"]+)\" "
                       "data-value=\"([^\"]+)\"");
  std::map<std::string, int> bars;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), bar); it != std::sregex_iterator();
       ++it) {
    const std::string name = (*it)[1], field = (*it)[2];
    EXPECT_EQ(std::stod((*it)[3]), shape(name)[field].get<double>()) << name << "." << field;
    ++bars[field];
  }
  for (const char* chart : {"usd_per_month", "usd_per_tb_month", "units", "full_read_seconds"}) {
    EXPECT_EQ(bars[chart], 11) << chart;
  }
  // The override is labelled as such among the figures.
  EXPECT_NE(dom.find("(--set)"), std::string::npos);
}

std::uint32_t big_endian(const std::string& s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s[at])) << 24) | (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

TEST_F(PlanFleetHtml, RendersToAScreenshot) {
  const std::string png = dir_.file("report.png");
  ProcessResult r = chromium({"--screenshot=" + png, "--window-size=1280,2200",
                              "--hide-scrollbars"});
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(0, 4000);
  const std::string bytes = read_file(png);
  ASSERT_GE(bytes.size(), 33u) << "no PNG written";
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(bytes.substr(12, 4), "IHDR");
  EXPECT_EQ(big_endian(bytes, 16), 1280u);  // width
  EXPECT_EQ(big_endian(bytes, 20), 2200u);  // height
  // A blank or text-only page of this size compresses to a few kB; charts, colours and tables
  // do not.
  EXPECT_GT(bytes.size(), 60000u);
  // Kept for a person to look at when KVTIER_KEEP_SCREENSHOT names a path.
  if (const char* keep = std::getenv("KVTIER_KEEP_SCREENSHOT")) {
    std::filesystem::copy_file(png, keep, std::filesystem::copy_options::overwrite_existing);
  }
}

}  // namespace
}  // namespace kvtier::plan
