// StringNormalizer, TfIdfVectorizer and random-op edge cases.
#include <gtest/gtest.h>

#include "util/op_runner.hpp"

namespace nnport {
namespace {

Result<std::vector<RtValue>> run(const std::string& op, std::vector<Tensor> in, ir::Attributes attrs = {}) {
    return testing::run_simple(op, std::move(in), std::move(attrs));
}

using testing::values;

TEST(StringNormalizer, CaseInsensitiveStopwordsAndLower) {
    const Tensor x = Tensor::from_vector<std::string>({1, 3}, {"The", "CAT", "the"});
    auto out = run("StringNormalizer", {x}, {{"stopwords", ir::Attribute::make_strings({"THE"})},
                                             {"case_change_action", ir::Attribute::make_string("LOWER")}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{1, 1}));
    EXPECT_EQ(out.value()[0].tensor.strings()[0], "cat");
}

TEST(StringNormalizer, AllFilteredGivesOneEmptyString) {
    auto out = run("StringNormalizer", {Tensor::from_vector<std::string>({1, 2}, {"a", "a"})},
                   {{"stopwords", ir::Attribute::make_strings({"a"})}});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{1, 1}));
    EXPECT_EQ(out.value()[0].tensor.strings()[0], "");
}

TEST(StringNormalizer, NonAsciiBytesPassThrough) {
    auto out = run("StringNormalizer", {Tensor::from_vector<std::string>({1}, {"\xc3\xa9t\xc3\xa9"})},
                   {{"case_change_action", ir::Attribute::make_string("UPPER")}});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(out.value()[0].tensor.strings()[0], "\xc3\xa9T\xc3\xa9");
}

TEST(StringNormalizer, RejectsBadActionAndShape) {
    EXPECT_FALSE(run("StringNormalizer", {Tensor::from_vector<std::string>({1}, {"a"})},
                     {{"case_change_action", ir::Attribute::make_string("TITLE")}}).is_ok());
    EXPECT_FALSE(run("StringNormalizer", {Tensor::from_vector<std::string>({2, 1}, {"a", "b"})}).is_ok());
}

ir::Attributes tfidf_attrs(const std::string& mode) {
    return {{"max_gram_length", ir::Attribute::make_int(2)}, {"min_gram_length", ir::Attribute::make_int(1)},
            {"max_skip_count", ir::Attribute::make_int(0)}, {"mode", ir::Attribute::make_string(mode)},
            {"ngram_counts", ir::Attribute::make_ints({0, 2})}, {"ngram_indexes", ir::Attribute::make_ints({0, 1, 2})},
            {"pool_strings", ir::Attribute::make_strings({"a", "b", "a", "b"})},
            {"weights", ir::Attribute::make_floats({0.5f, 2.f, 3.f})}};
}

TEST(TfIdfVectorizer, StringPoolModes) {
    const Tensor x = Tensor::from_vector<std::string>({5}, {"a", "b", "a", "b", "c"});
    auto tf = run("TfIdfVectorizer", {x}, tfidf_attrs("TF"));
    ASSERT_TRUE(tf.is_ok()) << tf.status().to_string();
    EXPECT_EQ(values<float>(tf.value()[0].tensor), (std::vector<float>{2, 2, 2}));
    auto idf = run("TfIdfVectorizer", {x}, tfidf_attrs("IDF"));
    ASSERT_TRUE(idf.is_ok());
    EXPECT_EQ(values<float>(idf.value()[0].tensor), (std::vector<float>{0.5f, 2, 3}));
    auto tfidf = run("TfIdfVectorizer", {x}, tfidf_attrs("TFIDF"));
    ASSERT_TRUE(tfidf.is_ok());
    EXPECT_EQ(values<float>(tfidf.value()[0].tensor), (std::vector<float>{1, 4, 6}));
}

TEST(TfIdfVectorizer, RejectsInconsistentPool) {
    ir::Attributes a = tfidf_attrs("TF");
    a["ngram_indexes"] = ir::Attribute::make_ints({0, 1});
    EXPECT_FALSE(run("TfIdfVectorizer", {Tensor::from_vector<std::string>({1}, {"a"})}, a).is_ok());
    a = tfidf_attrs("TF");
    a["ngram_counts"] = ir::Attribute::make_ints({0, 3});  // 1 item left for 2-grams
    EXPECT_FALSE(run("TfIdfVectorizer", {Tensor::from_vector<std::string>({1}, {"a"})}, a).is_ok());
    a = tfidf_attrs("BM25");
    EXPECT_FALSE(run("TfIdfVectorizer", {Tensor::from_vector<std::string>({1}, {"a"})}, a).is_ok());
    EXPECT_FALSE(run("TfIdfVectorizer", {Tensor::from_vector<int64_t>({1}, {1})}, tfidf_attrs("TF")).is_ok());
}

TEST(Random, SeededIsRepeatableAndInRange) {
    ir::Attributes a = {{"shape", ir::Attribute::make_ints({4, 5})}, {"seed", ir::Attribute::make_float(3.f)},
                        {"low", ir::Attribute::make_float(2.f)}, {"high", ir::Attribute::make_float(3.f)}};
    auto u1 = run("RandomUniform", {}, a);
    auto u2 = run("RandomUniform", {}, a);
    ASSERT_TRUE(u1.is_ok()) << u1.status().to_string();
    ASSERT_TRUE(u2.is_ok());
    EXPECT_EQ(values<float>(u1.value()[0].tensor), values<float>(u2.value()[0].tensor));
    for (float v : values<float>(u1.value()[0].tensor)) {
        EXPECT_GE(v, 2.f);
        EXPECT_LT(v, 3.f);
    }
    auto n = run("RandomNormalLike", {Tensor::create(DType::kFloat64, {3}).value()}, {{"seed", ir::Attribute::make_float(1.f)}});
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(n.value()[0].tensor.dtype(), DType::kFloat64);
}

// numpy: np.random.seed(0); np.random.binomial(1, p) with the same float32 p gives these draws. The p values are
// numpy's own first uniforms rounded to float32, so each draw sits right at the decision boundary: a sharp check.
TEST(Random, BernoulliMatchesNumpyStream) {
    const Tensor p = Tensor::from_vector<float>({10}, {0.5488135f, 0.71518934f, 0.60276335f, 0.5448832f, 0.4236548f,
                                                       0.6458941f, 0.4375872f, 0.891773f, 0.96366274f, 0.3834415f});
    auto out = run("Bernoulli", {p}, {{"seed", ir::Attribute::make_float(0.f)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{1, 0, 0, 1, 0, 0, 0, 0, 0, 0}));
}

TEST(Random, MultinomialShapeAndRange) {
    const Tensor logits = Tensor::from_vector<float>({2, 3}, {0, 0, -1e9f, 5, 0, 0});
    auto out = run("Multinomial", {logits}, {{"sample_size", ir::Attribute::make_int(6)}, {"seed", ir::Attribute::make_float(2.f)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{2, 6}));
    for (int i = 0; i < 6; ++i) EXPECT_NE(out.value()[0].tensor.data<int32_t>()[i], 2);
    EXPECT_FALSE(run("Multinomial", {logits}, {{"dtype", ir::Attribute::make_int(1)}}).is_ok());
}

TEST(Random, RejectsNonFloatDtype) {
    EXPECT_FALSE(run("RandomNormal", {}, {{"shape", ir::Attribute::make_ints({2})}, {"dtype", ir::Attribute::make_int(7)}}).is_ok());
}

}  // namespace
}  // namespace nnport
