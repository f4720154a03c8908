#include <iostream>

#include "client/commands.h"

namespace ladle {

Connection* Cli::Connect() {
  if (connection_ == nullptr) {
    absl::StatusOr<std::unique_ptr<Connection>> c = Connection::Open(options);
    if (!c.ok()) {
      std::cerr << "ladle: " << c.status().message() << "\n";
      return nullptr;
    }
    connection_ = std::move(*c);
  }
  return connection_.get();
}

}  // namespace ladle
