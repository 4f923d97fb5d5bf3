// NotificationService (switchboard.notification.v1), callback API: translates protobuf <-> the
// Notifications domain. Handlers never block gRPC threads: Notify and the typed Notify* calls are
// validated on the callback thread and group-committed by Notifications' writers (UNAVAILABLE
// when a writer's queue is full, CANCELLED when the caller gave up before the write); every other
// call runs on the BlockingPool (sized to the Postgres pool), where a full queue answers
// RESOURCE_EXHAUSTED and a call whose deadline passed while queued is answered without running.
#pragma once

#include "sb/common/blocking_pool.h"
#include "services/notification/notifications.h"
#include "switchboard/notification/v1/notification.grpc.pb.h"

namespace sb::notification {

class NotificationService final : public switchboard::notification::v1::NotificationService::CallbackService {
 public:
  NotificationService(Notifications& notifications, sb::BlockingPool& pool)
      : notifications_(notifications), pool_(pool) {}

#define SB_NOTIFICATION_RPC(Method, Request, Response)                                                   \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context,                               \
                                   const switchboard::notification::v1::Request* request,              \
                                   switchboard::notification::v1::Response* response) override;
  SB_NOTIFICATION_RPC(Notify, NotifyRequest, NotifyResponse)
  SB_NOTIFICATION_RPC(NotifyMany, NotifyManyRequest, NotifyManyResponse)
  SB_NOTIFICATION_RPC(NotifyNewFollower, NewFollowerRequest, NotifyResponse)
  SB_NOTIFICATION_RPC(NotifyPostLike, PostLikeRequest, NotifyResponse)
  SB_NOTIFICATION_RPC(NotifyPostComment, PostCommentRequest, NotifyResponse)
  SB_NOTIFICATION_RPC(NotifyCommentReply, CommentReplyRequest, NotifyResponse)
  SB_NOTIFICATION_RPC(NotifyNewMessage, NewMessageRequest, NotifyResponse)
  SB_NOTIFICATION_RPC(NotifyThreadReply, ThreadReplyRequest, NotifyResponse)
  SB_NOTIFICATION_RPC(NotifyListingInquiry, ListingInquiryRequest, NotifyResponse)
  SB_NOTIFICATION_RPC(List, ListRequest, ListResponse)
  SB_NOTIFICATION_RPC(MarkRead, MarkReadRequest, MarkReadResponse)
  SB_NOTIFICATION_RPC(MarkAllRead, MarkAllReadRequest, MarkAllReadResponse)
  SB_NOTIFICATION_RPC(GetUnreadCount, GetUnreadCountRequest, GetUnreadCountResponse)
  SB_NOTIFICATION_RPC(GetPreferences, GetPreferencesRequest, Preferences)
  SB_NOTIFICATION_RPC(UpdatePreferences, UpdatePreferencesRequest, Preferences)
  SB_NOTIFICATION_RPC(RegisterType, RegisterTypeRequest, NotificationType)
  SB_NOTIFICATION_RPC(ListTypes, ListTypesRequest, ListTypesResponse)
  SB_NOTIFICATION_RPC(RebuildUnreadCounters, RebuildUnreadCountersRequest, RebuildUnreadCountersResponse)
  SB_NOTIFICATION_RPC(DeleteOld, DeleteOldRequest, DeleteOldResponse)
#undef SB_NOTIFICATION_RPC

 private:
  // Notify and the typed helpers: `input` (or its error) queued for group commit; the call
  // finishes from the writer thread (UNAVAILABLE when the writer's queue is full).
  grpc::ServerUnaryReactor* NotifyOnWriter(grpc::CallbackServerContext* context,
                                           absl::StatusOr<Notifications::NotifyInput> input,
                                           switchboard::notification::v1::NotifyResponse* resp);

  Notifications& notifications_;
  sb::BlockingPool& pool_;
};

}  // namespace sb::notification
