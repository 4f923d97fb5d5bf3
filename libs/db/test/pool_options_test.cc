#include <catch2/catch.hpp>

#include "sb/db/pool.h"

using sb::db::AddConnectionParameter;

TEST_CASE("connection parameters are appended to URLs as query parameters") {
  CHECK(AddConnectionParameter("postgresql://u@h:5432/db", "connect_timeout", "5") ==
        "postgresql://u@h:5432/db?connect_timeout=5");
  CHECK(AddConnectionParameter("postgres://h/db?sslmode=require", "application_name", "chat svc") ==
        "postgres://h/db?sslmode=require&application_name=chat%20svc");
  // An explicit setting in the URL wins.
  CHECK(AddConnectionParameter("postgresql://h/db?connect_timeout=9", "connect_timeout", "5") ==
        "postgresql://h/db?connect_timeout=9");
  CHECK(AddConnectionParameter("postgresql://h/db?x_connect_timeout=9", "connect_timeout", "5") ==
        "postgresql://h/db?x_connect_timeout=9&connect_timeout=5");
}

TEST_CASE("connection parameters are appended to key=value strings quoted") {
  CHECK(AddConnectionParameter("host=h dbname=db", "application_name", "it's") ==
        "host=h dbname=db application_name='it\\'s'");
  CHECK(AddConnectionParameter("host=h connect_timeout = 3", "connect_timeout", "5") == "host=h connect_timeout = 3");
  CHECK(AddConnectionParameter("", "connect_timeout", "5") == "connect_timeout='5'");
}

TEST_CASE("a pool never connects before the first Acquire and clamps max_connections") {
  sb::db::ConnectionPool pool({.url = "postgresql://127.0.0.1:1/none", .max_connections = 0});
  CHECK(pool.max_size() == 1);
  CHECK(pool.size() == 0);
  CHECK(pool.opened_total() == 0);
}
