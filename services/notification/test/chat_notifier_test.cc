// Chat's NotificationNotifier against a fake NotificationService on a real gRPC server: it sends
// NotifyNewMessage with the message's ids and preview, never blocks the caller, and counts failures.
#include <atomic>
#include <mutex>
#include <vector>

#include <catch2/catch.hpp>

#include "sb/rpc/client.h"
#include "sb/rpc/server.h"
#include "services/chat/notification_notifier.h"
#include "switchboard/notification/v1/notification.grpc.pb.h"

namespace {

namespace pb = ::switchboard::notification::v1;

class FakeNotificationService final : public pb::NotificationService::CallbackService {
 public:
  grpc::ServerUnaryReactor* NotifyNewMessage(grpc::CallbackServerContext* context, const pb::NewMessageRequest* request,
                                             pb::NotifyResponse* response) override {
    {
      std::lock_guard lock(mu);
      requests.push_back(*request);
    }
    if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
    response->set_outcome(pb::OUTCOME_CREATED);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  std::mutex mu;
  std::vector<pb::NewMessageRequest> requests;
  absl::Duration delay = absl::ZeroDuration();
};

sb::chat::Message TextMessage(int64_t id, std::string content) {
  sb::chat::Message m;
  m.id = id;
  m.conversation_id = 7;
  m.sender_id = "ana";
  m.content = std::move(content);
  return m;
}

}  // namespace

TEST_CASE("NotificationNotifier sends NotifyNewMessage without blocking the sender", "[chat][notification]") {
  FakeNotificationService fake;
  fake.delay = absl::Milliseconds(300);
  sb::rpc::Server server({.host = "127.0.0.1", .port = 0});
  server.AddService(&fake);
  REQUIRE(server.Start().ok());

  auto channel = sb::rpc::MakeChannel(server.address(), {});
  REQUIRE(channel.ok());
  sb::chat::NotificationNotifier notifier(*channel, absl::Seconds(5));

  const absl::Time start = absl::Now();
  notifier.NewMessage("bob", TextMessage(42, "hello bob"));
  sb::chat::Message image = TextMessage(43, "");
  image.type = "image";
  notifier.NewMessage("cy", image);
  CHECK(absl::Now() - start < absl::Milliseconds(200));  // the fake takes 300 ms per call

  CHECK(notifier.WaitIdle(absl::Now() + absl::Seconds(5)) == 0);
  CHECK(notifier.sent() == 2);
  CHECK(notifier.failed() == 0);
  std::lock_guard lock(fake.mu);
  REQUIRE(fake.requests.size() == 2);
  const auto& bob = fake.requests[0].recipient_id() == "bob" ? fake.requests[0] : fake.requests[1];
  const auto& cy = fake.requests[0].recipient_id() == "cy" ? fake.requests[0] : fake.requests[1];
  CHECK(bob.sender().id() == "ana");
  CHECK(bob.conversation_id() == 7);
  CHECK(bob.message_id() == 42);
  CHECK(bob.preview() == "hello bob");
  CHECK(cy.preview() == "[image]");
  server.Drain(absl::Now() + absl::Seconds(1));
}

TEST_CASE("NotificationNotifier counts failures when the service is unreachable", "[chat][notification]") {
  sb::rpc::Server server({.host = "127.0.0.1", .port = 0});
  FakeNotificationService fake;
  server.AddService(&fake);
  REQUIRE(server.Start().ok());
  const std::string address = server.address();
  server.Drain(absl::Now());  // nobody listens there any more

  auto channel = sb::rpc::MakeChannel(address, {});
  REQUIRE(channel.ok());
  sb::chat::NotificationNotifier notifier(*channel, absl::Milliseconds(300));
  notifier.NewMessage("bob", TextMessage(1, "x"));
  CHECK(notifier.WaitIdle(absl::Now() + absl::Seconds(5)) == 0);
  CHECK(notifier.failed() == 1);
  CHECK(notifier.sent() == 0);
}

TEST_CASE("message previews are cut on a UTF-8 boundary", "[chat][notification]") {
  CHECK(sb::chat::MessagePreview(TextMessage(1, "short")) == "short");
  std::string long_text(99, 'a');
  long_text += "é and more";  // 'é' is 2 bytes at offsets 99-100
  std::string preview = sb::chat::MessagePreview(TextMessage(1, long_text));
  CHECK(preview == std::string(99, 'a') + "…");
  sb::chat::Message system = TextMessage(1, "x");
  system.type = "system";
  CHECK(sb::chat::MessagePreview(system).empty());
}
