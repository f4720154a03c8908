// Small helpers for absl::Status / absl::StatusOr propagation.
#ifndef LADLE_COMMON_STATUS_MACROS_H_
#define LADLE_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LADLE_CONCAT_INNER_(a, b) a##b
#define LADLE_CONCAT_(a, b) LADLE_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` yields a non-OK status.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    const ::absl::Status ladle_status_ = (expr);   \
    if (!ladle_status_.ok()) return ladle_status_; \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                           \
  if (!tmp.ok()) return tmp.status();           \
  lhs = std::move(*tmp)

// `ASSIGN_OR_RETURN(auto x, F());` declares x from a StatusOr or returns its
// error.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  ASSIGN_OR_RETURN_IMPL_(LADLE_CONCAT_(ladle_statusor_, __LINE__), lhs, rexpr)

#endif  // LADLE_COMMON_STATUS_MACROS_H_
