#include "pv/pv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <shale/abi/hypercall.h>

#include "arch/x86/pv.h"
#include "loader/elf.h"
#include "util/util.h"
#include "vmm/iobus.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

static int hc_port(void *opaque, struct vcpu *vcpu, uint64_t offset, uint8_t *data,
		   unsigned size, bool is_write)
{
	uint32_t gpa;

	if (!is_write)
		return -EINVAL; /* hypercall ports are write-only */
	memcpy(&gpa, data, sizeof(gpa));
	pv_hypercall(opaque, vcpu, (unsigned)offset, gpa);
	return 0;
}

static int build_args(struct pv_guest *pv, const struct pv_config *cfg)
{
	size_t size = strlen(cfg->name) + 1;
	char *p;

	for (int i = 0; i < cfg->argc; i++) {
		size += strlen(cfg->argv[i]) + 1;
		if (size > 1 * MiB) {
			log_err("guest arguments exceed 1 MiB");
			return -E2BIG;
		}
	}
	pv->args = p = malloc(size);
	if (!p)
		return -ENOMEM;
	p = stpcpy(p, cfg->name) + 1;
	for (int i = 0; i < cfg->argc; i++)
		p = stpcpy(p, cfg->argv[i]) + 1;
	pv->args_size = (uint32_t)size;
	pv->argc = (uint32_t)cfg->argc + 1;
	return 0;
}

int pv_check_image(const char *name, const uint8_t *image, size_t size, uint64_t mem_size,
		   struct elf_image *elf)
{
	uint64_t limit = x86_pv_image_limit(mem_size);
	const char *why;

	if (elf_parse(image, size, SHALE_IMAGE_BASE, limit, elf, &why)) {
		log_err("%s: not a guest shale can run: %s", name, why);
		return -EINVAL;
	}
	return 0;
}

int pv_setup(struct pv_guest *pv, struct vm *vm, struct vcpu *vcpu,
	     const struct pv_config *cfg)
{
	const struct elf_image *img = cfg->elf;
	struct shale_boot_info *bi;
	struct pv_layout layout;
	int ret;

	pv->vm = vm;
	ret = elf_load(img, cfg->image, &vm->gmem);
	if (!ret)
		ret = x86_pv_setup_memory(&vm->gmem, vm->ram_size, img, &layout);
	if (ret) {
		log_err("%s: cannot load guest into %llu MiB of memory", cfg->name,
			(unsigned long long)(vm->ram_size / MiB));
		return ret;
	}
	ret = build_args(pv, cfg);
	if (ret)
		return ret;

	bi = gmem_ptr(&vm->gmem, SHALE_BOOT_INFO_GPA, sizeof(*bi));
	if (!bi)
		die("no room for boot info");
	*bi = (struct shale_boot_info){
		.magic = SHALE_BOOT_MAGIC,
		.abi_version = SHALE_ABI_VERSION,
		.mem_size = vm->ram_size,
		.heap_start = layout.heap_start,
		.heap_end = layout.heap_end,
		.stack_top = layout.stack_top,
		.tsc_khz = x86_tsc_khz(vcpu),
		.argc = pv->argc,
		.args_size = pv->args_size,
	};

	/* A 4-byte access to the last port also covers the 3 ports after it. */
	ret = iobus_register(&vm->pio, SHALE_HC_PORT_BASE, SHALE_HC_MAX + 3, IOBUS_W4, hc_port,
			     pv, "hypercall");
	if (ret)
		return ret;
	return x86_pv_setup_vcpu(vm, vcpu, img->entry, layout.stack_top, SHALE_BOOT_INFO_GPA);
}

void pv_destroy(struct pv_guest *pv)
{
	pv_block_close(&pv->block);
	pv_net_close(&pv->net);
	free(pv->args);
	pv->args = NULL;
}
