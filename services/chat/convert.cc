#include "services/chat/convert.h"

#include <google/protobuf/util/time_util.h>

#include "sb/rpc/json.h"

namespace sb::chat {

namespace pb = ::switchboard::chat::v1;
using google::protobuf::util::TimeUtil;

void ToProto(const User& in, pb::User* out) {
  out->set_id(in.id);
  out->set_username(in.username);
  out->set_display_name(in.display_name);
  out->set_avatar_url(in.avatar_url);
  out->set_is_online(in.is_online);
}

void ToProto(const Message& in, bool for_sender, pb::Message* out) {
  out->set_id(in.id);
  out->set_conversation_id(in.conversation_id);
  out->set_seq(in.seq);
  out->set_sender_id(in.sender_id);
  out->set_client_message_id(in.client_message_id);
  out->set_type(in.type);
  out->set_content(in.content);
  out->set_media_url(in.media_url);
  *out->mutable_created_at() = TimeUtil::MillisecondsToTimestamp(in.created_at_ms);
  out->set_is_edited(in.edited_at_ms.has_value());
  if (in.edited_at_ms) *out->mutable_edited_at() = TimeUtil::MillisecondsToTimestamp(*in.edited_at_ms);
  out->set_is_deleted(in.deleted);
  if (for_sender) {
    auto* m = out->mutable_moderation();
    m->set_links_stripped(in.moderation.links_stripped);
    m->set_shadowed(in.moderation.shadowed);
    m->set_reason(in.moderation.reason);
  }
  out->set_is_read(in.is_read);
}

void ToProto(const Conversation& in, const std::string& viewer, pb::Conversation* out) {
  out->set_id(in.id);
  out->set_type(in.type);
  out->set_title(in.title);
  out->set_creator_id(in.creator_id);
  for (const auto& p : in.participants) {
    auto* pp = out->add_participants();
    ToProto(p.user, pp->mutable_user());
    pp->set_role(p.role);
    pp->set_last_read_seq(p.last_read_seq);
    pp->set_muted(p.muted);
    *pp->mutable_joined_at() = TimeUtil::MillisecondsToTimestamp(p.joined_at_ms);
    if (in.type == "direct" && p.user.id != viewer) ToProto(p.user, out->mutable_participant());
  }
  if (in.last_message) ToProto(*in.last_message, in.last_message->sender_id == viewer, out->mutable_last_message());
  out->set_unread_count(static_cast<int32_t>(in.unread_count));
  out->set_is_muted(in.muted);
  *out->mutable_last_activity_at() = TimeUtil::MillisecondsToTimestamp(in.last_activity_ms);
  *out->mutable_created_at() = TimeUtil::MillisecondsToTimestamp(in.created_at_ms);
  out->set_last_seq(in.last_seq);
  out->set_last_read_seq(in.last_read_seq);
}

std::string ToJson(const google::protobuf::Message& message) { return sb::rpc::ProtoToJsonString(message); }

}  // namespace sb::chat
