// Output path checks (output_paths.hpp).
#include "io/output_paths.hpp"

#include <filesystem>

namespace nnport::io {

Status check_output_paths(const std::string& model, const std::string& out, const std::string& external_data) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(out, ec) && fs::equivalent(model, out, ec)) {
        return invalid_argument(out + ": refusing to overwrite the input model");
    }
    if (!external_data.empty() && (fs::path(external_data).is_absolute() ||
                                   fs::path(external_data).lexically_normal().string().starts_with(".."))) {
        return invalid_argument(external_data + ": external data file must be relative to the output folder");
    }
    return Status::ok();
}

}  // namespace nnport::io
