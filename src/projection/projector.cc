#include "projection/projector.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include "command/serialize.h"
#include "command/status.h"
#include "command/transitions.h"
#include "projection/internal/keys.h"
#include "projection/internal/time.h"

namespace payorch::projection {

namespace ev = ::payments::events::v1;
namespace ty = ::payments::types::v1;
using internal::CheckpointKey;

namespace {

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetFixed64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

int FindAttemptIndex(const pv::PaymentView& v, const std::string& key) {
  for (int i = v.attempts_size() - 1; i >= 0; --i) {
    if (v.attempts(i).idempotency_key() == key) return i;
  }
  return -1;
}
pv::Attempt* FindAttempt(pv::PaymentView& v, const std::string& key) {
  const int i = FindAttemptIndex(v, key);
  return i >= 0 ? v.mutable_attempts(i) : nullptr;
}
const pv::Attempt* FindAttempt(const pv::PaymentView& v, const std::string& key) {
  const int i = FindAttemptIndex(v, key);
  return i >= 0 ? &v.attempts(i) : nullptr;
}

pv::Attempt* StartAttempt(pv::PaymentView& v, const ev::GatewayOperation& op, int64_t at_ms) {
  pv::Attempt* a = v.add_attempts();
  a->set_idempotency_key(op.idempotency_key());
  a->set_kind(op.kind());
  a->set_step_index(op.step_index());
  a->set_attempt(op.attempt());
  a->set_processor_id(op.processor_id());
  a->set_method(op.method());
  a->set_amount_requested_minor(op.amount().amount_minor());
  a->set_outcome(pv::ATTEMPT_OUTCOME_PENDING);
  a->set_started_at_ms(at_ms);
  return a;
}

// The attempt `op` answers (started earlier; created if its start is not in the view).
pv::Attempt* Answer(pv::PaymentView& v, const ev::GatewayOperation& op, int64_t at_ms,
                    pv::AttemptOutcome outcome) {
  pv::Attempt* a = FindAttempt(v, op.idempotency_key());
  if (a == nullptr) a = StartAttempt(v, op, at_ms);
  a->set_outcome(outcome);
  a->set_finished_at_ms(at_ms);
  return a;
}

uint32_t Decremented(uint32_t counter) { return counter > 0 ? counter - 1 : 0; }

// StatusFacts.every_step_released: every step that authorized money has a requested void
// that succeeded (compensations aside).
bool EveryStepReleased(const pv::PaymentView& v) {
  std::set<uint32_t> authorized;
  std::set<uint32_t> released;
  for (const pv::Attempt& a : v.attempts()) {
    if (a.outcome() != pv::ATTEMPT_OUTCOME_SUCCEEDED) continue;
    if ((a.kind() == ev::OPERATION_KIND_AUTHORIZE || a.kind() == ev::OPERATION_KIND_SALE) &&
        a.amount_processed_minor() > 0) {
      authorized.insert(a.step_index());
    } else if (a.kind() == ev::OPERATION_KIND_VOID && !a.compensation()) {
      released.insert(a.step_index());
    }
  }
  return std::includes(released.begin(), released.end(), authorized.begin(), authorized.end());
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string FailedOutcome(ty::ErrorCode code) {
  std::string name = ty::ErrorCode_Name(code);
  constexpr std::string_view kPrefix = "ERROR_CODE_";
  if (name.rfind(kPrefix, 0) == 0) name = name.substr(kPrefix.size());
  return "failed_" + Lower(name);
}

}  // namespace

std::string EncodeCheckpoint(const Checkpoint& c) {
  std::string out;
  PutFixed64(&out, static_cast<uint64_t>(c.next_offset));
  PutFixed64(&out, c.epoch);
  PutFixed64(&out, c.highest_seen);
  return out;
}

std::optional<Checkpoint> DecodeCheckpoint(std::string_view bytes) {
  if (bytes.size() != 24) return std::nullopt;
  Checkpoint c;
  c.next_offset = static_cast<int64_t>(GetFixed64(bytes.substr(0, 8)));
  c.epoch = GetFixed64(bytes.substr(8, 8));
  c.highest_seen = GetFixed64(bytes.substr(16, 8));
  return c;
}

std::string StatusSlug(ev::PaymentStatus status) {
  std::string name = ev::PaymentStatus_Name(status);
  constexpr std::string_view kPrefix = "PAYMENT_STATUS_";
  if (name.rfind(kPrefix, 0) == 0) name = name.substr(kPrefix.size());
  return Lower(name);
}

std::optional<ev::PaymentStatus> ParseStatus(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.rfind("PAYMENT_STATUS_", 0) != 0) upper = "PAYMENT_STATUS_" + upper;
  ev::PaymentStatus status{};
  if (!ev::PaymentStatus_Parse(upper, &status) || status == ev::PAYMENT_STATUS_UNSPECIFIED) {
    return std::nullopt;
  }
  return status;
}

command::StatusFacts ViewStatusFacts(const pv::PaymentView& v, const ev::EventEnvelope& e) {
  command::StatusFacts f;
  if (!command::StatusNeedsFacts(e.event_case())) return f;
  f.captures_in_flight = v.captures_in_flight() > 0;
  f.voids_in_flight = v.voids_in_flight() > 0;
  f.capturable_left = v.authorized_minor() - v.voided_minor() - v.captured_minor();
  f.every_step_released = EveryStepReleased(v);
  if (e.has_payment_captured()) {
    const pv::Attempt* a = FindAttempt(v, e.payment_captured().op().idempotency_key());
    f.final_capture = a != nullptr && a->final_capture();
  }
  return f;
}

namespace {
constexpr size_t kScratchBlock = 64 << 10;  // far more than one event needs

google::protobuf::ArenaOptions ArenaBlocks(size_t start, size_t max, char* initial = nullptr) {
  google::protobuf::ArenaOptions o;
  o.start_block_size = start;
  o.max_block_size = max;
  o.initial_block = initial;
  o.initial_block_size = initial != nullptr ? kScratchBlock : 0;
  return o;
}
}  // namespace

Projector::Projector(const ViewSource* source, ProjectorOptions options)
    : source_(source),
      options_(std::move(options)),
      views_arena_(std::make_unique<google::protobuf::Arena>(ArenaBlocks(64 << 10, 4 << 20))),
      scratch_block_(std::make_unique<char[]>(kScratchBlock)),
      scratch_arena_(std::make_unique<google::protobuf::Arena>(
          ArenaBlocks(16 << 10, 256 << 10, scratch_block_.get()))) {
  views_.reserve(std::min<size_t>(options_.max_cached_views, 1 << 16));
}

Projector::~Projector() {
  views_.clear();  // pointers into views_arena_, destroyed with it
}

void Projector::Resume(int32_t partition, const Checkpoint& checkpoint) {
  PartitionState& p = partitions_[partition];
  p.checkpoint = checkpoint;
  p.filter.Restore(checkpoint.epoch, checkpoint.highest_seen);
  p.groups = {};
  p.group_start.reset();
  p.dirty = false;
}

Checkpoint Projector::checkpoint(int32_t partition) {
  const PartitionState& p = partitions_[partition];
  return p.group_start.value_or(p.checkpoint);
}

void Projector::Observe(int32_t partition, int64_t offset, std::string_view value) {
  scratch_arena_->Reset();
  auto* e = google::protobuf::Arena::CreateMessage<ev::EventEnvelope>(scratch_arena_.get());
  if (!e->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    ++stats_.records;
    ++stats_.undecodable;
    PartitionState& p = partitions_[partition];
    p.checkpoint.next_offset = std::max(p.checkpoint.next_offset, offset + 1);
    p.dirty = true;
    return;
  }
  Observe(partition, offset, *e);
}

void Projector::Observe(int32_t partition, int64_t offset, const ev::EventEnvelope& e) {
  ++stats_.records;
  PartitionState& p = partitions_[partition];
  // Where a restart must read from if this event starts a command group.
  const Checkpoint before{offset, p.filter.epoch(), p.filter.highest_seen()};
  p.checkpoint.next_offset = std::max(p.checkpoint.next_offset, offset + 1);
  p.dirty = true;
  const command::Verdict verdict = p.filter.Observe(e);
  p.checkpoint.epoch = p.filter.epoch();
  p.checkpoint.highest_seen = p.filter.highest_seen();
  if (verdict == command::Verdict::kClaim) {
    ++stats_.claims;
    p.groups.DropPartial();  // the writer of an unfinished group is gone
    p.group_start.reset();
    return;
  }
  if (verdict == command::Verdict::kFenced) {
    ++stats_.fenced;
    return;
  }
  // An event without a causation count belongs to no group: applied as it comes.
  if (!options_.whole_groups || e.causation().count() == 0) return ApplyCounted(partition, e);
  if (p.groups.CompletesAlone(e)) return ApplyCounted(partition, e);  // no copy
  std::optional<std::vector<ev::EventEnvelope>> group = p.groups.Add(e);
  if (group) {
    p.group_start.reset();
    for (const ev::EventEnvelope& g : *group) ApplyCounted(partition, g);
    return;
  }
  if (!p.groups.mid_group()) {
    p.group_start.reset();  // a repeat of a complete group, or the tail of a cut one
  } else if (p.groups.partial_size() == 1) {
    p.group_start = before;  // this event opened a group (any cut one before it is dropped)
  }
}

void Projector::ApplyCounted(int32_t partition, const ev::EventEnvelope& e) {
  if (e.payment_id().empty() || e.sequence() == 0) {
    ++stats_.other;
    return;
  }
  CachedView& cached = ViewFor(e.payment_id());
  pv::PaymentView& view = *cached.view;
  if (e.sequence() <= view.last_sequence()) {
    ++stats_.duplicates;
    return;
  }
  if (view.partition() != partition) view.set_partition(partition);
  Apply(view, e);
  ++stats_.applied;
  if (!cached.dirty) {
    cached.dirty = true;
    dirty_views_.push_back(e.payment_id());
  }
}

std::optional<std::string> Projector::SourceGet(const std::string& key) const {
  if (source_ == nullptr || source_empty_) return std::nullopt;
  return source_->Get(key);
}

Projector::CachedView& Projector::ViewFor(const std::string& payment_id) {
  auto [it, inserted] = views_.try_emplace(payment_id);
  if (inserted) {
    pv::PaymentView* view =
        google::protobuf::Arena::CreateMessage<pv::PaymentView>(views_arena_.get());
    it->second.view = view;
    std::optional<std::string> bytes = SourceGet(internal::PaymentKey(payment_id));
    if (!bytes || !view->ParseFromString(*bytes)) {
      view->Clear();
      view->set_payment_id(payment_id);
    }
  }
  return it->second;
}

void Projector::AddTotal(const pv::PaymentView& view, int64_t at_ms, std::string_view processor,
                         std::string_view outcome, int64_t amount) {
  const int64_t day = at_ms >= 0 ? at_ms / 86'400'000 : (at_ms - 86'399'999) / 86'400'000;
  if (day != date_day_) {
    date_day_ = day;
    date_ = internal::UtcDate(at_ms);
  }
  const std::string& date = date_;
  std::string key =
      internal::DailyKey(view.merchant_id(), date, view.currency(), processor, outcome);
  auto [it, inserted] = totals_.try_emplace(key);
  pv::DailyTotal& t = it->second.total;
  if (inserted) {
    std::optional<std::string> bytes = SourceGet(key);
    if (!bytes || !t.ParseFromString(*bytes)) {
      t.Clear();
      t.set_date(date);
      t.set_merchant_id(view.merchant_id());
      t.set_currency(view.currency());
      t.set_processor_id(std::string(processor));
      t.set_outcome(std::string(outcome));
    }
  }
  t.set_count(t.count() + 1);
  t.set_amount_minor(t.amount_minor() + amount);
  // Fees are charged on money actually captured (a sale's success, a capture), never on an
  // authorization, which a void may release.
  if (outcome == "captured") {
    auto fee = options_.fee_bps.find(std::string(processor));
    if (fee != options_.fee_bps.end()) {
      t.set_fee_minor(t.fee_minor() + amount * fee->second / 10'000);
    }
  }
  it->second.dirty = true;
}

void Projector::Apply(pv::PaymentView& v, const ev::EventEnvelope& e) {
  const int64_t at = e.occurred_at_ms();
  v.set_last_sequence(e.sequence());
  v.set_updated_at_ms(at);
  if (v.merchant_id().empty()) v.set_merchant_id(e.merchant_id());
  switch (e.event_case()) {
    case ev::EventEnvelope::kPaymentCreated: {
      const auto& pc = e.payment_created();
      v.set_currency(pc.amount().currency());
      v.set_requested_minor(pc.amount().amount_minor());
      v.set_method(pc.method());
      v.set_capture_mode(pc.capture_mode());
      v.set_idempotency_key(pc.idempotency_key());
      v.set_request_hash(pc.request_hash());
      v.set_customer_reference(pc.customer_reference());
      *v.mutable_issues() = pc.issues();
      v.set_created_at_ms(at);
      break;
    }
    case ev::EventEnvelope::kPlanBuilt: {
      const auto& pb = e.plan_built();
      *v.mutable_plan() = pb.plan();
      if (pb.method() != ty::PAYMENT_METHOD_UNSPECIFIED) v.set_method(pb.method());
      if (v.status() == ev::PAYMENT_STATUS_FAILED) {  // confirmed again with another method
        v.clear_failure_reason();
      }
      break;
    }
    case ev::EventEnvelope::kStepStarted:
      StartAttempt(v, e.step_started().op(), at);
      break;
    case ev::EventEnvelope::kStepSucceeded: {
      const auto& ss = e.step_succeeded();
      const int64_t amount = ss.result().amount_processed_minor();
      pv::Attempt* a = Answer(v, ss.op(), at, pv::ATTEMPT_OUTCOME_SUCCEEDED);
      a->set_amount_processed_minor(amount);
      a->set_latency_ms(ss.result().latency_ms());
      a->set_error_code(ty::ERROR_CODE_UNSPECIFIED);
      a->set_processor_reference(ss.processor_reference());
      v.set_authorized_minor(v.authorized_minor() + amount);
      if (ss.op().kind() == ev::OPERATION_KIND_SALE)
        v.set_captured_minor(v.captured_minor() + amount);
      AddTotal(v, at, ss.op().processor_id(), "authorized", amount);
      // A sale captures as it authorizes: its money is in the captured totals too.
      if (ss.op().kind() == ev::OPERATION_KIND_SALE) {
        AddTotal(v, at, ss.op().processor_id(), "captured", amount);
      }
      break;
    }
    case ev::EventEnvelope::kStepFailed: {
      const auto& sf = e.step_failed();
      pv::Attempt* a = Answer(v, sf.op(), at, pv::ATTEMPT_OUTCOME_FAILED);
      a->set_error_code(sf.result().error_code());
      a->set_latency_ms(sf.result().latency_ms());
      auto [outcome, fresh] = failed_outcomes_.try_emplace(sf.result().error_code());
      if (fresh) outcome->second = FailedOutcome(sf.result().error_code());
      AddTotal(v, at, sf.op().processor_id(), outcome->second, sf.op().amount().amount_minor());
      break;
    }
    case ev::EventEnvelope::kPaymentProcessing: {
      const auto& op = e.payment_processing().op();
      pv::Attempt* a = Answer(v, op, at, pv::ATTEMPT_OUTCOME_UNKNOWN);
      a->set_finished_at_ms(0);
      a->set_error_code(ty::ERROR_CODE_TIMEOUT);
      break;
    }
    case ev::EventEnvelope::kProcessingExpired: {
      pv::Attempt* a = Answer(v, e.processing_expired().op(), at, pv::ATTEMPT_OUTCOME_EXPIRED);
      a->set_error_code(ty::ERROR_CODE_TIMEOUT);
      AddTotal(v, at, e.processing_expired().op().processor_id(), "expired",
               e.processing_expired().op().amount().amount_minor());
      break;
    }
    case ev::EventEnvelope::kPaymentFailed:
      v.set_failure_reason(e.payment_failed().reason());
      break;
    case ev::EventEnvelope::kCaptureStarted: {
      pv::Attempt* a = StartAttempt(v, e.capture_started().op(), at);
      a->set_final_capture(e.capture_started().final_capture());
      v.set_captures_in_flight(v.captures_in_flight() + 1);
      break;
    }
    case ev::EventEnvelope::kPaymentCaptured: {
      const auto& pc = e.payment_captured();
      pv::Attempt* a = Answer(v, pc.op(), at, pv::ATTEMPT_OUTCOME_SUCCEEDED);
      a->set_amount_processed_minor(pc.op().amount().amount_minor());
      v.set_captures_in_flight(Decremented(v.captures_in_flight()));
      v.set_captured_minor(pc.total_captured_minor());
      AddTotal(v, at, pc.op().processor_id(), "captured", pc.op().amount().amount_minor());
      break;
    }
    case ev::EventEnvelope::kCaptureFailed: {
      pv::Attempt* a = Answer(v, e.capture_failed().op(), at, pv::ATTEMPT_OUTCOME_FAILED);
      a->set_error_code(e.capture_failed().result().error_code());
      v.set_captures_in_flight(Decremented(v.captures_in_flight()));
      break;
    }
    case ev::EventEnvelope::kVoidStarted: {
      const auto& vs = e.void_started();
      StartAttempt(v, vs.op(), at)->set_compensation(vs.compensation());
      v.set_voids_in_flight(v.voids_in_flight() + 1);
      // The merchant's reason for a void or a cancel after authorization: what
      // cancellation_reason shows once the payment is VOIDED.
      if (!vs.compensation() && !vs.reason().empty()) v.set_failure_reason(vs.reason());
      break;
    }
    case ev::EventEnvelope::kPaymentVoided: {
      const auto& pvd = e.payment_voided();
      if (!pvd.has_op()) break;
      pv::Attempt* a = Answer(v, pvd.op(), at, pv::ATTEMPT_OUTCOME_SUCCEEDED);
      a->set_amount_processed_minor(pvd.op().amount().amount_minor());
      v.set_voids_in_flight(Decremented(v.voids_in_flight()));
      const pv::Attempt* reversed = FindAttempt(v, pvd.op().parent_id());
      if (command::VoidReleasesCountedMoney(
              !pvd.op().parent_id().empty(),
              reversed != nullptr && reversed->outcome() == pv::ATTEMPT_OUTCOME_SUCCEEDED)) {
        v.set_voided_minor(v.voided_minor() + pvd.op().amount().amount_minor());
      }
      AddTotal(v, at, pvd.op().processor_id(), "voided", pvd.op().amount().amount_minor());
      break;
    }
    case ev::EventEnvelope::kVoidFailed: {
      pv::Attempt* a = Answer(v, e.void_failed().op(), at, pv::ATTEMPT_OUTCOME_FAILED);
      a->set_error_code(e.void_failed().result().error_code());
      v.set_voids_in_flight(Decremented(v.voids_in_flight()));
      break;
    }
    case ev::EventEnvelope::kRefundStarted:
      StartAttempt(v, e.refund_started().op(), at);
      v.set_refunds_in_flight(v.refunds_in_flight() + 1);
      break;
    case ev::EventEnvelope::kRefundSucceeded: {
      const auto& rs = e.refund_succeeded();
      pv::Attempt* a = Answer(v, rs.op(), at, pv::ATTEMPT_OUTCOME_SUCCEEDED);
      a->set_amount_processed_minor(rs.op().amount().amount_minor());
      v.set_refunds_in_flight(Decremented(v.refunds_in_flight()));
      v.set_refunded_minor(rs.total_refunded_minor());
      AddTotal(v, at, rs.op().processor_id(), "refunded", rs.op().amount().amount_minor());
      break;
    }
    case ev::EventEnvelope::kRefundFailed: {
      pv::Attempt* a = Answer(v, e.refund_failed().op(), at, pv::ATTEMPT_OUTCOME_FAILED);
      a->set_error_code(e.refund_failed().result().error_code());
      v.set_refunds_in_flight(Decremented(v.refunds_in_flight()));
      break;
    }
    case ev::EventEnvelope::kPaymentCanceled:
      v.set_failure_reason(e.payment_canceled().reason());
      break;
    case ev::EventEnvelope::kCommandRejected:
      v.set_rejected_commands(v.rejected_commands() + 1);
      break;
    case ev::EventEnvelope::kCommandDeduplicated:
      v.set_deduplicated_commands(v.deduplicated_commands() + 1);
      break;
    default:  // PaymentCompleted (the status only), PaymentConfirmed, WriterClaimed
      break;
  }
  // The status: the core's rule (command/status.h) on the view's facts. An edge the
  // lifecycle lacks leaves the status, as it does in the core (which reports the breach).
  const ev::PaymentStatus before = v.status();
  if (const auto to = command::PaymentStatusAfter(before, e, ViewStatusFacts(v, e))) {
    if (*to != before && command::IsValidTransition(before, *to, e.event_case())) {
      v.set_status(*to);
    } else if (*to != before) {
      ++stats_.illegal_transitions;
    }
  }
}

std::vector<Mutation> Projector::Flush() {
  std::vector<Mutation> out;
  out.reserve(dirty_views_.size() * 3 + totals_.size() + partitions_.size());
  for (const std::string& id : dirty_views_) {
    CachedView& cached = views_.at(id);
    cached.dirty = false;
    const pv::PaymentView& v = *cached.view;
    Mutation& m = out.emplace_back();
    m.key = internal::PaymentKey(id);
    command::SerializeDeterministic(v, &m.value);
    if (!v.merchant_id().empty() && !v.idempotency_key().empty()) {  // created
      pv::PaymentSummary s;
      s.set_payment_id(id);
      s.set_status(v.status());
      s.set_requested_minor(v.requested_minor());
      s.set_currency(v.currency());
      s.set_created_at_ms(v.created_at_ms());
      s.set_updated_at_ms(v.updated_at_ms());
      out.push_back({internal::MerchantIndexKey(v.merchant_id(), v.created_at_ms(), id),
                     command::SerializeDeterministic(s)});
    }
    if (!v.merchant_id().empty() && !v.idempotency_key().empty()) {
      pv::IdempotencyRecord r;
      r.set_merchant_id(v.merchant_id());
      r.set_idempotency_key(v.idempotency_key());
      r.set_payment_id(id);
      r.set_request_hash(v.request_hash());
      r.set_outcome(v.status());
      r.set_created_at_ms(v.created_at_ms());
      out.push_back({internal::IdempotencyKey(v.merchant_id(), v.idempotency_key()),
                     command::SerializeDeterministic(r)});
    }
  }
  dirty_views_.clear();
  for (auto& [key, cached] : totals_) {
    if (!cached.dirty) continue;
    cached.dirty = false;
    out.push_back({key, command::SerializeDeterministic(cached.total)});
  }
  for (auto& [partition, state] : partitions_) {
    if (!state.dirty) continue;
    state.dirty = false;
    out.push_back(
        {CheckpointKey(partition), EncodeCheckpoint(state.group_start.value_or(state.checkpoint))});
  }
  // Evicting makes the source the only copy of what was written: ask it from now on.
  if (views_.size() > options_.max_cached_views) {
    views_.clear();
    views_arena_->Reset();
    source_empty_ = false;
  }
  if (totals_.size() > options_.max_cached_views) {
    totals_.clear();
    source_empty_ = false;
  }
  return out;
}

}  // namespace payorch::projection
