// supervisor/daemon/sqlite_stmt.h: one prepared SQLite statement in use, typed. Store's queries
// read as their SQL plus their values: Bind(a, b, c) binds parameters 1..3 by C++ type, Step()
// steps, Text(i)/Int(i) read the current row's columns, and the statement is reset (bindings
// cleared) when the Stmt goes, so that a cached statement is ready for its next use.
// Not thread-safe, like the connection it belongs to.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace cordon::daemon {

// Bound as a BLOB (bytes that need not be UTF-8, such as NUL-joined argv), not as TEXT.
struct Blob {
  std::string_view bytes;
};

class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  Stmt(Stmt&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt() {
    if (s_ == nullptr) return;
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  // Binds `values` to parameters first, first+1, ... in order.
  template <class... T>
  Stmt& Bind(const T&... values) {
    return BindFrom(1, values...);
  }
  template <class... T>
  Stmt& BindFrom(int first, const T&... values) {
    int i = first;
    (BindOne(i++, values), ...);
    return *this;
  }

  int Step() { return sqlite3_step(s_); }  // SQLITE_ROW, SQLITE_DONE or an error code
  // Columns of the current row. A NULL column reads as "" or 0.
  std::string Text(int i) const {
    const void* t = sqlite3_column_blob(s_, i);
    return t ? std::string(static_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s_, i))) : "";
  }
  int64_t Int(int i) const { return sqlite3_column_int64(s_, i); }
  bool Null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }

 private:
  void BindOne(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindOne(int i, const char* v) { sqlite3_bind_text(s_, i, v, -1, SQLITE_TRANSIENT); }
  void BindOne(int i, Blob v) {
    sqlite3_bind_blob(s_, i, v.bytes.data(), static_cast<int>(v.bytes.size()), SQLITE_TRANSIENT);
  }
  void BindOne(int i, bool v) { sqlite3_bind_int(s_, i, v ? 1 : 0); }
  void BindOne(int i, int32_t v) { sqlite3_bind_int(s_, i, v); }
  void BindOne(int i, uint32_t v) { sqlite3_bind_int64(s_, i, v); }
  void BindOne(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  // Stored as SQLite's signed 64-bit integer, bit for bit (policy versions, start times).
  void BindOne(int i, uint64_t v) { sqlite3_bind_int64(s_, i, static_cast<int64_t>(v)); }

  sqlite3_stmt* s_;
};

}  // namespace cordon::daemon
