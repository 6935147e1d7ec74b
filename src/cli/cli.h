/* The `shale` command: one function per subcommand. */
#ifndef SHALE_CLI_CLI_H
#define SHALE_CLI_CLI_H

int cmd_run(int argc, char **argv);
int cmd_host(int argc, char **argv);

/* Clients of shaled's API (client.c). */
int cmd_create(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_reboot(int argc, char **argv);
int cmd_balloon(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_events(int argc, char **argv);

/* The built-in default guest, linked into the binary. */
extern const unsigned char default_guest_start[], default_guest_end[];

#endif
