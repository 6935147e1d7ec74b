/*
 * Guest images as the CLI opens them: mapped for parsing, read with
 * pread() into guest RAM. What the loaders get must be the file's bytes,
 * a range outside the image must be refused, and a file that shrank since
 * it was mapped must give an error, not a SIGBUS or stale bytes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loader/image.h"

#define FILE_SIZE (3 * 4096 + 123) /* not a whole number of pages */

static char dir[] = "/tmp/shale-test-image.XXXXXX";

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 31 + (i >> 12));
}

/* A file of `size` pattern bytes in the test's directory. */
static const char *make_file(const char *name, size_t size)
{
	static char path[sizeof(dir) + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		assert_int_not_equal(fputc(pattern(i), f), EOF);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void test_map_and_read(void **state)
{
	struct image img = { 0 };
	uint8_t buf[FILE_SIZE];
	const char *path = make_file("good", FILE_SIZE);

	(void)state;
	assert_int_equal(image_map(path, "a test image", FILE_SIZE, &img), 0);
	assert_int_equal(img.size, FILE_SIZE);
	for (size_t i = 0; i < FILE_SIZE; i++)
		assert_int_equal(img.data[i], pattern(i));

	/* The whole file, and a range across page boundaries. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(image_read(&img, buf, img.data, FILE_SIZE), 0);
	assert_memory_equal(buf, img.data, FILE_SIZE);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(image_read(&img, buf, img.data + 4000, 5000), 0);
	assert_memory_equal(buf, img.data + 4000, 5000);
	assert_int_equal(image_read(&img, buf, img.data + FILE_SIZE, 0), 0);
	image_unmap(&img);
	assert_null(img.map);
}

static void test_contains(void **state)
{
	struct image img = { 0 };
	const char *path = make_file("contains", FILE_SIZE);
	uint8_t buf[16];

	(void)state;
	assert_false(image_contains(&img, NULL, 0)); /* not mapped */
	assert_int_equal(image_map(path, "a test image", FILE_SIZE, &img), 0);
	assert_true(image_contains(&img, img.data, FILE_SIZE));
	assert_true(image_contains(&img, img.data + FILE_SIZE - 1, 1));
	assert_false(image_contains(&img, img.data, FILE_SIZE + 1));
	assert_false(image_contains(&img, img.data + FILE_SIZE - 1, 2));
	assert_false(image_contains(&img, img.data - 1, 1));
	assert_false(image_contains(&img, img.data + 1, SIZE_MAX));
	assert_false(image_contains(&img, buf, 1));
	assert_int_equal(image_read(&img, buf, img.data + FILE_SIZE - 8, 16), -EINVAL);
	assert_int_equal(image_read(&img, buf, buf, 1), -EINVAL);
	image_unmap(&img);
}

/* The file shrinks after it was mapped: a read past its new end fails. */
static void test_shrunk_file(void **state)
{
	struct image img = { 0 };
	const char *path = make_file("shrinks", FILE_SIZE);
	uint8_t buf[FILE_SIZE];

	(void)state;
	assert_int_equal(image_map(path, "a test image", FILE_SIZE, &img), 0);
	assert_int_equal(image_shrank(&img), 0);
	assert_int_equal(truncate(path, FILE_SIZE + 100), 0);
	assert_int_equal(image_shrank(&img), 0); /* grown: the mapping is still backed */
	assert_int_equal(truncate(path, 4096), 0);
	assert_int_equal(image_shrank(&img), 1);
	assert_int_equal(image_read(&img, buf, img.data, 4096), 0);
	assert_int_equal(buf[4095], pattern(4095));
	assert_int_equal(image_read(&img, buf, img.data, FILE_SIZE), -EIO);
	assert_int_equal(image_read(&img, buf, img.data + 8192, 16), -EIO);
	image_unmap(&img);
}

static void test_refused(void **state)
{
	struct image img = { 0 };
	char missing[sizeof(dir) + 16];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	assert_int_equal(image_map(missing, "a test image", FILE_SIZE, &img), -ENOENT);
	assert_int_equal(image_map(dir, "a test image", FILE_SIZE, &img), -EINVAL);
	assert_int_equal(image_map(make_file("empty", 0), "a test image", FILE_SIZE, &img),
			 -EINVAL);
	assert_int_equal(image_map(make_file("big", FILE_SIZE), "a test image", FILE_SIZE - 1,
				   &img),
			 -EINVAL);
	assert_null(img.map);
	image_unmap(&img); /* never mapped: nothing to undo */
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	static const char *const names[] = { "good", "contains", "shrinks", "empty", "big" };
	char path[sizeof(dir) + 64];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_and_read),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_shrunk_file),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests_name("image", tests, setup, teardown);
}
