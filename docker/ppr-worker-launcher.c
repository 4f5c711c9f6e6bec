/*
 * /app/ppr-worker of the LOCAL image only (scripts/image.ts builds it; production has the binary
 * from `deno compile` at that path). It runs the cached source the way the compiled binary runs
 * itself: `deno run --cached-only` with the `ppr` permission set and the same V8 flags, with every
 * argument passed on. The image has no shell, so this is a tiny static executable, not a script;
 * it execs deno, so the process that tini starts is the supervisor itself.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  char self[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  if (length < 0) {
    perror("ppr-worker: readlink /proc/self/exe");
    return 127;
  }
  self[length] = '\0';
  const char *app = dirname(self); /* the folder of this file: /app */

  char deno[PATH_MAX], config[PATH_MAX], main_module[PATH_MAX], deno_dir[PATH_MAX];
  snprintf(deno, sizeof deno, "%s/deno", app);
  snprintf(config, sizeof config, "%s/src/deno.json", app);
  snprintf(main_module, sizeof main_module, "%s/src/main.ts", app);
  snprintf(deno_dir, sizeof deno_dir, "%s/deno-dir", app);
  /* Inherited by the worker children, which the supervisor starts as `deno run` itself. */
  setenv("DENO_DIR", deno_dir, 1);
  setenv("DENO_NO_UPDATE_CHECK", "1", 1);

  const char *fixed[] = {deno, "run", "--cached-only", "-q", "--no-prompt", "--config", config,
                         "-P=ppr", "--v8-flags=--lite-mode", main_module};
  const int fixed_count = sizeof fixed / sizeof fixed[0];
  char **args = calloc(fixed_count + argc, sizeof(char *));
  if (args == NULL) return 127;
  for (int i = 0; i < fixed_count; i++) args[i] = (char *)fixed[i];
  for (int i = 1; i < argc; i++) args[fixed_count + i - 1] = argv[i];
  execv(deno, args);
  fprintf(stderr, "ppr-worker: cannot run %s: %s\n", deno, strerror(errno));
  return 127;
}
