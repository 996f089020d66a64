// The `kvtier stat` table (see stat_report.h).
#include "scrape/stat_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "coding/ascii.h"
#include "coding/printf_string.h"

namespace kvtier {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The operations in the order of the protocol's opcode table; ops the daemon reports that are not
// listed here follow in the order it reports them.
constexpr std::string_view kOpOrder[] = {"hello", "ping", "put", "get", "lookup", "put_many",
                                         "get_many", "remove", "pin", "unpin", "stats",
                                         "shm_register", "get_many_shm", "put_many_shm"};

// Numbers for people: exact below 100,000, then three significant digits with k/M/G/T.
std::string count_text(double v) {
  if (!std::isfinite(v)) return "-";
  double a = std::fabs(v);
  if (a < 100000) return printf_string("%.0f", v);
  const char* units[] = {"k", "M", "G", "T", "P"};
  int u = -1;
  while (a >= 1000 && u < 4) {
    a /= 1000;
    v /= 1000;
    ++u;
  }
  return printf_string(a < 10 ? "%.2f%s" : a < 100 ? "%.1f%s" : "%.0f%s", v, units[u]);
}

std::string rate_text(double v) {
  if (!std::isfinite(v)) return "-";
  if (std::fabs(v) < 100) return printf_string("%.1f", v);
  return count_text(v);
}

std::string bytes_text(double v) {
  if (!std::isfinite(v)) return "-";
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (std::fabs(v) >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? printf_string("%.0f B", v) : printf_string("%.1f %s", v, units[u]);
}

// Throughput in decimal units, as disks and networks are quoted (GB/s).
std::string byte_rate_text(double v) {
  if (!std::isfinite(v)) return "-";
  if (v >= 1e9) return printf_string("%.2f GB/s", v / 1e9);
  if (v >= 1e6) return printf_string("%.1f MB/s", v / 1e6);
  if (v >= 1e3) return printf_string("%.1f kB/s", v / 1e3);
  return printf_string("%.0f B/s", v);
}

std::string seconds_text(double s) {
  if (!std::isfinite(s)) return "-";
  if (s < 1e-3) return printf_string("%.0f us", s * 1e6);
  if (s < 1) return printf_string(s < 1e-2 ? "%.2f ms" : s < 1e-1 ? "%.1f ms" : "%.0f ms", s * 1e3);
  return printf_string("%.2f s", s);
}

// Uptime: "42.0 s", "12m 03s", "5h 07m", "3d 04h".
std::string duration_text(double s) {
  if (!std::isfinite(s) || s < 0) return "-";
  if (s < 60) return printf_string("%.1f s", s);
  auto whole = static_cast<long long>(s);
  if (whole < 3600) return printf_string("%lldm %02llds", whole / 60, whole % 60);
  if (whole < 86400) return printf_string("%lldh %02lldm", whole / 3600, whole % 3600 / 60);
  return printf_string("%lldd %02lldh", whole / 86400, whole % 86400 / 3600);
}

std::string ratio_text(double r) {
  if (!std::isfinite(r)) return "-";
  return printf_string("%.1f %%", r * 100);
}

// One scrape, or the difference between two: every query answers for the report's interval.
class Window {
 public:
  Window(const ParsedMetrics& now, const ParsedMetrics* previous, double seconds)
      : now_(now), previous_(previous) {
    if (previous_ != nullptr) {
      seconds_ = seconds > 0 ? seconds : kNaN;
    } else {
      seconds_ = now_.sum("kvtier_uptime_seconds").value_or(kNaN);
      if (!(seconds_ > 0)) seconds_ = kNaN;
    }
  }

  bool has(std::string_view name) const { return now_.sum(name).has_value(); }
  // The current value (gauges, totals).
  double level(std::string_view name, std::initializer_list<MetricLabel> match = {}) const {
    return now_.sum(name, match).value_or(kNaN);
  }
  // What a counter gained over the window (its total without a previous scrape).
  double delta(std::string_view name, std::initializer_list<MetricLabel> match = {}) const {
    std::optional<double> n = now_.sum(name, match);
    if (!n) return kNaN;
    if (previous_ == nullptr) return *n;
    double p = previous_->sum(name, match).value_or(0);
    return *n >= p ? *n - p : *n;  // went down: the daemon restarted, count from zero
  }
  double rate(std::string_view name, std::initializer_list<MetricLabel> match = {}) const {
    return delta(name, match) / seconds_;
  }
  std::optional<ParsedHistogram> histogram(std::string_view name,
                                           std::initializer_list<MetricLabel> match = {}) const {
    std::optional<ParsedHistogram> h = now_.histogram(name, match);
    if (!h || previous_ == nullptr) return h;
    std::optional<ParsedHistogram> p = previous_->histogram(name, match);
    return p ? h->since(*p) : h;
  }
  const ParsedMetrics& now() const { return now_; }
  bool interval() const { return previous_ != nullptr; }
  double seconds() const { return seconds_; }

 private:
  const ParsedMetrics& now_;
  const ParsedMetrics* previous_;
  double seconds_;
};

void line(std::string& t, const std::string& s) { t += s + "\n"; }

// Appends the values of `more` that `values` does not hold yet, in their order.
void add_new(std::vector<std::string>& values, const std::vector<std::string>& more) {
  for (const std::string& v : more) {
    if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
  }
}

std::vector<std::string> ordered_ops(const ParsedMetrics& m) {
  std::vector<std::string> seen = m.label_values("kvtier_requests_total", "op");
  add_new(seen, m.label_values("kvtier_request_seconds_bucket", "op"));
  std::vector<std::string> ops;
  for (std::string_view known : kOpOrder) {
    for (const std::string& op : seen) {
      if (ascii_lower(op) == known) ops.push_back(op);
    }
  }
  add_new(ops, seen);
  return ops;
}

void requests_section(const Window& w, std::string& t) {
  std::vector<std::string> ops = ordered_ops(w.now());
  if (ops.empty()) return;
  line(t, printf_string("%-16s %10s %9s %10s %9s %8s %9s %9s", "requests", "count", "/s", "ok",
                       "missed", "failed", "p50", "p99"));
  auto row = [&](const std::string& label, std::initializer_list<MetricLabel> match,
                 double all, double ok, double missed, double probes) {
    double failed = all - ok - missed - probes;
    std::optional<ParsedHistogram> h = w.histogram("kvtier_request_seconds", match);
    double p50 = h ? h->quantile(0.5) : kNaN, p99 = h ? h->quantile(0.99) : kNaN;
    line(t, printf_string("  %-14s %10s %9s %10s %9s %8s %9s %9s", label.c_str(),
                         count_text(all).c_str(), rate_text(all / w.seconds()).c_str(),
                         count_text(ok).c_str(), count_text(missed).c_str(),
                         count_text(failed).c_str(), seconds_text(p50).c_str(),
                         seconds_text(p99).c_str()));
  };
  auto zero_if_nan = [](double v) { return std::isnan(v) ? 0 : v; };
  double total = 0, total_ok = 0, total_missed = 0, total_probes = 0;
  std::size_t rows = 0;
  for (const std::string& op : ops) {
    // Ops never used since the daemon started are left out (the daemon lists every op).
    std::optional<ParsedHistogram> ever = w.now().histogram("kvtier_request_seconds", {{"op", op}});
    if (!(w.level("kvtier_requests_total", {{"op", op}}) > 0) && !(ever && ever->count > 0)) continue;
    ++rows;
    double all = zero_if_nan(w.delta("kvtier_requests_total", {{"op", op}}));
    double ok = zero_if_nan(w.delta("kvtier_requests_total", {{"op", op}, {"status", "ok"}}));
    double missed =
        zero_if_nan(w.delta("kvtier_requests_total", {{"op", op}, {"status", "not_found"}}));
    // buffer_too_small answers a size probe (a GET with a small buffer learns the value's size):
    // the protocol working as documented, not a failure.
    double probes = zero_if_nan(
        w.delta("kvtier_requests_total", {{"op", op}, {"status", "buffer_too_small"}}));
    total += all;
    total_ok += ok;
    total_missed += missed;
    total_probes += probes;
    row(ascii_lower(op), {{"op", op}}, all, ok, missed, probes);
  }
  if (rows == 0) line(t, "  (none yet)");
  if (rows > 1) row("all", {}, total, total_ok, total_missed, total_probes);
  t += "\n";
}

void cache_section(const Window& w, std::string& t) {
  bool dram = w.has("kvtier_dram_hits_total"), nvme = w.has("kvtier_nvme_hits_total");
  bool store = w.has("kvtier_store_gets_total"), shared = w.has("kvtier_shared_read_hits_total");
  if (!dram && !nvme && !store && !shared) return;
  line(t, printf_string("%-16s %10s %10s %10s %12s %12s", "cache", "hits", "misses", "hit ratio",
                       "used", "capacity"));
  auto row = [&](const char* name, double hits, double misses, double used, double capacity) {
    double lookups = hits + misses;
    line(t, printf_string("  %-14s %10s %10s %10s %12s %12s", name, count_text(hits).c_str(),
                         count_text(misses).c_str(),
                         ratio_text(lookups > 0 ? hits / lookups : kNaN).c_str(),
                         bytes_text(used).c_str(), bytes_text(capacity).c_str()));
  };
  if (dram) {
    row("dram", w.delta("kvtier_dram_hits_total"), w.delta("kvtier_dram_misses_total"),
        w.level("kvtier_dram_bytes"), w.level("kvtier_dram_capacity_bytes"));
  }
  if (nvme) {
    // The tier's capacity is its regions; it holds entries, not a byte level.
    double capacity = w.level("kvtier_nvme_regions") * w.level("kvtier_nvme_region_bytes");
    row("nvme", w.delta("kvtier_nvme_hits_total"), w.delta("kvtier_nvme_misses_total"), kNaN,
        capacity);
  }
  if (shared) {
    // A read the shared tier did not answer in time, or was not asked (breaker open, threads
    // busy), is a miss like any other: the engine recomputes.
    double misses = 0;
    for (std::string_view m : {"kvtier_shared_read_misses_total", "kvtier_shared_read_errors_total",
                               "kvtier_shared_read_late_total", "kvtier_shared_read_refused_busy_total",
                               "kvtier_shared_read_skipped_open_total"}) {
      double d = w.delta(m);
      if (std::isfinite(d)) misses += d;
    }
    row("shared", w.delta("kvtier_shared_read_hits_total"), misses, kNaN, kNaN);
  }
  if (store) {
    // The store's gets are looked up in every tier: a hit is one found in any of them.
    double gets = w.delta("kvtier_store_gets_total"), misses = w.delta("kvtier_store_misses_total");
    row("any tier", std::isnan(misses) ? kNaN : gets - misses, misses, kNaN, kNaN);
  }
  t += "\n";
}

void bytes_section(const Window& w, std::string& t) {
  struct Flow {
    const char* label;
    const char* metric;
  };
  const Flow flows[] = {{"received", "kvtier_bytes_received_total"},
                        {"sent", "kvtier_bytes_sent_total"},
                        {"shm in", "kvtier_shm_bytes_read_total"},
                        {"shm out", "kvtier_shm_bytes_written_total"},
                        {"store in", "kvtier_store_bytes_in_total"},
                        {"store out", "kvtier_store_bytes_out_total"},
                        {"nvme written", "kvtier_nvme_bytes_written_total"},
                        {"nvme read", "kvtier_nvme_bytes_read_total"}};
  bool any = false;
  for (const Flow& f : flows) {
    if (!w.has(f.metric)) continue;
    if (!any) line(t, printf_string("%-16s %10s %12s", "bytes", "count", "rate"));
    any = true;
    double d = w.delta(f.metric);
    line(t, printf_string("  %-14s %10s %12s", f.label, bytes_text(d).c_str(),
                         byte_rate_text(d / w.seconds()).c_str()));
  }
  if (any) t += "\n";
}

// "name N (R/s)" for a counter the daemon exports, nothing for one it does not.
void add_counter(const Window& w, std::string* line, const char* label, std::string_view metric,
                 std::initializer_list<MetricLabel> match = {}) {
  double d = w.delta(metric, match);
  if (std::isnan(d)) return;
  *line += printf_string("  %s %s", label, count_text(d).c_str());
  double r = d / w.seconds();
  if (std::isfinite(r) && d > 0) *line += " (" + rate_text(r) + "/s)";
}

// "<what>: reason1 N, reason2 M" over every label value of `label` on `metric`.
void add_by_label(const Window& w, std::string* line, const char* what, std::string_view metric,
                  std::string_view label) {
  std::vector<std::string> values = w.now().label_values(metric, label);
  if (values.empty()) return;
  std::string part;
  for (const std::string& v : values) {
    double d = w.delta(metric, {{label, v}});
    if (!(d > 0)) continue;
    part += (part.empty() ? "" : ", ") + v + " " + count_text(d);
  }
  *line += printf_string("  %s: %s", what, part.empty() ? "0" : part.c_str());
}

void events_section(const Window& w, std::string& t) {
  std::string evictions;
  add_counter(w, &evictions, "dram", "kvtier_dram_evictions_total");
  double evicted = w.delta("kvtier_dram_evicted_bytes_total");
  if (std::isfinite(evicted)) evictions += " [" + bytes_text(evicted) + "]";
  add_counter(w, &evictions, "demoted", "kvtier_store_demotions_total");
  add_counter(w, &evictions, "nvme regions reclaimed", "kvtier_nvme_regions_reclaimed_total");
  add_counter(w, &evictions, "entries dropped", "kvtier_nvme_reclaimed_entries_total");
  if (!evictions.empty()) line(t, printf_string("%-14s", "evictions") + evictions);

  std::string rejections;
  add_by_label(w, &rejections, "connections", "kvtier_connections_rejected_total", "reason");
  add_by_label(w, &rejections, "frames", "kvtier_frames_rejected_total", "reason");
  add_by_label(w, &rejections, "quota", "kvtier_quota_rejections_total", "tenant");
  add_counter(w, &rejections, "nvme admission", "kvtier_nvme_admission_rejected_total");
  add_counter(w, &rejections, "dram no space", "kvtier_dram_no_space_total");
  if (!rejections.empty()) line(t, printf_string("%-14s", "rejections") + rejections);

  std::string integrity;
  add_counter(w, &integrity, "checksum failures", "kvtier_nvme_checksum_failures_total");
  add_counter(w, &integrity, "header mismatches", "kvtier_nvme_header_mismatches_total");
  add_counter(w, &integrity, "read errors", "kvtier_nvme_read_errors_total");
  add_counter(w, &integrity, "write errors", "kvtier_nvme_write_errors_total");
  if (!integrity.empty()) line(t, printf_string("%-14s", "integrity") + integrity);

  std::string connections;
  double open = w.level("kvtier_connections_open");
  if (std::isfinite(open)) connections += "  open " + count_text(open);
  add_counter(w, &connections, "accepted", "kvtier_connections_accepted_total");
  if (!connections.empty()) line(t, printf_string("%-14s", "connections") + connections);

  // Queue depths: the response backlog, and any other gauge the daemon names a queue.
  std::string queues;
  double queued = w.level("kvtier_queued_response_bytes");
  if (std::isfinite(queued)) queues += "  responses " + bytes_text(queued);
  std::vector<std::string> seen;
  for (const PrometheusSample& s : w.now().samples) {
    if (s.name == "kvtier_queued_response_bytes" || s.name.find("queue") == std::string::npos ||
        s.name.rfind("kvtier_", 0) != 0) {
      continue;
    }
    auto type = w.now().types.find(s.name);
    if (type == w.now().types.end() || type->second != "gauge") continue;
    if (std::find(seen.begin(), seen.end(), s.name) != seen.end()) continue;
    seen.push_back(s.name);
    queues += "  " + s.name.substr(7) + " " + count_text(w.level(s.name));
  }
  if (!queues.empty()) line(t, printf_string("%-14s", "queues") + queues);
}

// The shared tier: breaker state, the outbox (what waits for upload, and how long draining it
// takes at the current upload rate) and the uploads.
void shared_section(const Window& w, std::string& t) {
  if (!w.has("kvtier_shared_breaker_open")) return;
  std::string state = w.level("kvtier_shared_breaker_open") == 1 ? "OPEN (reads skipped, writes queued)" : "closed";
  std::string breaker = "  breaker " + state;
  add_counter(w, &breaker, "opened", "kvtier_shared_breaker_opens_total");
  add_counter(w, &breaker, "call failures", "kvtier_shared_call_failures_total");
  add_counter(w, &breaker, "hung calls", "kvtier_shared_hung_calls_total");
  t += "\n";
  line(t, "shared tier");
  line(t, breaker);

  double pending = w.level("kvtier_shared_outbox_pending");
  double pending_bytes = w.level("kvtier_shared_outbox_pending_bytes");
  std::string outbox = "  outbox " + count_text(pending) + " blocks [" + bytes_text(pending_bytes) +
                       "] of " + count_text(w.level("kvtier_shared_outbox_capacity"));
  double oldest = w.level("kvtier_shared_outbox_oldest_seconds");
  if (pending > 0 && std::isfinite(oldest)) outbox += ", oldest " + duration_text(oldest);
  add_counter(w, &outbox, "rejected full", "kvtier_shared_outbox_rejected_full_total");
  add_counter(w, &outbox, "replayed", "kvtier_shared_outbox_replayed_total");
  line(t, outbox);

  std::string uploads;
  add_counter(w, &uploads, "uploads", "kvtier_shared_uploads_total");
  double bytes = w.delta("kvtier_shared_upload_bytes_total");
  double rate = bytes / w.seconds();
  if (std::isfinite(bytes)) uploads += " [" + bytes_text(bytes) + ", " + byte_rate_text(rate) + "]";
  add_counter(w, &uploads, "failures", "kvtier_shared_upload_failures_total");
  add_counter(w, &uploads, "already there", "kvtier_shared_upload_skipped_present_total");
  add_counter(w, &uploads, "lost before upload", "kvtier_shared_upload_lost_local_total");
  // Drain progress: only meaningful over an interval (--watch) with uploads flowing.
  if (pending > 0 && w.interval() && rate > 0) uploads += "  drained in ~" + duration_text(pending_bytes / rate);
  line(t, uploads);
}

void tenants_section(const Window& w, std::string& t) {
  std::vector<std::string> tenants = w.now().label_values("kvtier_tenant_bytes", "tenant");
  add_new(tenants, w.now().label_values("kvtier_quota_rejections_total", "tenant"));
  if (tenants.empty()) return;
  std::vector<std::string> tiers = w.now().label_values("kvtier_tenant_bytes", "tier");
  t += "\n";
  std::string header = printf_string("%-16s", "tenant bytes");
  for (const std::string& tier : tiers) header += printf_string(" %12s", tier.c_str());
  header += printf_string(" %12s %17s", "quota", "quota rejections");
  line(t, header);
  for (const std::string& tenant : tenants) {
    std::string row = printf_string("  %-14s", tenant.c_str());
    for (const std::string& tier : tiers) {
      row += printf_string(" %12s",
                           bytes_text(w.level("kvtier_tenant_bytes",
                                              {{"tenant", tenant}, {"tier", tier}}))
                               .c_str());
    }
    double quota = w.level("kvtier_tenant_quota_bytes", {{"tenant", tenant}});
    row += printf_string(" %12s", quota == 0 ? "none" : bytes_text(quota).c_str());
    row += printf_string(
        " %17s", count_text(w.delta("kvtier_quota_rejections_total", {{"tenant", tenant}})).c_str());
    line(t, row);
  }
}

}  // namespace

std::string render_stat_report(const ParsedMetrics& now, const ParsedMetrics* previous,
                               double seconds) {
  Window w(now, previous, seconds);
  std::string t;
  if (w.interval()) {
    line(t, printf_string("counts, rates and latencies over the last %.1f s", seconds));
  } else if (std::isfinite(w.seconds())) {
    line(t, "counts and latencies since the daemon started (" + duration_text(w.seconds()) +
           " ago); rates are averages over that time");
  } else {
    line(t, "counts and latencies since the daemon started (use --watch for rates)");
  }
  t += "\n";
  requests_section(w, t);
  cache_section(w, t);
  bytes_section(w, t);
  events_section(w, t);
  shared_section(w, t);
  tenants_section(w, t);
  return t;
}

}  // namespace kvtier
