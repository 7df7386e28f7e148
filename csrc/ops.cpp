// ATen operators that tch's generated bindings do not expose with the arguments gantry needs.
// Each takes and returns tch's tensor handles (heap-allocated at::Tensor) and never throws
// across the C boundary: on error it returns null and the Rust side panics with the message.
#include <ATen/ATen.h>
#include <ATen/Context.h>
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
}
