#include <openssl/evp.h>

#include <memory>

#include "core/events/events.h"

namespace omni::core {

std::string contact_id(std::string_view provider, std::string_view source_id) {
  // SHA-256 over provider, a unit separator and the source id; 128 bits of it in hex are plenty
  // to never collide across a site's lifetime, and short enough for logs.
  //
  // Called once per contact on every ingest path. With OpenSSL 3, EVP_sha256() in
  // EVP_DigestInit_ex fetches the provider's implementation on each call (locks, name lookups) and
  // a context per call allocates: the digest is fetched once and each thread reuses one context.
  static const EVP_MD* const sha256 = [] {
    const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md != nullptr ? md : EVP_sha256();
  }();
  struct ctx_free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  thread_local const std::unique_ptr<EVP_MD_CTX, ctx_free> ctx(EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestInit_ex(ctx.get(), sha256, nullptr);
  EVP_DigestUpdate(ctx.get(), provider.data(), provider.size());
  EVP_DigestUpdate(ctx.get(), "\x1f", 1);
  EVP_DigestUpdate(ctx.get(), source_id.data(), source_id.size());
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 0xF];
  }
  return out;
}

}  // namespace omni::core
