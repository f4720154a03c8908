// The subcommands of `ladle`. Each is added to the command line by one small
// function that declares its arguments and returns how it runs; main.cc holds
// the table of them.
#ifndef LADLE_CLIENT_COMMANDS_H_
#define LADLE_CLIENT_COMMANDS_H_

#include <functional>
#include <memory>

#include "CLI/CLI.hpp"
#include "client/connection.h"

namespace ladle {

// What every command sees: the global options, and the connection, opened on
// first use (offline commands never open one).
class Cli {
 public:
  ConnectionOptions options;
  // Null after printing why it cannot be opened (exit code 2).
  Connection* Connect();

 private:
  std::unique_ptr<Connection> connection_;
};

// Runs a parsed command; returns the process's exit code.
using Runner = std::function<int(Cli&)>;
struct Command {
  CLI::App* app;  // the subcommand (parsed() when chosen)
  Runner run;
};

// experiment_commands.cc
Command AddSubmit(CLI::App& app);
Command AddList(CLI::App& app);
Command AddShow(CLI::App& app);
Command AddWatch(CLI::App& app);
Command AddCancel(CLI::App& app);
Command AddClose(CLI::App& app);
Command AddRerun(CLI::App& app);
Command AddWorkers(CLI::App& app);
Command AddQueue(CLI::App& app);
Command AddValidate(CLI::App& app);
// result_commands.cc
Command AddResults(CLI::App& app);
Command AddPlot(CLI::App& app);
Command AddReport(CLI::App& app);
Command AddDownload(CLI::App& app);
Command AddLogs(CLI::App& app);
// local_up.cc
Command AddLocal(CLI::App& app);

}  // namespace ladle

#endif  // LADLE_CLIENT_COMMANDS_H_
