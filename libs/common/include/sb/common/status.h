// Status helpers shared by every Switchboard library and service.
//
// Errors travel as absl::Status / absl::StatusOr inside the code base and are mapped to gRPC and
// HTTP exactly once, at the edge (sb/rpc/status.h, the gateway). Our abseil (20220623) has no
// status macros, so we define our own here.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SB_STATUS_CONCAT_INNER_(a, b) a##b
#define SB_STATUS_CONCAT_(a, b) SB_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function unless it is OK.
#define SB_RETURN_IF_ERROR(expr)                      \
  do {                                                \
    ::absl::Status sb_status_tmp_ = (expr);           \
    if (!sb_status_tmp_.ok()) return sb_status_tmp_;  \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status if not OK, otherwise moves the value
// into `lhs`, which may be a declaration (`auto x`, `const Foo& y`) or an existing variable.
#define SB_ASSIGN_OR_RETURN(lhs, rexpr) \
  SB_ASSIGN_OR_RETURN_IMPL_(SB_STATUS_CONCAT_(sb_statusor_, __LINE__), lhs, rexpr)

#define SB_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
