// ladle-exec: what ladle-worker starts for a user's program (kind command).
// It ties the program to the worker (the kernel kills it with SIGKILL when the
// worker dies, even by kill -9: no orphan keeps computing a job the
// coordinator has given to another worker), then replaces itself with the
// program. When the program cannot start it says why on stderr, which the
// attempt's failure reason quotes, and exits 127 (not found) or 126.
//
//   ladle-exec [--parent_pid=PID] -- PROGRAM [ARGS...]
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int CannotRun(const char* program, int err) {
  const bool has_slash = std::strchr(program, '/') != nullptr;
  const char* hint = "";
  if (err == ENOENT && !has_slash) {
    hint = "; not found on PATH (a file of your code: write ./NAME)";
  } else if (err == ENOENT) {
    hint = "; no such file (is it in the code directory?)";
  } else if (err == EACCES) {
    hint =
        "; not executable: chmod +x it, or name its interpreter first "
        "(argv: [python3, train.py])";
  } else if (err == ENOEXEC) {
    hint = "; not a program this host runs (a script needs a #! line)";
  }
  std::fprintf(stderr, "ladle-exec: cannot run '%s': %s%s\n", program,
               std::strerror(err), hint);
  return err == ENOENT ? 127 : 126;
}

}  // namespace

int main(int argc, char** argv) {
  long parent = -1;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.rfind("--parent_pid=", 0) == 0) {
      parent = std::strtol(arg.c_str() + 13, nullptr, 10);
    } else {
      std::fprintf(stderr, "ladle-exec: unknown flag %s\n", arg.c_str());
      return 2;
    }
  }
  if (i >= argc) {
    std::fprintf(stderr,
                 "usage: ladle-exec [--parent_pid=PID] -- PROGRAM "
                 "[ARGS...]\n");
    return 2;
  }
  // Kept across exec: the program dies with the worker. If the worker died
  // before this line, the parent is already someone else: stop now.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (parent > 0 && getppid() != parent) return 137;
  execvp(argv[i], argv + i);
  return CannotRun(argv[i], errno);
}
