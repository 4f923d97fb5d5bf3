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

TEST_CASE("the pool's connection string carries TCP keepalive and user timeouts") {
  sb::db::PoolOptions options{.url = "postgresql://u@h:5432/db"};
  CHECK(sb::db::BuildConnectionString(options) ==
        "postgresql://u@h:5432/db?connect_timeout=5&application_name=switchboard&keepalives=1"
        "&keepalives_idle=30&keepalives_interval=10&keepalives_count=3&tcp_user_timeout=30000");

  SECTION("settings already in the URL win and are not repeated") {
    options.url = "postgresql://h/db?keepalives_idle=7&tcp_user_timeout=1234";
    const std::string conninfo = sb::db::BuildConnectionString(options);
    CHECK(conninfo ==
          "postgresql://h/db?keepalives_idle=7&tcp_user_timeout=1234&connect_timeout=5"
          "&application_name=switchboard&keepalives=1&keepalives_interval=10&keepalives_count=3");
  }
  SECTION("key=value strings, custom values rounded up to whole seconds") {
    options.url = "host=h keepalives_count=9";
    options.keepalives_idle = absl::Milliseconds(1500);
    options.keepalives_interval = absl::Seconds(4);
    options.tcp_user_timeout = absl::Milliseconds(2500);
    CHECK(sb::db::BuildConnectionString(options) ==
          "host=h keepalives_count=9 connect_timeout='5' application_name='switchboard' keepalives='1' "
          "keepalives_idle='2' keepalives_interval='4' tcp_user_timeout='2500'");
  }
  SECTION("disabled") {
    options.tcp_keepalives = false;
    options.tcp_user_timeout = absl::ZeroDuration();
    CHECK(sb::db::BuildConnectionString(options) ==
          "postgresql://u@h:5432/db?connect_timeout=5&application_name=switchboard");
  }
}
