// StoreConfig validation, the TOML config file and human-readable byte sizes.
#include "kvtier/config.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "config/size_parse.h"

namespace kvtier {
namespace {

// Asserts `s` is InvalidArgument and its message contains every one of `parts`.
void ExpectInvalid(const Status& s, std::initializer_list<std::string_view> parts) {
  ASSERT_FALSE(s.ok()) << "expected an error mentioning " << *parts.begin();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  for (std::string_view p : parts) {
    EXPECT_NE(s.message().find(p), std::string::npos) << "\"" << p << "\" not in: " << s.message();
  }
}

template <typename T>
void ExpectInvalid(const Result<T>& r, std::initializer_list<std::string_view> parts) {
  ExpectInvalid(r.status(), parts);
}

// ---- parse_byte_size ---------------------------------------------------------------------------

TEST(ConfigByteSize, AcceptsNumbersAndUnits) {
  struct Case {
    std::string_view text;
    std::uint64_t bytes;
  };
  const Case cases[] = {
      {"0", 0},
      {"4096", 4096},
      {"4096B", 4096},
      {"512KiB", 512 * kKiB},
      {"64MiB", 64 * kMiB},
      {"64 MiB", 64 * kMiB},
      {"  4GiB ", 4 * kGiB},
      {"2TiB", 2 * kGiB * 1024},
      {"1PiB", kGiB * kMiB},
      {"1GB", 1000000000},
      {"3kB", 3000},
      {"3KB", 3000},
      {"5MB", 5000000},
      {"2TB", 2000000000000},
      {"1PB", 1000000000000000},
      {"18446744073709551615", 18446744073709551615ull},
      {"16383PiB", 16383 * kGiB * kMiB},
  };
  for (const Case& c : cases) {
    Result<std::uint64_t> r = parse_byte_size(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().to_string();
    EXPECT_EQ(*r, c.bytes) << c.text;
  }
}

TEST(ConfigByteSize, RejectsMalformedText) {
  ExpectInvalid(parse_byte_size(""), {"expected a number"});
  ExpectInvalid(parse_byte_size("   "), {"expected a number"});
  ExpectInvalid(parse_byte_size("-1"), {"\"-1\"", "negative"});
  ExpectInvalid(parse_byte_size("-4GiB"), {"negative"});
  ExpectInvalid(parse_byte_size("+4GiB"), {"digit"});
  ExpectInvalid(parse_byte_size("GiB"), {"digit"});
  ExpectInvalid(parse_byte_size("1.5GiB"), {"whole numbers", "1536MiB"});
  ExpectInvalid(parse_byte_size("64M"), {"\"64M\"", "ambiguous", "MiB", "MB"});
  ExpectInvalid(parse_byte_size("4k"), {"ambiguous", "KiB", "KB"});
  ExpectInvalid(parse_byte_size("4 GiBs"), {"unknown unit \"GiBs\""});
  ExpectInvalid(parse_byte_size("4 bytes"), {"unknown unit"});
  ExpectInvalid(parse_byte_size("4 4"), {"unknown unit"});
  ExpectInvalid(parse_byte_size("0x1000"), {"unknown unit"});
  ExpectInvalid(parse_byte_size("18446744073709551616"), {"too large"});
  ExpectInvalid(parse_byte_size("16384PiB"), {"too large"});
  ExpectInvalid(parse_byte_size("99999999999999999999999"), {"too large"});
  ExpectInvalid(parse_byte_size("16EiB"), {"too large"});
  ExpectInvalid(parse_byte_size("1ZB"), {"too large"});
}

// Units are case-sensitive, as in `kvtier plan`: a unit in another case is refused with the one
// meant, a bit unit as bits.
TEST(ConfigByteSize, UnitsAreCaseSensitiveWithTheMeantOneNamed) {
  ExpectInvalid(parse_byte_size("4gib"), {"unknown unit \"gib\"", "did you mean \"GiB\""});
  ExpectInvalid(parse_byte_size("1gb"), {"did you mean \"GB\""});
  ExpectInvalid(parse_byte_size("1Mb"), {"\"Mb\" is bits"});
  EXPECT_EQ(*parse_byte_size("0ZiB"), 0u);
  EXPECT_EQ(*parse_byte_size("15EiB"), 15 * (kGiB << 30));
  // The same text means the same bytes to both parsers.
  for (std::string_view text : {"64MiB", "1GB", "3kB", "1 PiB", "4096"}) {
    EXPECT_EQ(static_cast<double>(*parse_byte_size(text)), *parse_byte_quantity(text)) << text;
  }
  EXPECT_EQ(*parse_byte_quantity("1.5GiB"), 1.5 * kGiB);
}

// ---- validate() --------------------------------------------------------------------------------

TEST(ConfigValidate, DefaultsAreValid) {
  EXPECT_TRUE(DramConfig{}.validate().ok()) << DramConfig{}.validate().to_string();
  EXPECT_TRUE(NvmeConfig{}.validate().ok()) << NvmeConfig{}.validate().to_string();
  EXPECT_TRUE(StoreConfig{}.validate().ok()) << StoreConfig{}.validate().to_string();
}

struct BadField {
  std::string name;                          // what the message must name
  std::string value;                         // the bad value the message must show
  std::function<void(StoreConfig&)> breaks;  // makes a default config invalid
};

TEST(ConfigValidate, EachBadFieldIsNamedWithItsValue) {
  const std::vector<BadField> cases = {
      {"data_dir", "empty", [](StoreConfig& c) { c.data_dir.clear(); }},
      {"max_value_bytes", "0", [](StoreConfig& c) { c.max_value_bytes = 0; }},
      {"max_value_bytes", "4294967296", [](StoreConfig& c) { c.max_value_bytes = 4 * kGiB; }},
      {"dram.shards", "0", [](StoreConfig& c) { c.dram.shards = 0; }},
      {"dram.shards", "12", [](StoreConfig& c) { c.dram.shards = 12; }},
      {"dram.shards", "2048", [](StoreConfig& c) { c.dram.shards = 2048; }},
      {"dram.small_queue_fraction", "0", [](StoreConfig& c) { c.dram.small_queue_fraction = 0; }},
      {"dram.small_queue_fraction", "0.6",
       [](StoreConfig& c) { c.dram.small_queue_fraction = 0.6; }},
      {"dram.small_queue_fraction", "nan",
       [](StoreConfig& c) { c.dram.small_queue_fraction = std::nan(""); }},
      {"dram.max_pinned_fraction", "-0.1",
       [](StoreConfig& c) { c.dram.max_pinned_fraction = -0.1; }},
      {"dram.max_pinned_fraction", "1.5", [](StoreConfig& c) { c.dram.max_pinned_fraction = 1.5; }},
      {"dram.max_lease", "0", [](StoreConfig& c) { c.dram.max_lease = {}; }},
      {"dram.max_lease", "-5",
       [](StoreConfig& c) { c.dram.max_lease = std::chrono::milliseconds(-5); }},
      {"nvme.region_size", "4096", [](StoreConfig& c) { c.nvme.region_size = 4096; }},
      {"nvme.region_size", "2147483648", [](StoreConfig& c) { c.nvme.region_size = 2 * kGiB; }},
      {"nvme.region_size", "67108865", [](StoreConfig& c) { c.nvme.region_size = 64 * kMiB + 1; }},
      {"nvme.write_buffers", "1", [](StoreConfig& c) { c.nvme.write_buffers = 1; }},
      {"nvme.write_buffers", "65", [](StoreConfig& c) { c.nvme.write_buffers = 65; }},
      {"nvme.write_io_bytes", "0", [](StoreConfig& c) { c.nvme.write_io_bytes = 0; }},
      {"nvme.write_io_bytes", "6000", [](StoreConfig& c) { c.nvme.write_io_bytes = 6000; }},
      {"nvme.write_io_bytes", "134217728",
       [](StoreConfig& c) { c.nvme.write_io_bytes = 128 * kMiB; }},
      {"nvme.io_depth", "0", [](StoreConfig& c) { c.nvme.io_depth = 0; }},
      {"nvme.io_depth", "257", [](StoreConfig& c) { c.nvme.io_depth = 257; }},
      {"nvme.index_shards", "0", [](StoreConfig& c) { c.nvme.index_shards = 0; }},
      {"nvme.index_shards", "100", [](StoreConfig& c) { c.nvme.index_shards = 100; }},
      {"nvme.index_shards", "8192", [](StoreConfig& c) { c.nvme.index_shards = 8192; }},
      {"nvme.reclaim", "7", [](StoreConfig& c) { c.nvme.reclaim = static_cast<ReclaimPolicy>(7); }},
      {"nvme.write_budget_mb_s", "-1", [](StoreConfig& c) { c.nvme.write_budget_mb_s = -1; }},
      {"nvme.write_budget_mb_s", "inf",
       [](StoreConfig& c) { c.nvme.write_budget_mb_s = std::numeric_limits<double>::infinity(); }},
      {"nvme.write_budget_burst_s", "0", [](StoreConfig& c) { c.nvme.write_budget_burst_s = 0; }},
      {"nvme.default_file_bytes", "134221823",
       [](StoreConfig& c) { c.nvme.default_file_bytes = 4096 + 128 * kMiB - 1; }},
      {"nvme.devices[0].path", "empty",
       [](StoreConfig& c) {
         c.nvme.devices = {{"", 0}};
       }},
      {"nvme.devices[1].path", "/tmp/a",
       [](StoreConfig& c) {
         c.nvme.devices = {{"/tmp/a", 0}, {"/tmp/a", 0}};
       }},
      {"nvme.devices[1].size_bytes", "134217728",
       [](StoreConfig& c) {
         c.nvme.devices = {{"/tmp/a", 0}, {"/tmp/b", 128 * kMiB}};
       }},
  };
  for (const BadField& c : cases) {
    SCOPED_TRACE(c.name + " = " + c.value);
    StoreConfig cfg;
    c.breaks(cfg);
    ExpectInvalid(cfg.validate(), {c.name, c.value});
  }
}

TEST(ConfigValidate, BoundariesAreAccepted) {
  StoreConfig c;
  c.max_value_bytes = 4 * kGiB - 1;
  c.dram.capacity_bytes = 0;  // tier disabled
  c.dram.shards = 1024;
  c.dram.small_queue_fraction = 0.5;
  c.dram.max_pinned_fraction = 0;
  c.dram.max_lease = std::chrono::milliseconds(1);
  c.nvme.region_size = 1 * kGiB;
  c.nvme.write_buffers = 64;
  c.nvme.write_io_bytes = 1 * kGiB;
  c.nvme.io_depth = 256;
  c.nvme.index_shards = 4096;
  c.nvme.write_budget_mb_s = 0;
  c.nvme.default_file_bytes = 0;  // tier disabled
  c.nvme.devices = {{"/dev/nvme1n1", 0}, {"/tmp/x.dat", 4096 + 2 * kGiB}};
  EXPECT_TRUE(c.validate().ok()) << c.validate().to_string();
  c.nvme.region_size = 1 * kMiB;
  c.nvme.write_io_bytes = 4096;
  c.nvme.default_file_bytes = 4096 + 2 * kMiB;
  c.dram.shards = 1;
  c.nvme.index_shards = 1;
  c.nvme.write_buffers = 2;
  c.nvme.io_depth = 1;
  c.max_value_bytes = 1;
  c.dram.max_pinned_fraction = 1;
  EXPECT_TRUE(c.validate().ok()) << c.validate().to_string();
  c.nvme.region_size = kMiB + 4096;  // any multiple of 4 KiB, not only powers of two
  c.nvme.default_file_bytes = 4096 + 2 * c.nvme.region_size;
  EXPECT_TRUE(c.validate().ok()) << c.validate().to_string();
}

// ---- TOML --------------------------------------------------------------------------------------

constexpr std::string_view kFullToml = R"(
# every key, none at its default
data_dir = "/srv/kvtier"
max_value_bytes = "512MiB"
promote_on_nvme_hit = false

[dram]
capacity_bytes = "64GiB"
shards = 64
small_queue_fraction = 0.2
max_pinned_fraction = 0.25
max_lease_ms = 30000

[nvme]
default_file_bytes = 0
region_size = "16MiB"
write_buffers = 4
write_io_bytes = "512KiB"
io_depth = 32
reclaim = "lru"
reinsert_min_hits = 0
write_budget_mb_s = 500
write_budget_burst_s = 2.5
index_shards = 256
format_foreign_devices = true

[[nvme.devices]]
path = "/dev/nvme1n1"

[[nvme.devices]]
path = "/mnt/scratch/kvtier.dat"
size_bytes = "100GB"
)";

TEST(ConfigToml, FullFileRoundTripsToTheExpectedStruct) {
  Result<StoreConfig> r = parse_store_config_toml(kFullToml);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const StoreConfig& c = *r;
  EXPECT_EQ(c.data_dir, "/srv/kvtier");
  EXPECT_EQ(c.max_value_bytes, 512 * kMiB);
  EXPECT_FALSE(c.promote_on_nvme_hit);
  EXPECT_EQ(c.dram.capacity_bytes, 64 * kGiB);
  EXPECT_EQ(c.dram.shards, 64u);
  EXPECT_DOUBLE_EQ(c.dram.small_queue_fraction, 0.2);
  EXPECT_DOUBLE_EQ(c.dram.max_pinned_fraction, 0.25);
  EXPECT_EQ(c.dram.max_lease, std::chrono::milliseconds(30000));
  EXPECT_EQ(c.nvme.default_file_bytes, 0u);
  EXPECT_EQ(c.nvme.region_size, 16 * kMiB);
  EXPECT_EQ(c.nvme.write_buffers, 4u);
  EXPECT_EQ(c.nvme.write_io_bytes, 512 * kKiB);
  EXPECT_EQ(c.nvme.io_depth, 32u);
  EXPECT_EQ(c.nvme.reclaim, ReclaimPolicy::kLru);
  EXPECT_EQ(c.nvme.reinsert_min_hits, 0u);
  EXPECT_DOUBLE_EQ(c.nvme.write_budget_mb_s, 500);  // an integer is accepted for a number
  EXPECT_DOUBLE_EQ(c.nvme.write_budget_burst_s, 2.5);
  EXPECT_EQ(c.nvme.index_shards, 256u);
  EXPECT_TRUE(c.nvme.format_foreign_devices);
  ASSERT_EQ(c.nvme.devices.size(), 2u);
  EXPECT_EQ(c.nvme.devices[0].path, "/dev/nvme1n1");
  EXPECT_EQ(c.nvme.devices[0].size_bytes, 0u);
  EXPECT_EQ(c.nvme.devices[1].path, "/mnt/scratch/kvtier.dat");
  EXPECT_EQ(c.nvme.devices[1].size_bytes, 100000000000u);
}

TEST(ConfigToml, EmptyFileGivesTheDefaults) {
  Result<StoreConfig> r = parse_store_config_toml("# nothing set\n");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const StoreConfig d;
  EXPECT_EQ(r->data_dir, d.data_dir);
  EXPECT_EQ(r->max_value_bytes, d.max_value_bytes);
  EXPECT_EQ(r->dram.capacity_bytes, d.dram.capacity_bytes);
  EXPECT_EQ(r->dram.max_lease, d.dram.max_lease);
  EXPECT_EQ(r->nvme.region_size, d.nvme.region_size);
  EXPECT_EQ(r->nvme.reclaim, d.nvme.reclaim);
  EXPECT_TRUE(r->nvme.devices.empty());
}

TEST(ConfigToml, HumanSizesAndPlainIntegersAreBothBytes) {
  Result<StoreConfig> r = parse_store_config_toml(
      "max_value_bytes = 1048576\n[dram]\ncapacity_bytes = \"1GB\"\n[nvme]\n"
      "region_size = \"1 MiB\"\nwrite_io_bytes = 65536\ndefault_file_bytes = \"4GiB\"\n");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->max_value_bytes, kMiB);
  EXPECT_EQ(r->dram.capacity_bytes, 1000000000u);
  EXPECT_EQ(r->nvme.region_size, kMiB);
  EXPECT_EQ(r->nvme.write_io_bytes, 65536u);
  EXPECT_EQ(r->nvme.default_file_bytes, 4 * kGiB);
}

TEST(ConfigToml, UnknownKeysAreErrors) {
  ExpectInvalid(parse_store_config_toml("data_dir = \"x\"\ndata_dri = \"y\"\n"),
                {"unknown key \"data_dri\"", "<config>:2:1", "data_dir"});
  ExpectInvalid(parse_store_config_toml("[nvme]\nregion_size = \"4MiB\"\nregoin_size = 5\n"),
                {"unknown key \"nvme.regoin_size\"", ":3:", "region_size"});
  ExpectInvalid(parse_store_config_toml("[dram]\ncapacity = \"1GiB\"\n"),
                {"unknown key \"dram.capacity\"", "capacity_bytes"});
  ExpectInvalid(parse_store_config_toml("[[nvme.devices]]\npath = \"/x\"\nsize = 5\n"),
                {"unknown key \"nvme.devices[0].size\"", "size_bytes"});
  ExpectInvalid(parse_store_config_toml("[shared]\nurl = \"s3://x\"\n"),
                {"unknown key \"shared.url\"", "allowed in [shared]"});
  ExpectInvalid(parse_store_config_toml("[dram.extra]\nx = 1\n"), {"unknown key \"dram.extra\""});
}

TEST(ConfigToml, WrongTypesAreErrors) {
  ExpectInvalid(parse_store_config_toml("[dram]\nshards = \"16\"\n"),
                {"dram.shards", "expected an integer", "got a string", ":2:"});
  ExpectInvalid(parse_store_config_toml("[dram]\nshards = 16.0\n"),
                {"dram.shards", "expected an integer", "got a float"});
  ExpectInvalid(parse_store_config_toml("data_dir = 5\n"),
                {"data_dir", "expected a string", "got an integer"});
  ExpectInvalid(parse_store_config_toml("promote_on_nvme_hit = \"yes\"\n"),
                {"promote_on_nvme_hit", "expected true or false"});
  ExpectInvalid(parse_store_config_toml("[dram]\ncapacity_bytes = true\n"),
                {"dram.capacity_bytes", "a number of bytes", "got a boolean"});
  ExpectInvalid(parse_store_config_toml("[dram]\ncapacity_bytes = 1.5e9\n"),
                {"dram.capacity_bytes", "got a float"});
  ExpectInvalid(parse_store_config_toml("[dram]\nsmall_queue_fraction = \"0.1\"\n"),
                {"dram.small_queue_fraction", "expected a number"});
  ExpectInvalid(parse_store_config_toml("dram = 5\n"), {"dram", "expected a table"});
  ExpectInvalid(parse_store_config_toml("[nvme.devices]\npath = \"/x\"\n"),
                {"nvme.devices", "[[nvme.devices]]", "got a table"});
  ExpectInvalid(parse_store_config_toml("[nvme]\ndevices = [\"/dev/nvme1n1\"]\n"),
                {"nvme.devices[0]", "expected a table"});
  ExpectInvalid(parse_store_config_toml("[nvme]\nreclaim = 1\n"),
                {"nvme.reclaim", "expected a string"});
  ExpectInvalid(parse_store_config_toml("[nvme]\nreclaim = \"LRU\"\n"),
                {"nvme.reclaim", "\"LRU\"", "\"fifo\" or \"lru\""});
  ExpectInvalid(parse_store_config_toml("[dram]\nmax_lease_ms = 1979-05-27\n"),
                {"dram.max_lease_ms", "got a date"});
}

TEST(ConfigToml, NegativeAndOversizedNumbersAreErrors) {
  ExpectInvalid(parse_store_config_toml("[dram]\nshards = -16\n"),
                {"dram.shards = -16", "negative", ":2:"});
  ExpectInvalid(parse_store_config_toml("[dram]\ncapacity_bytes = -1\n"),
                {"dram.capacity_bytes = -1", "negative"});
  ExpectInvalid(parse_store_config_toml("[dram]\ncapacity_bytes = \"-1GiB\"\n"),
                {"dram.capacity_bytes", "negative"});
  ExpectInvalid(parse_store_config_toml("[dram]\nmax_lease_ms = -1\n"),
                {"dram.max_lease_ms = -1", "negative"});
  ExpectInvalid(parse_store_config_toml("[nvme]\nreinsert_min_hits = -1\n"),
                {"nvme.reinsert_min_hits", "negative"});
  ExpectInvalid(parse_store_config_toml("[nvme]\nio_depth = 4294967296\n"),
                {"nvme.io_depth = 4294967296", "at most 4294967295"});
  ExpectInvalid(parse_store_config_toml("[nvme]\nwrite_budget_mb_s = -5.0\n"),
                {"nvme.write_budget_mb_s", "-5", ">= 0"});
  ExpectInvalid(parse_store_config_toml("[nvme]\nwrite_budget_mb_s = inf\n"),
                {"nvme.write_budget_mb_s", "inf"});
  ExpectInvalid(parse_store_config_toml("[dram]\ncapacity_bytes = \"64M\"\n"),
                {"dram.capacity_bytes", "ambiguous", ":2:"});
}

TEST(ConfigToml, SyntaxErrorsGiveLineAndColumn) {
  Result<StoreConfig> r = parse_store_config_toml("data_dir = \"x\"\n\n[dram\nshards = 4\n");
  ExpectInvalid(r, {"<config>:3:", "TOML syntax error"});
  ExpectInvalid(parse_store_config_toml("data_dir = \"unterminated\n"), {"<config>:1:"});
  ExpectInvalid(parse_store_config_toml("[dram]\nshards = 4\nshards = 8\n"), {"<config>:3:"});
  ExpectInvalid(parse_store_config_toml(std::string_view("a = \"\0\"", 7)), {"<config>:1:"});
}

TEST(ConfigToml, ParsedConfigIsValidatedWithTheLineOfTheBadKey) {
  ExpectInvalid(parse_store_config_toml("[dram]\n\nshards = 12\n"),
                {"<config>:3:10:", "dram.shards = 12", "power of two in [1, 1024]"});
  ExpectInvalid(
      parse_store_config_toml("[nvme]\nregion_size = \"4MiB\"\nwrite_io_bytes = \"8MiB\"\n"),
      {"<config>:3:", "nvme.write_io_bytes = 8388608", "nvme.region_size = 4194304"});
  ExpectInvalid(
      parse_store_config_toml("[[nvme.devices]]\npath = \"/a\"\n[[nvme.devices]]\npath = \"/a\"\n"),
      {"<config>:4:", "nvme.devices[1].path", "listed twice"});
  ExpectInvalid(parse_store_config_toml("[[nvme.devices]]\nsize_bytes = 0\n"),
                {"<config>:1:", "nvme.devices[0].path is missing"});
  ExpectInvalid(parse_store_config_toml("data_dir = \"\"\n"), {"<config>:1:", "data_dir is empty"});
  ExpectInvalid(parse_store_config_toml("max_value_bytes = \"4GiB\"\n"),
                {"max_value_bytes = 4294967296", "[1, 4294967295]"});
}

// ---- load_store_config_file --------------------------------------------------------------------

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kvtier-config-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, std::string_view text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(ConfigFile, LoadsAFile) {
  Result<StoreConfig> r = load_store_config_file(write("kvtier.toml", kFullToml));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->nvme.devices.size(), 2u);
  EXPECT_EQ(r->dram.capacity_bytes, 64 * kGiB);
}

TEST_F(ConfigFile, MissingFileIsAClearError) {
  const std::string path = (dir_ / "nope.toml").string();
  Result<StoreConfig> r = load_store_config_file(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIOError);
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("No such file or directory"), std::string::npos)
      << r.status().message();
}

TEST_F(ConfigFile, ADirectoryIsAnError) {
  Result<StoreConfig> r = load_store_config_file(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir_.string()), std::string::npos) << r.status().message();
}

TEST_F(ConfigFile, ErrorsNameTheFileAndLine) {
  const std::string path = write("bad.toml", "[dram]\nshards = 3\n");
  ExpectInvalid(load_store_config_file(path), {path + ":2:", "dram.shards = 3"});
  const std::string typo = write("typo.toml", "\n[nvme]\nio_dpeth = 3\n");
  ExpectInvalid(load_store_config_file(typo), {typo + ":3:1:", "nvme.io_dpeth"});
}

}  // namespace
}  // namespace kvtier
