#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

#include "sb/common/log.h"

namespace {
std::vector<std::string> g_lines;
void Capture(std::string_view line) { g_lines.emplace_back(line); }
}  // namespace

TEST_CASE("log lines are one JSON object with service, level, request id and escaped fields") {
  g_lines.clear();
  sb::log::Init("chat", sb::log::Level::kInfo);
  sb::log::SetSinkForTesting(&Capture);
  {
    sb::log::RequestIdScope scope("req-1");
    sb::log::Info("sent \"hi\"\n", {{"user", "a\"b"}, {"count", 3}});
  }
  sb::log::Debug("hidden");
  sb::log::Warn("after scope");
  sb::log::SetSinkForTesting(nullptr);

  REQUIRE(g_lines.size() == 2);
  REQUIRE(g_lines[0].back() == '\n');
  auto first = boost::json::parse(g_lines[0]).as_object();
  CHECK(first.at("service") == "chat");
  CHECK(first.at("level") == "info");
  CHECK(first.at("msg") == "sent \"hi\"\n");
  CHECK(first.at("request_id") == "req-1");
  CHECK(first.at("user") == "a\"b");
  CHECK(first.at("count").as_int64() == 3);
  auto second = boost::json::parse(g_lines[1]).as_object();
  CHECK(second.at("level") == "warn");
  CHECK_FALSE(second.contains("request_id"));
}

TEST_CASE("levels parse by name") {
  sb::log::Level level;
  CHECK(sb::log::ParseLevel("DEBUG", &level));
  CHECK(level == sb::log::Level::kDebug);
  CHECK_FALSE(sb::log::ParseLevel("loud", &level));
}

TEST_CASE("request ids are 16 hex characters and differ") {
  auto a = sb::log::NewRequestId();
  auto b = sb::log::NewRequestId();
  CHECK(a.size() == 16);
  CHECK(a != b);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
}
