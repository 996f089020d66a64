// The table `kvtier stat` prints for a person: kvtierd's metrics (as parse_prometheus_text read
// them) summarized as requests per op with rates and p50/p99 latency, hit ratio per tier, bytes
// in and out with GB/s, evictions, rejections, connections, queue depths and per-tenant bytes.
//
// Requests are split into ok, missed (not_found) and failed (every other status except
// buffer_too_small, which answers a size probe; those count only in the total).
//
// Rates, ratios and latencies are over the interval since `previous` (an earlier scrape of the
// same daemon) when one is given, else since the daemon started: per second of
// kvtier_uptime_seconds when the daemon exports it, "-" when it does not. A counter that went
// down between scrapes (the daemon restarted) counts from zero. Sections whose metrics the daemon
// does not export are left out, so an older or newer daemon still gets a table.
//
// Thread-safety: a pure function.
#pragma once

#include <string>

#include "scrape/prometheus_parse.h"

namespace kvtier {

// `seconds`: the time between `previous` and `now` (ignored without `previous`).
std::string render_stat_report(const ParsedMetrics& now, const ParsedMetrics* previous,
                               double seconds);

}  // namespace kvtier
