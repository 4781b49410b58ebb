// apiserver-stand-in: a Kubernetes API server double for tests and the demo (never shipped).
// It writes ca.crt, token, kubeconfig and port into --dir, then "ready" once it is listening.
#include <utility>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/program_options.hpp>

#include <filesystem>
#include <iostream>

#include "api_server.h"
#include "common/tls_certs.h"
#include "common/token_compare.h"
#include "port_forward.h"

namespace net = boost::asio;
namespace po = boost::program_options;
using tcp = net::ip::tcp;
using namespace sluice::standin;

namespace {
void accept_loop(tcp::acceptor& acceptor, net::ssl::context& ctx, ApiServer& api) {
  acceptor.async_accept([&](boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true));
      std::make_shared<HttpSession>(std::move(socket), ctx,
                                    [&api](const std::shared_ptr<HttpSession>& s, HttpRequest& req) { api.handle(s, req); })
          ->start();
    }
    accept_loop(acceptor, ctx, api);
  });
}

std::string kubeconfig(const std::string& server, const std::string& ca_path, const std::string& token) {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: standin\n  cluster:\n    server: " + server +
         "\n    certificate-authority: " + ca_path +
         "\nusers:\n- name: standin-admin\n  user:\n    token: " + token +
         "\ncontexts:\n- name: standin\n  context:\n    cluster: standin\n    user: standin-admin\n    namespace: default\n"
         "current-context: standin\n";
}
}  // namespace

int main(int argc, char** argv) {
  po::options_description opts("apiserver-stand-in: a Kubernetes API server double for tests");
  opts.add_options()("help,h", "show this help")
      ("dir", po::value<std::string>(), "state directory: certificates, token, kubeconfig, pod scratch directories")
      ("port", po::value<unsigned short>()->default_value(0), "port on 127.0.0.1 (0: any free port)")
      ("token", po::value<std::string>(), "bearer token to accept (default: a new random one, written to DIR/token)")
      ("openapi-schemas", po::value<std::string>()->default_value(STANDIN_OPENAPI_SCHEMAS),
       "upstream OpenAPI schemas served at /openapi/v2 and /openapi/v3 (openapi/extract_schemas.py output)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "apiserver-stand-in: " << e.what() << "\n" << opts;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  if (!vm.count("dir")) {
    std::cerr << "apiserver-stand-in: --dir is required\n";
    return 2;
  }
  namespace fs = std::filesystem;
  const std::string dir = fs::absolute(vm["dir"].as<std::string>()).string();
  try {
    fs::create_directories(dir);
    fs::remove(dir + "/ready");
    const std::string token = vm.count("token") ? vm["token"].as<std::string>() : sluice::common::random_token_hex(24);
    auto ca = sluice::common::generate_ca("sluice-standin-ca");
    auto leaf = sluice::common::generate_leaf(ca, {"kube-apiserver", {}, {"localhost", "kubernetes", "kubernetes.default.svc"},
                                                   {"127.0.0.1"}, true, 365});
    sluice::common::write_file(dir + "/ca.crt", ca.cert_pem);
    sluice::common::write_file(dir + "/token", token + "\n", 0600);

    net::io_context io;
    net::ssl::context ctx(net::ssl::context::tls_server);
    ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 | net::ssl::context::no_sslv3 |
                    net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
    ctx.use_certificate_chain(net::buffer(leaf.cert_pem));
    ctx.use_private_key(net::buffer(leaf.key_pem), net::ssl::context::pem);

    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), vm["port"].as<unsigned short>()));
    const auto port = acceptor.local_endpoint().port();
    const std::string address = "127.0.0.1:" + std::to_string(port);

    ResourceCatalog catalog;
    OpenApiDocuments openapi(catalog, vm["openapi-schemas"].as<std::string>());
    ObjectStore store;
    PodRuntime runtime(io, dir + "/runtime");
    ApiServer api(io, catalog, openapi, store, runtime, {token, address, start_echo_server(io)});
    api.seed();
    accept_loop(acceptor, ctx, api);

    net::signal_set stop(io, SIGINT, SIGTERM);
    stop.async_wait([&](const boost::system::error_code&, int) { io.stop(); });

    sluice::common::write_file(dir + "/kubeconfig", kubeconfig("https://" + address, dir + "/ca.crt", token), 0600);
    sluice::common::write_file(dir + "/port", std::to_string(port) + "\n");
    sluice::common::write_file(dir + "/ready", "https://" + address + "\n");
    std::cout << "apiserver-stand-in listening on https://" << address << std::endl;
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "apiserver-stand-in: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
