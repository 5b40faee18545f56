/* SPDX-License-Identifier: GPL-3.0-or-later */
/* An LD_PRELOAD shim for test-power-cut.py: logs every file system call the
 * daemon makes on the files of one directory ($SM_SHIM_DIR), with its data
 * and a CLOCK_MONOTONIC time stamp, to $SM_SHIM_LOG. The test replays the
 * log keeping only what was synced (file data by fsync/fdatasync, names by
 * an fsync of the directory) to rebuild what a power cut at any point
 * would leave on disk.
 *
 * One line per call, fields separated by spaces, paths and data in hex:
 *   <ns> open <fd> <path-hex> <flags>
 *   <ns> write <fd> <offset or -1 for "at the fd's position"> <data-hex>
 *   <ns> lseek <fd> <resulting offset>
 *   <ns> truncate <fd> <length>
 *   <ns> sync <fd>
 *   <ns> close <fd>
 *   <ns> dup <fd> <new fd>
 *   <ns> rename <from-hex> <to-hex>
 *   <ns> unlink <path-hex>
 * Only calls that succeeded are logged. Not a general tool: it covers the
 * calls session-monitor and GLib make on its state files.
 *
 * Fault injection (test-storage-undo.py), with or without the log: when the
 * file $SM_SHIM_FAULT exists and holds "write", the next write(2) of a
 * descriptor of a file named state.journal fails with EIO; when it holds
 * "sync", the first fdatasync/fsync(2) of such a descriptor that follows a
 * write to it fails. The file is removed when the fault fires (one fault per
 * file written). A sync fault waits for a write because the daemon also
 * syncs on its own (after a failed sync it syncs the cut-off journal): that
 * sync, racing with the test writing the file, must not take the fault meant
 * for the next call's record. */

#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 4096

static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static int log_fd = -1;
static char dir[PATH_MAX];
static size_t dir_len;
static char tracked[MAX_FDS];
static char journal[MAX_FDS]; /* the descriptor is one of state.journal */
static char fault_path[PATH_MAX];
static int sync_fault_due; /* a journal write saw the "sync" fault armed */
static int initialized;

static ssize_t (*real_write) (int, const void *, size_t);
static ssize_t (*real_pwrite) (int, const void *, size_t, off_t);
static ssize_t (*real_writev) (int, const struct iovec *, int);
static int (*real_open) (const char *, int, ...);
static int (*real_openat) (int, const char *, int, ...);
static off_t (*real_lseek) (int, off_t, int);
static int (*real_ftruncate) (int, off_t);
static int (*real_fsync) (int);
static int (*real_fdatasync) (int);
static int (*real_close) (int);
static int (*real_dup) (int);
static int (*real_rename) (const char *, const char *);
static int (*real_renameat2) (int, const char *, int, const char *, unsigned int);
static int (*real_unlink) (const char *);

static void
init (void)
{
  const char *d, *path;

  if (initialized)
    return;
  real_write = dlsym (RTLD_NEXT, "write");
  real_pwrite = dlsym (RTLD_NEXT, "pwrite64");
  real_writev = dlsym (RTLD_NEXT, "writev");
  real_open = dlsym (RTLD_NEXT, "open64");
  real_openat = dlsym (RTLD_NEXT, "openat64");
  real_lseek = dlsym (RTLD_NEXT, "lseek64");
  real_ftruncate = dlsym (RTLD_NEXT, "ftruncate64");
  real_fsync = dlsym (RTLD_NEXT, "fsync");
  real_fdatasync = dlsym (RTLD_NEXT, "fdatasync");
  real_close = dlsym (RTLD_NEXT, "close");
  real_dup = dlsym (RTLD_NEXT, "dup");
  real_rename = dlsym (RTLD_NEXT, "rename");
  real_renameat2 = dlsym (RTLD_NEXT, "renameat2");
  real_unlink = dlsym (RTLD_NEXT, "unlink");
  d = getenv ("SM_SHIM_FAULT");
  if (d != NULL)
    snprintf (fault_path, sizeof fault_path, "%s", d);
  d = getenv ("SM_SHIM_DIR");
  path = getenv ("SM_SHIM_LOG");
  if (d != NULL && path != NULL)
    {
      snprintf (dir, sizeof dir, "%s", d);
      dir_len = strlen (dir);
      log_fd = real_open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    }
  initialized = 1;
}

static int
in_dir (const char *path)
{
  return log_fd >= 0 && path != NULL && strncmp (path, dir, dir_len) == 0
         && (path[dir_len] == '\0' || path[dir_len] == '/');
}

static void
emit (const char *text, size_t length)
{
  while (length > 0)
    {
      ssize_t n = real_write (log_fd, text, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        abort ();
      text += n;
      length -= (size_t) n;
    }
}

static void
emit_hex (const void *data, size_t length)
{
  static const char digits[] = "0123456789abcdef";
  const unsigned char *p = data;
  char buffer[8192];
  size_t used = 0;

  if (length == 0)
    {
      emit ("-", 1);
      return;
    }
  for (size_t i = 0; i < length; i++)
    {
      buffer[used++] = digits[p[i] >> 4];
      buffer[used++] = digits[p[i] & 15];
      if (used == sizeof buffer)
        {
          emit (buffer, used);
          used = 0;
        }
    }
  emit (buffer, used);
}

static void
emit_head (const char *op)
{
  struct timespec ts;
  char head[64];
  int n;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  n = snprintf (head, sizeof head, "%lld %s", (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec,
                op);
  emit (head, (size_t) n);
}

static void
emit_fmt (const char *format, ...)
{
  char text[256];
  va_list args;
  int n;

  va_start (args, format);
  n = vsnprintf (text, sizeof text, format, args);
  va_end (args);
  emit (text, (size_t) n);
}

static int
is_tracked (int fd)
{
  return fd >= 0 && fd < MAX_FDS && tracked[fd];
}

/* Whether the fault file is armed with @kind ("write", "sync"). */
static int
fault_armed (const char *kind)
{
  char wanted[16] = { 0 };
  int control;
  ssize_t n;

  control = real_open (fault_path, O_RDONLY | O_CLOEXEC);
  if (control < 0)
    return 0;
  n = read (control, wanted, sizeof wanted - 1);
  real_close (control);
  return n > 0 && strncmp (wanted, kind, strlen (kind)) == 0;
}

/* Whether the call @kind ("write", "sync") on @fd is to fail (see top). */
static int
inject_fault (int fd, const char *kind)
{
  int is_sync = strcmp (kind, "sync") == 0;

  if (fault_path[0] == '\0' || fd < 0 || fd >= MAX_FDS || !journal[fd])
    return 0;
  if (!is_sync)
    {
      /* A journal write: a sync fault armed now is due at the next sync. */
      if (!sync_fault_due && fault_armed ("sync"))
        sync_fault_due = 1;
      if (!fault_armed (kind))
        return 0;
    }
  else if (!sync_fault_due)
    return 0;
  sync_fault_due = 0;
  real_unlink (fault_path);
  errno = EIO;
  return 1;
}

static int
log_open (const char *path, int fd, int flags)
{
  char absolute[PATH_MAX];

  if (fd < 0 || fd >= MAX_FDS)
    return fd;
  tracked[fd] = 0;
  {
    const char *base = strrchr (path, '/');

    journal[fd] = strcmp (base != NULL ? base + 1 : path, "state.journal") == 0;
  }
  if (path[0] != '/')
    {
      if (getcwd (absolute, sizeof absolute) == NULL)
        return fd;
      strncat (absolute, "/", sizeof absolute - strlen (absolute) - 1);
      strncat (absolute, path, sizeof absolute - strlen (absolute) - 1);
      path = absolute;
    }
  if (!in_dir (path))
    return fd;
  tracked[fd] = 1;
  emit_head ("open");
  emit_fmt (" %d ", fd);
  emit_hex (path, strlen (path));
  emit_fmt (" %d\n", flags);
  return fd;
}

int
open (const char *path, int flags, ...)
{
  mode_t mode = 0;
  int fd;

  if (flags & (O_CREAT | O_TMPFILE))
    {
      va_list args;

      va_start (args, flags);
      mode = va_arg (args, mode_t);
      va_end (args);
    }
  pthread_mutex_lock (&lock);
  init ();
  fd = real_open (path, flags, mode);
  log_open (path, fd, flags);
  pthread_mutex_unlock (&lock);
  return fd;
}
int open64 (const char *path, int flags, ...) __attribute__ ((alias ("open")));

int
openat (int dirfd, const char *path, int flags, ...)
{
  mode_t mode = 0;
  int fd;

  if (flags & (O_CREAT | O_TMPFILE))
    {
      va_list args;

      va_start (args, flags);
      mode = va_arg (args, mode_t);
      va_end (args);
    }
  pthread_mutex_lock (&lock);
  init ();
  fd = real_openat (dirfd, path, flags, mode);
  if (dirfd == AT_FDCWD || path[0] == '/')
    log_open (path, fd, flags);
  pthread_mutex_unlock (&lock);
  return fd;
}
int openat64 (int dirfd, const char *path, int flags, ...) __attribute__ ((alias ("openat")));

ssize_t
write (int fd, const void *data, size_t length)
{
  ssize_t n;

  pthread_mutex_lock (&lock);
  init ();
  if (inject_fault (fd, "write"))
    {
      pthread_mutex_unlock (&lock);
      return -1;
    }
  n = real_write (fd, data, length);
  if (n > 0 && is_tracked (fd))
    {
      emit_head ("write");
      emit_fmt (" %d -1 ", fd);
      emit_hex (data, (size_t) n);
      emit ("\n", 1);
    }
  pthread_mutex_unlock (&lock);
  return n;
}

ssize_t
pwrite (int fd, const void *data, size_t length, off_t offset)
{
  ssize_t n;

  pthread_mutex_lock (&lock);
  init ();
  if (inject_fault (fd, "write"))
    {
      pthread_mutex_unlock (&lock);
      return -1;
    }
  n = real_pwrite (fd, data, length, offset);
  if (n > 0 && is_tracked (fd))
    {
      emit_head ("write");
      emit_fmt (" %d %lld ", fd, (long long) offset);
      emit_hex (data, (size_t) n);
      emit ("\n", 1);
    }
  pthread_mutex_unlock (&lock);
  return n;
}
ssize_t pwrite64 (int fd, const void *data, size_t length, off_t offset)
    __attribute__ ((alias ("pwrite")));

ssize_t
writev (int fd, const struct iovec *iov, int count)
{
  ssize_t n;

  pthread_mutex_lock (&lock);
  init ();
  if (inject_fault (fd, "write"))
    {
      pthread_mutex_unlock (&lock);
      return -1;
    }
  n = real_writev (fd, iov, count);
  if (n > 0 && is_tracked (fd))
    {
      size_t left = (size_t) n;

      emit_head ("write");
      emit_fmt (" %d -1 ", fd);
      for (int i = 0; i < count && left > 0; i++)
        {
          size_t part = iov[i].iov_len < left ? iov[i].iov_len : left;

          if (part > 0)
            emit_hex (iov[i].iov_base, part);
          left -= part;
        }
      emit ("\n", 1);
    }
  pthread_mutex_unlock (&lock);
  return n;
}

off_t
lseek (int fd, off_t offset, int whence)
{
  off_t result;

  pthread_mutex_lock (&lock);
  init ();
  result = real_lseek (fd, offset, whence);
  if (result >= 0 && is_tracked (fd))
    {
      emit_head ("lseek");
      emit_fmt (" %d %lld\n", fd, (long long) result);
    }
  pthread_mutex_unlock (&lock);
  return result;
}
off_t lseek64 (int fd, off_t offset, int whence) __attribute__ ((alias ("lseek")));

int
ftruncate (int fd, off_t length)
{
  int result;

  pthread_mutex_lock (&lock);
  init ();
  result = real_ftruncate (fd, length);
  if (result == 0 && is_tracked (fd))
    {
      emit_head ("truncate");
      emit_fmt (" %d %lld\n", fd, (long long) length);
    }
  pthread_mutex_unlock (&lock);
  return result;
}
int ftruncate64 (int fd, off_t length) __attribute__ ((alias ("ftruncate")));

static int
do_sync (int fd, int (*real) (int))
{
  int result;

  pthread_mutex_lock (&lock);
  init ();
  if (inject_fault (fd, "sync"))
    {
      pthread_mutex_unlock (&lock);
      return -1;
    }
  result = real (fd);
  if (result == 0 && is_tracked (fd))
    {
      emit_head ("sync");
      emit_fmt (" %d\n", fd);
    }
  pthread_mutex_unlock (&lock);
  return result;
}

int
fsync (int fd)
{
  init ();
  return do_sync (fd, real_fsync);
}

int
fdatasync (int fd)
{
  init ();
  return do_sync (fd, real_fdatasync);
}

/* The store syncs a dup of the journal's fd in a worker thread. */
int
dup (int fd)
{
  int copy;

  pthread_mutex_lock (&lock);
  init ();
  copy = real_dup (fd);
  if (copy >= 0 && copy < MAX_FDS && fd >= 0 && fd < MAX_FDS)
    journal[copy] = journal[fd];
  if (copy >= 0 && copy < MAX_FDS && is_tracked (fd))
    {
      tracked[copy] = 1;
      emit_head ("dup");
      emit_fmt (" %d %d\n", fd, copy);
    }
  pthread_mutex_unlock (&lock);
  return copy;
}

int
close (int fd)
{
  int result;

  pthread_mutex_lock (&lock);
  init ();
  result = real_close (fd);
  if (fd >= 0 && fd < MAX_FDS)
    journal[fd] = 0;
  if (is_tracked (fd))
    {
      tracked[fd] = 0;
      emit_head ("close");
      emit_fmt (" %d\n", fd);
    }
  pthread_mutex_unlock (&lock);
  return result;
}

static void
log_rename (const char *from, const char *to)
{
  if (!in_dir (from) && !in_dir (to))
    return;
  emit_head ("rename");
  emit (" ", 1);
  emit_hex (from, strlen (from));
  emit (" ", 1);
  emit_hex (to, strlen (to));
  emit ("\n", 1);
}

int
rename (const char *from, const char *to)
{
  int result;

  pthread_mutex_lock (&lock);
  init ();
  result = real_rename (from, to);
  if (result == 0)
    log_rename (from, to);
  pthread_mutex_unlock (&lock);
  return result;
}

int
renameat2 (int from_dir, const char *from, int to_dir, const char *to, unsigned int flags)
{
  int result;

  pthread_mutex_lock (&lock);
  init ();
  result = real_renameat2 (from_dir, from, to_dir, to, flags);
  if (result == 0 && (from_dir == AT_FDCWD || from[0] == '/')
      && (to_dir == AT_FDCWD || to[0] == '/'))
    log_rename (from, to);
  pthread_mutex_unlock (&lock);
  return result;
}

int
unlink (const char *path)
{
  int result;

  pthread_mutex_lock (&lock);
  init ();
  result = real_unlink (path);
  if (result == 0 && in_dir (path))
    {
      emit_head ("unlink");
      emit (" ", 1);
      emit_hex (path, strlen (path));
      emit ("\n", 1);
    }
  pthread_mutex_unlock (&lock);
  return result;
}
