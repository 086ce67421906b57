// Checks on the files a command is about to write.
#pragma once

#include <string>

#include "nnport/status.hpp"

namespace nnport::io {

/// Refuses an output that is the input model, and an external data file that is absolute or climbs out of the
/// output's folder ("" = none).
Status check_output_paths(const std::string& model, const std::string& out, const std::string& external_data);

}  // namespace nnport::io
