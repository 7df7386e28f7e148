// torch.distributed's process groups from the libtorch gantry links: a TCPStore for the
// rendezvous and ProcessGroupGloo for CPU collectives. Nothing throws across the C boundary: a
// failure returns non-zero (or null) and leaves its message for gantry_dist_error().
#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <string>

static thread_local std::string dist_error;

struct GantryGroup {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};

extern "C" {

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
