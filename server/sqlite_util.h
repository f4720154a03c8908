// Small helpers over SQLite's C API for the store: the checker that turns a
// result code into a Status (file:line, the error), prepared statements, and
// opening a database file. Not thread-safe: a statement belongs to one
// connection, used under its store's lock.
#ifndef LADLE_SERVER_SQLITE_UTIL_H_
#define LADLE_SERVER_SQLITE_UTIL_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status_macros.h"

namespace ladle {

// The SQLite checker: turns a result code into a Status naming the call site
// and the error (SQLITE_FULL: RESOURCE_EXHAUSTED, BUSY/LOCKED: UNAVAILABLE,
// CONSTRAINT: ALREADY_EXISTS, CORRUPT/NOTADB: DATA_LOSS, else INTERNAL).
absl::Status SqliteStatus(int rc, sqlite3* db, const char* what,
                          const char* file, int line);
#define SQLITE_RETURN_IF_ERROR(db, rc, what) \
  RETURN_IF_ERROR(SqliteStatus((rc), (db), (what), __FILE__, __LINE__))

// A prepared statement; binds by position (1-based) and steps.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  absl::Status status() const {
    return SqliteStatus(rc_, db_, "prepare", __FILE__, __LINE__);
  }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  // Binds without a copy: `v` must stay alive and unchanged until the
  // statement has run (the fields of the batch being applied). A copy per
  // text column and row was a tenth of the cost of storing a submit.
  Stmt& BindView(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                      SQLITE_STATIC);
    return *this;
  }
  Stmt& BindView(int i, std::string&& v) = delete;  // would dangle
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  Stmt& Bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  // Runs to completion (no rows expected).
  absl::Status Run() {
    RETURN_IF_ERROR(status());
    const int rc = sqlite3_step(stmt_);
    absl::Status st = SqliteStatus(rc, db_, "step", __FILE__, __LINE__);
    sqlite3_reset(stmt_);
    return st;
  }
  // Steps once: true with a row, false when done.
  absl::StatusOr<bool> Next() {
    RETURN_IF_ERROR(status());
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    RETURN_IF_ERROR(SqliteStatus(rc, db_, "step", __FILE__, __LINE__));
    return false;
  }
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           sqlite3_column_bytes(stmt_, col))
             : std::string();
  }
  // The column's text without a copy: valid until the next step.
  std::string_view TextView(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string_view(reinterpret_cast<const char*>(t),
                                sqlite3_column_bytes(stmt_, col))
             : std::string_view();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) const { return sqlite3_column_double(stmt_, col); }
  bool IsNull(int col) const {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }
  void Reset() {
    if (stmt_ == nullptr) return;  // prepare failed: Run/Next report it
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

// Runs SQL text (several statements); the error names SQLite's message.
absl::Status Exec(sqlite3* db, const char* sql);

// Opens (creating) a database file or ":memory:", with a 5 s busy timeout.
absl::StatusOr<sqlite3*> OpenDb(const std::string& path);

}  // namespace ladle

#endif  // LADLE_SERVER_SQLITE_UTIL_H_
