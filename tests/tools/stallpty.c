/*
 * stallpty CMD...: runs CMD with its standard output on a new
 * pseudo-terminal that nobody reads (the master stays open, so writes
 * fill the terminal's buffer and then wait), standard input from
 * /dev/null and standard error inherited. Exits with CMD's status, or
 * 128 + the signal that killed it. For the tests of a console whose
 * terminal has stopped reading: CMD must still stop when it is told to.
 */
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int master, slave, status;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: stallpty CMD...\n");
		return 2;
	}
	if (openpty(&master, &slave, NULL, NULL, NULL) < 0) {
		perror("stallpty: openpty");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("stallpty: fork");
		return 2;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		close(master);
		setsid();
		if (null < 0 || dup2(null, 0) < 0 || dup2(slave, 1) < 0) {
			perror("stallpty: dup2");
			_exit(2);
		}
		close(slave);
		execvp(argv[1], argv + 1);
		perror("stallpty: exec");
		_exit(127);
	}
	close(slave);
	while (waitpid(pid, &status, 0) < 0)
		;
	close(master);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
