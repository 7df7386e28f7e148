// torch.distributed's process groups from the libtorch gantry links: a TCPStore for the
// rendezvous and ProcessGroupGloo for CPU collectives. Nothing throws across the C boundary: a
// failure returns non-zero (or null) and leaves its message for gantry_dist_error().
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

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

// The gradients of `loss` with respect to `inputs[0..n)` (autograd.grad), averaged over the
// group, with the sums overlapped with the backward pass as PyTorch's DDP overlaps them: the
// inputs are cut into buckets in reverse order (the order backward produces their gradients),
// the first of at most `first_bytes`, the others of at most `bucket_bytes`; a hook on each input
// copies its gradient into its bucket as soon as backward has it, and a bucket's all-reduce starts
// (asynchronously, on Gloo's thread) once every gradient in it and every earlier bucket have
// started, so every rank starts the same collectives in the same order. Gradients backward never
// reaches (an unused input) are zeros. Writes n new tensor handles to `out` (views of the
// buckets); returns 0, or -1 with the message in gantry_dist_error().
static int last_overlapped = 0;

// How many buckets of the last gantry_dist_grad_average started their sums before the backward
// pass had finished (tests check that the overlap happens).
int gantry_dist_last_overlapped() { return last_overlapped; }

int gantry_dist_grad_average(void *group, at::Tensor *loss, at::Tensor **inputs, int n, int keep_graph,
                             int64_t first_bytes, int64_t bucket_bytes, at::Tensor **out) {
  struct Bucket {
    at::Tensor flat;
    at::TensorOptions options;
    int64_t numel = 0;
    int pending = 0;
    c10::intrusive_ptr<c10d::Work> work;
  };
  struct State {
    GantryGroup *g;
    std::vector<int> bucket;       // per input: its bucket
    std::vector<int64_t> offset;   // per input: where it starts in its bucket
    std::vector<int64_t> numel;    // per input
    std::vector<bool> arrived;     // per input
    std::vector<Bucket> buckets;
    size_t next = 0;  // the first bucket whose sum has not started
    void launch_ready() {
      while (next < buckets.size() && buckets[next].pending == 0) {
        std::vector<at::Tensor> ts{buckets[next].flat};
        buckets[next].work = g->pg->allreduce(ts, c10d::AllreduceOptions());
        next++;
      }
    }
    void arrive(int i, const at::Tensor &grad) {
      if (arrived[i]) return;
      arrived[i] = true;
      Bucket &b = buckets[bucket[i]];
      auto view = b.flat.narrow(0, offset[i], numel[i]);
      at::NoGradGuard ng;
      if (grad.defined()) {
        view.copy_(grad.reshape({-1}));
      } else {
        view.zero_();
      }
      b.pending--;
      launch_ready();
    }
  };
  std::vector<std::pair<at::Tensor, unsigned>> hooks;
  try {
    auto *g = static_cast<GantryGroup *>(group);
    auto st = std::make_shared<State>();
    st->g = g;
    st->bucket.resize(n);
    st->offset.resize(n);
    st->numel.resize(n);
    st->arrived.assign(n, false);
    // buckets over the inputs in reverse, each of one dtype and device
    for (int i = n - 1; i >= 0; i--) {
      const at::Tensor &p = *inputs[i];
      int64_t bytes = p.numel() * p.element_size();
      bool fresh = st->buckets.empty();
      if (!fresh) {
        Bucket &last = st->buckets.back();
        int64_t used = last.numel * p.element_size();
        int64_t cap = st->buckets.size() == 1 ? first_bytes : bucket_bytes;
        fresh = last.options.dtype() != p.options().dtype() || last.options.device() != p.device() ||
                (used > 0 && used + bytes > cap);
      }
      if (fresh) {
        Bucket b;
        b.options = p.options().requires_grad(false);
        st->buckets.push_back(std::move(b));
      }
      Bucket &b = st->buckets.back();
      st->bucket[i] = static_cast<int>(st->buckets.size() - 1);
      st->offset[i] = b.numel;
      st->numel[i] = p.numel();
      b.numel += p.numel();
      b.pending++;
    }
    for (auto &b : st->buckets) b.flat = at::empty({b.numel}, b.options);
    for (int i = 0; i < n; i++) {
      at::Tensor p = *inputs[i];
      if (!p.requires_grad()) continue;
      unsigned id = p.register_hook([st, i](const at::Tensor &grad) {
        st->arrive(i, grad);
        return at::Tensor();
      });
      hooks.emplace_back(p, id);
    }
    std::vector<at::Tensor> ins;
    for (int i = 0; i < n; i++) ins.push_back(*inputs[i]);
    auto grads = torch::autograd::grad({*loss}, ins, {}, keep_graph != 0, false, true);
    for (auto &h : hooks) h.first.remove_hook(h.second);
    hooks.clear();
    last_overlapped = static_cast<int>(st->next);
    // gradients the hooks did not see (inputs that need none, or that backward did not reach)
    for (int i = 0; i < n; i++) st->arrive(i, grads[i]);
    for (auto &b : st->buckets) {
      if (b.work) b.work->wait();
      at::NoGradGuard ng;
      b.flat.div_(static_cast<double>(g->pg->getSize()));
    }
    for (int i = 0; i < n; i++) {
      out[i] = new at::Tensor(
          st->buckets[st->bucket[i]].flat.narrow(0, st->offset[i], st->numel[i]).view(inputs[i]->sizes()));
    }
    return 0;
  } catch (const std::exception &e) {
    for (auto &h : hooks) h.first.remove_hook(h.second);
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
