#include "sb/redis/subscriber.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connection.h"
#include "sb/common/log.h"
#include "sb/common/status.h"

namespace sb::redis {

using internal::Connection;

namespace {

// Keeps single SUBSCRIBE commands reasonably small when resubscribing thousands of channels.
constexpr size_t kMaxNamesPerCommand = 500;

std::vector<std::string> Difference(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::string_view ElementText(const redisReply* r) {
  if (r == nullptr || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) return {};
  return std::string_view(r->str, r->len);
}

void DrainEventFd(int fd) {
  uint64_t value;
  while (::read(fd, &value, sizeof value) == sizeof value) {
  }
}

}  // namespace

// One connection's lifetime: sends subscription changes, reads and dispatches replies, pings.
class Subscriber::Session {
 public:
  Session(Subscriber& owner, std::unique_ptr<Connection> conn, bool reconnect)
      : owner_(owner), conn_(std::move(conn)), reconnect_(reconnect) {}

  // Returns when the connection failed (the error) or the subscriber is stopping (OK).
  absl::Status Serve() {
    last_received_ = absl::Now();
    while (!owner_.stopping_.load()) {
      SB_RETURN_IF_ERROR(SendChanges());
      MaybeRunConnectHandler();

      const absl::Time deadline =
          ping_sent_ ? *ping_sent_ + owner_.options_.io_timeout : last_received_ + owner_.options_.ping_interval;
      const int64_t wait_ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()) + 1);
      pollfd fds[2] = {{conn_->fd(), POLLIN, 0}, {owner_.wake_fd_, POLLIN, 0}};
      int n = ::poll(fds, 2, static_cast<int>(std::min<int64_t>(wait_ms, 60'000)));
      if (n < 0 && errno != EINTR) return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
      if (n > 0 && (fds[1].revents & POLLIN)) DrainEventFd(owner_.wake_fd_);
      if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) SB_RETURN_IF_ERROR(ReadAvailable());

      const absl::Time now = absl::Now();
      if (ping_sent_ && now >= *ping_sent_ + owner_.options_.io_timeout) {
        return absl::DeadlineExceededError("redis subscriber: no answer to PING");
      }
      if (!ping_sent_ && now >= last_received_ + owner_.options_.ping_interval) {
        // Silence may mean a peer that vanished without closing the socket; make it answer.
        SB_RETURN_IF_ERROR(conn_->Append({"PING"}));
        SB_RETURN_IF_ERROR(conn_->Flush());
        ping_sent_ = now;
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status SendChanges() {
    std::vector<std::string> subscribe, unsubscribe, psubscribe, punsubscribe;
    {
      std::lock_guard<std::mutex> lock(owner_.mu_);
      subscribe = Difference(owner_.wanted_channels_, sent_channels_);
      unsubscribe = Difference(sent_channels_, owner_.wanted_channels_);
      psubscribe = Difference(owner_.wanted_patterns_, sent_patterns_);
      punsubscribe = Difference(sent_patterns_, owner_.wanted_patterns_);
      sent_channels_ = owner_.wanted_channels_;
      sent_patterns_ = owner_.wanted_patterns_;
    }
    bool any = false;
    for (auto [verb, names] : {std::pair{"SUBSCRIBE", &subscribe}, std::pair{"UNSUBSCRIBE", &unsubscribe},
                               std::pair{"PSUBSCRIBE", &psubscribe}, std::pair{"PUNSUBSCRIBE", &punsubscribe}}) {
      // Never send an empty UNSUBSCRIBE: without arguments it means "everything".
      for (size_t i = 0; i < names->size(); i += kMaxNamesPerCommand) {
        std::vector<std::string> command = {verb};
        size_t end = std::min(names->size(), i + kMaxNamesPerCommand);
        command.insert(command.end(), names->begin() + i, names->begin() + end);
        SB_RETURN_IF_ERROR(conn_->Append(command));
        any = true;
      }
    }
    if (any) SB_RETURN_IF_ERROR(conn_->Flush());
    return absl::OkStatus();
  }

  // Called only when poll says the socket is readable, so the read does not block.
  absl::Status ReadAvailable() {
    redisContext* ctx = conn_->context();
    if (redisBufferRead(ctx) != REDIS_OK) return conn_->TransportError(errno);
    last_received_ = absl::Now();
    ping_sent_.reset();  // any data proves the connection is alive
    while (true) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(ctx, &raw) != REDIS_OK) return conn_->TransportError(errno);
      if (raw == nullptr) return absl::OkStatus();
      Handle(static_cast<redisReply*>(raw));
      freeReplyObject(raw);
    }
  }

  void Handle(const redisReply* r) {
    if (r->type == REDIS_REPLY_ERROR) {
      sb::log::Warn("redis subscriber: error reply", {{"error", std::string(r->str, r->len)}});
      return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) return;  // e.g. +PONG
    const std::string_view kind = ElementText(r->element[0]);
    if (kind == "message" && r->elements == 3) {
      std::string channel(ElementText(r->element[1]));
      if (!Wanted(owner_.wanted_channels_, channel)) return;  // unsubscribed meanwhile
      Deliver(channel, std::string(ElementText(r->element[2])));
    } else if (kind == "pmessage" && r->elements == 4) {
      if (!Wanted(owner_.wanted_patterns_, std::string(ElementText(r->element[1])))) return;
      Deliver(std::string(ElementText(r->element[2])), std::string(ElementText(r->element[3])));
    } else if (r->elements >= 2 && (kind == "subscribe" || kind == "unsubscribe" || kind == "psubscribe" ||
                                    kind == "punsubscribe")) {
      std::string name(ElementText(r->element[1]));
      {
        std::lock_guard<std::mutex> lock(owner_.mu_);
        std::set<std::string>& confirmed =
            kind[0] == 'p' ? owner_.confirmed_patterns_ : owner_.confirmed_channels_;
        if (kind == "subscribe" || kind == "psubscribe") {
          confirmed.insert(std::move(name));
        } else {
          confirmed.erase(name);
        }
      }
      owner_.changed_.notify_all();
    }
  }

  bool Wanted(const std::set<std::string>& wanted, const std::string& name) {
    std::lock_guard<std::mutex> lock(owner_.mu_);
    return wanted.count(name) > 0;
  }

  void Deliver(const std::string& channel, const std::string& payload) {
    // A throwing handler must not take the subscriber thread (and every other channel) down.
    try {
      owner_.on_message_(channel, payload);
    } catch (const std::exception& e) {
      sb::log::Error("redis subscriber: message handler threw", {{"channel", channel}, {"error", e.what()}});
    } catch (...) {
      sb::log::Error("redis subscriber: message handler threw", {{"channel", channel}});
    }
  }

  void MaybeRunConnectHandler() {
    if (!connect_pending_) return;
    {
      std::lock_guard<std::mutex> lock(owner_.mu_);
      if (!owner_.SyncedLocked()) return;
    }
    connect_pending_ = false;
    if (!owner_.on_connect_) return;
    try {
      owner_.on_connect_(reconnect_);
    } catch (...) {
      sb::log::Error("redis subscriber: connect handler threw");
    }
  }

  Subscriber& owner_;
  std::unique_ptr<Connection> conn_;
  const bool reconnect_;
  bool connect_pending_ = true;
  std::set<std::string> sent_channels_, sent_patterns_;  // what this connection asked Redis for
  absl::Time last_received_;
  std::optional<absl::Time> ping_sent_;
};

absl::StatusOr<std::unique_ptr<Subscriber>> Subscriber::Create(SubscriberOptions options,
                                                               MessageHandler on_message,
                                                               ConnectHandler on_connect) {
  if (!on_message) return absl::InvalidArgumentError("redis subscriber: a message handler is required");
  if (options.io_timeout <= absl::ZeroDuration() || options.ping_interval <= absl::ZeroDuration() ||
      options.backoff_initial <= absl::ZeroDuration() || options.backoff_max < options.backoff_initial) {
    return absl::InvalidArgumentError("redis subscriber: bad timeouts or backoff");
  }
  SB_ASSIGN_OR_RETURN(Endpoint endpoint, ParseUrl(options.url));
  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  std::unique_ptr<Subscriber> subscriber(new Subscriber(std::move(options), std::move(endpoint),
                                                        std::move(on_message), std::move(on_connect), wake_fd));
  subscriber->thread_ = std::thread([s = subscriber.get()] { s->Run(); });
  return subscriber;
}

Subscriber::Subscriber(SubscriberOptions options, Endpoint endpoint, MessageHandler on_message,
                       ConnectHandler on_connect, int wake_fd)
    : options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      on_message_(std::move(on_message)),
      on_connect_(std::move(on_connect)),
      wake_fd_(wake_fd) {}

Subscriber::~Subscriber() {
  stopping_.store(true);
  Wake();
  if (thread_.joinable()) thread_.join();
  ::close(wake_fd_);
}

void Subscriber::Wake() {
  uint64_t one = 1;
  // Only fails when the counter is saturated, and then the thread is woken anyway.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void Subscriber::Subscribe(const std::string& channel) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!wanted_channels_.insert(channel).second) return;
  }
  Wake();
}

void Subscriber::Unsubscribe(const std::string& channel) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (wanted_channels_.erase(channel) == 0) return;
  }
  Wake();
}

void Subscriber::PSubscribe(const std::string& pattern) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!wanted_patterns_.insert(pattern).second) return;
  }
  Wake();
}

void Subscriber::PUnsubscribe(const std::string& pattern) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (wanted_patterns_.erase(pattern) == 0) return;
  }
  Wake();
}

bool Subscriber::connected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connected_;
}

bool Subscriber::SyncedLocked() const {
  return connected_ && confirmed_channels_ == wanted_channels_ && confirmed_patterns_ == wanted_patterns_;
}

bool Subscriber::WaitUntilSynced(absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] { return SyncedLocked(); });
}

void Subscriber::SleepInterruptibly(absl::Duration d) {
  // Subscription changes also write the eventfd; they must not cut the backoff short, only stop does.
  const absl::Time until = absl::Now() + d;
  while (!stopping_.load()) {
    const int64_t left_ms = absl::ToInt64Milliseconds(until - absl::Now());
    if (left_ms <= 0) return;
    pollfd pfd{wake_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left_ms)) > 0) DrainEventFd(wake_fd_);
  }
}

void Subscriber::Run() {
  std::mt19937_64 rng(std::random_device{}());
  auto jittered = [&rng](absl::Duration step) {
    // 50-100% of the step, so many subscribers do not reconnect in lockstep after an outage.
    std::uniform_real_distribution<double> fraction(0.5, 1.0);
    return step * fraction(rng);
  };
  absl::Duration backoff = options_.backoff_initial;
  bool ever_connected = false;
  int failures = 0;
  while (!stopping_.load()) {
    auto conn = Connection::Open(endpoint_, options_.connect_timeout, options_.io_timeout);
    if (!conn.ok()) {
      if (failures++ == 0) {
        sb::log::Warn("redis subscriber: cannot connect, retrying", {{"error", conn.status().ToString()}});
      }
      SleepInterruptibly(jittered(backoff));
      backoff = std::min(backoff * 2, options_.backoff_max);
      continue;
    }
    const bool reconnect = ever_connected;
    ever_connected = true;
    failures = 0;
    backoff = options_.backoff_initial;
    {
      std::lock_guard<std::mutex> lock(mu_);
      connected_ = true;
      confirmed_channels_.clear();
      confirmed_patterns_.clear();
      if (reconnect) reconnects_.fetch_add(1);
    }
    changed_.notify_all();
    sb::log::Info("redis subscriber: connected", {{"reconnect", reconnect}});

    Session session(*this, *std::move(conn), reconnect);
    absl::Status status = session.Serve();
    {
      std::lock_guard<std::mutex> lock(mu_);
      connected_ = false;
      confirmed_channels_.clear();
      confirmed_patterns_.clear();
    }
    changed_.notify_all();
    if (stopping_.load()) break;
    sb::log::Warn("redis subscriber: connection lost, reconnecting", {{"error", status.ToString()}});
    SleepInterruptibly(jittered(backoff));
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

}  // namespace sb::redis
