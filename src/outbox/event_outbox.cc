#include "outbox/event_outbox.h"

namespace payorch::outbox {

namespace {

// Shared by the delivery callbacks of one group's records.
struct PendingGroup {
  GroupResult result;
  size_t outstanding = 0;
  EventOutbox::GroupCallback done;
};

}  // namespace

EventOutbox::EventOutbox(log::Producer& producer, std::string events_topic)
    : producer_(producer), topic_(std::move(events_topic)) {}

log::LogStatus EventOutbox::Publish(int32_t partition, std::vector<std::string> keys,
                                    std::vector<std::string> values, GroupCallback done) {
  if (fenced(partition)) {
    ++probe_.refused_fenced;
    return FailedPreconditionError("partition " + std::to_string(partition) + " is fenced");
  }
  auto group = std::make_shared<PendingGroup>();
  group->result.partition = partition;
  group->result.ok = true;
  group->result.offsets.assign(values.size(), -1);
  group->outstanding = values.size();
  group->done = std::move(done);
  ++probe_.groups;
  for (size_t i = 0; i < values.size(); ++i) {
    log::OutRecord record;
    record.topic = topic_;
    record.partition = PartitionId{partition};
    record.key = std::move(keys[i]);
    record.value = std::move(values[i]);
    ++depth_;
    ++probe_.records;
    log::LogStatus st = producer_.Produce(record, [this, group, i](const log::Delivery& d) {
      --depth_;
      if (d.status.ok()) {
        group->result.offsets[i] = d.offset.value();
      } else if (group->result.ok) {
        group->result.ok = false;
        group->result.error = d.status.ToString();
        ++probe_.failures;
      }
      if (--group->outstanding == 0 && group->done) group->done(group->result);
    });
    if (!st.ok()) {
      --depth_;
      // Records already queued will still report; make the group fail when they do.
      group->result.ok = false;
      group->result.error = st.ToString();
      ++probe_.failures;
      group->outstanding -= values.size() - i;
      if (group->outstanding == 0 && group->done) group->done(group->result);
      return st;
    }
  }
  return log::LogStatus::Ok();
}

}  // namespace payorch::outbox
