/*-------------------------------------------------------------------------
 *
 * pg_dataproduct.c
 *	  The pg_dataproduct client program: command line, connection, and the
 *	  descriptor commands (apply, export).  lineage.c and docs.c hold the
 *	  other two commands.
 *
 *	  pg_dataproduct [OPTION]... apply FILE|DIR...   declare products
 *	  pg_dataproduct [OPTION]... export PRODUCT      a descriptor as YAML
 *	  pg_dataproduct [OPTION]... lineage             the lineage graph
 *	  pg_dataproduct [OPTION]... docs --out DIR      a static HTML catalog
 *
 * Connection options and environment are psql's (-h -p -U -d -w -W, the
 * PG* variables, a conninfo string or URI as the database name), handed to
 * libpq as they are.  The client encoding is UTF8 whatever the server's,
 * since YAML and the HTML page are UTF-8.  Every statement is sent with
 * PQexecParams, values as parameters.  apply runs every document of one
 * invocation in one transaction: all or nothing; with --dry-run it rolls
 * back even though the server changes nothing then.
 *
 * Exit codes: 0 success, 1 error (connection, server, file), 2 bad usage.
 * Errors go to stderr, results to stdout (or --out).
 *
 * IDENTIFICATION
 *	  client/pg_dataproduct.c
 *
 *-------------------------------------------------------------------------
 */
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#ifndef DP_VERSION
#define DP_VERSION "unknown"
#endif

const char *progname = "pg_dataproduct";

typedef struct Options
{
	const char *host;
	const char *port;
	const char *user;
	const char *dbname;
	int			prompt;			/* -1 never (-w), 0 when needed, 1 always (-W) */
	bool		dry_run;
	bool		drop_missing;
	const char *format;
	const char *out;
} Options;

static void
usage(void)
{
	printf("%s declares data products from descriptors, exports them, and draws\n"
		   "and documents the catalog of the pg_dataproduct extension.\n\n", progname);
	printf("Usage:\n"
		   "  %s [OPTION]... apply FILE|DIR...     declare products from YAML or JSON descriptors\n"
		   "  %s [OPTION]... export PRODUCT        write a product's descriptor as YAML\n"
		   "  %s [OPTION]... lineage               print the lineage graph\n"
		   "  %s [OPTION]... docs --out DIR        write a static HTML catalog to DIR/index.html\n\n",
		   progname, progname, progname, progname);
	printf("Command options:\n"
		   "      --dry-run            apply: print the plan, change nothing\n"
		   "      --drop-missing       apply: drop outputs a descriptor no longer lists\n"
		   "  -f, --format=FORMAT      export: odcs (default) or odps;\n"
		   "                           lineage: dot (default) or mermaid\n"
		   "  -o, --out=PATH           docs: the directory to write (required);\n"
		   "                           export, lineage: a file instead of standard output\n\n");
	printf("Connection options:\n"
		   "  -h, --host=HOSTNAME      database server host or socket directory\n"
		   "  -p, --port=PORT          database server port\n"
		   "  -U, --username=USERNAME  database user name\n"
		   "  -d, --dbname=DBNAME      database name, or a connection string or URI\n"
		   "  -w, --no-password        never prompt for a password\n"
		   "  -W, --password           prompt for a password before connecting\n"
		   "  (and the environment variables PGHOST, PGPORT, PGUSER, PGDATABASE, ...)\n\n");
	printf("Other options:\n"
		   "  -V, --version            print the version, then exit\n"
		   "  -?, --help               show this help, then exit\n\n");
	printf("apply reads FILE, or every *.yaml, *.yml and *.json file of DIR in name order;\n"
		   "a YAML file may hold several documents (---), one product each.  All\n"
		   "documents are applied in one transaction: all or nothing.\n\n");
	printf("Exit status: 0 on success, 1 on error, 2 on bad usage.\n");
}

/* a usage error: message, pointer to --help, exit 2 */
static void
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: error: ", progname);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry \"%s --help\" for more information.\n", progname);
	exit(EXIT_USAGE);
}

/*
 * Read a password from the terminal without echo; NULL when there is no
 * terminal.  The caller frees it.
 */
static char *
prompt_password(void)
{
	FILE	   *tty = fopen("/dev/tty", "r+");
	struct termios saved;
	struct termios noecho;
	bool		restore = false;
	char		buf[1024];
	char	   *result = NULL;

	if (tty == NULL)
		return NULL;
	fputs("Password: ", tty);
	fflush(tty);
	if (tcgetattr(fileno(tty), &saved) == 0)
	{
		noecho = saved;
		noecho.c_lflag &= ~(tcflag_t) ECHO;
		restore = tcsetattr(fileno(tty), TCSAFLUSH, &noecho) == 0;
	}
	if (fgets(buf, sizeof(buf), tty) != NULL)
	{
		buf[strcspn(buf, "\r\n")] = '\0';
		result = xstrdup(buf);
	}
	if (restore)
		tcsetattr(fileno(tty), TCSAFLUSH, &saved);
	fputs("\n", tty);
	fclose(tty);
	return result;
}

/*
 * Connect as psql does: the options given, libpq's environment and
 * defaults for the rest, the database name expanded when it is a
 * connection string or URI; a password prompted for when the server asks
 * for one (unless -w).  Exits 1 when the connection fails.
 */
static PGconn *
connect_db(const Options *opt)
{
	const char *keywords[8];
	const char *values[8];
	char	   *password = NULL;
	PGconn	   *conn;

	if (opt->prompt > 0)
		password = prompt_password();
	for (;;)
	{
		int			i = 0;

		keywords[i] = "host";
		values[i++] = opt->host;
		keywords[i] = "port";
		values[i++] = opt->port;
		keywords[i] = "user";
		values[i++] = opt->user;
		keywords[i] = "password";
		values[i++] = password;
		keywords[i] = "dbname";
		values[i++] = opt->dbname;
		keywords[i] = "fallback_application_name";
		values[i++] = progname;
		keywords[i] = "client_encoding";
		values[i++] = "UTF8";
		keywords[i] = NULL;
		values[i] = NULL;

		conn = PQconnectdbParams(keywords, values, 1);
		if (conn == NULL)
		{
			pg_error("out of memory");
			exit(EXIT_ERROR);
		}
		if (PQstatus(conn) == CONNECTION_BAD && PQconnectionNeedsPassword(conn) &&
			password == NULL && opt->prompt >= 0)
		{
			password = prompt_password();
			if (password != NULL)
			{
				PQfinish(conn);
				continue;
			}
		}
		break;
	}
	free(password);
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		const char *msg = PQerrorMessage(conn);
		size_t		n = strlen(msg);

		while (n > 0 && msg[n - 1] == '\n')
			n--;
		fprintf(stderr, "%s: error: %.*s\n", progname, (int) n, msg);
		PQfinish(conn);
		exit(EXIT_ERROR);
	}
	return conn;
}

/* ------------------------------------------------------------------------
 * apply
 * ------------------------------------------------------------------------
 */

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool
is_descriptor_name(const char *name)
{
	size_t		n = strlen(name);

	if (name[0] == '.')
		return false;
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
		(n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
		(n > 5 && strcmp(name + n - 5, ".json") == 0);
}

/* the descriptors of a file, or of the descriptor files of a directory */
static int
collect_descriptors(const char *path, DescriptorList *list)
{
	struct stat st;
	DIR		   *dir;
	struct dirent *de;
	char	  **names = NULL;
	int			nnames = 0;
	int			cap = 0;
	int			i;
	int			rc = 0;

	if (stat(path, &st) != 0)
	{
		pg_error("could not open \"%s\": %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return read_descriptor_file(path, list);

	dir = opendir(path);
	if (dir == NULL)
	{
		pg_error("could not open directory \"%s\": %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(dir)) != NULL)
	{
		StrBuf		full;
		struct stat fst;

		if (!is_descriptor_name(de->d_name))
			continue;
		sb_init(&full);
		sb_printf(&full, "%s%s%s", path,
				  path[strlen(path) - 1] == '/' ? "" : "/", de->d_name);
		if (stat(full.data, &fst) != 0 || !S_ISREG(fst.st_mode))
		{
			sb_free(&full);
			continue;
		}
		if (nnames == cap)
		{
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, sizeof(char *) * (size_t) cap);
		}
		names[nnames++] = full.data;
	}
	closedir(dir);
	if (nnames == 0)
	{
		pg_error("no descriptor files (*.yaml, *.yml, *.json) in directory \"%s\"", path);
		return -1;
	}
	qsort(names, (size_t) nnames, sizeof(char *), cmp_names);
	for (i = 0; i < nnames; i++)
	{
		if (rc == 0)
			rc = read_descriptor_file(names[i], list);
		free(names[i]);
	}
	free(names);
	return rc;
}

typedef struct PlanCounts
{
	long		create;
	long		change;
	long		drop;
	long		unchanged;
} PlanCounts;

/* one row of the plan, marked as infrastructure-as-code tools mark them */
static void
print_plan_row(FILE *out, const char *action, const char *object,
			   const char *detail, PlanCounts *counts)
{
	const char *mark = "?";

	if (strcmp(action, "create") == 0)
	{
		mark = "+";
		counts->create++;
	}
	else if (strcmp(action, "change") == 0)
	{
		mark = "~";
		counts->change++;
	}
	else if (strcmp(action, "drop") == 0)
	{
		mark = "-";
		counts->drop++;
	}
	else if (strcmp(action, "unchanged") == 0)
	{
		mark = " ";
		counts->unchanged++;
	}
	fprintf(out, "  %s %-9s  %s", mark, action, object ? object : "");
	if (detail && *detail)
		fprintf(out, "  (%s)", detail);
	fputc('\n', out);
}

static int
cmd_apply(PGconn *conn, const Options *opt, char **paths, int npaths)
{
	DescriptorList list = {0};
	PlanCounts	counts = {0};
	PGresult   *res;
	int			i;
	int			rc = EXIT_OK;

	for (i = 0; i < npaths; i++)
		if (collect_descriptors(paths[i], &list) != 0)
			return EXIT_ERROR;

	if ((res = run_query(conn, "BEGIN", 0, NULL)) == NULL)
		return EXIT_ERROR;
	PQclear(res);

	for (i = 0; i < list.n && rc == EXIT_OK; i++)
	{
		const char *params[3];
		int			row;

		params[0] = list.items[i].json;
		params[1] = opt->dry_run ? "true" : "false";
		params[2] = opt->drop_missing ? "true" : "false";
		res = PQexecParams(conn,
						   "SELECT action, object, detail "
						   "FROM dataproduct.apply($1::pg_catalog.jsonb, "
						   "$2::pg_catalog.bool, $3::pg_catalog.bool)",
						   3, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			report_result_error(conn, res, list.items[i].origin);
			PQclear(res);
			rc = EXIT_ERROR;
			break;
		}
		printf("%s:\n", list.items[i].origin);
		for (row = 0; row < PQntuples(res); row++)
			print_plan_row(stdout, PQgetvalue(res, row, 0),
						   getvalue_or_null(res, row, 1),
						   getvalue_or_null(res, row, 2), &counts);
		PQclear(res);
	}

	if (rc != EXIT_OK || opt->dry_run)
	{
		res = PQexec(conn, "ROLLBACK");
		PQclear(res);
		if (rc != EXIT_OK)
		{
			fprintf(stderr, "%s: nothing was applied (all descriptors are applied in one transaction)\n",
					progname);
			return rc;
		}
		printf("Plan: %ld to create, %ld to change, %ld to drop, %ld unchanged.\n",
			   counts.create, counts.change, counts.drop, counts.unchanged);
		printf("Dry run: nothing was changed.\n");
		return EXIT_OK;
	}
	res = PQexec(conn, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		report_result_error(conn, res, "commit");
		PQclear(res);
		return EXIT_ERROR;
	}
	PQclear(res);
	printf("Applied: %ld created, %ld changed, %ld dropped, %ld unchanged.\n",
		   counts.create, counts.change, counts.drop, counts.unchanged);
	return EXIT_OK;
}

/* ------------------------------------------------------------------------
 * export
 * ------------------------------------------------------------------------
 */

static int
cmd_export(PGconn *conn, const char *product, const char *format, FILE *out)
{
	const char *params[2];
	PGresult   *res;
	int			rc;

	params[0] = product;
	params[1] = format;
	res = run_query(conn, "SELECT dataproduct.export($1, $2)", 2, params);
	if (res == NULL)
		return EXIT_ERROR;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		pg_error("dataproduct.export() returned no document for \"%s\"", product);
		PQclear(res);
		return EXIT_ERROR;
	}
	rc = json_to_yaml(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0), out);
	PQclear(res);
	return rc == 0 ? EXIT_OK : EXIT_ERROR;
}

/* ------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------
 */

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"username", required_argument, NULL, 'U'},
		{"dbname", required_argument, NULL, 'd'},
		{"no-password", no_argument, NULL, 'w'},
		{"password", no_argument, NULL, 'W'},
		{"format", required_argument, NULL, 'f'},
		{"out", required_argument, NULL, 'o'},
		{"dry-run", no_argument, NULL, 1},
		{"drop-missing", no_argument, NULL, 2},
		{NULL, 0, NULL, 0}
	};
	Options		opt = {0};
	const char *command;
	PGconn	   *conn;
	FILE	   *out = stdout;
	int			c;
	int			rc;
	int			nargs;

	/* --help and --version anywhere before "--", as PostgreSQL's programs take them */
	for (c = 1; c < argc && strcmp(argv[c], "--") != 0; c++)
	{
		if (strcmp(argv[c], "--help") == 0 || strcmp(argv[c], "-?") == 0)
		{
			usage();
			return EXIT_OK;
		}
		if (strcmp(argv[c], "--version") == 0 || strcmp(argv[c], "-V") == 0)
		{
			printf("%s (pg_dataproduct) %s\n", progname, DP_VERSION);
			return EXIT_OK;
		}
	}

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h:p:U:d:wWf:o:", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'h':
				opt.host = optarg;
				break;
			case 'p':
				opt.port = optarg;
				break;
			case 'U':
				opt.user = optarg;
				break;
			case 'd':
				opt.dbname = optarg;
				break;
			case 'w':
				opt.prompt = -1;
				break;
			case 'W':
				opt.prompt = 1;
				break;
			case 'f':
				opt.format = optarg;
				break;
			case 'o':
				opt.out = optarg;
				break;
			case 1:
				opt.dry_run = true;
				break;
			case 2:
				opt.drop_missing = true;
				break;
			case '?':
				if (optopt != 0)
				{
					char		o[2] = {(char) optopt, '\0'};

					usage_error("invalid option -- \"%s\"", o);
				}
				usage_error("unrecognized option \"%s\"", argv[optind - 1]);
				break;
			case ':':
				usage_error("option \"%s\" requires an argument", argv[optind - 1]);
				break;
			default:
				usage_error("invalid option \"%s\"", argv[optind - 1]);
		}
	}

	if (optind >= argc)
		usage_error("%s", "no command given (apply, export, lineage or docs)");
	command = argv[optind++];
	nargs = argc - optind;

	/* check the command line in full before connecting */
	if (strcmp(command, "apply") == 0)
	{
		if (nargs < 1)
			usage_error("%s", "apply needs a descriptor FILE or DIR");
		if (opt.format || opt.out)
			usage_error("%s", "apply takes no --format or --out");
	}
	else if (strcmp(command, "export") == 0)
	{
		if (nargs != 1)
			usage_error("%s", "export needs exactly one PRODUCT (domain.name)");
		if (opt.format == NULL)
			opt.format = "odcs";
		if (strcmp(opt.format, "odcs") != 0 && strcmp(opt.format, "odps") != 0)
			usage_error("export --format must be odcs or odps, not \"%s\"", opt.format);
	}
	else if (strcmp(command, "lineage") == 0)
	{
		if (nargs != 0)
			usage_error("unexpected argument \"%s\" (lineage takes none)", argv[optind]);
		if (opt.format == NULL)
			opt.format = "dot";
		if (strcmp(opt.format, "dot") != 0 && strcmp(opt.format, "mermaid") != 0)
			usage_error("lineage --format must be dot or mermaid, not \"%s\"", opt.format);
	}
	else if (strcmp(command, "docs") == 0)
	{
		if (nargs != 0)
			usage_error("unexpected argument \"%s\" (docs writes to --out DIR)", argv[optind]);
		if (opt.out == NULL)
			usage_error("%s", "docs needs --out DIR");
		if (opt.format)
			usage_error("%s", "docs takes no --format");
	}
	else
		usage_error("unknown command \"%s\" (apply, export, lineage or docs)", command);
	if ((opt.dry_run || opt.drop_missing) && strcmp(command, "apply") != 0)
		usage_error("%s", "--dry-run and --drop-missing belong to apply");

	conn = connect_db(&opt);

	if (opt.out && strcmp(command, "docs") != 0)
	{
		out = fopen(opt.out, "w");
		if (out == NULL)
		{
			pg_error("could not open \"%s\" for writing: %s", opt.out, strerror(errno));
			PQfinish(conn);
			return EXIT_ERROR;
		}
	}

	if (strcmp(command, "apply") == 0)
		rc = cmd_apply(conn, &opt, argv + optind, nargs);
	else if (strcmp(command, "export") == 0)
		rc = cmd_export(conn, argv[optind], opt.format, out);
	else if (strcmp(command, "lineage") == 0)
		rc = cmd_lineage(conn, opt.format, out);
	else
		rc = cmd_docs(conn, opt.out);

	PQfinish(conn);
	if (fflush(stdout) != 0 || (out != stdout && fclose(out) != 0))
	{
		pg_error("could not write the output: %s", strerror(errno));
		rc = EXIT_ERROR;
	}
	return rc;
}
