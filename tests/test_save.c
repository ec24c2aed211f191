/* tests/test_save.c — how saves replace files: concurrent saves of one path,
 * stale temporary files, symbolic links, and targets that are not regular
 * files (ag_safetensors_save and ag_checkpoint_save share the code). */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NVALS 2048

static ag_state_dict *dict_of(ag_device *dev, float value)
{
    ag_state_dict *sd = ag_state_dict_new();
    ag_tensor *a = ag_full(dev, AG_F32, AG_SHAPE(NVALS), value);
    ag_tensor *b = ag_full(dev, AG_F32, AG_SHAPE(NVALS / 2), value);
    ck_assert(ag_state_dict_add(sd, "a", a) == AG_OK && ag_state_dict_add(sd, "b", b) == AG_OK);
    ag_release(a);
    ag_release(b);
    return sd;
}

/* Every element of every entry equals the first: the file comes from one save. */
static int consistent(const ag_state_dict *sd, float *first)
{
    static float buf[NVALS];
    *first = NAN;
    for (int i = 0; i < ag_state_dict_count(sd); i++) {
        ag_tensor *t = ag_state_dict_tensor_at(sd, i);
        size_t n = (size_t)ag_numel(t);
        if (ag_tensor_read(t, buf, n * sizeof(float)) != AG_OK) return 0;
        if (i == 0) *first = buf[0];
        for (size_t k = 0; k < n; k++)
            if (buf[k] != *first) return 0;
    }
    return 1;
}

typedef struct saver {
    const char *path;
    const ag_state_dict *sd;
    int saves, failures;
    char error[256];
} saver;

static void *save_loop(void *arg)
{
    saver *s = arg;
    for (int i = 0; i < s->saves; i++)
        if (ag_safetensors_save(s->path, s->sd) != AG_OK && s->failures++ == 0)
            snprintf(s->error, sizeof s->error, "%s", ag_last_error());
    return NULL;
}

/* Two threads save different contents to one path while the main thread
 * loads it: every save succeeds, every load sees one whole file. */
START_TEST(test_save_concurrent)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("save");
    const char *path = agt_tmp_path("shared.safetensors");
    ag_state_dict *one = dict_of(dev, 1.0f), *two = dict_of(dev, 2.0f);
    ck_assert(ag_safetensors_save(path, one) == AG_OK);
    saver s[2] = {{path, one, 12, 0, ""}, {path, two, 12, 0, ""}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) ck_assert(pthread_create(&th[i], NULL, save_loop, &s[i]) == 0);
    int loads = 0, bad = 0;
    char why[256] = "";
    for (int r = 0; r < 12; r++) {
        ag_state_dict *in = ag_safetensors_load(path, dev);
        float v;
        if (!in) snprintf(why, sizeof why, "load failed: %s", ag_last_error());
        else if (!consistent(in, &v) || (v != 1.0f && v != 2.0f))
            snprintf(why, sizeof why, "a torn or foreign file (first value %g)", v);
        bad += !in || why[0];
        loads++;
        ag_state_dict_free(in);
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    ck_assert_msg(s[0].failures == 0 && s[1].failures == 0, "%d+%d saves failed: %s%s",
                  s[0].failures, s[1].failures, s[0].error, s[1].error);
    ck_assert_msg(bad == 0, "%d of %d concurrent loads were bad: %s", bad, loads, why);
    ck_assert_int_eq(agt_tmpdir_count("tmp"), 0);
    ag_state_dict_free(one);
    ag_state_dict_free(two);
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

static void touch(const char *path)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    fputs("partial", f);
    fclose(f);
}

/* A save removes the temporary files a killed process left for the same
 * target, and nothing else. */
START_TEST(test_save_removes_stale_temp_files)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("save");
    char name[128];
    /* pid 2147483647 is above any pid_max: that writer is gone. */
    const char *dead = agt_tmp_path(".model.safetensors.agtmp-2147483647-a1B2c3");
    const char *dead2 = agt_tmp_path(".model.safetensors.agtmp-2147483646-zzzzzz");
    snprintf(name, sizeof name, ".model.safetensors.agtmp-%ld-Q1w2E3", (long)getpid());
    const char *live = agt_tmp_path(name); /* a save in progress in this process */
    const char *other = agt_tmp_path(".other.safetensors.agtmp-2147483647-a1B2c3");
    const char *lookalike = agt_tmp_path(".model.safetensors.agtmp-2147483647-toolong");
    const char *files[] = {dead, dead2, live, other, lookalike};
    for (int i = 0; i < 5; i++) touch(files[i]);
    ag_state_dict *sd = dict_of(dev, 3.0f);
    ck_assert_msg(ag_safetensors_save(agt_tmp_path("model.safetensors"), sd) == AG_OK, "%s",
                  ag_last_error());
    ck_assert_msg(access(dead, F_OK) != 0, "stale temporary file of a dead writer kept");
    ck_assert_msg(access(dead2, F_OK) != 0, "second stale temporary file kept");
    ck_assert_msg(access(live, F_OK) == 0, "a live process's temporary file was removed");
    ck_assert_msg(access(other, F_OK) == 0, "another target's temporary file was removed");
    ck_assert_msg(access(lookalike, F_OK) == 0, "a file not named like a temporary was removed");
    ck_assert_int_eq(agt_tmpdir_count(".agtmp-"), 3);
    ag_state_dict_free(sd);
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

static float load_first(const char *path, ag_device *dev)
{
    ag_state_dict *in = ag_safetensors_load(path, dev);
    ck_assert_msg(in != NULL, "%s", ag_last_error());
    float v;
    ck_assert(consistent(in, &v));
    ag_state_dict_free(in);
    return v;
}

static void assert_symlink(const char *path, const char *want_target)
{
    struct stat st;
    ck_assert_msg(lstat(path, &st) == 0 && S_ISLNK(st.st_mode), "%s is no longer a link", path);
    char buf[512];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    ck_assert(n > 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, want_target);
}

/* Saving through a symbolic link replaces the file it points at, keeps the
 * link and the file's permissions. */
START_TEST(test_save_through_symlink)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("save");
    const char *real = agt_tmp_path("real.safetensors");
    const char *link = agt_tmp_path("link.safetensors");
    const char *link2 = agt_tmp_path("link2.safetensors");
    ag_state_dict *one = dict_of(dev, 1.0f), *two = dict_of(dev, 2.0f);
    ck_assert(ag_safetensors_save(real, one) == AG_OK);
    ck_assert(chmod(real, 0640) == 0);
    ck_assert(symlink("real.safetensors", link) == 0);  /* relative */
    ck_assert(symlink(link, link2) == 0);               /* absolute, two levels */
    ck_assert_msg(ag_safetensors_save(link2, two) == AG_OK, "%s", ag_last_error());
    assert_symlink(link, "real.safetensors");
    assert_symlink(link2, link);
    ck_assert(load_first(real, dev) == 2.0f);
    struct stat st;
    ck_assert(stat(real, &st) == 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    /* A dangling link: the file it names is created. */
    const char *dangling = agt_tmp_path("dangling.safetensors");
    ck_assert(symlink("new.safetensors", dangling) == 0);
    ck_assert_msg(ag_safetensors_save(dangling, one) == AG_OK, "%s", ag_last_error());
    assert_symlink(dangling, "new.safetensors");
    ck_assert(load_first(agt_tmp_path("new.safetensors"), dev) == 1.0f);
    /* A link loop is an error, not a hang. */
    const char *loop = agt_tmp_path("loop");
    ck_assert(symlink("loop", loop) == 0);
    ck_assert(ag_safetensors_save(loop, one) == AG_ERR_IO);
    ck_assert_msg(strstr(ag_last_error(), "symbolic links"), "%s", ag_last_error());
    ck_assert_int_eq(agt_tmpdir_count("tmp"), 0);
    ag_state_dict_free(one);
    ag_state_dict_free(two);
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

/* A target that exists but is not a regular file is refused and kept. */
START_TEST(test_save_refuses_special_files)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("save");
    const char *fifo = agt_tmp_path("fifo");
    const char *dir = agt_tmp_path("dir");
    const char *to_fifo = agt_tmp_path("to_fifo");
    ck_assert(mkfifo(fifo, 0600) == 0);
    ck_assert(mkdir(dir, 0700) == 0);
    ck_assert(symlink(fifo, to_fifo) == 0);
    ag_state_dict *sd = dict_of(dev, 1.0f);
    struct {
        const char *path, *needle;
    } cases[] = {{fifo, "is a FIFO, not a regular file"},
                 {dir, "is a directory, not a regular file"},
                 {to_fifo, "its link target"}};
    for (int c = 0; c < 3; c++) {
        ag_clear_error();
        ck_assert_int_eq(ag_safetensors_save(cases[c].path, sd), AG_ERR_IO);
        ck_assert_msg(strstr(ag_last_error(), "ag_safetensors_save") &&
                          strstr(ag_last_error(), cases[c].path) &&
                          strstr(ag_last_error(), cases[c].needle),
                      "%s", ag_last_error());
    }
    ck_assert_int_eq(ag_checkpoint_save(fifo, sd, NULL, 0, 0, NULL, NULL), AG_ERR_IO);
    ck_assert_msg(strstr(ag_last_error(), "FIFO"), "%s", ag_last_error());
    struct stat st;
    ck_assert(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
    ck_assert(lstat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    ck_assert(lstat(to_fifo, &st) == 0 && S_ISLNK(st.st_mode));
    ck_assert_int_eq(agt_tmpdir_count("tmp"), 0);
    ag_state_dict_free(sd);
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("save");
    TCase *tc = tcase_create("save");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_save_concurrent);
    AGT_ADD_LOOP(tc, test_save_removes_stale_temp_files);
    AGT_ADD_LOOP(tc, test_save_through_symlink);
    AGT_ADD_LOOP(tc, test_save_refuses_special_files);
    suite_add_tcase(s, tc);
    return agt_run_suite(s);
}
