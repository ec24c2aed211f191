/*
 * src/io/atomic_file.h — writing a file so that readers see either the old
 * contents or the new ones, never a mix (used by every save in src/io).
 *
 *   agi_atomic_file af;
 *   if (agi_atomic_open(OP, path, &af) != AG_OK) return ag_last_status();
 *   ... fwrite(..., af.f) ...
 *   st = ok ? agi_atomic_commit(OP, &af) : (agi_atomic_abort(&af), st);
 *
 * The rules (ag_safetensors_save documents them for users):
 *   - `path` is resolved first: a symbolic link is followed (to any depth, up
 *     to 40 links) and the file it points at is replaced, so the link stays.
 *     An existing target that is not a regular file (a directory, a device
 *     such as /dev/full, a FIFO, a socket) is refused with AG_ERR_IO.
 *   - The data goes to a new temporary file made with mkstemp in the target's
 *     directory, named ".<name>.agtmp-<pid>-XXXXXX" (<name> cut to fit the
 *     file-name limit), so concurrent saves of one path, from threads or
 *     processes, never share a temporary file.
 *   - Commit flushes and fsyncs the file, renames it over the target and
 *     fsyncs the directory. The new file keeps the old target's permission
 *     bits, or gets 0666 minus the process umask when the target is new.
 *   - A process killed during a save leaves its temporary file behind. Each
 *     open removes the temporary files of the same target whose <pid> is no
 *     longer a running process on this machine (so do not share a directory
 *     between machines that save the same file at the same time).
 */
#ifndef AG_IO_ATOMIC_FILE_H
#define AG_IO_ATOMIC_FILE_H

#include "anygrad/core.h"

#include <stdio.h>

typedef struct agi_atomic_file {
    FILE *f;      /* write the new contents here */
    char *target; /* the resolved path that commit replaces */
    char *tmp;    /* the temporary file */
} agi_atomic_file;

/* Resolves `path`, removes stale temporary files of it and creates a new
 * temporary file. On failure sets the error ("op: path: ...") and leaves
 * `af` empty (agi_atomic_abort on it is a no-op). */
ag_status agi_atomic_open(const char *op, const char *path, agi_atomic_file *af);
/* Flushes, fsyncs, renames over the target and fsyncs the directory. The
 * temporary file is removed on failure. Frees `af` in every case. */
ag_status agi_atomic_commit(const char *op, agi_atomic_file *af);
/* Closes and removes the temporary file and frees `af`. */
void agi_atomic_abort(agi_atomic_file *af);

#endif /* AG_IO_ATOMIC_FILE_H */
