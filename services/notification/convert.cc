#include "services/notification/convert.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "sb/rpc/json.h"
#include "services/notification/preferences.h"

namespace sb::notification {

namespace pb = ::switchboard::notification::v1;
using google::protobuf::util::TimeUtil;

namespace {

void ToProto(const Actor& in, pb::Actor* out) {
  out->set_id(in.id);
  out->set_name(in.name);
  out->set_avatar_url(in.avatar_url);
}

}  // namespace

void ToProto(const Notification& in, pb::Notification* out) {
  out->set_id(in.id);
  out->set_recipient_id(in.recipient_id);
  out->set_type(in.type);
  ToProto(in.actor, out->mutable_actor());
  for (const auto& a : in.actors) ToProto(a, out->add_actors());
  out->set_count(static_cast<int32_t>(in.count));
  out->set_entity_type(in.entity_type);
  out->set_entity_id(in.entity_id);
  out->set_title(in.title);
  out->set_body(in.body);
  auto& data = *out->mutable_data();
  for (const auto& [k, v] : in.data) data[k] = v;
  if (!in.entity_type.empty()) data["entityType"] = in.entity_type;
  if (!in.entity_id.empty()) data["entityId"] = in.entity_id;
  if (!in.actor.id.empty()) data["senderId"] = in.actor.id;
  if (!in.deep_link.empty()) data["deepLink"] = in.deep_link;
  out->set_deep_link(in.deep_link);
  out->set_read(in.read_at_ms.has_value());
  *out->mutable_created_at() = TimeUtil::MillisecondsToTimestamp(in.created_at_ms);
  *out->mutable_updated_at() = TimeUtil::MillisecondsToTimestamp(in.updated_at_ms);
  if (in.read_at_ms) *out->mutable_read_at() = TimeUtil::MillisecondsToTimestamp(*in.read_at_ms);
  out->set_group_key(in.group_key);
}

void ToProto(const NotificationType& in, pb::NotificationType* out) {
  out->set_name(in.name);
  out->set_title_template(in.title_template);
  out->set_body_template(in.body_template);
  out->set_deep_link_template(in.deep_link_template);
  out->set_default_enabled(in.default_enabled);
  out->set_push(in.push);
  out->set_built_in(in.built_in);
}

void ToProto(const Preferences& in, const std::map<std::string, bool>& effective_types, pb::Preferences* out) {
  out->set_user_id(in.user_id);
  out->set_push_enabled(in.push_enabled);
  out->set_email_enabled(in.email_enabled);
  for (const auto& [k, v] : effective_types) (*out->mutable_types())[k] = v;
  auto* q = out->mutable_quiet_hours();
  q->set_enabled(in.quiet_hours.enabled);
  if (in.quiet_hours.enabled) {
    q->set_start(FormatClock(in.quiet_hours.start_minute));
    q->set_end(FormatClock(in.quiet_hours.end_minute));
  }
  out->set_time_zone(in.time_zone);
}

Actor FromProto(const pb::Actor& in) { return Actor{in.id(), in.name(), in.avatar_url()}; }

pb::Outcome ToProto(Outcome outcome) {
  switch (outcome) {
    case Outcome::kCreated: return pb::OUTCOME_CREATED;
    case Outcome::kCollapsed: return pb::OUTCOME_COLLAPSED;
    case Outcome::kDuplicate: return pb::OUTCOME_DUPLICATE;
    case Outcome::kDisabled: return pb::OUTCOME_DISABLED;
  }
  return pb::OUTCOME_UNSPECIFIED;
}

std::string UnreadEventJson(int64_t count) { return absl::StrCat("{\"count\":", count, "}"); }

std::string NotificationEventJson(const Notification& n, bool updated) {
  pb::Notification p;
  ToProto(n, &p);
  std::string out = sb::rpc::ProtoToJsonString(p);
  // Append the flag to the object without re-parsing it.
  if (!out.empty() && out.back() == '}') {
    out.pop_back();
    out += updated ? ",\"updated\":true}" : ",\"updated\":false}";
  }
  return out;
}

}  // namespace sb::notification
