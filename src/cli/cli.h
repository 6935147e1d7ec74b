/* The `shale` command: one function per subcommand. */
#ifndef SHALE_CLI_CLI_H
#define SHALE_CLI_CLI_H

int cmd_run(int argc, char **argv);
int cmd_host(int argc, char **argv);

/* The built-in default guest, linked into the binary. */
extern const unsigned char default_guest_start[], default_guest_end[];

#endif
