/* Main thread at start-up (the CLI resolves modules before the VM
 * exists); everything here is the caller's, no lock. */
#include "modules.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/open_input.h"

#define SETUP_HDR_MAGIC_OFF 0x202 /* "HdrS" */
#define SETUP_VERSION_OFF 0x206
#define SETUP_KERNEL_VERSION_OFF 0x20e
#define BANNER "Linux version "

static int copy_release(const uint8_t *s, size_t avail,
			char out[KERNEL_VERSION_MAX])
{
	size_t n = 0;

	/* The release is the string's first word. */
	while (n < avail && n < KERNEL_VERSION_MAX - 1 && s[n] > ' ' &&
	       s[n] < 0x7f)
		n++;
	/* Empty, too long, or running to the end of the image: no version. */
	if (n == 0 || n == avail || (s[n] > ' ' && s[n] < 0x7f))
		return -ENOENT;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int bzimage_version(const uint8_t *img, size_t size,
			   char out[KERNEL_VERSION_MAX])
{
	size_t off;

	if (size < SETUP_KERNEL_VERSION_OFF + 2 ||
	    memcmp(img + SETUP_HDR_MAGIC_OFF, "HdrS", 4) ||
	    (img[SETUP_VERSION_OFF] | img[SETUP_VERSION_OFF + 1] << 8) < 0x200)
		return -ENOENT;
	off = (size_t)(img[SETUP_KERNEL_VERSION_OFF] |
		       img[SETUP_KERNEL_VERSION_OFF + 1] << 8);
	if (off == 0 || off + 0x200 >= size)
		return -ENOENT;
	return copy_release(img + off + 0x200, size - off - 0x200, out);
}

int kernel_version(const uint8_t *img, size_t size,
		   char out[KERNEL_VERSION_MAX])
{
	const uint8_t *b;

	if (bzimage_version(img, size, out) == 0)
		return 0;
	b = memmem(img, size, BANNER, strlen(BANNER));
	if (!b)
		return -ENOENT;
	b += strlen(BANNER);
	return copy_release(b, size - (size_t)(b - img), out);
}

/* The whole file, NUL-terminated; *len without the NUL. */
static int read_text(const char *path, char **buf, size_t *len)
{
	int fd = open_input(path, O_RDONLY), r = 0;
	struct stat st;
	size_t got = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		r = fstat(fd, &st) ? -errno : -EINVAL;
	else if (!(*buf = malloc((size_t)st.st_size + 1)))
		r = -ENOMEM;
	while (!r && got < (size_t)st.st_size) {
		ssize_t n = read(fd, *buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (r)
		return r;
	(*buf)[got] = '\0';
	*len = got;
	return 0;
}

int kernel_version_file(const char *path, char out[KERNEL_VERSION_MAX])
{
	char *buf = NULL;
	size_t len;
	int r = read_text(path, &buf, &len);

	if (!r)
		r = kernel_version((const uint8_t *)buf, len, out);
	free(buf);
	return r;
}

int module_name(const char *path, char *name, size_t size)
{
	static const char *const ext[] = { ".ko.xz", ".ko.zst", ".ko.gz",
					   ".ko" };
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		size_t e = strlen(ext[i]);
		if (n > e && !strcmp(base + n - e, ext[i])) {
			n -= e;
			break;
		}
	}
	if (n == 0 || n >= size)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		name[i] = base[i] == '-' ? '_' : base[i];
	name[n] = '\0';
	return 0;
}

/* One line of modules.dep: "path: dep dep ...", split in place. */
struct dep {
	char name[64];
	const char *path;
	char *deps;
	int state; /* 0 unseen, 1 being visited, 2 listed */
};

struct resolver {
	const char *dir;
	struct dep *deps;
	size_t nr_deps;
	char *builtin; /* modules.builtin's text, or NULL */
	struct module_list *out;
};

static int parse_dep_line(char *line, struct dep *d)
{
	char *colon = strchr(line, ':');

	if (!colon)
		return -EINVAL;
	*colon = '\0';
	d->path = line;
	d->deps = colon + 1;
	d->state = 0;
	return module_name(line, d->name, sizeof(d->name));
}

static int parse_deps(struct resolver *rs, char *text)
{
	size_t lines = 1, n = 0;
	char *save = NULL;

	for (char *p = text; *p; p++)
		lines += *p == '\n';
	rs->deps = calloc(lines, sizeof(*rs->deps));
	if (!rs->deps)
		return -ENOMEM;
	for (char *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (!*l || *l == '#')
			continue;
		if (parse_dep_line(l, &rs->deps[n])) {
			log_error("--modules %s: modules.dep: malformed line "
				  "'%.60s'",
				  rs->dir, l);
			return -EINVAL;
		}
		n++;
	}
	rs->nr_deps = n;
	return 0;
}

static struct dep *find_dep(const struct resolver *rs, const char *name)
{
	for (size_t i = 0; i < rs->nr_deps; i++)
		if (!strcmp(rs->deps[i].name, name))
			return &rs->deps[i];
	return NULL;
}

static bool is_builtin(const struct resolver *rs, const char *name)
{
	char *save = NULL, *copy, mod[64];
	bool found = false;

	if (!rs->builtin || !(copy = strdup(rs->builtin)))
		return false;
	for (char *l = strtok_r(copy, "\n", &save); l && !found;
	     l = strtok_r(NULL, "\n", &save))
		found = module_name(l, mod, sizeof(mod)) == 0 &&
			!strcmp(mod, name);
	free(copy);
	return found;
}

static int append_path(struct resolver *rs, const char *rel)
{
	struct module_list *o = rs->out;
	char **p = realloc(o->paths, (o->n + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	o->paths = p;
	if (rel[0] == '/')
		p[o->n] = strdup(rel);
	else if (asprintf(&p[o->n], "%s/%s", rs->dir, rel) < 0)
		p[o->n] = NULL;
	if (!p[o->n])
		return -ENOMEM;
	o->n++;
	return 0;
}

/* Depth first: every dependency is listed before the module needing it,
 * whatever order modules.dep gives them in. */
static int visit(struct resolver *rs, struct dep *d, unsigned depth)
{
	char *save = NULL, *deps, name[64];
	int r = 0;

	if (d->state == 2)
		return 0;
	if (d->state == 1 || depth > 64) {
		log_error("--modules %s: modules.dep: %s depends on itself",
			  rs->dir, d->name);
		return -EINVAL;
	}
	d->state = 1;
	deps = strdup(d->deps);
	if (!deps)
		return -ENOMEM;
	for (char *t = strtok_r(deps, " \t", &save); t && !r;
	     t = strtok_r(NULL, " \t", &save)) {
		struct dep *dd = module_name(t, name, sizeof(name))
					 ? NULL
					 : find_dep(rs, name);
		if (!dd) {
			log_error("--modules %s: modules.dep: %s needs %s, "
				  "which has no line of its own",
				  rs->dir, d->name, t);
			r = -EINVAL;
		} else
			r = visit(rs, dd, depth + 1);
	}
	free(deps);
	d->state = 2;
	return r ? r : append_path(rs, d->path);
}

static int resolve_one(struct resolver *rs, const char *want)
{
	char name[64];
	struct dep *d;

	if (module_name(want, name, sizeof(name)))
		return -EINVAL;
	d = find_dep(rs, name);
	if (d)
		return visit(rs, d, 0);
	if (is_builtin(rs, name))
		return 0;
	log_error("--modules %s: module %s is neither in modules.dep nor "
		  "built in (modules.builtin)",
		  rs->dir, want);
	return -ENOENT;
}

static int load_tree(struct resolver *rs, char **dep_text)
{
	char path[4096];
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/modules.dep", rs->dir);
	r = read_text(path, dep_text, &len);
	if (r) {
		log_error("--modules %s: cannot read modules.dep: %s", rs->dir,
			  strerror(-r));
		return r == -ENOMEM ? r : -ENOENT;
	}
	snprintf(path, sizeof(path), "%s/modules.builtin", rs->dir);
	if (read_text(path, &rs->builtin, &len))
		rs->builtin = NULL; /* none built in, as far as we know */
	return parse_deps(rs, *dep_text);
}

int modules_resolve(const char *dir, const char *const *names, size_t n,
		    struct module_list *out)
{
	struct resolver rs = { .dir = dir, .out = out };
	char *text = NULL;
	int r;

	*out = (struct module_list){ 0 };
	r = load_tree(&rs, &text);
	for (size_t i = 0; !r && i < n; i++)
		r = resolve_one(&rs, names[i]);
	free(rs.deps);
	free(rs.builtin);
	free(text);
	if (r)
		module_list_free(out);
	return r;
}

void module_list_free(struct module_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
	*l = (struct module_list){ 0 };
}
