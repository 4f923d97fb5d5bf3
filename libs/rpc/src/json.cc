#include "sb/rpc/json.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <ctime>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include "absl/strings/escaping.h"

namespace sb::rpc {
namespace {

namespace json = boost::json;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string TimestampString(int64_t seconds, int32_t nanos) {
  // Days since the epoch to a civil date (proleptic Gregorian), without the time zone database.
  int64_t days = seconds / 86400;
  int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64 ":%02" PRId64,
                        year, month, day, rem / 3600, rem / 60 % 60, rem % 60);
  if (nanos != 0) {
    if (nanos % 1'000'000 == 0) {
      n += std::snprintf(buf + n, sizeof buf - n, ".%03d", nanos / 1'000'000);
    } else if (nanos % 1000 == 0) {
      n += std::snprintf(buf + n, sizeof buf - n, ".%06d", nanos / 1000);
    } else {
      n += std::snprintf(buf + n, sizeof buf - n, ".%09d", nanos);
    }
  }
  return std::string(buf, n) + "Z";
}

json::value FloatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

json::value Scalar(const Message& m, const Reflection& r, const FieldDescriptor& f, int index) {
  const bool repeated = index >= 0;
  switch (f.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return repeated ? r.GetRepeatedInt32(m, &f, index) : r.GetInt32(m, &f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return repeated ? r.GetRepeatedUInt32(m, &f, index) : r.GetUInt32(m, &f);
    case FieldDescriptor::CPPTYPE_INT64:
      return json::string(std::to_string(repeated ? r.GetRepeatedInt64(m, &f, index) : r.GetInt64(m, &f)));
    case FieldDescriptor::CPPTYPE_UINT64:
      return json::string(std::to_string(repeated ? r.GetRepeatedUInt64(m, &f, index) : r.GetUInt64(m, &f)));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return FloatValue(repeated ? r.GetRepeatedDouble(m, &f, index) : r.GetDouble(m, &f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return FloatValue(repeated ? r.GetRepeatedFloat(m, &f, index) : r.GetFloat(m, &f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return repeated ? r.GetRepeatedBool(m, &f, index) : r.GetBool(m, &f);
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* value = repeated ? r.GetRepeatedEnum(m, &f, index) : r.GetEnum(m, &f);
      return json::string(value->name());
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s = repeated ? r.GetRepeatedStringReference(m, &f, index, &scratch)
                                      : r.GetStringReference(m, &f, &scratch);
      if (f.type() == FieldDescriptor::TYPE_BYTES) return json::string(absl::Base64Escape(s));
      return json::string(s);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return ProtoToJson(repeated ? r.GetRepeatedMessage(m, &f, index) : r.GetMessage(m, &f));
  }
  return nullptr;
}

// Map keys are strings in JSON; bool keys print as "true"/"false", integers in decimal.
std::string MapKey(const Message& entry, const FieldDescriptor& key) {
  json::value v = Scalar(entry, *entry.GetReflection(), key, -1);
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  return json::serialize(v);
}

}  // namespace

json::value ProtoToJson(const Message& message) {
  const auto* descriptor = message.GetDescriptor();
  const Reflection& r = *message.GetReflection();
  if (descriptor->full_name() == "google.protobuf.Timestamp") {
    const auto* seconds = descriptor->FindFieldByNumber(1);
    const auto* nanos = descriptor->FindFieldByNumber(2);
    return json::string(TimestampString(r.GetInt64(message, seconds), r.GetInt32(message, nanos)));
  }
  json::object out;
  out.reserve(descriptor->field_count());
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor& f = *descriptor->field(i);
    if (f.is_map()) {
      json::object map;
      const int n = r.FieldSize(message, &f);
      for (int k = 0; k < n; ++k) {
        const Message& entry = r.GetRepeatedMessage(message, &f, k);
        const auto* entry_descriptor = entry.GetDescriptor();
        map[MapKey(entry, *entry_descriptor->map_key())] =
            Scalar(entry, *entry.GetReflection(), *entry_descriptor->map_value(), -1);
      }
      out[f.json_name()] = std::move(map);
    } else if (f.is_repeated()) {
      json::array items;
      const int n = r.FieldSize(message, &f);
      items.reserve(n);
      for (int k = 0; k < n; ++k) items.push_back(Scalar(message, r, f, k));
      out[f.json_name()] = std::move(items);
    } else if (f.has_presence()) {  // messages, oneof members, proto3 optional: only when set
      if (r.HasField(message, &f)) out[f.json_name()] = Scalar(message, r, f, -1);
    } else {
      out[f.json_name()] = Scalar(message, r, f, -1);
    }
  }
  return out;
}

std::string ProtoToJsonString(const Message& message) { return json::serialize(ProtoToJson(message)); }

}  // namespace sb::rpc
