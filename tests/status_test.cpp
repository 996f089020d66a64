// Status and Result behaviour.
#include "kvtier/status.h"

#include <cerrno>

#include <gtest/gtest.h>

namespace kvtier {
namespace {

TEST(Status, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = Status::NotFound("key 00");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.is_not_found());
  EXPECT_EQ(s.to_string(), "not_found: key 00");
}

TEST(Status, FromErrnoMapsFullDiskToNoSpace) {
  EXPECT_EQ(Status::FromErrno("write", ENOSPC).code(), StatusCode::kNoSpace);
  EXPECT_EQ(Status::FromErrno("write", EFBIG).code(), StatusCode::kNoSpace);
  EXPECT_EQ(Status::FromErrno("read", EIO).code(), StatusCode::kIOError);
  EXPECT_NE(Status::FromErrno("read", EIO).message().find("read: "), std::string::npos);
}

TEST(Result, HoldsValueOrStatus) {
  Result<int> good(7);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad(Status::Busy("later"));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kBusy);
}

}  // namespace
}  // namespace kvtier
