#include "services/notification/notification_service.h"

#include "sb/common/log.h"
#include "sb/rpc/blocking.h"
#include "sb/rpc/status.h"
#include "services/notification/convert.h"
#include "services/notification/preferences.h"

namespace sb::notification {

namespace pb = ::switchboard::notification::v1;

namespace {

absl::Status Fill(const absl::StatusOr<Notifications::NotifyResult>& result, pb::NotifyResponse* resp) {
  if (!result.ok()) return result.status();
  resp->set_outcome(ToProto(result->outcome));
  if (result->notification) ToProto(*result->notification, resp->mutable_notification());
  resp->set_unread_count(result->unread);
  resp->set_push_requested(result->push_requested);
  return absl::OkStatus();
}

std::map<std::string, std::string> DataOf(const google::protobuf::Map<std::string, std::string>& data) {
  return std::map<std::string, std::string>(data.begin(), data.end());
}

}  // namespace

grpc::ServerUnaryReactor* NotificationService::NotifyOnWriter(grpc::CallbackServerContext* context,
                                                              absl::StatusOr<Notifications::NotifyInput> input,
                                                              pb::NotifyResponse* resp) {
  // NotifyAsync never blocks, so it runs right here on the callback thread; the write is
  // group-committed and the call finishes from the writer thread. No pool thread is involved.
  auto* reactor = context->DefaultReactor();
  if (!input.ok()) {
    reactor->Finish(sb::rpc::ToGrpcStatus(input.status()));
    return reactor;
  }
  notifications_.NotifyAsync(
      *input,
      [reactor, resp](absl::StatusOr<Notifications::NotifyResult> result) {
        reactor->Finish(sb::rpc::ToGrpcStatus(Fill(result, resp)));
      },
      [context] { return context->IsCancelled(); });
  return reactor;
}

grpc::ServerUnaryReactor* NotificationService::Notify(grpc::CallbackServerContext* context, const pb::NotifyRequest* req,
                                                      pb::NotifyResponse* resp) {
  return NotifyOnWriter(context,
                        Notifications::NotifyInput{.recipient_id = req->recipient_id(),
                                                   .type = req->type(),
                                                   .actor = FromProto(req->actor()),
                                                   .entity_type = req->entity_type(),
                                                   .entity_id = req->entity_id(),
                                                   .data = DataOf(req->data()),
                                                   .dedupe_key = req->dedupe_key(),
                                                   .group_key = req->group_key(),
                                                   .deep_link = req->deep_link()},
                        resp);
}

grpc::ServerUnaryReactor* NotificationService::NotifyMany(grpc::CallbackServerContext* context,
                                                          const pb::NotifyManyRequest* req,
                                                          pb::NotifyManyResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto result = notifications_.NotifyMany(
        {.recipients = std::vector<std::string>(req->recipient_ids().begin(), req->recipient_ids().end()),
         .type = req->type(),
         .actor = FromProto(req->actor()),
         .entity_type = req->entity_type(),
         .entity_id = req->entity_id(),
         .data = DataOf(req->data()),
         .dedupe_key = req->dedupe_key(),
         .deep_link = req->deep_link()});
    if (!result.ok()) return result.status();
    resp->set_created(result->created);
    resp->set_duplicates(result->duplicates);
    resp->set_disabled(result->disabled);
    resp->set_push_requested(result->push_requested);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* NotificationService::NotifyNewFollower(grpc::CallbackServerContext* context,
                                                                 const pb::NewFollowerRequest* req,
                                                                 pb::NotifyResponse* resp) {
  return NotifyOnWriter(context, Notifications::NewFollowerInput(req->recipient_id(), FromProto(req->follower())), resp);
}

grpc::ServerUnaryReactor* NotificationService::NotifyPostLike(grpc::CallbackServerContext* context,
                                                              const pb::PostLikeRequest* req, pb::NotifyResponse* resp) {
  return NotifyOnWriter(context, Notifications::PostLikeInput(req->recipient_id(), FromProto(req->liker()), req->post_id(), req->post_preview()), resp);
}

grpc::ServerUnaryReactor* NotificationService::NotifyPostComment(grpc::CallbackServerContext* context,
                                                                 const pb::PostCommentRequest* req,
                                                                 pb::NotifyResponse* resp) {
  return NotifyOnWriter(context, Notifications::PostCommentInput(req->recipient_id(), FromProto(req->commenter()), req->post_id(), req->comment_id(), req->preview()), resp);
}

grpc::ServerUnaryReactor* NotificationService::NotifyCommentReply(grpc::CallbackServerContext* context,
                                                                  const pb::CommentReplyRequest* req,
                                                                  pb::NotifyResponse* resp) {
  return NotifyOnWriter(context, Notifications::CommentReplyInput(req->recipient_id(), FromProto(req->replier()), req->post_id(), req->comment_id(), req->reply_id(), req->preview()), resp);
}

grpc::ServerUnaryReactor* NotificationService::NotifyNewMessage(grpc::CallbackServerContext* context,
                                                                const pb::NewMessageRequest* req,
                                                                pb::NotifyResponse* resp) {
  return NotifyOnWriter(context, Notifications::NewMessageInput(req->recipient_id(), FromProto(req->sender()), req->conversation_id(), req->message_id(), req->preview()), resp);
}

grpc::ServerUnaryReactor* NotificationService::NotifyThreadReply(grpc::CallbackServerContext* context,
                                                                 const pb::ThreadReplyRequest* req,
                                                                 pb::NotifyResponse* resp) {
  return NotifyOnWriter(context, Notifications::ThreadReplyInput(req->recipient_id(), FromProto(req->replier()), req->thread_id(), req->reply_id(), req->preview()), resp);
}

grpc::ServerUnaryReactor* NotificationService::NotifyListingInquiry(grpc::CallbackServerContext* context,
                                                                    const pb::ListingInquiryRequest* req,
                                                                    pb::NotifyResponse* resp) {
  return NotifyOnWriter(context, Notifications::ListingInquiryInput(req->recipient_id(), FromProto(req->buyer()), req->listing_id(), req->listing_title(), req->inquiry_id(), req->preview()), resp);
}

grpc::ServerUnaryReactor* NotificationService::List(grpc::CallbackServerContext* context, const pb::ListRequest* req,
                                                    pb::ListResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto page = notifications_.List(req->user_id(), req->cursor(), req->limit(), req->unread_only());
    if (!page.ok()) return page.status();
    auto unread = notifications_.UnreadCount(req->user_id());
    if (!unread.ok()) return unread.status();
    for (const auto& n : page->notifications) ToProto(n, resp->add_notifications());
    resp->set_next_cursor(page->next_cursor);
    resp->set_unread_count(*unread);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* NotificationService::MarkRead(grpc::CallbackServerContext* context,
                                                        const pb::MarkReadRequest* req, pb::MarkReadResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto result = notifications_.MarkRead(req->user_id(), req->notification_id());
    if (!result.ok()) return result.status();
    resp->set_changed(result->changed);
    resp->set_unread_count(result->unread);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* NotificationService::MarkAllRead(grpc::CallbackServerContext* context,
                                                           const pb::MarkAllReadRequest* req,
                                                           pb::MarkAllReadResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto result = notifications_.MarkAllRead(req->user_id());
    if (!result.ok()) return result.status();
    resp->set_marked(result->marked);
    resp->set_unread_count(result->unread);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* NotificationService::GetUnreadCount(grpc::CallbackServerContext* context,
                                                              const pb::GetUnreadCountRequest* req,
                                                              pb::GetUnreadCountResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto count = notifications_.UnreadCount(req->user_id());
    if (!count.ok()) return count.status();
    resp->set_count(*count);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* NotificationService::GetPreferences(grpc::CallbackServerContext* context,
                                                              const pb::GetPreferencesRequest* req,
                                                              pb::Preferences* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto prefs = notifications_.GetPreferences(req->user_id());
    if (!prefs.ok()) return prefs.status();
    auto types = notifications_.EffectiveTypes(*prefs);
    if (!types.ok()) return types.status();
    ToProto(*prefs, *types, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* NotificationService::UpdatePreferences(grpc::CallbackServerContext* context,
                                                                 const pb::UpdatePreferencesRequest* req,
                                                                 pb::Preferences* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    NotificationStore::PreferencesUpdate update;
    if (req->has_push_enabled()) update.push_enabled = req->push_enabled();
    if (req->has_email_enabled()) update.email_enabled = req->email_enabled();
    for (const auto& [name, on] : req->types()) update.types[name] = on;
    if (req->has_time_zone()) update.time_zone = req->time_zone();
    if (req->has_quiet_hours()) {
      QuietHours q;
      q.enabled = req->quiet_hours().enabled();
      if (q.enabled) {
        auto start = ParseClock(req->quiet_hours().start());
        auto end = ParseClock(req->quiet_hours().end());
        if (!start.ok()) return absl::InvalidArgumentError(absl::StrCat("quiet_hours.start: ", start.status().message()));
        if (!end.ok()) return absl::InvalidArgumentError(absl::StrCat("quiet_hours.end: ", end.status().message()));
        q.start_minute = *start;
        q.end_minute = *end;
      }
      update.quiet_hours = q;
    }
    auto prefs = notifications_.UpdatePreferences(req->user_id(), update);
    if (!prefs.ok()) return prefs.status();
    auto types = notifications_.EffectiveTypes(*prefs);
    if (!types.ok()) return types.status();
    ToProto(*prefs, *types, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* NotificationService::RegisterType(grpc::CallbackServerContext* context,
                                                            const pb::RegisterTypeRequest* req,
                                                            pb::NotificationType* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    const auto& t = req->type();
    auto stored = notifications_.RegisterType(NotificationType{t.name(), t.title_template(), t.body_template(),
                                                               t.deep_link_template(), t.default_enabled(), t.push(),
                                                               false});
    if (!stored.ok()) return stored.status();
    ToProto(*stored, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* NotificationService::ListTypes(grpc::CallbackServerContext* context,
                                                         const pb::ListTypesRequest*, pb::ListTypesResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, resp]() -> absl::Status {
    auto types = notifications_.ListTypes();
    if (!types.ok()) return types.status();
    for (const auto& t : *types) ToProto(t, resp->add_types());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* NotificationService::RebuildUnreadCounters(grpc::CallbackServerContext* context,
                                                                     const pb::RebuildUnreadCountersRequest* req,
                                                                     pb::RebuildUnreadCountersResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto fixed = notifications_.RebuildUnreadCounters(req->user_id());
    if (!fixed.ok()) return fixed.status();
    resp->set_counters_changed(*fixed);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* NotificationService::DeleteOld(grpc::CallbackServerContext* context,
                                                         const pb::DeleteOldRequest* req, pb::DeleteOldResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto deleted = notifications_.DeleteOld(req->older_than_days());
    if (!deleted.ok()) return deleted.status();
    resp->set_deleted(*deleted);
    return absl::OkStatus();
  });
}

}  // namespace sb::notification
