// PLACEHOLDER: replaced by the real implementation.
#include "cli/commands.h"

namespace autarky::cli { void AddInfoCommand(CLI::App&, int&) {} }
