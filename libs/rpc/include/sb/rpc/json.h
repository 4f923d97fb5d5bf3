// ProtoToJson: a protobuf message as JSON, in the proto3 JSON mapping that
// google::protobuf::util::MessageToJsonString prints with always_print_primitive_fields:
// lowerCamelCase names (json_name), 64-bit integers as strings, enums by name, bytes as base64,
// maps as objects, google.protobuf.Timestamp as RFC 3339 ("2026-11-23T19:00:00.125Z", 0/3/6/9
// fraction digits), singular scalars and repeated fields always printed (defaults included),
// message fields, oneof members and proto3 `optional` fields only when set. Other well-known types
// are printed as plain messages (none of our protos use them).
//
// Why not MessageToJsonString: in protobuf 3.21 it serializes to binary and re-parses through a
// type resolver; on the chat hot path (every message:send ack and message:new payload) it cost more
// CPU than the rest of the JSON work. This walks the message by reflection straight into
// boost::json. Thread-safe; never fails.
#pragma once

#include <string>

#include <boost/json/value.hpp>
#include <google/protobuf/message.h>

namespace sb::rpc {

boost::json::value ProtoToJson(const google::protobuf::Message& message);
// serialize(ProtoToJson(message)).
std::string ProtoToJsonString(const google::protobuf::Message& message);

}  // namespace sb::rpc
