/* shale guest SDK: the hypercall wrappers that are not inline. */
#include <shale/guest.h>

int64_t shale_random(void *buf, size_t len)
{
	unsigned char *p = buf;
	size_t done = 0;

	while (done < len) {
		size_t n = len - done;
		int64_t r;

		if (n > SHALE_RANDOM_MAX)
			n = SHALE_RANDOM_MAX;
		r = shale_buffer_call(SHALE_HC_RANDOM, p + done, n);
		if (r < 0)
			return r;
		if (r == 0)
			return SHALE_EIO;
		done += r;
	}
	return len;
}

const char *shale_strerror(int64_t err)
{
	switch (err) {
	case SHALE_OK:
		return "success";
	case SHALE_EFAULT:
		return "bad address or length";
	case SHALE_EINVAL:
		return "invalid argument";
	case SHALE_ENODEV:
		return "no such device";
	case SHALE_EAGAIN:
		return "try again";
	case SHALE_EIO:
		return "host I/O error";
	case SHALE_ENOSPC:
		return "beyond the end of the device";
	case SHALE_EROFS:
		return "read-only device";
	default:
		return err > 0 ? "success" : "unknown error";
	}
}
