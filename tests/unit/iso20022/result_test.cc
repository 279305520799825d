// Every iso20022 error is a payorch::Status built by Error(): the domain ErrorCode maps to
// one canonical StatusCode, rides along as the native code, and comes back by ErrorCodeOf.
#include "iso20022/result.h"

#include <gtest/gtest.h>

#include <string>

namespace payorch::iso20022 {
namespace {

TEST(Iso20022Error, EachCodeMapsToItsCanonicalCodeAndBack) {
  const struct {
    ErrorCode code;
    StatusCode canonical;
  } cases[] = {
      {ErrorCode::kInvalidInput, StatusCode::kInvalidArgument},
      {ErrorCode::kTooLarge, StatusCode::kResourceExhausted},
      {ErrorCode::kDoctypeRefused, StatusCode::kInvalidArgument},
      {ErrorCode::kMalformed, StatusCode::kInvalidArgument},
      {ErrorCode::kWrongRoot, StatusCode::kInvalidArgument},
      {ErrorCode::kWrongNamespace, StatusCode::kInvalidArgument},
      {ErrorCode::kInvalidContent, StatusCode::kInvalidArgument},
      {ErrorCode::kSchemaInvalid, StatusCode::kInvalidArgument},
      {ErrorCode::kSchemaUnavailable, StatusCode::kFailedPrecondition},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(ErrorCodeName(c.code)));
    Status s = Error(c.code, "pain.002: a message kept as is");
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), c.canonical);
    EXPECT_EQ(CanonicalCodeOf(c.code), c.canonical);
    EXPECT_EQ(s.native_code(), static_cast<int>(c.code));
    EXPECT_NE(s.native_code(), 0);  // 0 is "no native code"
    EXPECT_EQ(ErrorCodeOf(s), c.code);
    EXPECT_EQ(s.message(), "pain.002: a message kept as is");
    EXPECT_EQ(s.ToString(),
              std::string(StatusCodeName(c.canonical)) + ": pain.002: a message kept as is");
  }
}

TEST(Iso20022Error, AStatusOrCarriesTheDomainCode) {
  StatusOr<int> r = Error(ErrorCode::kWrongRoot, "pain.002: root element is <X>");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ErrorCodeOf(r.status()), ErrorCode::kWrongRoot);
  EXPECT_EQ(r.status().message(), "pain.002: root element is <X>");
}

TEST(Iso20022Error, AStatusThisLibraryDidNotBuildHasNoDomainCode) {
  EXPECT_EQ(ErrorCodeOf(Status::Ok()), ErrorCode::kInvalidInput);
  EXPECT_EQ(ErrorCodeOf(InternalError("no native code")), ErrorCode::kInvalidInput);
  // A native code in range, but not under the canonical code Error() gives it.
  EXPECT_EQ(ErrorCodeOf(Status(StatusCode::kUnavailable, "io", 2)), ErrorCode::kInvalidInput);
  EXPECT_EQ(ErrorCodeOf(Status(StatusCode::kInvalidArgument, "x", 99)), ErrorCode::kInvalidInput);
}

}  // namespace
}  // namespace payorch::iso20022
