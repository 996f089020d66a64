// stats_metric: one metric of a running kvtierd (DaemonProcess), read through STATS on a Unix
// connection of its own (the default tenant: every tenant's lines).
#pragma once

#include <initializer_list>
#include <string_view>

#include "kvtier/client.h"
#include "scrape/prometheus_parse.h"
#include "support/daemon_process.h"

namespace kvtier::testing {

// The sum of the samples of `name` matching `labels`; -1 when the daemon cannot be asked or has
// no such sample.
inline double stats_metric(const DaemonProcess& d, std::string_view name,
                           std::initializer_list<MetricLabel> labels = {}) {
  ClientOptions o;
  o.address = d.unix_address();
  auto c = Client::connect(o);
  if (!c.ok()) return -1;
  auto text = (*c)->stats();
  if (!text.ok()) return -1;
  auto m = parse_prometheus_text(*text);
  return m.ok() ? m->sum(name, labels).value_or(-1) : -1;
}

}  // namespace kvtier::testing
