// Col2Im (opset 18): sums sliding blocks [N, C * prod(block_shape), L] back into an N-D image [N, C, image_shape...].
#include "ops/image_util.hpp"

namespace nnport {

namespace {

struct Col2ImGeo {
    std::vector<int64_t> image, block, dil, pads, strides, blocks;  // blocks: block positions per axis
    int64_t block_size = 1, num_blocks = 1;
};

/// Resolves and validates the geometry; `channels_k` is input dim 1 and `l` input dim 2.
Result<Col2ImGeo> col2im_geometry(const KernelContext& ctx, const std::vector<int64_t>& image,
                                  const std::vector<int64_t>& block, int64_t channels_k, int64_t l) {
    Col2ImGeo g;
    const size_t r = image.size();
    if (r == 0 || block.size() != r) return ctx.input_error("image_shape and block_shape must be non-empty, same size");
    g.image = image;
    g.block = block;
    g.dil = ctx.has_attr("dilations") ? ctx.attr_ints("dilations") : std::vector<int64_t>(r, 1);
    g.pads = ctx.has_attr("pads") ? ctx.attr_ints("pads") : std::vector<int64_t>(2 * r, 0);
    g.strides = ctx.has_attr("strides") ? ctx.attr_ints("strides") : std::vector<int64_t>(r, 1);
    if (g.dil.size() != r || g.strides.size() != r || g.pads.size() != 2 * r) {
        return ctx.error("dilations/strides must have " + std::to_string(r) + " entries and pads " +
                         std::to_string(2 * r));
    }
    for (size_t i = 0; i < r; ++i) {
        if (g.dil[i] <= 0 || g.strides[i] <= 0 || g.pads[i] < 0 || g.pads[i + r] < 0) {
            return ctx.error("dilations and strides must be positive and pads non-negative");
        }
        if (image[i] < 0 || block[i] <= 0) return ctx.input_error("image_shape must be >= 0 and block_shape > 0");
        if (image[i] > (int64_t{1} << 40) || block[i] > (int64_t{1} << 40) || g.dil[i] > (int64_t{1} << 20) ||
            g.pads[i] > (int64_t{1} << 40) || g.pads[i + r] > (int64_t{1} << 40)) {
            return ctx.input_error("image_shape/block_shape/dilations/pads are too large");
        }
        const int64_t span = g.dil[i] * (block[i] - 1) + 1;
        const int64_t padded = image[i] + g.pads[i] + g.pads[i + r];
        if (padded < span) return ctx.input_error("the dilated block is larger than the padded image");
        g.blocks.push_back((padded - span) / g.strides[i] + 1);
        g.block_size *= block[i];
        g.num_blocks *= g.blocks.back();
        if (g.block_size > (int64_t{1} << 40) || g.num_blocks > (int64_t{1} << 40)) {
            return ctx.input_error("block_shape or block count is too large");
        }
    }
    if (channels_k % g.block_size != 0) {
        return ctx.input_error("input dim 1 (" + std::to_string(channels_k) +
                               ") is not a multiple of prod(block_shape) (" + std::to_string(g.block_size) + ")");
    }
    if (l != g.num_blocks) {
        return ctx.input_error("input dim 2 (" + std::to_string(l) + ") must equal the number of blocks (" +
                               std::to_string(g.num_blocks) + ")");
    }
    return g;
}

template <typename T>
void col2im_typed(KernelContext& ctx, const Col2ImGeo& g, const Tensor& x, Tensor& y) {
    const T* xd = x.data<T>();
    T* yd = y.data<T>();
    const size_t r = g.image.size();
    const int64_t planes = y.dim(0) * y.dim(1), k_size = g.block_size, l_size = g.num_blocks;
    int64_t image_size = 1;
    for (int64_t v : g.image) image_size *= v;
    const std::vector<int64_t> img_str = strides_of(g.image), blk_str = strides_of(g.block);
    // Block offset k starts at k_i * dilation - pad_begin on each axis; block position l adds l_i * stride.
    ctx.parallel_for(planes, [&](int64_t begin, int64_t end) {
        std::vector<int64_t> kpos(r), lidx(r);
        for (int64_t p = begin; p < end; ++p) {
            T* dst = yd + p * image_size;
            for (int64_t i = 0; i < image_size; ++i) dst[i] = T(0);
            const T* src = xd + p * k_size * l_size;
            for (int64_t k = 0; k < k_size; ++k) {
                for (size_t i = 0; i < r; ++i) kpos[i] = (k / blk_str[i]) % g.block[i] * g.dil[i] - g.pads[i];
                const T* row = src + k * l_size;
                std::fill(lidx.begin(), lidx.end(), 0);
                for (int64_t l = 0; l < l_size; ++l) {
                    int64_t off = 0;
                    bool inside = true;
                    for (size_t i = 0; i < r; ++i) {
                        const int64_t c = kpos[i] + lidx[i] * g.strides[i];
                        if (c < 0 || c >= g.image[i]) {
                            inside = false;
                            break;
                        }
                        off += c * img_str[i];
                    }
                    if (inside) dst[off] += row[l];
                    for (size_t i = r; i-- > 0;) {  // next block position, last axis fastest
                        if (++lidx[i] < g.blocks[i]) break;
                        lidx[i] = 0;
                    }
                }
            }
        }
    });
}

Status col2im_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(2));
    const Tensor& x = ctx.input(0);
    const Tensor& image_t = ctx.input(1);
    const Tensor& block_t = ctx.input(2);
    if (x.rank() != 3) return ctx.input_error("input must be 3-D [N, C * prod(block_shape), L]");
    if (image_t.rank() != 1 || block_t.rank() != 1 || image_t.dtype() != DType::kInt64 ||
        block_t.dtype() != DType::kInt64) {
        return ctx.input_error("image_shape and block_shape must be 1-D int64");
    }
    const std::vector<int64_t> image = image_t.to_int_vector(), block = block_t.to_int_vector();
    NNPORT_ASSIGN_OR_RETURN(Col2ImGeo g, col2im_geometry(ctx, image, block, x.dim(1), x.dim(2)));
    Shape out = {x.dim(0), x.dim(1) / g.block_size};
    out.insert(out.end(), g.image.begin(), g.image.end());
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), out));
    if (y->numel() == 0) return Status::ok();
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx, col2im_typed<T>(ctx, g, x, *y));
    return Status::ok();
}

Status col2im_infer(InferContext& ctx) {
    const ir::ValueType& xt = ctx.input_type(0);
    if (xt.has_shape && xt.rank() != 3) return ctx.error("input must be 3-D");
    const Tensor* image = ctx.input_constant(1);
    const Tensor* block = ctx.input_constant(2);
    int64_t r = -1;
    if (image) r = image->numel();
    else if (ctx.input_type(1).has_shape && ctx.input_type(1).rank() == 1 && ctx.input_type(1).dims[0].is_static())
        r = ctx.input_type(1).dims[0].value;
    if (r < 0) {
        ctx.set_output(0, ir::ValueType::tensor(xt.dtype));
        return Status::ok();
    }
    std::vector<ir::Dim> dims = {image::pick_dim(ctx, xt.has_shape ? xt.dims[0] : ir::Dim(), {})};
    ir::Dim c;
    if (block && xt.has_shape && xt.dims[1].is_static()) {
        int64_t k = 1;
        for (int64_t v : block->to_int_vector()) {
            if (v <= 0) return ctx.error("block_shape entries must be positive");
            k = (k > (int64_t{1} << 40) || v > (int64_t{1} << 40)) ? -1 : k * v;
            if (k < 0) break;
        }
        if (k > 0 && xt.dims[1].value % k != 0) return ctx.error("input dim 1 is not a multiple of prod(block_shape)");
        if (k > 0) c = xt.dims[1].value / k;
    }
    dims.push_back(image::pick_dim(ctx, c, {}));
    for (int64_t i = 0; i < r; ++i) {
        const int64_t v = image ? image->item_as_int(i) : -1;
        dims.push_back(v >= 0 ? ir::Dim(v) : ctx.new_dim());
    }
    ctx.set_output(0, ir::ValueType::tensor(xt.dtype, dims));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_Col2Im() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Col2Im";
        o.since_version = 18;
        o.min_inputs = o.max_inputs = 3;
        o.attrs = {AttrSpec::ints("dilations"), AttrSpec::ints("pads"), AttrSpec::ints("strides")};
        o.infer = col2im_infer;
        o.kernel = col2im_kernel;
        o.doc = "Rearranges column blocks back into an N-D image, summing overlaps (inverse of im2col).";
        return o;
    }();
    return d;
}

}  // namespace nnport
