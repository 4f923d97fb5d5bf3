// sb-token: prints a dev JWT for a user, signed HS256 with the dev secret (tools/dev token).
//
//   sb-token --user alice [--name "Alice"] [--username alice] [--roles admin,mod] [--ttl 24h]
//            [--secret S]   (default: $SB_JWT_SECRET)
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "sb/auth/mint.h"
#include "sb/common/config.h"

namespace {

int Usage(const std::string& error) {
  std::cerr << "sb-token: " << error << "\n"
            << "usage: sb-token --user ID [--name NAME] [--username NAME] [--roles a,b] [--ttl 24h] [--secret S]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  sb::auth::Claims claims;
  std::string secret = std::getenv("SB_JWT_SECRET") != nullptr ? std::getenv("SB_JWT_SECRET") : "";
  absl::Duration ttl = absl::Hours(24);
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return Usage("missing value for " + flag);
    std::string value = argv[++i];
    if (flag == "--user") {
      claims.sub = value;
    } else if (flag == "--name") {
      claims.name = value;
    } else if (flag == "--username") {
      claims.username = value;
    } else if (flag == "--roles") {
      for (absl::string_view role : absl::StrSplit(value, ',', absl::SkipEmpty())) claims.roles.emplace_back(role);
    } else if (flag == "--secret") {
      secret = value;
    } else if (flag == "--ttl") {
      auto parsed = sb::ParseDuration(value);
      if (!parsed) return Usage("bad --ttl '" + value + "' (e.g. 15m, 24h)");
      ttl = *parsed;
    } else {
      return Usage("unknown flag " + flag);
    }
  }
  if (claims.sub.empty()) return Usage("--user is required");
  if (claims.username.empty()) claims.username = claims.sub;
  auto token = sb::auth::MintHs256(claims, secret, ttl);
  if (!token.ok()) {
    std::cerr << "sb-token: " << token.status().message() << "\n";
    return 1;
  }
  std::cout << *token << "\n";
  return 0;
}
