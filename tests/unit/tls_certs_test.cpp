#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "common/tls_certs.h"

using namespace sluice::common;

namespace {
X509* parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* c = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return c;
}
}  // namespace

TEST_CASE("a generated leaf certificate verifies against its CA and carries the subject") {
  auto ca = generate_ca("test-ca");
  auto leaf = generate_leaf(ca, {"alice", {"devs", "ops"}, {"localhost"}, {"127.0.0.1"}, false, 1});
  X509* ca_cert = parse(ca.cert_pem);
  X509* leaf_cert = parse(leaf.cert_pem);
  REQUIRE(ca_cert);
  REQUIRE(leaf_cert);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca_cert);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf_cert, nullptr);
  CHECK(X509_verify_cert(ctx) == 1);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(leaf_cert), NID_commonName, cn, sizeof cn);
  CHECK(std::string(cn) == "alice");
  CHECK(X509_NAME_entry_count(X509_get_subject_name(leaf_cert)) == 3);  // O=devs, O=ops, CN=alice
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(ca_cert);
  X509_free(leaf_cert);
}

TEST_CASE("a leaf signed by another CA does not verify") {
  auto ca = generate_ca("one");
  auto other = generate_ca("two");
  auto leaf = generate_leaf(other, {"x", {}, {}, {}, true, 1});
  X509* ca_cert = parse(ca.cert_pem);
  X509* leaf_cert = parse(leaf.cert_pem);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca_cert);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf_cert, nullptr);
  CHECK(X509_verify_cert(ctx) != 1);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(ca_cert);
  X509_free(leaf_cert);
}
