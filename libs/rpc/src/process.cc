#include "sb/rpc/process.h"

#include "absl/synchronization/mutex.h"

namespace sb::rpc {

void DisableMutexDeadlockDetection() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

}  // namespace sb::rpc
