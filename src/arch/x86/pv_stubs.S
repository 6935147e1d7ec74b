/*
 * Exception stubs for para-virtual guests, copied into guest memory at
 * PV_STUBS_GPA: 32 entry points 16 bytes apart, then common code. Each
 * stub makes the frame uniform (the guest's %rdx, vector, error code, then
 * the CPU's frame) and reports it through the exception port; the VMM reads the frame from
 * the supervisor stack and stops the VM. This code never returns to the
 * guest, so it is the only ring-0 code a para-virtual guest ever runs.
 */
#include <shale/abi/hypercall.h>

	.section .rodata
	.balign 16
	.globl x86_pv_stubs_start
	.globl x86_pv_stubs_end
	.code64
x86_pv_stubs_start:
	vector = 0
	.rept 32
	.balign 16
	/* The CPU pushes an error code only for these vectors. */
	.if vector != 8 && vector != 10 && vector != 11 && vector != 12 && \
	    vector != 13 && vector != 14 && vector != 17 && vector != 21 && \
	    vector != 29 && vector != 30
	pushq $0
	.endif
	pushq $vector
	jmp report
	vector = vector + 1
	.endr

	.balign 16
report:
	pushq %rdx /* the guest's: the port of a refused in/out */
	movl $(SHALE_HC_PORT_BASE + SHALE_HC_EXCEPTION), %edx
	outl %eax, %dx
1:	hlt
	jmp 1b
x86_pv_stubs_end:

	.section .note.GNU-stack, "", @progbits
