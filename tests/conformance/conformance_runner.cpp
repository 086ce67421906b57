// Conformance gate: runs every ONNX backend test case through `nnport run` and compares with the expected outputs.
//
// Each case is a folder with model.onnx and test_data_set_N/{input_K.pb, output_K.pb}. The runner spawns the CLI
// (the contract under test), reads DIR/outputs.json and the .npy files, and compares: floats with
// |a-b| <= atol + rtol*|b| (rtol 1e-3, atol 1e-5), everything else exactly. A checked-in expectations file lists
// every case that does not pass, with a reason; the gate fails on a regression, on a crash or timeout, and on a
// listed case that now passes.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "io/npy.hpp"
#include "onnx/proto.hpp"
#include "onnx/tensor_proto.hpp"

extern char** environ;

namespace fs = std::filesystem;
using nnport::DType;
using nnport::Tensor;

namespace {

struct Options {
    std::string data_dir = "/usr/share/libonnx-testdata/data";
    std::vector<std::string> folders = {"node", "simple", "pytorch-converted", "pytorch-operator"};
    std::string nnport_bin;
    std::string expectations;
    std::string write_expectations;
    std::string filter;
    std::string backends;  ///< passed to `nnport run --backend` (empty: the default backends)
    std::string work_dir = "";
    int jobs = 2;
    int timeout_s = 120;
    bool verbose = false;
};

enum class Outcome { kPass, kFail, kCrash, kTimeout };

struct CaseResult {
    std::string name;  // folder/case
    Outcome outcome = Outcome::kPass;
    std::string reason;
};

/// Runs a command with a timeout; returns the exit code, -signal for a crash, or INT_MIN on timeout.
int run_process(const std::vector<std::string>& argv, const std::string& log_path, int timeout_s) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid;
    if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return 127;
    }
    posix_spawn_file_actions_destroy(&fa);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return INT32_MIN;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return WEXITSTATUS(status);
}

std::string read_file(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

/// Expected output: a tensor, a sequence of tensors, or none.
struct Expected {
    std::string name;
    bool is_sequence = false;
    bool is_none = false;
    std::vector<Tensor> tensors;
};

enum class OutKind { kTensor, kSequence, kOptional };

/// The declared kind of each graph output: a serialized expected value is a TensorProto, SequenceProto or
/// OptionalProto, and the three cannot be told apart from the bytes (their fields 1-3 overlap), so the model decides.
std::vector<OutKind> output_kinds(const fs::path& model_path) {
    std::vector<OutKind> kinds;
    onnx::ModelProto m;
    std::ifstream f(model_path, std::ios::binary);
    if (!m.ParseFromIstream(&f)) return kinds;
    for (const auto& o : m.graph().output()) {
        if (o.type().has_optional_type()) kinds.push_back(OutKind::kOptional);
        else if (o.type().has_sequence_type()) kinds.push_back(OutKind::kSequence);
        else kinds.push_back(OutKind::kTensor);
    }
    return kinds;
}

nnport::Result<Expected> read_sequence(const onnx::SequenceProto& sp, const std::string& dir, Expected e) {
    e.is_sequence = true;
    for (const auto& t : sp.tensor_values()) {
        NNPORT_ASSIGN_OR_RETURN(Tensor x, nnport::onnx_import::tensor_from_proto(t, dir));
        e.tensors.push_back(std::move(x));
    }
    return e;
}

nnport::Result<Expected> read_expected(const std::string& path, OutKind kind) {
    const std::string bytes = read_file(path);
    Expected e;
    const std::string dir = fs::path(path).parent_path().string();
    if (kind == OutKind::kOptional) {
        onnx::OptionalProto op;
        if (!op.ParseFromString(bytes)) return nnport::invalid_argument(path + ": unreadable OptionalProto");
        e.name = op.name();
        if (op.has_tensor_value()) {
            NNPORT_ASSIGN_OR_RETURN(Tensor t, nnport::onnx_import::tensor_from_proto(op.tensor_value(), dir));
            e.tensors.push_back(std::move(t));
        } else if (op.has_sequence_value()) {
            return read_sequence(op.sequence_value(), dir, std::move(e));
        } else {
            e.is_none = true;
        }
        return e;
    }
    if (kind == OutKind::kSequence) {
        onnx::SequenceProto sp;
        if (!sp.ParseFromString(bytes)) return nnport::invalid_argument(path + ": unreadable SequenceProto");
        e.name = sp.name();
        return read_sequence(sp, dir, std::move(e));
    }
    onnx::TensorProto tp;
    if (!tp.ParseFromString(bytes)) return nnport::invalid_argument(path + ": unreadable expected output");
    e.name = tp.name();
    NNPORT_ASSIGN_OR_RETURN(Tensor t, nnport::onnx_import::tensor_from_proto(tp, dir));
    e.tensors.push_back(std::move(t));
    return e;
}

/// Compares one tensor; returns "" if equal within tolerance, else a reason.
std::string compare(const Tensor& got, const Tensor& want) {
    if (got.shape() != want.shape()) {
        return "shape " + nnport::shape_to_string(got.shape()) + " != expected " + nnport::shape_to_string(want.shape());
    }
    DType gd = got.dtype(), wd = want.dtype();
    if (wd == DType::kBFloat16 && gd == DType::kUInt16) gd = DType::kBFloat16;  // .npy stores bf16 bits as u2
    if (gd != wd) return std::string("dtype ") + dtype_name(gd) + " != expected " + dtype_name(wd);
    const int64_t n = want.numel();
    if (wd == DType::kString) {
        for (int64_t i = 0; i < n; ++i) {
            if (got.strings()[i] != want.strings()[i]) return "string mismatch at " + std::to_string(i);
        }
        return "";
    }
    const bool fp = nnport::dtype_is_float(wd) || wd == DType::kComplex64 || wd == DType::kComplex128;
    if (!fp) {
        if (std::memcmp(got.raw_data(), want.raw_data(), want.nbytes()) != 0) {
            for (int64_t i = 0; i < n; ++i) {
                if (got.item_as_int(i) != want.item_as_int(i)) {
                    return "value mismatch at " + std::to_string(i) + ": " + std::to_string(got.item_as_int(i)) +
                           " != " + std::to_string(want.item_as_int(i));
                }
            }
        }
        return "";
    }
    auto at = [](const Tensor& t, int64_t i) -> double {
        if (t.dtype() == DType::kComplex64) return static_cast<const float*>(t.raw_data())[i];
        if (t.dtype() == DType::kComplex128) return static_cast<const double*>(t.raw_data())[i];
        if (t.dtype() == DType::kBFloat16 || t.dtype() == DType::kUInt16) {
            return nnport::BFloat16::to_float(static_cast<const uint16_t*>(t.raw_data())[i]);
        }
        return t.item_as_double(i);
    };
    const int64_t count = (wd == DType::kComplex64 || wd == DType::kComplex128) ? 2 * n : n;
    const double rtol = 1e-3, atol = 1e-5;
    for (int64_t i = 0; i < count; ++i) {
        const double a = at(got, i), b = at(want, i);
        if (std::isnan(b) && std::isnan(a)) continue;
        if (std::isinf(b) && a == b) continue;
        if (!(std::fabs(a - b) <= atol + rtol * std::fabs(b))) {
            std::ostringstream os;
            os << "value mismatch at " << i << ": " << a << " != " << b;
            return os.str();
        }
    }
    return "";
}

std::vector<fs::path> sorted_files(const fs::path& dir, const std::string& prefix) {
    std::vector<std::pair<int, fs::path>> v;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string f = e.path().filename().string();
        if (f.rfind(prefix, 0) == 0 && f.size() > prefix.size() + 3 && f.substr(f.size() - 3) == ".pb") {
            v.emplace_back(std::atoi(f.c_str() + prefix.size()), e.path());
        }
    }
    std::sort(v.begin(), v.end());
    std::vector<fs::path> out;
    for (auto& [k, p] : v) out.push_back(p);
    return out;
}

CaseResult run_case(const Options& o, const fs::path& case_dir, const std::string& name, const std::string& scratch) {
    CaseResult r;
    r.name = name;
    std::vector<fs::path> sets;
    for (const auto& e : fs::directory_iterator(case_dir)) {
        if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    }
    std::sort(sets.begin(), sets.end());
    if (sets.empty()) {
        r.outcome = Outcome::kFail;
        r.reason = "no test data";
        return r;
    }
    for (const fs::path& set : sets) {
        const std::string out_dir = scratch + "/out";
        fs::remove_all(out_dir);
        std::vector<std::string> argv = {o.nnport_bin, "run", (case_dir / "model.onnx").string(), "-o", out_dir,
                                         "--threads", "1"};
        if (!o.backends.empty()) {
            argv.push_back("--backend");
            argv.push_back(o.backends);
        }
        for (const fs::path& in : sorted_files(set, "input_")) {
            argv.push_back("-i");
            argv.push_back(in.string());
        }
        const std::string log = scratch + "/log.txt";
        const int rc = run_process(argv, log, o.timeout_s);
        if (rc == INT32_MIN) {
            r.outcome = Outcome::kTimeout;
            r.reason = "timeout after " + std::to_string(o.timeout_s) + "s";
            return r;
        }
        if (rc < 0 || rc > 2) {
            r.outcome = Outcome::kCrash;
            r.reason = rc < 0 ? "killed by signal " + std::to_string(-rc) : "exit code " + std::to_string(rc);
            return r;
        }
        if (rc != 0) {
            r.outcome = Outcome::kFail;
            std::string msg = read_file(log);
            // Keep the last line (the error), drop notices.
            std::istringstream is(msg);
            std::string line, last;
            while (std::getline(is, line)) {
                if (line.find("notice:") == std::string::npos && !line.empty()) last = line;
            }
            const std::string pfx = "nnport: ";
            if (last.rfind(pfx, 0) == 0) last = last.substr(pfx.size());
            // Drop the model path prefix to keep reasons short.
            auto pos = last.find("model.onnx: ");
            if (pos != std::string::npos) last = last.substr(pos + 12);
            r.reason = last.empty() ? "exit code " + std::to_string(rc) : last;
            return r;
        }
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(read_file(out_dir + "/outputs.json"));
        } catch (const std::exception& e) {
            r.outcome = Outcome::kFail;
            r.reason = std::string("bad outputs.json: ") + e.what();
            return r;
        }
        const auto& outs = j["outputs"];
        const std::vector<fs::path> expected = sorted_files(set, "output_");
        const std::vector<OutKind> kinds = output_kinds(case_dir / "model.onnx");
        for (size_t k = 0; k < expected.size(); ++k) {
            auto er = read_expected(expected[k].string(), k < kinds.size() ? kinds[k] : OutKind::kTensor);
            if (!er.is_ok()) {
                r.outcome = Outcome::kFail;
                r.reason = er.status().message();
                return r;
            }
            const Expected& e = er.value();
            const nlohmann::json* match = nullptr;
            for (const auto& oj : outs) {
                if (!e.name.empty() && oj["name"] == e.name) match = &oj;
            }
            if (!match && k < outs.size()) match = &outs[k];
            if (!match) {
                r.outcome = Outcome::kFail;
                r.reason = "missing output " + std::to_string(k);
                return r;
            }
            const std::string oname = (*match)["name"].get<std::string>();
            std::vector<std::string> files;
            const std::string kind = match->contains("kind") ? (*match)["kind"].get<std::string>() : "tensor";
            if (e.is_none) {
                if (kind != "none") {
                    r.outcome = Outcome::kFail;
                    r.reason = "output '" + oname + "' should be an empty optional";
                    return r;
                }
                continue;
            }
            if (e.is_sequence != (kind == "sequence")) {
                r.outcome = Outcome::kFail;
                r.reason = "output '" + oname + "': expected a " + (e.is_sequence ? "sequence" : "tensor") + ", got " + kind;
                return r;
            }
            if (kind == "sequence") {
                for (const auto& f : (*match)["files"]) files.push_back(f.get<std::string>());
            } else {
                files.push_back((*match)["file"].get<std::string>());
            }
            if (files.size() != e.tensors.size()) {
                r.outcome = Outcome::kFail;
                r.reason = "output '" + oname + "': " + std::to_string(files.size()) + " tensors, expected " +
                           std::to_string(e.tensors.size());
                return r;
            }
            for (size_t q = 0; q < files.size(); ++q) {
                auto got = nnport::io::read_npy(out_dir + "/" + files[q]);
                if (!got.is_ok()) {
                    r.outcome = Outcome::kFail;
                    r.reason = got.status().message();
                    return r;
                }
                const std::string why = compare(got.value(), e.tensors[q]);
                if (!why.empty()) {
                    r.outcome = Outcome::kFail;
                    r.reason = "output '" + oname + "': " + why;
                    return r;
                }
            }
        }
    }
    return r;
}

std::map<std::string, std::string> read_expectations(const std::string& path) {
    std::map<std::string, std::string> m;
    std::ifstream f(path);
    std::string line;
    while (std::getline(f, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto hash = line.find('#');
        std::string name = line.substr(0, hash);
        name.erase(name.find_last_not_of(" \t") + 1);
        std::string reason = hash == std::string::npos ? "" : line.substr(hash + 1);
        reason.erase(0, reason.find_first_not_of(" \t"));
        if (!name.empty()) m[name] = reason;
    }
    return m;
}

const char* outcome_name(Outcome o) {
    switch (o) {
        case Outcome::kPass: return "PASS";
        case Outcome::kFail: return "FAIL";
        case Outcome::kCrash: return "CRASH";
        case Outcome::kTimeout: return "TIMEOUT";
    }
    return "?";
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    o.nnport_bin = (fs::path(argv[0]).parent_path().parent_path() / "nnport").string();
#ifdef NNPORT_SOURCE_DIR
    o.expectations = std::string(NNPORT_SOURCE_DIR) + "/tests/conformance/expected_failures.txt";
#endif
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "missing value for " << a << "\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--data") o.data_dir = next();
        else if (a == "--nnport") o.nnport_bin = next();
        else if (a == "--expect") o.expectations = next();
        else if (a == "--write-expectations") o.write_expectations = next();
        else if (a == "--filter") o.filter = next();
        else if (a == "--backend") o.backends = next();
        else if (a == "--jobs") o.jobs = std::max(1, std::atoi(next().c_str()));
        else if (a == "--timeout") o.timeout_s = std::atoi(next().c_str());
        else if (a == "--verbose" || a == "-v") o.verbose = true;
        else if (a == "--folders") {
            o.folders.clear();
            std::stringstream ss(next());
            std::string f;
            while (std::getline(ss, f, ',')) o.folders.push_back(f);
        } else {
            std::cerr << "usage: nnport_conformance [--data DIR] [--folders a,b] [--nnport BIN] [--expect FILE]\n"
                         "       [--write-expectations FILE] [--filter REGEX] [--backend LIST] [--jobs N] [--timeout S]\n"
                         "       [--verbose]\n";
            return 2;
        }
    }
    if (!fs::exists(o.nnport_bin)) {
        std::cerr << "nnport binary not found at " << o.nnport_bin << " (use --nnport)\n";
        return 2;
    }
    std::vector<std::pair<std::string, fs::path>> cases;
    const std::regex re(o.filter.empty() ? ".*" : o.filter);
    for (const std::string& folder : o.folders) {
        const fs::path d = fs::path(o.data_dir) / folder;
        if (!fs::is_directory(d)) {
            std::cerr << "test data folder missing: " << d << " (install libonnx-testdata)\n";
            return 2;
        }
        for (const auto& e : fs::directory_iterator(d)) {
            if (!fs::exists(e.path() / "model.onnx")) continue;
            const std::string name = folder + "/" + e.path().filename().string();
            if (std::regex_search(name, re)) cases.emplace_back(name, e.path());
        }
    }
    std::sort(cases.begin(), cases.end());
    const fs::path scratch_root = fs::temp_directory_path() / ("nnport_conformance_" + std::to_string(getpid()));
    std::vector<CaseResult> results(cases.size());
    std::atomic<size_t> next_case{0};
    std::mutex print_mu;
    auto worker = [&](int id) {
        const std::string scratch = (scratch_root / std::to_string(id)).string();
        fs::create_directories(scratch);
        for (size_t i; (i = next_case++) < cases.size();) {
            results[i] = run_case(o, cases[i].second, cases[i].first, scratch);
            if (o.verbose) {
                std::lock_guard<std::mutex> lk(print_mu);
                std::cout << outcome_name(results[i].outcome) << " " << results[i].name
                          << (results[i].reason.empty() ? "" : "  # " + results[i].reason) << "\n";
            }
        }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < o.jobs; ++t) threads.emplace_back(worker, t);
    for (auto& t : threads) t.join();
    fs::remove_all(scratch_root);

    const auto expected = o.expectations.empty() ? std::map<std::string, std::string>{} : read_expectations(o.expectations);
    int passed = 0, failed = 0, crashes = 0, regressions = 0, stale = 0;
    for (const CaseResult& r : results) {
        const bool listed = expected.count(r.name) != 0;
        if (r.outcome == Outcome::kPass) {
            ++passed;
            // A case listed as "random ..." (unseeded random ops) may match the data by chance: not stale.
            if (listed && !expected.at(r.name).starts_with("random")) {
                ++stale;
                std::cout << "NEWLY PASSING (remove from expectations): " << r.name << "\n";
            }
            continue;
        }
        ++failed;
        if (r.outcome == Outcome::kCrash || r.outcome == Outcome::kTimeout) {
            ++crashes;
            std::cout << outcome_name(r.outcome) << ": " << r.name << "  # " << r.reason << "\n";
        } else if (!listed) {
            ++regressions;
            std::cout << "UNEXPECTED FAILURE: " << r.name << "  # " << r.reason << "\n";
        }
    }
    if (!o.write_expectations.empty()) {
        std::ofstream f(o.write_expectations);
        f << "# ONNX backend test cases (libonnx-testdata) that nnport does not pass, with the reason.\n"
             "# Regenerate with: build/tests/nnport_conformance --write-expectations FILE (then review the reasons).\n";
        for (const CaseResult& r : results) {
            if (r.outcome == Outcome::kPass) continue;
            std::string reason = expected.count(r.name) && !expected.at(r.name).empty() ? expected.at(r.name) : r.reason;
            f << r.name << "  # " << reason << "\n";
        }
    }
    const double pct = cases.empty() ? 0.0 : 100.0 * passed / static_cast<double>(cases.size());
    std::cout << "conformance: " << cases.size() << " cases, " << passed << " pass (" << std::fixed
              << std::setprecision(1) << pct << "%), " << failed << " fail (" << regressions << " unexpected, "
              << crashes << " crashes/timeouts), " << stale << " listed but passing\n";
    return (regressions || crashes || stale) ? 1 : 0;
}
