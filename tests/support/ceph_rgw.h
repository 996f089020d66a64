// CephRgw: a real single-node Ceph cluster with a RADOS Gateway (S3) on loopback, started by
// tests/support/ceph-rgw.sh in a temporary directory (a monitor, one memstore OSD, radosgw, an S3
// user); about 2-3 s to the first request. Tests create buckets, freeze radosgw (SIGSTOP /
// SIGCONT), kill it and start it again on the same port; everything is killed on destruction.
//
// Thread-safety: none; one test thread drives it.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "support/proc_stats.h"
#include "support/redis_process.h"
#include "support/test_support.h"

namespace kvtier::testing {

class CephRgw {
 public:
  CephRgw() {
    std::random_device rd;
    std::mt19937 rng(rd());
    std::uniform_int_distribution<int> pick(20000, 60000);  // the OSD takes MON_PORT+1..+40
    // Several attempts on other ports: a start now and then fails on a loaded machine.
    for (int attempt = 0; attempt < 5 && !started_; ++attempt) {
      mon_port_ = pick(rng);
      rgw_port_ = pick(rng);
      const std::string errors = dir_.path() + "/start-errors.txt";
      CommandOutput out = run_command(
          {"sh", "-c", "\"$0\" start \"$1\" \"$2\" \"$3\" 2>\"$4\"", script(),
           dir_.path() + "/ceph", std::to_string(mon_port_), std::to_string(rgw_port_), errors},
          "", std::chrono::seconds(90));
      std::istringstream words(out.out);
      started_ = out.exit_code == 0 && (words >> endpoint_ >> access_key_ >> secret_key_);
      if (!started_) {
        std::ifstream f(errors);
        failures_ += "attempt " + std::to_string(attempt + 1) + ": " +
                     std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>())
                         .substr(0, 2000) + "\n";
        stop();
        std::filesystem::remove_all(dir_.path() + "/ceph");
      }
    }
  }
  ~CephRgw() { stop(); }
  CephRgw(const CephRgw&) = delete;
  CephRgw& operator=(const CephRgw&) = delete;

  bool started() const { return started_; }
  // What the failed start attempts printed (empty when the first one started).
  const std::string& failures() const { return failures_; }
  const std::string& endpoint() const { return endpoint_; }
  const std::string& access_key() const { return access_key_; }
  const std::string& secret_key() const { return secret_key_; }
  std::string conf() const { return dir_.path() + "/ceph/ceph.conf"; }

  // Creates a bucket with the real curl, signed by it (SigV4); true on 200.
  bool create_bucket(const std::string& bucket) const {
    CommandOutput out = run_command(
        {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "--aws-sigv4",
         "aws:amz:us-east-1:s3", "--user", access_key_ + ":" + secret_key_, "-H",
         "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
         endpoint_ + "/" + bucket},
        "", std::chrono::seconds(30));
    return out.out == "200";
  }

  // radosgw's process (the OSD and the monitor stay up).
  pid_t rgw_pid() const {
    std::ifstream f(dir_.path() + "/ceph/run/client.rgw.pid");
    pid_t pid = -1;
    f >> pid;
    return pid;
  }
  bool pause_rgw() const { return freeze_process(rgw_pid()); }  // every thread stopped on return
  void resume_rgw() const { ::kill(rgw_pid(), SIGCONT); }
  void kill_rgw() const {
    const pid_t pid = rgw_pid();
    ::kill(pid, SIGCONT);
    ::kill(pid, SIGKILL);
    // radosgw daemonized itself: not our child, so wait for it to be gone, not reaped.
    poll_until([&] { return ::kill(pid, 0) != 0; }, std::chrono::seconds(10));
  }
  // Starts radosgw again on the same port; true once it answers.
  bool start_rgw() const {
    // Without our stdio: it daemonizes, and run_command reads until every writer is gone.
    CommandOutput out = run_command(
        {"sh", "-c", "radosgw -c '" + conf() + "' -n client.rgw </dev/null >/dev/null 2>&1"}, "",
        std::chrono::seconds(30));
    if (out.exit_code != 0) return false;
    return poll_until(
        [&] {
          return run_command({"curl", "-s", "-o", "/dev/null", "-m", "2", endpoint_ + "/"}, "",
                             std::chrono::seconds(5))
                     .exit_code == 0;
        },
        std::chrono::seconds(60));
  }

 private:
  static std::string script() { return std::string(KVTIER_SOURCE_DIR) + "/tests/support/ceph-rgw.sh"; }
  void stop() {
    (void)run_command({script(), "stop", dir_.path() + "/ceph"}, "", std::chrono::seconds(30));
  }

  TempDir dir_;
  int mon_port_ = 0;
  int rgw_port_ = 0;
  bool started_ = false;
  std::string endpoint_, access_key_, secret_key_;
  std::string failures_;
};

// One cluster for a whole test suite, with one bucket. Started in SetUpTestSuite; each test checks
// ready() with ASSERT_TRUE in SetUp, so a cluster that did not start fails every test of the suite
// (a failure in SetUpTestSuite would only skip them).
class CephRgwSuite {
 public:
  void start(const std::string& bucket) {
    rgw_ = std::make_unique<CephRgw>();
    bucket_made_ = rgw_->started() && rgw_->create_bucket(bucket);
  }
  void stop() { rgw_.reset(); }
  ::testing::AssertionResult ready() const {
    if (!rgw_ || !rgw_->started()) {
      return ::testing::AssertionFailure() << "the Ceph RADOS Gateway did not start:\n"
                                           << (rgw_ ? rgw_->failures() : "");
    }
    if (!bucket_made_) return ::testing::AssertionFailure() << "the bucket could not be created";
    return ::testing::AssertionSuccess();
  }
  CephRgw& rgw() { return *rgw_; }

 private:
  std::unique_ptr<CephRgw> rgw_;
  bool bucket_made_ = false;
};

}  // namespace kvtier::testing
