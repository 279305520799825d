// Hostile or foreign XML is refused before any field is read, each kind with its own code
// and a message that says why: oversized, DOCTYPE (XXE, external DTD, entity expansion),
// malformed, wrong root, missing or wrong namespace.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "iso20022/pain002.h"
#include "iso20022/schema.h"
#include "iso20022_test_support.h"

namespace payorch::iso20022 {
namespace {

using testing::Fixture;

Status Refusal(const std::string& xml) {
  StatusOr<PaymentStatusReport> r = ParsePain002(xml);
  EXPECT_FALSE(r.ok());
  return r.ok() ? Error(ErrorCode::kInvalidInput, "parsed") : r.status();
}

struct Case {
  const char* fixture;
  ErrorCode code;
  const char* says;
};

TEST(HostileXml, EachFixtureIsRefusedWithItsReason) {
  const Case cases[] = {
      {"hostile_xxe_file.xml", ErrorCode::kDoctypeRefused, "DOCTYPE is refused"},
      {"hostile_xxe_parameter_entity.xml", ErrorCode::kDoctypeRefused, "DOCTYPE is refused"},
      {"hostile_external_dtd.xml", ErrorCode::kDoctypeRefused, "DOCTYPE is refused"},
      {"hostile_billion_laughs.xml", ErrorCode::kDoctypeRefused, "DOCTYPE is refused"},
      {"hostile_malformed.xml", ErrorCode::kMalformed, "not well-formed XML at line 4"},
      {"hostile_undeclared_entity.xml", ErrorCode::kMalformed, "xxe"},
      {"hostile_wrong_root.xml", ErrorCode::kWrongRoot, "root element is <CstmrPmtStsRpt>"},
      {"hostile_missing_namespace.xml", ErrorCode::kWrongNamespace, "has no namespace"},
      {"hostile_wrong_namespace.xml", ErrorCode::kWrongNamespace,
       "namespace is urn:iso:std:iso:20022:tech:xsd:pain.002.001.03, expected "
       "urn:iso:std:iso:20022:tech:xsd:pain.002.001.12"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.fixture);
    Status e = Refusal(Fixture(c.fixture));
    EXPECT_EQ(ErrorCodeName(ErrorCodeOf(e)), ErrorCodeName(c.code)) << e.message();
    EXPECT_EQ(e.code(), StatusCode::kInvalidArgument) << e.ToString();
    EXPECT_NE(e.message().find(c.says), std::string::npos) << e.message();
    EXPECT_EQ(e.message().rfind("pain.002: ", 0), 0u) << e.message();
  }
}

TEST(HostileXml, TheXsdCheckRefusesTheSameInputs) {
  const XsdSchema& xsd = testing::Schema(testing::Pain002Xsd());
  for (const char* f : {"hostile_xxe_file.xml", "hostile_billion_laughs.xml"}) {
    Status s = xsd.Validate(Fixture(f));
    ASSERT_FALSE(s.ok()) << f;
    EXPECT_EQ(ErrorCodeOf(s), ErrorCode::kDoctypeRefused) << f;
  }
}

TEST(HostileXml, AnExternalEntityIsNeverRead) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("iso20022_xxe_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto secret_path = dir / "secret.txt";
  std::ofstream(secret_path) << "TOP-SECRET-42";
  std::string xml = Fixture("hostile_xxe_file.xml");
  const std::string from = "file:///etc/passwd";
  xml.replace(xml.find(from), from.size(), "file://" + secret_path.string());
  Status e = Refusal(xml);
  EXPECT_EQ(ErrorCodeOf(e), ErrorCode::kDoctypeRefused);
  EXPECT_EQ(e.message().find("TOP-SECRET"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// A listening socket on loopback: had the parser fetched the DTD, its connection would be
// in the accept queue when ParsePain002 returns (connect() completes the handshake first).
TEST(HostileXml, AnExternalDtdIsNeverFetched) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string url =
      "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/pain.002.dtd";
  for (const char* f : {"hostile_external_dtd.xml", "hostile_xxe_parameter_entity.xml"}) {
    std::string xml = Fixture(f);
    const auto at = xml.find("http://127.0.0.1:9/");
    ASSERT_NE(at, std::string::npos);
    xml.replace(at, xml.find('"', at) - at, url);
    EXPECT_EQ(ErrorCodeOf(Refusal(xml)), ErrorCode::kDoctypeRefused) << f;
  }
  ASSERT_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
  EXPECT_LT(accept(fd, nullptr, nullptr), 0) << "the parser connected to " << url;
  close(fd);
}

TEST(HostileXml, ADoctypeIsRefusedInUtf16Too) {
  const std::string ascii =
      "<?xml version=\"1.0\" encoding=\"UTF-16\"?><!DOCTYPE Document [<!ENTITY a \"b\">]>"
      "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.12\">&a;</Document>";
  std::string utf16 = "\xFF\xFE";  // little-endian byte order mark
  for (char c : ascii) {
    utf16 += c;
    utf16 += '\0';
  }
  EXPECT_EQ(ErrorCodeOf(Refusal(utf16)), ErrorCode::kDoctypeRefused);
}

TEST(HostileXml, SizeIsCheckedBeforeParsingAtADocumentedLimit) {
  std::string xml = Fixture("pain002_mixed.xml");
  const std::string pad_at = "</Document>";
  xml.insert(xml.rfind(pad_at), std::string(kMaxPain002Bytes - xml.size(), ' '));
  ASSERT_EQ(xml.size(), kMaxPain002Bytes);
  EXPECT_TRUE(ParsePain002(xml).ok()) << "a document of exactly the limit is read";
  xml.insert(xml.rfind(pad_at), " ");
  Status e = Refusal(xml);
  EXPECT_EQ(ErrorCodeOf(e), ErrorCode::kTooLarge);
  EXPECT_EQ(e.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(e.message().find("over the limit of " + std::to_string(kMaxPain002Bytes) + " bytes"),
            std::string::npos)
      << e.message();
  // Checked before parsing: garbage over the limit is "too large", not "malformed".
  EXPECT_EQ(ErrorCodeOf(Refusal(std::string(kMaxPain002Bytes + 1, '<'))), ErrorCode::kTooLarge);
}

TEST(HostileXml, XIncludeIsNeverProcessed) {
  std::string xml = Fixture("pain002_mixed.xml");
  const std::string at = "<MsgId>BANK-STS-0004</MsgId>";
  xml.replace(xml.find(at), at.size(),
              at + "<xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" "
                   "href=\"file:///etc/hostname\" parse=\"text\"/>");
  StatusOr<PaymentStatusReport> r = ParsePain002(xml);
  ASSERT_TRUE(r.ok()) << r.status().message();  // an element payorch does not read
  EXPECT_EQ(r.value().message_id, "BANK-STS-0004");
  EXPECT_EQ(r.value().creation_time, "2026-12-07T10:15:00.250Z");
}

TEST(HostileXml, DeepNestingStopsAtLibxml2sDepthLimit) {
  std::string xml = "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.12\">";
  for (int i = 0; i < 300; ++i) xml += "<a>";
  for (int i = 0; i < 300; ++i) xml += "</a>";
  xml += "</Document>";
  Status e = Refusal(xml);
  EXPECT_EQ(ErrorCodeOf(e), ErrorCode::kMalformed);
  EXPECT_NE(e.message().find("depth"), std::string::npos) << e.message();
}

TEST(HostileXml, APain001IsNotAPain002) {
  StatusOr<std::string> pain001 = WritePain001(testing::SampleInitiation());
  ASSERT_TRUE(pain001.ok());
  Status e = Refusal(pain001.value());
  EXPECT_EQ(ErrorCodeOf(e), ErrorCode::kWrongNamespace);
  EXPECT_NE(e.message().find("pain.001.001.09"), std::string::npos) << e.message();
}

TEST(HostileXml, EmptyAndNonXmlInputIsMalformed) {
  EXPECT_EQ(ErrorCodeOf(Refusal("")), ErrorCode::kMalformed);
  EXPECT_EQ(ErrorCodeOf(Refusal("{\"json\": true}")), ErrorCode::kMalformed);
  EXPECT_EQ(ErrorCodeOf(Refusal(std::string("<Document\0>", 11))), ErrorCode::kMalformed);
}

}  // namespace
}  // namespace payorch::iso20022
