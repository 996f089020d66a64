// kvtier_stalling_fuse: a FUSE file system for tests that mirrors a source directory and can lose
// requests. `kvtier_stalling_fuse SOURCE MOUNT` runs in the foreground (multithreaded) until
// SIGTERM. SIGUSR1 toggles the stall: while it is on, every GETATTR of the mount's root is never
// answered: the thread serving it blocks for the life of the process, even after the stall is
// turned off, as a request lost by a FUSE server or an NFS call that only a forced unmount ends.
// Every other request (lookups, reads, writes, renames below the root) is answered as usual, so
// a caller can tell "the probe target is stuck" from "the medium is down". Each lost request holds
// one of libfuse's worker threads for good (10 by default): a test loses a few, not more. SIGUSR2 toggles failing
// reads: while it is on, every read answers EIO (a device read error that goes away). SIGRTMIN
// toggles failing directory syncs (fsync of a directory answers EIO).
//
// Written in C against libfuse 3's high-level API; built only when fuse3 is found (CMakeLists.txt).
// Attribute and entry caches are off, so every stat of the root reaches this process.
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static const char* source_dir;
static atomic_int stalling;
static atomic_int failing_reads;
static atomic_int failing_dir_syncs;

static void toggle(int sig) {
  if (sig == SIGUSR1) atomic_fetch_xor(&stalling, 1);
  else if (sig == SIGUSR2) atomic_fetch_xor(&failing_reads, 1);
  else atomic_fetch_xor(&failing_dir_syncs, 1);
}

// SOURCE + path, or -ENAMETOOLONG.
static int real_path(const char* path, char out[PATH_MAX]) {
  int n = snprintf(out, PATH_MAX, "%s%s", source_dir, path);
  return (n < 0 || n >= PATH_MAX) ? -ENAMETOOLONG : 0;
}

#define REAL(path, var)               \
  char var[PATH_MAX];                 \
  do {                                \
    int rc_ = real_path(path, var);   \
    if (rc_ != 0) return rc_;         \
  } while (0)

static int result(int rc) { return rc < 0 ? -errno : 0; }

static void* on_init(struct fuse_conn_info* conn, struct fuse_config* cfg) {
  (void)conn;
  cfg->attr_timeout = 0;
  cfg->entry_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->use_ino = 0;
  return NULL;
}

static int on_getattr(const char* path, struct stat* st, struct fuse_file_info* fi) {
  if (strcmp(path, "/") == 0 && atomic_load(&stalling)) {
    for (;;) pause();  // lost: never answered
  }
  if (fi != NULL) return result(fstat((int)fi->fh, st));
  REAL(path, p);
  return result(lstat(p, st));
}

static int on_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info* fi, enum fuse_readdir_flags flags) {
  (void)off, (void)fi, (void)flags;
  REAL(path, p);
  DIR* d = opendir(p);
  if (d == NULL) return -errno;
  for (struct dirent* e; (e = readdir(d)) != NULL;) {
    struct stat st = {0};
    st.st_ino = e->d_ino;
    st.st_mode = (mode_t)(e->d_type << 12);
    if (fill(buf, e->d_name, &st, 0, 0) != 0) break;
  }
  closedir(d);
  return 0;
}

static int on_mkdir(const char* path, mode_t mode) {
  REAL(path, p);
  return result(mkdir(p, mode));
}

static int on_chmod(const char* path, mode_t mode, struct fuse_file_info* fi) {
  (void)fi;
  REAL(path, p);
  return result(chmod(p, mode));
}

static int on_chown(const char* path, uid_t uid, gid_t gid, struct fuse_file_info* fi) {
  (void)fi;
  REAL(path, p);
  return result(lchown(p, uid, gid));
}

static int on_unlink(const char* path) {
  REAL(path, p);
  return result(unlink(p));
}

static int on_rmdir(const char* path) {
  REAL(path, p);
  return result(rmdir(p));
}

static int on_rename(const char* from, const char* to, unsigned int flags) {
  if (flags != 0) return -EINVAL;
  REAL(from, a);
  REAL(to, b);
  return result(rename(a, b));
}

static int on_truncate(const char* path, off_t size, struct fuse_file_info* fi) {
  if (fi != NULL) return result(ftruncate((int)fi->fh, size));
  REAL(path, p);
  return result(truncate(p, size));
}

static int on_open(const char* path, struct fuse_file_info* fi) {
  REAL(path, p);
  // O_DIRECT is this mount's to honour (the kernel sends such I/O straight here, unaligned to
  // nothing): the source may not take it (tmpfs refuses it).
  int fd = open(p, fi->flags & ~(O_NOFOLLOW | O_DIRECT));
  if (fd < 0) return -errno;
  fi->fh = (uint64_t)fd;
  return 0;
}

static int on_create(const char* path, mode_t mode, struct fuse_file_info* fi) {
  REAL(path, p);
  int fd = open(p, fi->flags & ~O_DIRECT, mode);
  if (fd < 0) return -errno;
  fi->fh = (uint64_t)fd;
  return 0;
}

static int on_read(const char* path, char* buf, size_t size, off_t off, struct fuse_file_info* fi) {
  (void)path;
  if (atomic_load(&failing_reads)) return -EIO;
  ssize_t n = pread((int)fi->fh, buf, size, off);
  return n < 0 ? -errno : (int)n;
}

static int on_write(const char* path, const char* buf, size_t size, off_t off,
                    struct fuse_file_info* fi) {
  (void)path;
  ssize_t n = pwrite((int)fi->fh, buf, size, off);
  return n < 0 ? -errno : (int)n;
}

static int on_release(const char* path, struct fuse_file_info* fi) {
  (void)path;
  close((int)fi->fh);
  return 0;
}

static int on_fsync(const char* path, int datasync, struct fuse_file_info* fi) {
  (void)path;
  return result(datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh));
}

static int on_fsyncdir(const char* path, int datasync, struct fuse_file_info* fi) {
  (void)datasync, (void)fi;
  if (atomic_load(&failing_dir_syncs)) return -EIO;
  REAL(path, p);
  int fd = open(p, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -errno;
  int rc = result(fsync(fd));
  close(fd);
  return rc;
}

static int on_utimens(const char* path, const struct timespec ts[2], struct fuse_file_info* fi) {
  if (fi != NULL) return result(futimens((int)fi->fh, ts));
  REAL(path, p);
  return result(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW));
}

static int on_statfs(const char* path, struct statvfs* st) {
  REAL(path, p);
  return result(statvfs(p, st));
}

static int on_access(const char* path, int mask) {
  REAL(path, p);
  return result(access(p, mask));
}

static const struct fuse_operations kOperations = {
    .init = on_init,
    .getattr = on_getattr,
    .readdir = on_readdir,
    .mkdir = on_mkdir,
    .chmod = on_chmod,
    .chown = on_chown,
    .unlink = on_unlink,
    .rmdir = on_rmdir,
    .rename = on_rename,
    .truncate = on_truncate,
    .open = on_open,
    .create = on_create,
    .read = on_read,
    .write = on_write,
    .release = on_release,
    .fsync = on_fsync,
    .fsyncdir = on_fsyncdir,
    .utimens = on_utimens,
    .statfs = on_statfs,
    .access = on_access,
};

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s SOURCE MOUNT\n", argv[0]);
    return 2;
  }
  source_dir = realpath(argv[1], NULL);
  if (source_dir == NULL) {
    perror(argv[1]);
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = toggle;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  sigaction(SIGRTMIN, &sa, NULL);
  char* fuse_argv[] = {argv[0], "-f", argv[2], NULL};
  return fuse_main(3, fuse_argv, &kOperations, NULL);
}
