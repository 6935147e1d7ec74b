/*
 * shale guest entry point. The VMM starts us at CPL 3 with %rdi = the boot
 * info and %rsp = stack_top; there is no caller to return to.
 */
	.section .text.entry, "ax", @progbits
	.globl	_start
	.type	_start, @function
_start:
	xorl	%ebp, %ebp		/* ends frame-pointer walks here */
	andq	$-16, %rsp		/* the SysV ABI alignment at a call */
	call	shale_start		/* %rdi passes through untouched */
	ud2				/* shale_start never returns */
	.size	_start, . - _start

	.section .note.GNU-stack, "", @progbits
