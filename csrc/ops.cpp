// ATen operators that tch's generated bindings do not expose with the arguments gantry needs.
// Each takes and returns tch's tensor handles (heap-allocated at::Tensor) and never throws
// across the C boundary: on error it returns null and the Rust side panics with the message.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/SequenceNumber.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <string>

static thread_local std::string last_error;

extern "C" {

const char *gantry_last_error() { return last_error.c_str(); }

// torch.use_deterministic_algorithms(on) with cuDNN's deterministic algorithms and no autotuning.
int gantry_set_deterministic(int on) {
  try {
    auto &ctx = at::globalContext();
    ctx.setDeterministicCuDNN(on != 0);
    ctx.setBenchmarkCuDNN(false);
    ctx.setDeterministicAlgorithms(on != 0, /*warn_only=*/false);
    return 0;
  } catch (const std::exception &e) {
    last_error = e.what();
    return -1;
  }
}

// leaky_relu with an arbitrary negative slope (tch fixes it at 0.01).
at::Tensor *gantry_leaky_relu(at::Tensor *x, double slope) {
  try {
    return new at::Tensor(at::leaky_relu(*x, slope));
  } catch (const std::exception &e) {
    last_error = e.what();
    return nullptr;
  }
}

// torch.optim.Adam(fused=True)'s kernel over a list of parameters, updated in place.
int gantry_fused_adam(at::Tensor **params, at::Tensor **grads, at::Tensor **exp_avgs,
                      at::Tensor **exp_avg_sqs, at::Tensor **steps, int n, double lr,
                      double beta1, double beta2, double weight_decay, double eps) {
  try {
    std::vector<at::Tensor> p, g, m, v, s;
    for (int i = 0; i < n; i++) {
      p.push_back(*params[i]);
      g.push_back(*grads[i]);
      m.push_back(*exp_avgs[i]);
      v.push_back(*exp_avg_sqs[i]);
      s.push_back(*steps[i]);
    }
    at::_fused_adam_(p, g, m, v, {}, s, lr, beta1, beta2, weight_decay, eps, false, false,
                     std::nullopt, std::nullopt);
    return 0;
  } catch (const std::exception &e) {
    last_error = e.what();
    return 1;
  }
}
}

// ---- TorchScript export -------------------------------------------------------------------
#include <torch/script.h>

extern "C" {

// Loads the TorchScript module at `in` (a generator traced by tch), adds integer and string
// attributes a PyTorch user reads (`latent_dim`, `prior`, …) and, when `methods` is not empty,
// TorchScript source defining further methods, then saves it at `out`.
int gantry_jit_finish(const char *in, const char *out, const char **int_names, const int64_t *int_values,
                      int n_int, const char **str_names, const char **str_values, int n_str,
                      const char *methods) {
  try {
    torch::jit::Module m = torch::jit::load(std::string(in));
    for (int i = 0; i < n_int; i++) {
      m.register_attribute(int_names[i], c10::IntType::get(), c10::IValue(int_values[i]));
    }
    for (int i = 0; i < n_str; i++) {
      m.register_attribute(str_names[i], c10::StringType::get(), c10::IValue(std::string(str_values[i])));
    }
    if (methods != nullptr && methods[0] != '\0') {
      m.define(std::string(methods));
    }
    m.save(std::string(out));
    return 0;
  } catch (const std::exception &e) {
    last_error = e.what();
    return -1;
  }
}

// Advances this thread's autograd sequence counter by n. The autograd engine runs the nodes that
// are ready in order of their sequence numbers; on CUDA, the nodes that a backward pass with
// create_graph makes (a gradient penalty's) are numbered by the device's worker thread, and the
// forward pass's by the calling thread, so their relative order follows how many nodes each
// thread has numbered since the process started. The training loop advances the calling thread
// by more than any step's backward pass numbers, before each step: then the forward pass's nodes
// always come after the worker's, and a resumed process orders them as a straight one does.
void gantry_bump_sequence(int64_t n) {
  for (int64_t i = 0; i < n; i++) at::sequence_number::get_and_increment();
}

// This thread's autograd sequence counter (for tests).
uint64_t gantry_sequence_peek() { return at::sequence_number::peek(); }

// Autocast to bfloat16 on CPU (cuda = 0) or CUDA (cuda = 1): on = 1 enters, on = 0 leaves and
// drops the cast weights it cached (as torch.autocast's __exit__ does for the outermost region).
int gantry_autocast_bf16(int cuda, int on) {
  try {
    auto dev = cuda ? at::kCUDA : at::kCPU;
    if (on) {
      at::autocast::set_autocast_dtype(dev, at::kBFloat16);
      at::autocast::set_autocast_enabled(dev, true);
      at::autocast::increment_nesting();
    } else {
      at::autocast::set_autocast_enabled(dev, false);
      if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    }
    return 0;
  } catch (const std::exception &e) {
    last_error = e.what();
    return -1;
  }
}

// libtorch's profiler (Kineto) over the calling thread's work and, with cuda = 1, the GPU's.
int gantry_profile_start(int cuda) {
  try {
    using namespace torch::profiler::impl;
    ProfilerConfig config(ProfilerState::KINETO);
    std::set<ActivityType> acts{ActivityType::CPU};
    if (cuda) acts.insert(ActivityType::CUDA);
    torch::autograd::profiler::prepareProfiler(config, acts);
    torch::autograd::profiler::enableProfiler(config, acts);
    return 0;
  } catch (const std::exception &e) {
    last_error = e.what();
    return -1;
  }
}

// Stops the profiler and counts what it saw: counts[0] ATen operators (events named aten::…),
// counts[1] kernels run on the GPU, counts[2] kernel launches from the host (cudaLaunchKernel,
// cuLaunchKernel, cudaLaunchKernelExC), counts[3] host synchronisations (…Synchronize), counts[4]
// copies (cudaMemcpy…), counts[5] CUDA graph launches.
int gantry_profile_stop(int64_t *counts) {
  try {
    auto result = torch::autograd::profiler::disableProfiler();
    for (int i = 0; i < 6; i++) counts[i] = 0;
    for (const auto &e : result->events()) {
      const std::string name = e.name();
      if (e.deviceType() == c10::DeviceType::CUDA) {
        counts[1]++;
        continue;
      }
      if (name.rfind("aten::", 0) == 0) counts[0]++;
      if (name.find("LaunchKernel") != std::string::npos) counts[2]++;
      if (name.find("Synchronize") != std::string::npos) counts[3]++;
      if (name.rfind("cudaMemcpy", 0) == 0) counts[4]++;
      if (name.rfind("cudaGraphLaunch", 0) == 0) counts[5]++;
    }
    return 0;
  } catch (const std::exception &e) {
    last_error = e.what();
    return -1;
  }
}

// Whether the current CUDA device computes in bfloat16 natively (compute capability 8.0 or later,
// as libtorch's CUDA hooks judge it for cuDNN's bf16 convolutions).
int gantry_cuda_bf16() {
  try {
    return at::detail::getCUDAHooks().supportsBFloat16ConvolutionWithCuDNNv8() ? 1 : 0;
  } catch (const std::exception &e) {
    last_error = e.what();
    return -1;
  }
}
}
