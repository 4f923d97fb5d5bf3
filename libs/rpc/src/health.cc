#include "sb/rpc/health.h"

#include <future>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/time/clock.h"
#include "sb/rpc/status.h"

namespace sb::rpc {

namespace wire = google::protobuf::internal;

absl::StatusOr<ServingStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                                          absl::Duration timeout) {
  // HealthCheckRequest { string service = 1; }, encoded by hand to avoid a copy of health.proto.
  std::string request_bytes;
  {
    google::protobuf::io::StringOutputStream raw(&request_bytes);
    google::protobuf::io::CodedOutputStream out(&raw);
    if (!service.empty()) wire::WireFormatLite::WriteString(1, service, &out);
  }
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;

  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return FromGrpcStatus(status);

  // HealthCheckResponse { ServingStatus status = 1; }
  grpc::Slice single;
  if (!response.DumpToSingleSlice(&single).ok()) return absl::InternalError("unreadable health response");
  google::protobuf::io::CodedInputStream in(single.begin(), static_cast<int>(single.size()));
  uint32_t value = 0;
  while (uint32_t tag = in.ReadTag()) {
    if (tag == wire::WireFormatLite::MakeTag(1, wire::WireFormatLite::WIRETYPE_VARINT)) {
      if (!in.ReadVarint32(&value)) return absl::InternalError("malformed health response");
    } else if (!wire::WireFormatLite::SkipField(&in, tag)) {
      return absl::InternalError("malformed health response");
    }
  }
  if (value > 3) return ServingStatus::kUnknown;
  return static_cast<ServingStatus>(value);
}

}  // namespace sb::rpc
