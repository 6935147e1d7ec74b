/* shale guest libc: <assert.h>; like any <assert.h>, it obeys NDEBUG anew
 * each time it is included. */
#undef assert

#ifdef NDEBUG
#define assert(expr) ((void)0)
#else
#define assert(expr) \
	((expr) ? (void)0 : shale_assert_fail(#expr, __FILE__, __LINE__, __func__))
#endif

#ifndef SHALE_ASSERT_H
#define SHALE_ASSERT_H

#define static_assert _Static_assert

/* Print the failed assertion and end the VM through abort(). */
_Noreturn void shale_assert_fail(const char *expr, const char *file, int line,
				 const char *func);

#endif /* SHALE_ASSERT_H */
