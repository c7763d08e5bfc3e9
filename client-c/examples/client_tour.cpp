// The C API from C++: handles owned by std::unique_ptr, failures turned
// into exceptions that carry chi_last_error(). Used by the tests.
//
//   c++ -std=c++17 client_tour.cpp -I include -L lib -lchimaera_client
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "chimaera.h"

namespace {

struct Error : std::runtime_error {
  chi_status status;
  Error(chi_status s, const std::string &what)
      : std::runtime_error(what + ": " + chi_status_name(s) + ": " + chi_last_error()), status(s) {}
};

void check(chi_status s, const char *what) {
  if (s != CHI_OK) throw Error(s, what);
}

struct ClientFree { void operator()(chi_client *c) const { chi_client_free(c); } };
struct TaskFree { void operator()(chi_task *t) const { chi_task_free(t); } };
using Client = std::unique_ptr<chi_client, ClientFree>;
using Task = std::unique_ptr<chi_task, TaskFree>;

std::vector<uint8_t> take(chi_buffer &b) {
  std::vector<uint8_t> bytes(b.data, b.data + b.len);
  chi_buffer_free(&b);
  return bytes;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  try {
    chi_client *raw = nullptr;
    check(chi_attach(static_cast<uint16_t>(std::stoi(argv[1])), &raw), "attach");
    Client client(raw);
    check(chi_ping(client.get()), "ping");
    std::puts("c++ ping ok");

    std::vector<Task> tasks;
    const chi_pool_id admin{1, 0};
    for (int i = 0; i < 100; i++) {
      chi_task *t = nullptr;
      check(chi_submit(client.get(), admin, CHI_ADMIN_PING, nullptr, 0, &t), "submit");
      tasks.emplace_back(t);
    }
    for (auto &t : tasks) {
      chi_buffer out{};
      check(chi_task_wait(t.get(), CHI_WAIT_FOREVER, &out), "wait");
      take(out);
    }
    std::printf("c++ waited %zu tasks\n", tasks.size());

    chi_buffer stats{};
    check(chi_stats_json(client.get(), &stats), "stats");
    std::printf("c++ stats %zu bytes of JSON\n", take(stats).size());

    chi_buffer out{};
    check(chi_call(client.get(), chi_pool_id{999, 1}, CHI_ADMIN_PING, nullptr, 0, &out), "call");
  } catch (const Error &e) {
    std::printf("c++ exception: %s\n", e.what());
    return e.status == CHI_ERR_POOL_NOT_FOUND ? 0 : 1;
  }
  return 1;
}
