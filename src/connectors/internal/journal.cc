#include "connectors/internal/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace payorch::connectors::internal {
namespace {

constexpr std::string_view kTag = "r1";
constexpr size_t kFields = 15;  // tag + 14

void AppendEscaped(std::string& out, std::string_view field) {
  for (char c : field) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

std::optional<std::string> Unescape(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] != '\\') {
      out += field[i];
      continue;
    }
    if (++i == field.size()) return std::nullopt;
    switch (field[i]) {
      case '\\':
        out += '\\';
        break;
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      default:
        return std::nullopt;
    }
  }
  return out;
}

template <typename T>
bool ParseInt(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

LedgerEntry Record::ToLedgerEntry(uint64_t seq) const {
  LedgerEntry e;
  e.seq = seq;
  e.kind = kind;
  e.idempotency_key = key;
  e.processor_id = processor_id;
  e.payment_id = payment_id;
  e.step_index = step_index;
  e.amount_minor = processed_minor;
  e.currency = currency;
  e.processor_reference = processor_reference;
  e.target_reference = target_reference;
  return e;
}

std::string EncodeRecord(const Record& r) {
  std::string out(kTag);
  auto field = [&out](std::string_view s) {
    out += '\t';
    AppendEscaped(out, s);
  };
  auto number = [&out](int64_t v) {
    out += '\t';
    out += std::to_string(v);
  };
  field(r.key);
  number(r.kind);
  field(r.payment_id);
  number(r.step_index);
  field(r.processor_id);
  number(r.method);
  number(r.requested_minor);
  field(r.currency);
  field(r.target_reference);
  number(r.outcome);
  number(r.error_code);
  number(r.processed_minor);
  field(r.processor_reference);
  number(r.latency_ms);
  out += '\n';
  return out;
}

std::optional<Record> DecodeRecord(std::string_view line) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    parts.push_back(line.substr(start, tab == std::string_view::npos ? line.npos : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  if (parts.size() != kFields || parts[0] != kTag) return std::nullopt;
  Record r;
  int kind = 0, method = 0, outcome = 0, error = 0;
  auto key = Unescape(parts[1]);
  auto payment = Unescape(parts[3]);
  auto processor = Unescape(parts[5]);
  auto currency = Unescape(parts[8]);
  auto target = Unescape(parts[9]);
  auto reference = Unescape(parts[13]);
  if (!key || !payment || !processor || !currency || !target || !reference) return std::nullopt;
  if (!ParseInt(parts[2], kind) || !ParseInt(parts[4], r.step_index) ||
      !ParseInt(parts[6], method) || !ParseInt(parts[7], r.requested_minor) ||
      !ParseInt(parts[10], outcome) || !ParseInt(parts[11], error) ||
      !ParseInt(parts[12], r.processed_minor) || !ParseInt(parts[14], r.latency_ms)) {
    return std::nullopt;
  }
  if (!::payments::events::v1::OperationKind_IsValid(kind) ||
      !::payments::types::v1::PaymentMethod_IsValid(method) ||
      !::payments::commands::v1::GatewayOutcome_IsValid(outcome) ||
      !::payments::types::v1::ErrorCode_IsValid(error)) {
    return std::nullopt;
  }
  r.key = std::move(*key);
  r.kind = static_cast<OperationKind>(kind);
  r.payment_id = std::move(*payment);
  r.processor_id = std::move(*processor);
  r.method = static_cast<PaymentMethod>(method);
  r.currency = std::move(*currency);
  r.target_reference = std::move(*target);
  r.outcome = static_cast<GatewayOutcome>(outcome);
  r.error_code = static_cast<ErrorCode>(error);
  r.processor_reference = std::move(*reference);
  return r;
}

StatusOr<std::vector<Record>> ReadJournal(const std::string& path, bool repair) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (access(path.c_str(), F_OK) != 0) return std::vector<Record>{};
    return UnavailableError("ledger " + path + ": cannot read");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string data = buffer.str();
  std::vector<Record> records;
  size_t start = 0;
  size_t line_no = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    if (nl == std::string::npos) {
      // A torn last line: the process died inside write(2). Its answer never left.
      if (repair && truncate(path.c_str(), static_cast<off_t>(start)) != 0) {
        return UnavailableError("ledger " + path + ": cannot drop torn last line: " + ErrnoText());
      }
      break;
    }
    ++line_no;
    auto record = DecodeRecord(std::string_view(data).substr(start, nl - start));
    if (!record) {
      return DataLossError("ledger " + path + ": line " + std::to_string(line_no) +
                           " is not a valid record");
    }
    records.push_back(std::move(*record));
    start = nl + 1;
  }
  return records;
}

StatusOr<std::unique_ptr<Journal>> Journal::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return UnavailableError("ledger " + path + ": cannot open: " + ErrnoText());
  return std::unique_ptr<Journal>(new Journal(fd));
}

Journal::~Journal() { ::close(fd_); }

bool Journal::Append(const Record& record) {
  const std::string line = EncodeRecord(record);
  struct stat st {};
  if (fstat(fd_, &st) != 0) return false;
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Leave no torn line behind for the next append to glue onto.
      if (ftruncate(fd_, st.st_size) != 0) {
        // Nothing more to do: the reader drops a torn last line, and a torn middle line
        // makes Open() fail loudly rather than guess.
      }
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace payorch::connectors::internal
