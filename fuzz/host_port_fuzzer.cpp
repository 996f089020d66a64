// libFuzzer target for "HOST:PORT" parsing (src/net/host_port.cpp): the text comes from config
// files and command lines. Promises: an error or a HostPort with a non-empty host; written back in
// the form it was parsed from, it parses to the same HostPort.
#include "fuzz_check.h"
#include "net/host_port.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using kvtier::net::parse_host_port;
  auto parsed = parse_host_port(kvtier::fuzz::as_text(data, size));
  if (!parsed.ok()) {
    FUZZ_EXPECT(!parsed.status().message().empty(), "an error without a message");
    return 0;
  }
  const kvtier::net::HostPort& hp = parsed.value();
  FUZZ_EXPECT(!hp.host.empty(), "accepted an empty host");
  (void)kvtier::net::is_loopback_host(hp.host);
  std::string again = hp.is_ipv6 ? "[" + hp.host + "]:" + std::to_string(hp.port)
                                 : hp.host + ":" + std::to_string(hp.port);
  auto reparsed = parse_host_port(again);
  FUZZ_EXPECT(reparsed.ok(), "written back as '" + again + "' it does not parse: " +
                                 reparsed.status().message());
  FUZZ_EXPECT(reparsed.value().host == hp.host && reparsed.value().port == hp.port &&
                  reparsed.value().is_ipv6 == hp.is_ipv6,
              "round trip through '" + again + "' changed it");
  return 0;
}
