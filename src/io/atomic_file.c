/* src/io/atomic_file.c — atomic file replacement: resolve the target, write a
 * mkstemp temporary file beside it, fsync, rename, fsync the directory. The
 * rules are in atomic_file.h. */
#include "internal.h"
#include "io/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINKS 40
#define NAME_LIMIT 255 /* bytes in one file-name component (NAME_MAX on Linux) */
#define TMP_TAG ".agtmp-"

static const char *kind_name(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    return "a special file";
}

/* "<dir of base_path>/<rel>" (rel itself when absolute). malloc'd or NULL. */
static char *join_link(const char *base_path, const char *rel)
{
    const char *slash = strrchr(base_path, '/');
    size_t dlen = rel[0] == '/' || !slash ? 0 : (size_t)(slash - base_path) + 1;
    char *out = agi_malloc(dlen + strlen(rel) + 1);
    if (!out) return NULL;
    memcpy(out, base_path, dlen);
    strcpy(out + dlen, rel);
    return out;
}

/* Follows symbolic links from `path` to the file a save must replace; that
 * file may be absent. Sets *mode to its mode (0 when absent). */
static char *resolve(const char *op, const char *path, mode_t *mode)
{
    char *cur = agi_strdup(path);
    if (!cur) goto oom;
    for (int depth = 0;; depth++) {
        struct stat st;
        if (lstat(cur, &st) != 0) {
            if (errno == ENOENT) {
                *mode = 0;
                return cur;
            }
            agi_error(AG_ERR_IO, op, "%s: cannot inspect %s (%s)", path, cur, strerror(errno));
            free(cur);
            return NULL;
        }
        if (S_ISREG(st.st_mode)) {
            *mode = st.st_mode;
            return cur;
        }
        if (!S_ISLNK(st.st_mode)) {
            if (strcmp(cur, path) == 0)
                agi_error(AG_ERR_IO, op, "%s is %s, not a regular file; refusing to replace it",
                          path, kind_name(st.st_mode));
            else
                agi_error(AG_ERR_IO, op, "%s: its link target %s is %s, not a regular file; "
                          "refusing to replace it", path, cur, kind_name(st.st_mode));
            free(cur);
            return NULL;
        }
        if (depth == MAX_LINKS) {
            agi_error(AG_ERR_IO, op, "%s: more than %d levels of symbolic links", path, MAX_LINKS);
            free(cur);
            return NULL;
        }
        size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
        char *link = agi_malloc(cap);
        if (!link) {
            free(cur);
            goto oom;
        }
        ssize_t n = readlink(cur, link, cap);
        if (n < 0 || (size_t)n >= cap) {
            agi_error(AG_ERR_IO, op, "%s: cannot read the link %s (%s)", path, cur,
                      n < 0 ? strerror(errno) : "it changed while being read");
            free(link);
            free(cur);
            return NULL;
        }
        link[n] = '\0';
        char *next = join_link(cur, link);
        free(link);
        free(cur);
        if (!next) goto oom;
        cur = next;
    }
oom:
    agi_error(AG_ERR_OOM, op, "%s: host out of memory", path);
    return NULL;
}

/* The process's file-creation mask, without changing it (umask() would race
 * with other threads). 022 when the kernel does not report it. */
static mode_t current_umask(void)
{
    mode_t mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return mask;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Umask:", 6) == 0) {
            mask = (mode_t)strtoul(line + 6, NULL, 8) & 0777;
            break;
        }
    fclose(f);
    return mask;
}

/* Splits the target into its directory ("" or ending in '/') and the name's
 * prefix ".<name cut to fit>" shared by its temporary files. */
static void split(const char *target, size_t *dir_len, const char **name, size_t *name_len)
{
    const char *slash = strrchr(target, '/');
    *dir_len = slash ? (size_t)(slash - target) + 1 : 0;
    *name = target + *dir_len;
    /* "." + name + ".agtmp-" + up to 20 pid digits + "-XXXXXX" */
    size_t room = NAME_LIMIT - 1 - (sizeof TMP_TAG - 1) - 20 - 7;
    *name_len = strlen(*name) < room ? strlen(*name) : room;
}

/* Removes ".<name>.agtmp-<pid>-XXXXXX" files in the target's directory whose
 * writer process is gone. Failures are ignored: cleaning is best effort. */
static void remove_stale(const char *target)
{
    size_t dir_len, name_len;
    const char *name;
    split(target, &dir_len, &name, &name_len);
    char *dir = dir_len ? agi_strndup(target, dir_len) : agi_strdup(".");
    DIR *d = dir ? opendir(dir) : NULL;
    free(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *s = e->d_name;
        if (s[0] != '.' || strncmp(s + 1, name, name_len) != 0) continue;
        s += 1 + name_len;
        if (strncmp(s, TMP_TAG, sizeof TMP_TAG - 1) != 0) continue;
        s += sizeof TMP_TAG - 1;
        char *end;
        errno = 0;
        unsigned long long pid = strtoull(s, &end, 10);
        if (end == s || errno || *end != '-' || strlen(end + 1) != 6 || pid == 0 ||
            pid > (unsigned long long)INT32_MAX || (pid_t)pid == getpid())
            continue;
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

ag_status agi_atomic_open(const char *op, const char *path, agi_atomic_file *af)
{
    *af = (agi_atomic_file){0};
    mode_t old_mode;
    char *target = resolve(op, path, &old_mode);
    if (!target) return ag_last_status();
    remove_stale(target);
    size_t dir_len, name_len;
    const char *name;
    split(target, &dir_len, &name, &name_len);
    size_t cap = dir_len + name_len + 64;
    char *tmp = agi_malloc(cap);
    if (!tmp) {
        free(target);
        return agi_error(AG_ERR_OOM, op, "%s: host out of memory", path);
    }
    snprintf(tmp, cap, "%.*s.%.*s" TMP_TAG "%ld-XXXXXX", (int)dir_len, target, (int)name_len,
             name, (long)getpid());
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        ag_status st = agi_error(AG_ERR_IO, op, "%s: cannot create a temporary file %s (%s)", path,
                                 tmp, strerror(errno));
        free(tmp);
        free(target);
        return st;
    }
    mode_t mode = old_mode ? (old_mode & 07777) : (0666 & ~current_umask());
    FILE *f = fchmod(fd, mode) == 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        ag_status st = agi_error(AG_ERR_IO, op, "%s: cannot open %s (%s)", path, tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        free(target);
        return st;
    }
    af->f = f;
    af->target = target;
    af->tmp = tmp;
    return AG_OK;
}

static void free_names(agi_atomic_file *af)
{
    free(af->target);
    free(af->tmp);
    *af = (agi_atomic_file){0};
}

void agi_atomic_abort(agi_atomic_file *af)
{
    if (!af || !af->tmp) return;
    if (af->f) fclose(af->f);
    unlink(af->tmp);
    free_names(af);
}

/* fsync of the directory holding `target`, so the rename itself is durable. */
static int sync_dir(const char *target)
{
    const char *slash = strrchr(target, '/');
    char *dir = slash ? agi_strndup(target, (size_t)(slash - target) + 1) : agi_strdup(".");
    if (!dir) return ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return errno;
    int err = fsync(fd) == 0 || errno == EINVAL ? 0 : errno; /* EINVAL: fs without dir sync */
    close(fd);
    return err;
}

ag_status agi_atomic_commit(const char *op, agi_atomic_file *af)
{
    ag_status st = AG_OK;
    if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0)
        st = agi_error(AG_ERR_IO, op, "%s: flush failed (%s)", af->tmp, strerror(errno));
    if (fclose(af->f) != 0 && st == AG_OK)
        st = agi_error(AG_ERR_IO, op, "%s: close failed (%s)", af->tmp, strerror(errno));
    af->f = NULL;
    if (st == AG_OK && rename(af->tmp, af->target) != 0)
        st = agi_error(AG_ERR_IO, op, "cannot rename %s to %s (%s)", af->tmp, af->target,
                       strerror(errno));
    if (st != AG_OK) {
        agi_atomic_abort(af);
        return st;
    }
    int err = sync_dir(af->target);
    if (err == ENOMEM)
        st = agi_error(AG_ERR_OOM, op, "%s: written, but host out of memory syncing its directory",
                       af->target);
    else if (err)
        st = agi_error(AG_ERR_IO, op, "%s: written, but syncing its directory failed (%s)",
                       af->target, strerror(err));
    free_names(af);
    return st;
}
