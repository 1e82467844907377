//! The arms the claim under test ("gRPC is 5x faster than JSON") and its decomposition are about,
//! by canonical name. The report, the scenario's checks and the operating points refer to them
//! only through these constants.

/// The claim's "JSON": REST, JSON, HTTP/1.1.
pub const REST: &str = "rest";
/// REST with JSON over HTTP/2: the HTTP version changed, the format held.
pub const REST_H2: &str = "rest-h2";
/// REST with a protobuf body over HTTP/1.1: the format changed, the HTTP version held.
pub const REST_PROTO: &str = "rest-proto";
/// gRPC framing with a JSON body: the format changed under gRPC.
pub const GRPC_JSON: &str = "grpc-json";
/// The claim's "gRPC".
pub const GRPC: &str = "grpc";
/// The network floor every arm is compared with: bare frames on one TCP connection.
pub const NETWORK_FLOOR: &str = "tcp";
/// The generator's floor: the in-process arm's latency at a load point is what the generator
/// and the business function cost with no transport, shown beside every other arm's.
pub const GENERATOR_FLOOR: &str = "inproc";
/// The arms of the decomposition, REST/JSON first: measured at the operating points by default.
pub const CHAIN_ARMS: [&str; 5] = [REST, REST_H2, REST_PROTO, GRPC_JSON, GRPC];
