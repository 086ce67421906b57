// Text ops: StringNormalizer (stopword removal, case change) and TfIdfVectorizer (n-gram counts over a pool).
//
// Limitation: case folding is ASCII-only (std::tolower/toupper per byte on 7-bit characters); other UTF-8
// characters pass through unchanged, and the `locale` attribute is accepted but ignored.
#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "ops/kernel_util.hpp"

namespace nnport {
namespace {

std::string ascii_case(const std::string& s, bool upper) {
    std::string r = s;
    for (char& c : r) {
        const unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x80) c = static_cast<char>(upper ? std::toupper(u) : std::tolower(u));
    }
    return r;
}

Result<int> case_action(const AttrAccess& a) {
    const std::string act = a.attr_string("case_change_action");
    if (act == "NONE") return 0;
    if (act == "LOWER") return 1;
    if (act == "UPPER") return 2;
    return a.error("case_change_action must be NONE, LOWER or UPPER, got '" + act + "'");
}

Status strnorm_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(int act, case_action(ctx));
    (void)act;
    const ir::ValueType& in = ctx.input_type(0);
    if (in.has_shape && in.rank() != 1 && !(in.rank() == 2 && in.dims[0] == ir::Dim(1))) {
        return ctx.error("StringNormalizer input must be [C] or [1, C]");
    }
    std::vector<ir::Dim> dims;
    if (in.has_shape && in.rank() == 2) dims.emplace_back(1);
    dims.push_back(ctx.new_dim());
    ctx.set_output(0, ir::ValueType::tensor(DType::kString, dims));
    return Status::ok();
}

Status strnorm_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kString) return ctx.input_error("StringNormalizer input must be strings");
    if (x.rank() != 1 && !(x.rank() == 2 && x.dim(0) == 1)) {
        return ctx.input_error("StringNormalizer input must be [C] or [1, C], got " + shape_to_string(x.shape()));
    }
    NNPORT_ASSIGN_OR_RETURN(int act, case_action(ctx));
    const bool sensitive = ctx.attr_int("is_case_sensitive") != 0;
    std::set<std::string> stop;
    for (const std::string& w : ctx.attr_strings("stopwords")) stop.insert(sensitive ? w : ascii_case(w, false));
    std::vector<std::string> kept;
    for (int64_t i = 0; i < x.numel(); ++i) {
        const std::string& s = x.strings()[i];
        if (stop.count(sensitive ? s : ascii_case(s, false))) continue;
        kept.push_back(act == 0 ? s : ascii_case(s, act == 2));
    }
    if (kept.empty()) kept.emplace_back();  // all filtered: one empty string, as the spec's examples
    Shape shape = {static_cast<int64_t>(kept.size())};
    if (x.rank() == 2) shape.insert(shape.begin(), 1);
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, DType::kString, shape));
    std::copy(kept.begin(), kept.end(), out->strings());
    return Status::ok();
}

/// An n-gram trie: each node may end a pool n-gram (id >= 0) and continue to longer ones.
template <typename K>
struct TrieNode {
    int64_t id = -1;
    std::map<K, std::unique_ptr<TrieNode>> next;
};

/// The validated pool: n-gram count, output width, and per-id output column and weight.
struct Pool {
    int64_t num_ngrams = 0;
    int64_t width = 0;
    std::vector<int64_t> column;
    std::vector<float> weight;
    int mode = 0;  // 0 TF, 1 IDF, 2 TFIDF
    int64_t min_n = 1, max_n = 1, max_skip = 0;
};

template <typename K>
Result<Pool> build_pool(const AttrAccess& a, const std::vector<K>& items, TrieNode<K>* root) {
    Pool p;
    const std::string mode = a.attr_string("mode");
    if (mode == "TF") p.mode = 0;
    else if (mode == "IDF") p.mode = 1;
    else if (mode == "TFIDF") p.mode = 2;
    else return a.error("mode must be TF, IDF or TFIDF, got '" + mode + "'");
    p.min_n = a.attr_int("min_gram_length");
    p.max_n = a.attr_int("max_gram_length");
    p.max_skip = a.attr_int("max_skip_count");
    if (p.min_n < 1 || p.max_n < p.min_n) return a.error("need 1 <= min_gram_length <= max_gram_length");
    if (p.max_skip < 0) return a.error("max_skip_count must be >= 0");
    const std::vector<int64_t> counts = a.attr_ints("ngram_counts");
    const int64_t pool_size = static_cast<int64_t>(items.size());
    for (size_t lvl = 0; lvl < counts.size(); ++lvl) {
        const int64_t n = static_cast<int64_t>(lvl) + 1;
        const int64_t begin = counts[lvl], end = lvl + 1 < counts.size() ? counts[lvl + 1] : pool_size;
        if (begin < 0 || end < begin || end > pool_size || (end - begin) % n != 0) {
            return a.error("ngram_counts do not split the pool into whole " + std::to_string(n) + "-grams");
        }
        for (int64_t s = begin; s < end; s += n) {
            TrieNode<K>* node = root;
            for (int64_t k = 0; k < n; ++k) {
                auto& child = node->next[items[static_cast<size_t>(s + k)]];
                if (!child) child = std::make_unique<TrieNode<K>>();
                node = child.get();
            }
            if (node->id < 0) node->id = p.num_ngrams;
            ++p.num_ngrams;
        }
    }
    const std::vector<int64_t> idx = a.attr_ints("ngram_indexes");
    if (static_cast<int64_t>(idx.size()) != p.num_ngrams) {
        return a.error("ngram_indexes has " + std::to_string(idx.size()) + " entries for " +
                       std::to_string(p.num_ngrams) + " n-grams");
    }
    for (int64_t c : idx) {
        if (c < 0 || c >= (int64_t{1} << 31)) return a.error("ngram_indexes entry out of range");
        p.width = std::max(p.width, c + 1);
    }
    p.column = idx;
    p.weight = a.attr_floats("weights");
    if (!p.weight.empty() && static_cast<int64_t>(p.weight.size()) != p.num_ngrams) {
        return a.error("weights must have one entry per n-gram");
    }
    return p;
}

/// Counts pool n-grams in one row; unigrams are counted once, not per skip distance.
template <typename K, typename Get>
void count_row(const TrieNode<K>& root, const Pool& p, int64_t len, Get get, std::vector<int64_t>& cnt) {
    int64_t start_n = p.min_n;
    for (int64_t dist = 1; dist <= p.max_skip + 1; ++dist) {
        for (int64_t s = 0; s < len; ++s) {
            if (s + dist * (start_n - 1) >= len) break;
            const TrieNode<K>* node = &root;
            for (int64_t n = 1, pos = s; n <= p.max_n && pos < len; ++n, pos += dist) {
                auto it = node->next.find(get(pos));
                if (it == node->next.end()) break;
                node = it->second.get();
                if (n >= start_n && node->id >= 0) cnt[static_cast<size_t>(node->id)]++;
            }
        }
        if (start_n == 1 && ++start_n > p.max_n) break;
    }
}

template <typename K, typename Get>
Status tfidf_run(KernelContext& ctx, const Tensor& x, const std::vector<K>& items, Get get) {
    TrieNode<K> root;
    NNPORT_ASSIGN_OR_RETURN(Pool p, build_pool(ctx, items, &root));
    const int64_t rows = x.rank() == 2 ? x.dim(0) : 1, len = x.rank() == 2 ? x.dim(1) : x.dim(0);
    Shape shape = {p.width};
    if (x.rank() == 2) shape.insert(shape.begin(), rows);
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, DType::kFloat32, shape, true));
    std::vector<int64_t> cnt(static_cast<size_t>(p.num_ngrams));
    for (int64_t r = 0; r < rows; ++r) {
        std::fill(cnt.begin(), cnt.end(), 0);
        count_row<K>(root, p, len, [&](int64_t pos) { return get(r * len + pos); }, cnt);
        float* y = out->data<float>() + r * p.width;
        for (int64_t id = 0; id < p.num_ngrams; ++id) {
            const int64_t c = cnt[static_cast<size_t>(id)];
            const float w = p.weight.empty() ? 1.f : p.weight[static_cast<size_t>(id)];
            float v = static_cast<float>(c);
            if (p.mode == 1) v = c > 0 ? w : 0.f;
            else if (p.mode == 2) v = static_cast<float>(c) * w;
            y[p.column[static_cast<size_t>(id)]] += v;
        }
    }
    return Status::ok();
}

Status tfidf_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    if (x.rank() != 1 && x.rank() != 2) return ctx.input_error("TfIdfVectorizer input must be [C] or [N, C]");
    const bool strings = ctx.has_attr("pool_strings");
    if (strings == ctx.has_attr("pool_int64s")) return ctx.error("exactly one of pool_strings and pool_int64s is needed");
    if (strings) {
        if (x.dtype() != DType::kString) return ctx.input_error("pool_strings needs a string input");
        const std::string* d = x.strings();
        return tfidf_run<std::string>(ctx, x, ctx.attr_strings("pool_strings"), [d](int64_t i) { return d[i]; });
    }
    if (x.dtype() == DType::kInt32) {
        const int32_t* d = x.data<int32_t>();
        return tfidf_run<int64_t>(ctx, x, ctx.attr_ints("pool_int64s"), [d](int64_t i) { return int64_t{d[i]}; });
    }
    if (x.dtype() == DType::kInt64) {
        const int64_t* d = x.data<int64_t>();
        return tfidf_run<int64_t>(ctx, x, ctx.attr_ints("pool_int64s"), [d](int64_t i) { return d[i]; });
    }
    return ctx.input_error("TfIdfVectorizer input must be int32, int64 or string");
}

Status tfidf_infer(InferContext& ctx) {
    const std::vector<int64_t> idx = ctx.attr_ints("ngram_indexes");
    int64_t width = 0;
    for (int64_t c : idx) width = std::max(width, c + 1);
    const ir::ValueType& in = ctx.input_type(0);
    std::vector<ir::Dim> dims;
    if (in.has_shape) {
        if (in.rank() != 1 && in.rank() != 2) return ctx.error("TfIdfVectorizer input must be [C] or [N, C]");
        if (in.rank() == 2) dims.push_back(in.dims[0]);
        dims.emplace_back(width);
        ctx.set_output(0, ir::ValueType::tensor(DType::kFloat32, dims));
    } else {
        ctx.set_output(0, ir::ValueType::tensor(DType::kFloat32));
    }
    return Status::ok();
}

}  // namespace

const OpDef& op_def_StringNormalizer() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "StringNormalizer";
        o.since_version = 10;
        o.min_inputs = o.max_inputs = 1;
        o.attrs = {AttrSpec::s("case_change_action", "NONE"), AttrSpec::i("is_case_sensitive", 0),
                   AttrSpec::s("locale", ""), AttrSpec::strings("stopwords")};
        o.infer = strnorm_infer;
        o.kernel = strnorm_kernel;
        o.input0_types = {DType::kString};
        o.doc = "Removes stopwords and changes case (ASCII case folding only; locale ignored).";
        return o;
    }();
    return d;
}

const OpDef& op_def_TfIdfVectorizer() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "TfIdfVectorizer";
        o.since_version = 9;
        o.min_inputs = o.max_inputs = 1;
        o.attrs = {AttrSpec::none("max_gram_length", ir::AttrType::kInt, true),
                   AttrSpec::none("max_skip_count", ir::AttrType::kInt, true),
                   AttrSpec::none("min_gram_length", ir::AttrType::kInt, true),
                   AttrSpec::none("mode", ir::AttrType::kString, true),
                   AttrSpec::none("ngram_counts", ir::AttrType::kInts, true),
                   AttrSpec::none("ngram_indexes", ir::AttrType::kInts, true),
                   AttrSpec::none("pool_int64s", ir::AttrType::kInts),
                   AttrSpec::none("pool_strings", ir::AttrType::kStrings),
                   AttrSpec::none("weights", ir::AttrType::kFloats)};
        o.infer = tfidf_infer;
        o.kernel = tfidf_kernel;
        o.doc = "N-gram (with skips) TF / IDF / TFIDF vectors over a pool of int64 or string n-grams.";
        return o;
    }();
    return d;
}

}  // namespace nnport
