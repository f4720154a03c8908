#include "worker/proc_memory.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ladle {
namespace {

// pgrp and rss (pages) from /proc/PID/stat; false when it is gone.
bool ReadStat(const char* pid, long* pgrp, long* rss_pages) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%s/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  // The command name (field 2) may hold spaces and ')': fields count from
  // its last ')'. Then: state(3) ppid(4) pgrp(5) ... rss(24).
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return false;
  int field = 2;
  for (; *p != '\0'; ++p) {
    if (*p != ' ') continue;
    ++field;
    if (field == 5) *pgrp = std::strtol(p + 1, nullptr, 10);
    if (field == 24) {
      *rss_pages = std::strtol(p + 1, nullptr, 10);
      return true;
    }
  }
  return false;
}

}  // namespace

int64_t GroupResidentBytes(pid_t pgid) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return 0;
  static const long kPage = ::sysconf(_SC_PAGESIZE);
  int64_t total = 0;
  while (const dirent* e = ::readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    long pgrp = -1, rss = 0;
    if (ReadStat(e->d_name, &pgrp, &rss) && pgrp == pgid)
      total += static_cast<int64_t>(rss) * kPage;
  }
  ::closedir(proc);
  return total;
}

}  // namespace ladle
