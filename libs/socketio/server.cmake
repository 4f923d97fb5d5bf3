# Socket.IO server on Boost.Beast (included from libs/socketio/CMakeLists.txt).
sb_library(socketio_server
  SOURCES src/server/http.cc src/server/engine.cc src/server/server.cc src/server/outbox.cc
          src/server/heartbeat.cc src/server/session_registry.cc src/server/recovery.cc
          src/server/ws_frame.cc
  DEPS sb::socketio sb::common Boost::system Boost::json Boost::url OpenSSL::Crypto Threads::Threads
       absl::status absl::statusor absl::strings)

add_executable(sb-sio-echo examples/echo/main.cc)
target_link_libraries(sb-sio-echo PRIVATE sb::socketio_server)

sb_test(socketio_server_test
  SOURCES test/server_outbox_test.cc test/server_heartbeat_test.cc test/server_registry_test.cc
          test/server_recovery_test.cc test/server_ws_frame_test.cc test/server_net_test.cc
  DEPS sb::socketio_server)
