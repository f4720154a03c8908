#include "server/sqlite_util.h"

#include "absl/strings/str_cat.h"

namespace ladle {

absl::Status SqliteStatus(int rc, sqlite3* db, const char* what,
                          const char* file, int line) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
    return absl::OkStatus();
  const std::string msg =
      absl::StrCat(file, ":", line, ": sqlite ", what, ": ",
                   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(msg);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(msg);
    default:
      return absl::InternalError(msg);
  }
}
absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    absl::Status st = SqliteStatus(rc, db, "exec", __FILE__, __LINE__);
    const std::string detail = err ? err : "";
    sqlite3_free(err);
    return absl::Status(st.code(),
                        absl::StrCat(st.message(), " (", detail, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<sqlite3*> OpenDb(const std::string& path) {
  // Memory statistics take a process-wide mutex on every SQLite malloc and
  // free, and nothing here reads them. The setting is only accepted before
  // SQLite initializes; if something else initialized it first, statistics
  // stay on (slower, same results).
  static const bool kNoMemStatus [[maybe_unused]] =
      sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    absl::Status st = SqliteStatus(rc, db, "open", __FILE__, __LINE__);
    sqlite3_close_v2(db);
    return absl::Status(st.code(),
                        absl::StrCat("store ", path, ": ", st.message()));
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

}  // namespace ladle
