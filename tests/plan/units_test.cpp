// plan/units.h: SI and IEC byte sizes kept apart, bits and bytes per second, and the errors for a
// negative number, an unknown unit, bits where bytes are meant and overflow.
#include "plan/units.h"

#include <gtest/gtest.h>

namespace kvtier::plan {
namespace {

double bytes(std::string_view text) {
  Result<double> r = parse_byte_quantity(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().to_string();
  return r.ok() ? *r : -1;
}

double rate(std::string_view text) {
  Result<double> r = parse_bandwidth(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().to_string();
  return r.ok() ? *r : -1;
}

std::string bytes_error(std::string_view text) {
  Result<double> r = parse_byte_quantity(text);
  EXPECT_FALSE(r.ok()) << text << " parsed as " << (r.ok() ? *r : 0);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

std::string rate_error(std::string_view text) {
  Result<double> r = parse_bandwidth(text);
  EXPECT_FALSE(r.ok()) << text << " parsed as " << (r.ok() ? *r : 0);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(PlanUnits, TerabytesAreNotTebibytes) {
  EXPECT_EQ(bytes("1 TB"), 1e12);
  EXPECT_EQ(bytes("1TiB"), 1099511627776.0);
  EXPECT_EQ(bytes("1.92 TB"), 1.92e12);
  EXPECT_EQ(bytes("61.44 TB"), 61.44e12);
  EXPECT_NE(bytes("1 TB"), bytes("1 TiB"));
  EXPECT_EQ(bytes("1 kB"), 1000.0);
  EXPECT_EQ(bytes("1 KB"), 1000.0);
  EXPECT_EQ(bytes("1 KiB"), 1024.0);
  EXPECT_EQ(bytes("4096"), 4096.0);
  EXPECT_EQ(bytes("  2 B "), 2.0);
  EXPECT_EQ(bytes(".5 TB"), 0.5e12);  // a decimal point first, as people write it
}

TEST(PlanUnits, ExabytesAreNotExbibytes) {
  EXPECT_EQ(bytes("1 EB"), 1e18);
  EXPECT_EQ(bytes("1 EiB"), 1152921504606846976.0);  // 2^60
  EXPECT_EQ(bytes("1 PiB"), 1125899906842624.0);     // 2^50
  EXPECT_EQ(bytes("1e18"), 1e18);
  // 1 EiB is 15.3% more than 1 EB: the difference a capacity plan must not lose.
  EXPECT_NEAR(bytes("1 EiB") / bytes("1 EB"), 1.152921504606847, 1e-15);
}

TEST(PlanUnits, BitsPerSecondAreAnEighthOfBytesPerSecond) {
  EXPECT_EQ(rate("41 Gbps"), 41e9 / 8);
  EXPECT_EQ(rate("200 Gb/s"), 25e9);
  EXPECT_EQ(rate("200 Gbps"), rate("25 GB/s"));
  EXPECT_EQ(rate("36000 MB/s"), 36e9);
  EXPECT_EQ(rate("36000MB/s"), 36e9);
  EXPECT_EQ(rate("2 TB/s"), 2e12);
  EXPECT_EQ(rate("1 GBps"), 1e9);
  EXPECT_EQ(rate("1 GiB/s"), 1073741824.0);
  EXPECT_EQ(rate("100 Mbps"), 12.5e6);
  EXPECT_NE(rate("1 Gbps"), rate("1 GB/s"));
}

TEST(PlanUnits, NegativeNumbersAreRefused) {
  EXPECT_NE(bytes_error("-1 TB").find("must not be negative"), std::string::npos);
  EXPECT_NE(rate_error("-5 GB/s").find("must not be negative"), std::string::npos);
}

TEST(PlanUnits, UnknownUnitsNameTheKnownOnes) {
  std::string e = bytes_error("1 XB");
  EXPECT_NE(e.find("unknown unit \"XB\""), std::string::npos) << e;
  EXPECT_NE(e.find("EiB"), std::string::npos) << e;
  e = bytes_error("1 eb");  // lower case is not guessed at
  EXPECT_NE(e.find("did you mean \"EB\""), std::string::npos) << e;
  e = bytes_error("1 Gb");
  EXPECT_NE(e.find("is bits"), std::string::npos) << e;
  e = rate_error("10 GB");
  EXPECT_NE(e.find("unknown unit \"GB\""), std::string::npos) << e;
  e = rate_error("10");
  EXPECT_NE(e.find("needs a unit"), std::string::npos) << e;
  e = rate_error("10 gbps");
  EXPECT_NE(e.find("did you mean \"Gbps\""), std::string::npos) << e;
  bytes_error("");
  bytes_error("TB");
  bytes_error("1,5 TB");
  bytes_error("+1 TB");
  bytes_error("nan");
  bytes_error("inf TB");
}

TEST(PlanUnits, OverflowIsAnError) {
  EXPECT_NE(bytes_error("1e400").find("too large"), std::string::npos);
  // An exponent below the smallest double is not "too large" (it was reported so).
  EXPECT_NE(bytes_error("1e-400").find("too small"), std::string::npos) << bytes_error("1e-400");
  EXPECT_NE(bytes_error("2000000 ZB").find("too large"), std::string::npos);
  EXPECT_NE(rate_error("1e30 GB/s").find("too large"), std::string::npos);
  EXPECT_EQ(bytes("1000 ZB"), 1e24);
}

TEST(PlanUnits, FormatsThreeSignificantDigits) {
  EXPECT_EQ(format_bytes(1e18), "1.00 EB");
  EXPECT_EQ(format_bytes(1.2288e18), "1.23 EB");
  EXPECT_EQ(format_bytes(999.96e12), "1.00 PB");  // rounds up into the next prefix
  EXPECT_EQ(format_bytes(61.44e12), "61.4 TB");
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1152921504606846976.0, UnitSystem::kIEC), "1.00 EiB");
  EXPECT_EQ(format_bandwidth(36e9), "36.0 GB/s");
  EXPECT_EQ(format_bandwidth(5.126e9), "5.13 GB/s");
}

}  // namespace
}  // namespace kvtier::plan
