#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <shale/abi/hypercall.h>

#include "cli/cli.h"
#include "util/util.h"

#ifndef SHALE_VERSION
#define SHALE_VERSION "0.1.0"
#endif

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command {
	const char *name;
	const char *summary;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "run", "run a guest in a new virtual machine", cmd_run },
	{ "host", "say what this host's KVM is and which guests run on it", cmd_host },
	/* Through shaled: */
	{ "create", "create a VM managed by shaled", cmd_create },
	{ "start", "start a VM", cmd_start },
	{ "stop", "ask a VM's guest to shut down (killed after a timeout)", cmd_stop },
	{ "kill", "stop a VM now", cmd_kill },
	{ "pause", "pause a VM's vCPUs", cmd_pause },
	{ "resume", "resume a paused VM", cmd_resume },
	{ "reboot", "kill a VM and start it again", cmd_reboot },
	{ "balloon", "set a VM's memory balloon target", cmd_balloon },
	{ "rm", "remove a VM", cmd_rm },
	{ "list", "list the VMs", cmd_list },
	{ "info", "show a VM's state and configuration", cmd_info },
	{ "stats", "show a running VM's counters", cmd_stats },
	{ "logs", "print a VM's console output", cmd_logs },
	{ "console", "attach the terminal to a VM's console (Ctrl-] detaches)", cmd_console },
	{ "events", "follow the VMs' state changes", cmd_events },
	{ "version", "print the version and the guest ABI version", cmd_version },
	{ "help", "show help for shale or one command", cmd_help },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: shale COMMAND [OPTIONS]\n"
		"\n"
		"shale is a KVM hypervisor: it runs para-virtual guests (static ELF\n"
		"programs built with the shale SDK) at native speed in ring 3.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (commands[i].fn == cmd_create)
			fprintf(f, "\nVMs managed by shaled, the management daemon:\n");
		else if (commands[i].fn == cmd_version)
			fprintf(f, "\n");
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	}
	fprintf(f,
		"\n"
		"Options:\n"
		"  -h, --help     show this help\n"
		"  -V, --version  show the version\n"
		"\n"
		"`shale run` with no guest runs the built-in demo guest.\n"
		"The commands through shaled take --socket PATH (default $SHALE_SOCKET,\n"
		"else /run/shale.sock) and --json (the API's JSON instead of a table).\n"
		"`shale COMMAND --help` describes one command.\n");
}

static int cmd_version(int argc, char **argv)
{
	printf("shale %s (guest ABI %u)\n", SHALE_VERSION, SHALE_ABI_VERSION);
	return 0;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int cmd_help(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	c = find_command(argv[1]);
	if (!c || c->fn == cmd_help) {
		usage(stdout);
		return c ? 0 : 2;
	}
	char *help_argv[] = { argv[1], "--help", NULL };
	return c->fn(2, help_argv);
}

/*
 * Standard input, output and error that were closed are opened on
 * /dev/null: otherwise the next file shale opens (a disk image, a kernel)
 * would take their number, and log lines or guest output would be written
 * into it.
 */
static void hold_stdio(void)
{
	int fd;

	do
		fd = open("/dev/null", O_RDWR);
	while (fd >= 0 && fd <= STDERR_FILENO);
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	const struct command *c;

	hold_stdio();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "shale: unknown command '%s' (see 'shale --help')\n", argv[1]);
		return 2;
	}
	return c->fn(argc - 1, argv + 1);
}
