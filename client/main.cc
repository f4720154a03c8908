// ladle: the command-line client of ladle-server.
//
//   ladle submit FILE [--wait]     prints the new experiment's id alone on
//                                  stdout's first line
//   ladle list | show ID | watch ID | cancel ID | workers | queue
//   ladle results ID [--format table|csv|json] | plot ID | report ID
//   ladle logs JOB [-f] | download JOB NAME | validate FILE | local up
//
// Address: --addr or LADLE_ADDR (default 127.0.0.1:7070). While the
// coordinator is unreachable (restarting), calls wait for it up to
// --wait_for_coordinator seconds; submits carry a request id, so a retried
// submit never creates a second experiment. Errors go to stderr with a
// non-zero exit (2: bad input); `watch` (and `submit --wait`) exit 0 only when
// the experiment succeeded.
#include <cstdlib>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/commands.h"

int main(int argc, char** argv) {
  ladle::Cli cli;
  if (const char* env = std::getenv("LADLE_ADDR"); env && *env)
    cli.options.addr = env;
  if (const char* env = std::getenv("LADLE_TLS_CA")) cli.options.tls_ca = env;
  CLI::App app{"ladle: submit and watch experiments on a ladle-server"};
  app.add_option("--addr", cli.options.addr,
                 "ladle-server address (or LADLE_ADDR)");
  app.add_option("--tls_ca", cli.options.tls_ca,
                 "PEM CA certificate: connect with TLS (or LADLE_TLS_CA)");
  app.add_option("--token_file", cli.options.token_file,
                 "file holding the bearer token (or LADLE_TOKEN)");
  app.add_option("--wait_for_coordinator", cli.options.wait_seconds,
                 "seconds to wait for an unreachable coordinator (0: fail at "
                 "once)")
      ->check(CLI::Range(0.0, 86400.0));
  app.require_subcommand(1);
  app.fallthrough();  // global options also after the subcommand
  const std::vector<ladle::Command> commands = {
      ladle::AddSubmit(app),   ladle::AddList(app),    ladle::AddShow(app),
      ladle::AddWatch(app),    ladle::AddCancel(app),  ladle::AddClose(app),
      ladle::AddRerun(app),    ladle::AddResults(app), ladle::AddPlot(app),
      ladle::AddReport(app),   ladle::AddWorkers(app), ladle::AddQueue(app),
      ladle::AddValidate(app), ladle::AddLocal(app),   ladle::AddDownload(app),
      ladle::AddLogs(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (const ladle::Command& c : commands) {
    if (c.app->parsed()) return c.run(cli);
  }
  return 2;
}
