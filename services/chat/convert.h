// Model -> switchboard.chat.v1 protobuf, and protobuf -> JSON (the one JSON shape of chat data:
// lowerCamelCase names, int64 as strings, timestamps RFC 3339, defaults printed). Used for gRPC
// responses and for bus event payloads, so clients see the same shape in both.
#pragma once

#include <string>

#include <google/protobuf/message.h>

#include "services/chat/model.h"
#include "switchboard/chat/v1/chat.pb.h"

namespace sb::chat {

void ToProto(const User& in, switchboard::chat::v1::User* out);
// Moderation is included only when `for_sender` (the gate's details are the author's business).
void ToProto(const Message& in, bool for_sender, switchboard::chat::v1::Message* out);
void ToProto(const Conversation& in, const std::string& viewer, switchboard::chat::v1::Conversation* out);

std::string ToJson(const google::protobuf::Message& message);

}  // namespace sb::chat
