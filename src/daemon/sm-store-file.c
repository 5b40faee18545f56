/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-store"

#include "sm-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* The store's file helpers: errors named after the file, whole writes,
 * directory syncs, and opening and reading only regular files. */

void
sm_store_set_errno_error (GError **error, int saved_errno, const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s", path,
               g_strerror (saved_errno));
}

gboolean
sm_store_write_all (int fd, const char *data, gsize length, GError **error)
{
  while (length > 0)
    {
      gssize n = write (fd, data, length);

      if (n < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EINTR)
            continue;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s",
                       g_strerror (saved_errno));
          return FALSE;
        }
      data += n;
      length -= (gsize) n;
    }
  return TRUE;
}

/* fsync(2) of a directory: the names created, renamed or removed in it
 * are on disk. */
gboolean
sm_store_sync_dir (const char *dir, GError **error)
{
  int fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  int saved_errno;

  if (fd < 0)
    {
      sm_store_set_errno_error (error, errno, dir);
      return FALSE;
    }
  if (fsync (fd) == 0)
    {
      close (fd);
      return TRUE;
    }
  saved_errno = errno;
  close (fd);
  /* Some file systems cannot sync a directory; theirs is synchronous. */
  if (saved_errno == EINVAL || saved_errno == ENOTSUP)
    return TRUE;
  sm_store_set_errno_error (error, saved_errno, dir);
  return FALSE;
}

/* Opens one of the store's files, refusing anything but a regular file:
 * never through a symbolic link (O_NOFOLLOW), never blocking on a FIFO
 * (O_NONBLOCK), checked with fstat(2). G_IO_ERROR_NOT_FOUND when absent,
 * G_IO_ERROR_NOT_REGULAR_FILE for a link, FIFO, directory or device. */
int
sm_store_open_regular (const char *path, int flags, GError **error)
{
  struct stat st;
  int fd = g_open (path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0);

  if (fd < 0)
    {
      int saved_errno = errno;

      /* ELOOP: a symbolic link; ENXIO: a FIFO nobody reads, opened for
       * writing; EISDIR: a directory opened for writing. */
      if (saved_errno == ELOOP || saved_errno == ENXIO || saved_errno == EISDIR)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, "%s: is not a regular file",
                     path);
      else
        sm_store_set_errno_error (error, saved_errno, path);
      return -1;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, "%s: is not a regular file",
                   path);
      return -1;
    }
  return fd;
}

/* g_file_get_contents() for the store's files only: see
 * sm_store_open_regular(). */
gboolean
sm_store_read_file (const char *path, char **contents, gsize *length, GError **error)
{
  g_autoptr (GByteArray) data = NULL;
  struct stat st;
  int fd = sm_store_open_regular (path, O_RDONLY, error);

  if (fd < 0)
    return FALSE;
  data = g_byte_array_sized_new (
      fstat (fd, &st) == 0 ? (guint) MIN (st.st_size + 1, G_MAXUINT32 / 2) : 4096);
  for (;;)
    {
      guint8 buffer[65536];
      gssize n = read (fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          sm_store_set_errno_error (error, errno, path);
          close (fd);
          return FALSE;
        }
      if (n == 0)
        break;
      g_byte_array_append (data, buffer, (guint) n);
    }
  close (fd);
  *length = data->len;
  g_byte_array_append (data, (const guint8 *) "", 1);
  *contents = (char *) g_byte_array_free (g_steal_pointer (&data), FALSE);
  return TRUE;
}
