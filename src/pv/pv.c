#include "pv/pv.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <shale/abi/hypercall.h>

#include "arch/x86/pv.h"
#include "loader/elf.h"
#include "util/util.h"
#include "vmm/iobus.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define PAGE 4096ull /* the guest's page tables map 4 KiB pages here */

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

/* Polling pays only with a CPU for the I/O thread beside the vCPU. */
static bool io_polls(void)
{
	cpu_set_t cpus;

	return !sched_getaffinity(0, sizeof(cpus), &cpus) && CPU_COUNT(&cpus) >= 2;
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

static void add_range(struct pv_guest *pv, uint64_t start, uint64_t end, bool writable)
{
	if (pv->nr_ranges == PV_MAX_RANGES)
		die("too many guest memory ranges");
	if (start < end)
		pv->range[pv->nr_ranges++] = (struct pv_range){ start, end, writable };
}

void *pv_guest_ptr(const struct pv_guest *pv, uint64_t gpa, uint64_t len, bool write)
{
	uint64_t pos = gpa;

	if (gpa + len < gpa)
		return NULL;
	/* Ranges may touch (a data segment, then the heap): walk across them. */
	while (pos < gpa + len) {
		unsigned i;

		for (i = 0; i < pv->nr_ranges; i++) {
			const struct pv_range *r = &pv->range[i];

			if (pos >= r->start && pos < r->end && (r->writable || !write))
				break;
		}
		if (i == pv->nr_ranges)
			return NULL;
		pos = pv->range[i].end;
	}
	return gmem_ptr(&pv->vm->gmem, gpa, len);
}

int pv_setup(struct pv_guest *pv, struct vm *vm, struct vcpu *vcpu,
	     const struct pv_config *cfg)
{
	const struct elf_image *img = cfg->elf;
	struct shale_boot_info *bi;
	struct pv_layout layout;
	int ret;

	pv->vm = vm;
	pv->vcpu = vcpu;
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

	/* As x86_pv_setup_memory() mapped them for the guest (docs/abi.md). */
	pv->nr_ranges = 0;
	add_range(pv, SHALE_BOOT_INFO_GPA, SHALE_BOOT_INFO_GPA + PAGE, false);
	for (unsigned i = 0; i < img->nr_segs; i++)
		add_range(pv, ALIGN_DOWN(img->seg[i].vaddr, PAGE),
			  ALIGN_UP(img->seg[i].vaddr + img->seg[i].memsz, PAGE),
			  img->seg[i].prot & ELF_PROT_W);
	add_range(pv, layout.heap_start, layout.heap_end, true);
	add_range(pv, layout.stack_top - SHALE_STACK_SIZE, layout.stack_top, true);

	pv->io_polls = io_polls();
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
		.flags = pv->io_polls ? SHALE_BOOT_F_IO_POLL : 0,
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
