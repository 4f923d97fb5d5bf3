// Postgres arrays with libpqxx 6.4, which has no array parameters: arrays go in as literals
// ("$1::text[]", "$1::bigint[]") and come back through pqxx::array_parser.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace sb::db {

// The literal of a text[] holding `values` verbatim: every element double-quoted, backslashes and
// double quotes escaped (ids are opaque strings: commas, braces, quotes and NULL-looking text are
// all safe).
std::string TextArray(const std::vector<std::string>& values);
// The literal of a bigint[].
std::string IdArray(const std::vector<int64_t>& ids);
// The elements of a one-dimensional array field as text (booleans as "t"/"f"); NULL elements are
// left out and a NULL array has none.
std::vector<std::string> ParseArray(const pqxx::field& field);

}  // namespace sb::db
