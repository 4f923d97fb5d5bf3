// Process-wide settings for the gRPC runtime.
#pragma once

namespace sb::rpc {

// Turns off abseil's mutex deadlock detection. Debian builds abseil without NDEBUG, so by default
// every absl::Mutex acquisition (gRPC takes several per call) is recorded in a global lock-order
// graph: a debug aid that showed up as several percent of the services' CPU under load. Server and
// MakeChannel call it; idempotent, thread-safe.
void DisableMutexDeadlockDetection();

}  // namespace sb::rpc
