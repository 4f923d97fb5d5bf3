#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "sb/socketio/engineio.h"
#include "sb/socketio/socketio.h"

namespace eio = sb::socketio::eio;
namespace sio = sb::socketio::sio;
using sio::PacketType;

namespace {

boost::json::value Json(std::string_view text) { return boost::json::parse(boost::json::string_view(text.data(), text.size())); }

// The websocket text frame a packet's header travels in: "4" + socket.io header.
std::string Wire(const sio::Packet& packet) {
  auto messages = sio::EncodeToEngineIo(packet);
  REQUIRE(messages.ok());
  return eio::EncodeWebSocketFrame(messages->front()).payload;
}

sio::Packet Decode(std::string_view text) {
  auto decoded = sio::DecodeHeader(text);
  INFO(text << " -> " << decoded.status().ToString());
  REQUIRE(decoded.ok());
  return std::move(decoded->packet);
}

absl::StatusCode DecodeError(std::string_view text, const sio::DecodeOptions& options = {}) {
  auto decoded = sio::DecodeHeader(text, options);
  INFO(text);
  CHECK_FALSE(decoded.ok());
  return decoded.status().code();
}

}  // namespace

TEST_CASE("socket.io exact wire strings for server packets") {
  auto hi = sio::MakeEvent("/", "message", boost::json::array{"hi"});
  REQUIRE(hi.ok());
  CHECK(Wire(*hi) == R"(42["message","hi"])");

  auto custom = sio::MakeEvent("/custom", "x", boost::json::array{1}, {}, 17);
  REQUIRE(custom.ok());
  CHECK(Wire(*custom) == R"(42/custom,17["x",1])");

  std::vector<std::string> buffers;
  boost::json::array args{sio::AddBuffer(buffers, "\x01\x02")};
  auto binary = sio::MakeEvent("/", "b", std::move(args), std::move(buffers));
  REQUIRE(binary.ok());
  CHECK(binary->type == PacketType::kBinaryEvent);
  CHECK(Wire(*binary) == R"(451-["b",{"_placeholder":true,"num":0}])");

  CHECK(Wire(sio::MakeConnect("/admin", "abc")) == R"(40/admin,{"sid":"abc"})");
  CHECK(Wire(sio::MakeConnect("/", "abc")) == R"(40{"sid":"abc"})");
  CHECK(Wire(sio::MakeConnectError("/", "Not authorized")) == R"(44{"message":"Not authorized"})");
  CHECK(Wire(sio::MakeConnectError("/chat", "Not authorized", Json(R"({"code":"auth"})"))) ==
        R"(44/chat,{"message":"Not authorized","data":{"code":"auth"}})");
  CHECK(Wire(sio::MakeDisconnect("/")) == "41");
  CHECK(Wire(sio::MakeDisconnect("/chat")) == "41/chat,");

  auto ack = sio::MakeAck("/", 5, boost::json::array{Json(R"({"ok":true})")});
  REQUIRE(ack.ok());
  CHECK(Wire(*ack) == R"(435[{"ok":true}])");
  auto empty_ack = sio::MakeAck("/chat", 0, {});
  REQUIRE(empty_ack.ok());
  CHECK(Wire(*empty_ack) == "43/chat,0[]");
}

TEST_CASE("socket.io decodes what socket.io-client sends") {
  SECTION("CONNECT with auth") {
    auto p = Decode(R"(0{"token":"t"})");
    CHECK(p.type == PacketType::kConnect);
    CHECK(p.nsp == "/");
    REQUIRE(p.data.has_value());
    CHECK(p.data->at("token").as_string() == "t");
  }
  SECTION("CONNECT without auth, with and without namespace") {
    auto bare = Decode("0");
    CHECK(bare.type == PacketType::kConnect);
    CHECK_FALSE(bare.data.has_value());
    CHECK(Decode("0/admin,").nsp == "/admin");
    auto ns_auth = Decode(R"(0/admin,{"token":"t"})");
    CHECK(ns_auth.nsp == "/admin");
    CHECK(ns_auth.data->at("token").as_string() == "t");
  }
  SECTION("DISCONNECT") {
    CHECK(Decode("1").type == PacketType::kDisconnect);
    CHECK(Decode("1/chat,").nsp == "/chat");
    CHECK(Decode("1/chat").nsp == "/chat");  // the reference parser accepts the missing comma at end
  }
  SECTION("EVENT with ack id") {
    auto p = Decode(R"(2/chat,12["message:send",{"text":"hi"}])");
    CHECK(p.type == PacketType::kEvent);
    CHECK(p.nsp == "/chat");
    CHECK(p.id == std::optional<uint64_t>(12));
    CHECK(sio::EventName(p) == "message:send");
    REQUIRE(sio::Args(p).size() == 1);
    CHECK(sio::Args(p)[0].at("text").as_string() == "hi");
  }
  SECTION("EVENT without args, ack id zero") {
    auto p = Decode(R"(20["typing:start"])");
    CHECK(p.id == std::optional<uint64_t>(0));
    CHECK(sio::EventName(p) == "typing:start");
    CHECK(sio::Args(p).empty());
  }
  SECTION("ACK") {
    auto p = Decode(R"(3/chat,7["a",{"b":1}])");
    CHECK(p.type == PacketType::kAck);
    CHECK(p.id == std::optional<uint64_t>(7));
    CHECK(sio::Args(p).size() == 2);
    CHECK(sio::EventName(p).empty());
    CHECK(Decode("31[]").id == std::optional<uint64_t>(1));
  }
  SECTION("BINARY_EVENT header") {
    auto decoded = sio::DecodeHeader(R"(52-/files,3["upload",{"_placeholder":true,"num":1},[{"_placeholder":true,"num":0}]])");
    REQUIRE(decoded.ok());
    CHECK(decoded->attachment_count == 2);
    CHECK(decoded->packet.type == PacketType::kBinaryEvent);
    CHECK(decoded->packet.nsp == "/files");
    CHECK(decoded->packet.id == std::optional<uint64_t>(3));
    CHECK(decoded->packet.attachments.empty());
  }
  SECTION("BINARY_ACK header") {
    auto decoded = sio::DecodeHeader(R"(61-9[{"_placeholder":true,"num":0}])");
    REQUIRE(decoded.ok());
    CHECK(decoded->packet.type == PacketType::kBinaryAck);
    CHECK(decoded->attachment_count == 1);
  }
  SECTION("binary packet with zero attachments is complete at once") {
    auto decoded = sio::DecodeHeader(R"(50-["x"])");
    REQUIRE(decoded.ok());
    CHECK(decoded->attachment_count == 0);
  }
  SECTION("unicode namespace and event name") {
    auto p = Decode("2/caf\xc3\xa9,[\"\xe2\x9c\x93\"]");
    CHECK(p.nsp == "/caf\xc3\xa9");
    CHECK(sio::EventName(p) == "\xe2\x9c\x93");
  }
  SECTION("root namespace written explicitly") {
    CHECK(Decode(R"(2/,["x"])").nsp == "/");
  }
}

TEST_CASE("socket.io round-trips packets") {
  std::vector<sio::Packet> packets;
  packets.push_back(sio::MakeConnect("/", "s1"));
  packets.push_back(sio::MakeConnectError("/a", "nope", Json(R"({"x":[1,2.5,null,true]})")));
  packets.push_back(sio::MakeDisconnect("/b"));
  packets.push_back(*sio::MakeEvent("/", "e", boost::json::array{Json(R"({"nested":{"a":["\u00e9\n"]}})"), -3}, {}, 42));
  packets.push_back(*sio::MakeAck("/z", sio::kMaxAckId, boost::json::array{}));
  std::vector<std::string> buffers;
  boost::json::array args{sio::AddBuffer(buffers, std::string("\0\1", 2)),
                          boost::json::object{{"inner", sio::AddBuffer(buffers, "")}}};
  packets.push_back(*sio::MakeAck("/", 3, std::move(args), std::move(buffers)));

  for (const auto& packet : packets) {
    auto header = sio::EncodeHeader(packet);
    REQUIRE(header.ok());
    auto decoded = sio::DecodeHeader(*header);
    INFO(*header);
    REQUIRE(decoded.ok());
    CHECK(decoded->attachment_count == packet.attachments.size());
    decoded->packet.attachments = packet.attachments;
    CHECK(decoded->packet == packet);
  }
}

TEST_CASE("socket.io rejects unknown types and empty input") {
  CHECK(DecodeError("") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("7") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("9[\"x\"]") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("a") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("-1") == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("socket.io rejects huge and malformed attachment counts") {
  CHECK(DecodeError(R"(5999999999-["x",{"_placeholder":true,"num":0}])") == absl::StatusCode::kResourceExhausted);
  CHECK(DecodeError(R"(599999999999999999999999999999999999-["x"])") == absl::StatusCode::kResourceExhausted);
  CHECK(DecodeError(R"(511-["x"])") == absl::StatusCode::kResourceExhausted);  // default limit 10
  sio::DecodeOptions two;
  two.max_attachments = 2;
  CHECK(DecodeError(R"(53-["x"])", two) == absl::StatusCode::kResourceExhausted);
  CHECK(sio::DecodeHeader(R"(52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])", two).ok());

  CHECK(DecodeError(R"(5-["x"])") == absl::StatusCode::kInvalidArgument);       // no digits
  CHECK(DecodeError(R"(51["x"])") == absl::StatusCode::kInvalidArgument);       // no dash
  CHECK(DecodeError("51") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("5") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError(R"(5+1-["x"])") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError(R"(5 1-["x"])") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError(R"(51.0-["x"])") == absl::StatusCode::kInvalidArgument);
  // Attachment counts only exist on binary types.
  CHECK(DecodeError(R"(21-["x",{"_placeholder":true,"num":0}])") == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("socket.io rejects non-string and reserved event names") {
  for (std::string_view bad : {"2[1]", "2[{}]", "2[]", "2{}", "2[null]", "2[[\"x\"]]", "2[true]",
                               "2\"x\"", "2", "2/chat,", "27", "5 0-[1]", "50-[1]", "50-[]"}) {
    CHECK(DecodeError(bad) == absl::StatusCode::kInvalidArgument);
  }
  for (std::string_view reserved : {"connect", "connect_error", "disconnect", "disconnecting",
                                    "newListener", "removeListener"}) {
    CHECK(DecodeError("2[\"" + std::string(reserved) + "\"]") == absl::StatusCode::kInvalidArgument);
  }
  CHECK(Decode(R"(2["Connect"])").type == PacketType::kEvent);  // case-sensitive, like the reference
}

TEST_CASE("socket.io payload shapes per type") {
  CHECK(DecodeError(R"(0["x"])") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError(R"(0"token")") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("0null") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("1{}") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("1/chat,[]") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("4") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError(R"(4"Not authorized")") == absl::StatusCode::kInvalidArgument);
  CHECK(Decode(R"(4{"message":"x"})").type == PacketType::kConnectError);
  CHECK(DecodeError("3{}") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("3") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("3[]") == absl::StatusCode::kInvalidArgument);  // ACK without id
  CHECK(DecodeError("61-[]") == absl::StatusCode::kInvalidArgument);  // BINARY_ACK without id
  CHECK(DecodeError("01{}") == absl::StatusCode::kInvalidArgument);  // id on CONNECT
  CHECK(DecodeError("11") == absl::StatusCode::kInvalidArgument);    // id on DISCONNECT
  CHECK(DecodeError(R"(41{"message":"x"})") == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("socket.io namespace validation") {
  CHECK(DecodeError(R"(2chat,["x"])") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError(R"(2/chat["x"])") == absl::StatusCode::kInvalidArgument);  // no comma: no data
  CHECK(DecodeError("2/ch\x01t,[\"x\"]") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("2/ch\nt,[\"x\"]") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("2/\xff,[\"x\"]") == absl::StatusCode::kInvalidArgument);        // invalid UTF-8
  CHECK(DecodeError("2/\xc0\xaf,[\"x\"]") == absl::StatusCode::kInvalidArgument);    // overlong
  CHECK(DecodeError("2/\xed\xa0\x80,[\"x\"]") == absl::StatusCode::kInvalidArgument);  // surrogate
  CHECK(DecodeError("2/\xe2\x9c,[\"x\"]") == absl::StatusCode::kInvalidArgument);    // truncated

  // Encoding refuses namespaces that could not be decoded back.
  CHECK_FALSE(sio::MakeEvent("chat", "x", {}).ok());
  CHECK_FALSE(sio::MakeEvent("", "x", {}).ok());
  CHECK_FALSE(sio::MakeEvent("/a,b", "x", {}).ok());
  CHECK_FALSE(sio::EncodeHeader(sio::MakeDisconnect("/a\tb")).ok());
}

TEST_CASE("socket.io ack id bounds") {
  CHECK(Decode("29007199254740991[\"x\"]").id == std::optional<uint64_t>(sio::kMaxAckId));
  CHECK(DecodeError("29007199254740992[\"x\"]") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("2/chat,99999999999999999999999999[\"x\"]") == absl::StatusCode::kInvalidArgument);
  CHECK(DecodeError("318446744073709551617[]") == absl::StatusCode::kInvalidArgument);  // > 2^64
  CHECK_FALSE(sio::MakeAck("/", sio::kMaxAckId + 1, {}).ok());
  CHECK_FALSE(sio::MakeEvent("/", "x", {}, {}, sio::kMaxAckId + 1).ok());
}

TEST_CASE("socket.io rejects invalid JSON and trailing garbage") {
  for (std::string_view bad : {R"(2["x"]garbage)", R"(2["x"]])", R"(2["x"][])", R"(2["x")", R"(2['x'])",
                               R"(2["x",])", R"(2["x"]/*c*/)", "2[\"x\",NaN]", "2[\"x\",01]",
                               "0{\"a\":1,}", "2 ", "2\t", "2[\"\xff\"]", "2[\"\xc3\"]",
                               "2[\"\xed\xa0\x80\"]", "2[\"a\x01\"]"}) {
    CHECK(DecodeError(bad) == absl::StatusCode::kInvalidArgument);
  }
  // Numbers that overflow a double would come back out as the invalid JSON "Infinity".
  for (std::string_view bad : {R"(2["x",1e400])", R"(2["x",{"a":[-1e309]}])", R"(0{"n":81807177777760e1777778})"}) {
    CHECK(DecodeError(bad) == absl::StatusCode::kInvalidArgument);
  }
  CHECK_FALSE(sio::MakeEvent("/", "x", boost::json::array{std::numeric_limits<double>::infinity()}).ok());
  CHECK_FALSE(sio::MakeEvent("/", "x", boost::json::array{std::numeric_limits<double>::quiet_NaN()}).ok());
  CHECK(Decode(R"(2["x",1e308,-2.5e-300,18446744073709551615,-9223372036854775808])").type == PacketType::kEvent);
  // Whitespace around the JSON is valid JSON, as with JSON.parse.
  CHECK(sio::EventName(Decode("2 [\"x\"] \n")) == "x");
}

TEST_CASE("socket.io JSON depth is bounded") {
  std::string deep = "2[\"x\",";
  for (int i = 0; i < 200; ++i) deep += '[';
  for (int i = 0; i < 200; ++i) deep += ']';
  deep += ']';
  CHECK(DecodeError(deep) == absl::StatusCode::kInvalidArgument);
  sio::DecodeOptions deep_ok;
  deep_ok.max_json_depth = 256;
  CHECK(sio::DecodeHeader(deep, deep_ok).ok());
}

TEST_CASE("socket.io placeholder injection in plain packets stays plain data") {
  auto p = Decode(R"(2["upload",{"_placeholder":true,"num":0}])");
  CHECK(p.type == PacketType::kEvent);
  CHECK(p.attachments.empty());
  REQUIRE(sio::Args(p).size() == 1);
  CHECK(sio::IsPlaceholder(sio::Args(p)[0]));
  CHECK(sio::ResolvePlaceholder(p, sio::Args(p)[0]) == nullptr);

  // Even if someone attaches buffers to it afterwards, a plain packet never resolves placeholders,
  // and the packet no longer validates.
  p.attachments.push_back("secret");
  CHECK(sio::ResolvePlaceholder(p, sio::Args(p)[0]) == nullptr);
  CHECK_FALSE(sio::ValidatePacket(p).ok());

  // ACKs likewise.
  auto ack = Decode(R"(31[{"_placeholder":true,"num":0}])");
  CHECK(ack.attachments.empty());
}

TEST_CASE("socket.io placeholders in binary packets are validated") {
  for (std::string_view bad : {
           R"(51-["x",{"_placeholder":true,"num":1}])",       // out of range
           R"(51-["x",{"_placeholder":true,"num":-1}])",      // negative
           R"(51-["x",{"_placeholder":true,"num":0.5}])",     // not an integer
           R"(51-["x",{"_placeholder":true,"num":0.0}])",     // float, even if integral
           R"(51-["x",{"_placeholder":true,"num":"0"}])",     // string
           R"(51-["x",{"_placeholder":true,"num":"toString"}])",
           R"(51-["x",{"_placeholder":true,"num":null}])",
           R"(51-["x",{"_placeholder":true}])",               // no num
           R"(51-["x",{"_placeholder":true,"num":18446744073709551615}])",
           R"(51-["x",{"_placeholder":true,"num":1e400}])",
           R"(51-["x"])",                                     // attachment never referenced
           R"(52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}])",  // duplicate
           R"(52-["x",{"_placeholder":true,"num":0}])",
       }) {
    CHECK(DecodeError(bad) == absl::StatusCode::kInvalidArgument);
  }
  // Only `"_placeholder": true` marks a placeholder, as in the reference parser.
  auto not_placeholders = sio::DecodeHeader(
      R"(51-["x",{"_placeholder":"true","num":5},{"_placeholder":false,"num":9},{"_placeholder":true,"num":0}])");
  REQUIRE(not_placeholders.ok());
}

TEST_CASE("socket.io binary emit produces header plus attachments in order") {
  std::vector<std::string> buffers;
  boost::json::object file;
  file["name"] = "a.png";
  file["data"] = sio::AddBuffer(buffers, "PNGDATA");
  boost::json::array args{std::move(file), sio::AddBuffer(buffers, std::string("\0\xff", 2))};
  auto packet = sio::MakeEvent("/files", "upload", std::move(args), std::move(buffers), 4);
  REQUIRE(packet.ok());

  auto messages = sio::EncodeToEngineIo(*packet);
  REQUIRE(messages.ok());
  REQUIRE(messages->size() == 3);
  CHECK(eio::EncodeWebSocketFrame((*messages)[0]).payload ==
        R"(452-/files,4["upload",{"name":"a.png","data":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}])");
  CHECK((*messages)[1] == eio::Packet::BinaryMessage("PNGDATA"));
  CHECK((*messages)[2] == eio::Packet::BinaryMessage(std::string("\0\xff", 2)));

  // Over polling the same packets become base64 records.
  CHECK(eio::EncodePayload(*messages) ==
        std::string(R"(452-/files,4["upload",{"name":"a.png","data":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}])") +
            "\x1e" "bUE5HREFUQQ==\x1e" "bAP8=");

  // The decoder side resolves placeholders to the bytes.
  const auto& arg0 = sio::Args(*packet)[0];
  const std::string* bytes = sio::ResolvePlaceholder(*packet, arg0.at("data"));
  REQUIRE(bytes != nullptr);
  CHECK(*bytes == "PNGDATA");
  CHECK(sio::ResolvePlaceholder(*packet, arg0.at("name")) == nullptr);
}

TEST_CASE("socket.io binary emit refuses inconsistent placeholders") {
  SECTION("forged placeholder copied from untrusted plain data duplicates a real one") {
    auto untrusted = Decode(R"(2["m",{"_placeholder":true,"num":0}])");
    std::vector<std::string> buffers;
    boost::json::array args{sio::Args(untrusted)[0], sio::AddBuffer(buffers, "real")};
    CHECK_FALSE(sio::MakeEvent("/", "relay", std::move(args), std::move(buffers)).ok());
  }
  SECTION("forged placeholder out of range") {
    std::vector<std::string> buffers;
    boost::json::array args{sio::AddBuffer(buffers, "real"), Json(R"({"_placeholder":true,"num":3})")};
    CHECK_FALSE(sio::MakeEvent("/", "relay", std::move(args), std::move(buffers)).ok());
  }
  SECTION("buffer attached but not referenced") {
    std::vector<std::string> buffers{"orphan"};
    CHECK_FALSE(sio::MakeEvent("/", "x", boost::json::array{1}, std::move(buffers)).ok());
  }
  SECTION("plain event keeps placeholder-shaped data as data") {
    auto plain = sio::MakeEvent("/", "x", boost::json::array{Json(R"({"_placeholder":true,"num":0})")});
    REQUIRE(plain.ok());
    CHECK(plain->type == PacketType::kEvent);
  }
  SECTION("reserved names") {
    CHECK_FALSE(sio::MakeEvent("/", "disconnect", {}).ok());
    CHECK_FALSE(sio::MakeEvent("/", "connect", {}).ok());
  }
}

TEST_CASE("socket.io EncodeHeader validates hand-built packets") {
  sio::Packet p;
  p.type = PacketType::kEvent;
  p.data = Json("[1]");
  CHECK(sio::EncodeHeader(p).status().code() == absl::StatusCode::kInvalidArgument);
  p.data = Json(R"(["ok"])");
  CHECK(sio::EncodeHeader(p).ok());
  p.attachments.push_back("x");
  CHECK_FALSE(sio::EncodeHeader(p).ok());  // attachments on a plain packet
  p.type = static_cast<PacketType>(9);
  CHECK_FALSE(sio::EncodeHeader(p).ok());
}
