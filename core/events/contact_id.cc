#include <openssl/evp.h>

#include "core/events/events.h"

namespace omni::core {

std::string contact_id(std::string_view provider, std::string_view source_id) {
  // SHA-256 over provider, a unit separator and the source id; 128 bits of it in hex are plenty
  // to never collide across a site's lifetime, and short enough for logs.
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, provider.data(), provider.size());
  EVP_DigestUpdate(ctx, "\x1f", 1);
  EVP_DigestUpdate(ctx, source_id.data(), source_id.size());
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 0xF];
  }
  return out;
}

}  // namespace omni::core
