// torch.distributed's process groups from the libtorch gantry links: a TCPStore for the
// rendezvous and ProcessGroupGloo for CPU collectives. Nothing throws across the C boundary: a
// failure returns non-zero (or null) and leaves its message for gantry_dist_error().
#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <string>

static thread_local std::string dist_error;

struct GantryGroup {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};

// Sums `t` over the group in place (throws on failure).
static void sum_over(GantryGroup *g, at::Tensor &t) {
  std::vector<at::Tensor> ts{t};
  g->pg->allreduce(ts, c10d::AllreduceOptions())->wait();
}

// Synchronised batch norm (training): the batch statistics of every rank's rows together, as
// one process would compute them on the combined batch; the backward pass sums its two
// reductions over the ranks as well (PyTorch's SyncBatchNorm does the same).
struct SyncBatchNorm : public torch::autograd::Function<SyncBatchNorm> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, at::Tensor x, at::Tensor weight, at::Tensor bias,
                            at::Tensor running_mean, at::Tensor running_var, double momentum, double eps,
                            int64_t group) {
    auto *g = reinterpret_cast<GantryGroup *>(group);
    int64_t c = x.size(1);
    std::vector<int64_t> dims{0};
    for (int64_t d = 2; d < x.dim(); d++) dims.push_back(d);
    std::vector<int64_t> shape(x.dim(), 1);
    shape[1] = c;
    // statistics accumulated in double, as ATen's CPU batch norm accumulates them: with samples
    // nearly alike (a young generator's) the normalisation divides by a small deviation and
    // magnifies any rounding in them
    at::Tensor xf = x.to(at::kDouble);
    double local = static_cast<double>(x.numel() / c);
    // two passes, as ATen's own batch norm: the mean first, then the squares about it (the
    // sum of squares less the squared mean loses the variance to cancellation when it is small
    // beside the mean, as for a generator's nearly alike first samples)
    at::Tensor first = at::cat({xf.sum(dims), at::full({1}, local, xf.options())});
    sum_over(g, first);
    double count = first[c].item<double>();
    at::Tensor mean = first.narrow(0, 0, c) / count;
    at::Tensor squares = (xf - mean.view(shape)).square().sum(dims);
    sum_over(g, squares);
    at::Tensor var = squares / count;
    at::Tensor invstd = (var + eps).rsqrt();
    {
      at::NoGradGuard ng;
      running_mean.mul_(1 - momentum).add_(mean.to(running_mean.scalar_type()), momentum);
      running_var.mul_(1 - momentum).add_((var * (count / std::max(count - 1, 1.0))).to(running_var.scalar_type()),
                                          momentum);
    }
    at::Tensor xhat = (xf - mean.view(shape)) * invstd.view(shape);
    at::Tensor y = (xhat * weight.to(at::kDouble).view(shape) + bias.to(at::kDouble).view(shape)).to(x.scalar_type());
    ctx->save_for_backward({xhat, invstd, weight});
    ctx->saved_data["count"] = count;
    ctx->saved_data["group"] = group;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    at::Tensor xhat = saved[0], invstd = saved[1], weight = saved[2];
    double count = ctx->saved_data["count"].toDouble();
    auto *g = reinterpret_cast<GantryGroup *>(ctx->saved_data["group"].toInt());
    at::Tensor gy = grads[0].to(at::kDouble);
    int64_t c = xhat.size(1);
    std::vector<int64_t> dims{0};
    for (int64_t d = 2; d < xhat.dim(); d++) dims.push_back(d);
    std::vector<int64_t> shape(xhat.dim(), 1);
    shape[1] = c;
    // this rank's sums are the scale and shift's gradients (averaged over the ranks later, as
    // every parameter's); the input's gradient needs the sums over every rank
    at::Tensor sum_gy = gy.sum(dims);
    at::Tensor sum_gy_xhat = (gy * xhat).sum(dims);
    at::Tensor both = at::cat({sum_gy, sum_gy_xhat});
    sum_over(g, both);
    at::Tensor all_gy = both.narrow(0, 0, c) / count, all_gy_xhat = both.narrow(0, c, c) / count;
    at::Tensor gx = (gy - all_gy.view(shape) - xhat * all_gy_xhat.view(shape)) *
                    (invstd * weight.to(at::kDouble)).view(shape);
    return {gx.to(grads[0].scalar_type()), sum_gy_xhat.to(weight.scalar_type()), sum_gy.to(weight.scalar_type()),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

extern "C" {

// Synchronised batch norm of `x` ([n, c, ...]) over the group, in training mode; updates the
// running statistics in place. Returns a new tensor handle, or null.
at::Tensor *gantry_dist_sync_batch_norm(void *group, at::Tensor *x, at::Tensor *weight, at::Tensor *bias,
                                        at::Tensor *running_mean, at::Tensor *running_var, double momentum,
                                        double eps) {
  try {
    return new at::Tensor(SyncBatchNorm::apply(*x, *weight, *bias, *running_mean, *running_var, momentum, eps,
                                               reinterpret_cast<int64_t>(group)));
  } catch (const std::exception &e) {
    dist_error = e.what();
    return nullptr;
  }
}

const char *gantry_dist_error() { return dist_error.c_str(); }

// Joins the group of `world` ranks whose rank 0 serves the store at addr:port. `local` picks
// the loopback device for Gloo's pairs (every rank on this machine); otherwise
// GLOO_SOCKET_IFNAME, when set, names the interface, else the host name's address is used.
void *gantry_dist_init(const char *addr, int port, int rank, int world, int64_t timeout_ms, int local) {
  try {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(port);
    // under torchrun its agent serves the store (TORCHELASTIC_USE_AGENT_STORE=True)
    const char *agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
    so.isServer = rank == 0 && !(agent && std::string(agent) == "True");
    so.numWorkers = world;
    so.waitWorkers = true;
    so.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(std::string(addr), so);
    auto opts = c10d::ProcessGroupGloo::Options::create();
    opts->timeout = timeout;
    const char *ifname = std::getenv("GLOO_SOCKET_IFNAME");
    if (local) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else if (ifname && *ifname) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    opts->threads = 1;
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, opts);
    return new GantryGroup{store, pg};
  } catch (const std::exception &e) {
    dist_error = e.what();
    return nullptr;
  }
}

// Sums `t` (one dense CPU tensor) over the group in place.
int gantry_dist_allreduce_sum(void *group, at::Tensor *t) {
  try {
    auto *g = static_cast<GantryGroup *>(group);
    std::vector<at::Tensor> ts{*t};
    g->pg->allreduce(ts, c10d::AllreduceOptions())->wait();
    return 0;
  } catch (const std::exception &e) {
    dist_error = e.what();
    return -1;
  }
}

// Copies rank `root`'s `t` into every rank's.
int gantry_dist_broadcast(void *group, at::Tensor *t, int root) {
  try {
    auto *g = static_cast<GantryGroup *>(group);
    std::vector<at::Tensor> ts{*t};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    g->pg->broadcast(ts, o)->wait();
    return 0;
  } catch (const std::exception &e) {
    dist_error = e.what();
    return -1;
  }
}

int gantry_dist_barrier(void *group) {
  try {
    static_cast<GantryGroup *>(group)->pg->barrier()->wait();
    return 0;
  } catch (const std::exception &e) {
    dist_error = e.what();
    return -1;
  }
}

void gantry_dist_free(void *group) { delete static_cast<GantryGroup *>(group); }

}  // extern "C"
