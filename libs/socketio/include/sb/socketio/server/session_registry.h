// Engine.IO session ids and the thread-safe table of live sessions by id.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sb::socketio::server {

// A fresh session id: 20 URL-safe characters ([A-Za-z0-9_-]) from a CSPRNG (120 bits), like the
// reference server's base64id. Also used for Socket.IO socket ids and private recovery ids.
std::string GenerateId();

// Live sessions by id. All members are thread-safe.
template <typename Session>
class SessionRegistry {
 public:
  // False (and no change) when the id is already present.
  bool Insert(const std::string& id, std::shared_ptr<Session> session) {
    std::lock_guard lock(mu_);
    return sessions_.emplace(id, std::move(session)).second;
  }
  std::shared_ptr<Session> Find(std::string_view id) const {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(std::string(id));
    return it == sessions_.end() ? nullptr : it->second;
  }
  // Removes `id` only if it still maps to `session` (a stale close never removes a newer entry).
  bool Erase(const std::string& id, const Session* session) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.get() != session) return false;
    sessions_.erase(it);
    return true;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return sessions_.size();
  }
  // A copy of the current sessions, to act on without holding the lock.
  std::vector<std::shared_ptr<Session>> Snapshot() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<Session>> out;
    out.reserve(sessions_.size());
    for (const auto& [id, s] : sessions_) out.push_back(s);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Session>> sessions_;
};

}  // namespace sb::socketio::server
