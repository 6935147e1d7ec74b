/*
 * The host side of virtio-vsock, on Unix stream sockets (as Firecracker
 * does it). For `--vsock cid=N,socket=PATH`:
 *
 *   - the VMM listens at PATH: a host program that connects there and
 *     writes "CONNECT P\n" asks for the guest's port P;
 *   - a guest that connects to the host's port P reaches whatever listens
 *     at PATH_P (PATH, '_', P in decimal), which the VMM connects to.
 *
 * Opened once, before the sandbox, and kept across the guest's reboots.
 * PATH's directory is one of the VMM's directories (vmm/sandbox.h): in
 * the mount-namespace jail it is the only place PATH_P can be found.
 * After the sandbox, vsock_unix_enter() makes it the working directory,
 * and PATH_P is connected to by its last component alone.
 */
#ifndef SHALE_BACKEND_VSOCK_UNIX_H
#define SHALE_BACKEND_VSOCK_UNIX_H

#include <stdbool.h>
#include <stdint.h>

/* sun_path's size less "_4294967295" and its NUL. */
#define VSOCK_UNIX_PATH_MAX (108 - 12)

struct vsock_unix {
	int listen_fd; /* bound at PATH, listening, non-blocking */
	int dir_fd;    /* PATH's directory */
	const char *path; /* the caller's string */
	const char *name; /* its last component, in `path` */
	bool relative; /* connect by `name` alone: the directory is the cwd */
};

/*
 * Listens at `path` (mode 0600; a socket left there by a VMM that died is
 * replaced, anything else refused) and opens its directory. 0, or -errno
 * with one line naming `what` ("--vsock").
 */
int vsock_unix_open(struct vsock_unix *u, const char *path, const char *what);
/*
 * After the sandbox, once (main thread): the working directory becomes
 * PATH's, through dir_fd (in the mount jail, where it is bound). 0 or -errno.
 */
int vsock_unix_enter(struct vsock_unix *u);
/* A connection at PATH, non-blocking: its fd, or -errno (-EAGAIN: none waiting). */
int vsock_unix_accept(const struct vsock_unix *u);
/* Connects to PATH_port, non-blocking: its fd, or -errno. I/O thread. */
int vsock_unix_connect(const struct vsock_unix *u, uint32_t port);
/* Closes it and removes PATH. */
void vsock_unix_close(struct vsock_unix *u);

#endif
