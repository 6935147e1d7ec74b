/*
 * The idle VM: does nothing until the VMM asks it to shut down (the
 * control socket's "shutdown"), then exits 0. It sleeps in the POLL
 * hypercall all the while, so it costs no CPU.
 */
#include <shale/guest.h>

int main(void)
{
	int64_t r;

	do
		r = shale_wait_shutdown(UINT64_MAX);
	while (r == 0);
	return r == 1 ? 0 : 1; /* r < 0: a VMM older than ABI version 2 */
}
