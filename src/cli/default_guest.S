/* The built-in default guest (examples/demo.c), embedded at build time. */
	.section .rodata
	.balign 16
	.globl default_guest_start
	.globl default_guest_end
default_guest_start:
	.incbin DEFAULT_GUEST_PATH
default_guest_end:

	.section .note.GNU-stack, "", @progbits
