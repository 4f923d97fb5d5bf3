#include "sb/db/arrays.h"

#include <tuple>

#include <pqxx/array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sb::db {

std::string TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string IdArray(const std::vector<int64_t>& ids) { return absl::StrCat("{", absl::StrJoin(ids, ","), "}"); }

std::vector<std::string> ParseArray(const pqxx::field& field) {
  std::vector<std::string> out;
  if (field.is_null()) return out;
  pqxx::array_parser parser = field.as_array();
  for (auto [juncture, value] = parser.get_next(); juncture != pqxx::array_parser::done;
       std::tie(juncture, value) = parser.get_next()) {
    if (juncture == pqxx::array_parser::string_value) out.push_back(std::move(value));
  }
  return out;
}

}  // namespace sb::db
