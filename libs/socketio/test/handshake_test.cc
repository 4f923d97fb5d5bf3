#include <catch2/catch.hpp>

#include <map>
#include <string>

#include <boost/json/parse.hpp>

#include "sb/socketio/handshake.h"

namespace eio = sb::socketio::eio;
using eio::ErrorCode;
using eio::HandshakeRequest;
using eio::Transport;

namespace {

// Sessions known to the test: "poll" on polling, "ws" on websocket.
std::optional<Transport> Lookup(std::string_view sid) {
  if (sid == "poll") return Transport::kPolling;
  if (sid == "ws") return Transport::kWebSocket;
  return std::nullopt;
}

std::optional<ErrorCode> Reject(const HandshakeRequest& r) {
  auto result = eio::ValidateHandshake(r, Lookup);
  if (auto* rejected = std::get_if<eio::HandshakeRejected>(&result)) return rejected->code;
  return std::nullopt;
}

eio::HandshakeAccepted Accept(const HandshakeRequest& r) {
  auto result = eio::ValidateHandshake(r, Lookup);
  REQUIRE(std::holds_alternative<eio::HandshakeAccepted>(result));
  return std::get<eio::HandshakeAccepted>(result);
}

}  // namespace

TEST_CASE("handshake error bodies match the reference server") {
  const std::map<ErrorCode, std::string> expected = {
      {ErrorCode::kUnknownTransport, R"({"code":0,"message":"Transport unknown"})"},
      {ErrorCode::kUnknownSid, R"({"code":1,"message":"Session ID unknown"})"},
      {ErrorCode::kBadHandshakeMethod, R"({"code":2,"message":"Bad handshake method"})"},
      {ErrorCode::kBadRequest, R"({"code":3,"message":"Bad request"})"},
      {ErrorCode::kForbidden, R"({"code":4,"message":"Forbidden"})"},
      {ErrorCode::kUnsupportedProtocolVersion, R"({"code":5,"message":"Unsupported protocol version"})"},
  };
  for (const auto& [code, body] : expected) {
    CHECK(eio::ErrorBody(code) == body);
    CHECK(eio::ErrorHttpStatus(code) == (code == ErrorCode::kForbidden ? 403 : 400));
  }
}

TEST_CASE("handshake accepts new polling and websocket sessions") {
  auto polling = Accept({"GET", "4", "polling", std::nullopt, false});
  CHECK(polling.transport == Transport::kPolling);
  CHECK_FALSE(polling.sid.has_value());

  auto ws = Accept({"GET", "4", "websocket", std::nullopt, true});
  CHECK(ws.transport == Transport::kWebSocket);
  CHECK_FALSE(ws.sid.has_value());
  CHECK_FALSE(ws.is_upgrade);

  // An empty sid is treated as absent, like the reference server.
  CHECK_FALSE(Accept({"GET", "4", "polling", "", false}).sid.has_value());
}

TEST_CASE("handshake accepts requests on existing sessions and websocket upgrades") {
  auto poll_get = Accept({"GET", "4", "polling", "poll", false});
  CHECK(poll_get.sid == std::optional<std::string>("poll"));
  CHECK_FALSE(poll_get.is_upgrade);
  CHECK(Accept({"POST", "4", "polling", "poll", false}).sid == std::optional<std::string>("poll"));

  auto upgrade = Accept({"GET", "4", "websocket", "poll", true});
  CHECK(upgrade.is_upgrade);
  CHECK(upgrade.transport == Transport::kWebSocket);
}

TEST_CASE("handshake rejections use the reference error codes") {
  CHECK(Reject({"GET", "4", std::nullopt, std::nullopt, false}) == ErrorCode::kUnknownTransport);
  CHECK(Reject({"GET", "4", "flashsocket", std::nullopt, false}) == ErrorCode::kUnknownTransport);
  CHECK(Reject({"GET", "4", "__proto__", std::nullopt, false}) == ErrorCode::kUnknownTransport);
  CHECK(Reject({"GET", "4", "Polling", std::nullopt, false}) == ErrorCode::kUnknownTransport);

  CHECK(Reject({"GET", std::nullopt, "polling", std::nullopt, false}) == ErrorCode::kUnsupportedProtocolVersion);
  CHECK(Reject({"GET", "3", "polling", std::nullopt, false}) == ErrorCode::kUnsupportedProtocolVersion);
  CHECK(Reject({"GET", "44", "polling", std::nullopt, false}) == ErrorCode::kUnsupportedProtocolVersion);
  CHECK(Reject({"GET", "3", "polling", "poll", false}) == ErrorCode::kUnsupportedProtocolVersion);

  CHECK(Reject({"GET", "4", "polling", "nope", false}) == ErrorCode::kUnknownSid);
  CHECK(Reject({"GET", "4", "websocket", "nope", true}) == ErrorCode::kUnknownSid);

  CHECK(Reject({"POST", "4", "polling", std::nullopt, false}) == ErrorCode::kBadHandshakeMethod);
  CHECK(Reject({"PUT", "4", "websocket", std::nullopt, true}) == ErrorCode::kBadHandshakeMethod);

  // websocket without an Upgrade request, polling on an upgraded session, second websocket.
  CHECK(Reject({"GET", "4", "websocket", std::nullopt, false}) == ErrorCode::kBadRequest);
  CHECK(Reject({"GET", "4", "polling", "ws", false}) == ErrorCode::kBadRequest);
  CHECK(Reject({"GET", "4", "websocket", "poll", false}) == ErrorCode::kBadRequest);
  CHECK(Reject({"GET", "4", "websocket", "ws", true}) == ErrorCode::kBadRequest);
}

TEST_CASE("transport names") {
  CHECK(eio::ParseTransport("polling") == Transport::kPolling);
  CHECK(eio::ParseTransport("websocket") == Transport::kWebSocket);
  CHECK_FALSE(eio::ParseTransport("").has_value());
  CHECK(eio::TransportName(Transport::kWebSocket) == "websocket");
}
