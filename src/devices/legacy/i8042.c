/*
 * 8042 keyboard controller, after the IBM PS/2 Hardware Interface
 * Technical Reference ("Keyboard/Auxiliary Device Controller") and the
 * command set Linux's drivers/input/serio/i8042.c relies on.
 *
 * The guest is the only source of bytes: nothing types on the keyboard
 * and no mouse is attached. What the controller and keyboard send back
 * to the guest waits in one output queue; the head is the output buffer
 * the guest reads at port 0x60, with status bits saying whether it came
 * from the auxiliary port. Every byte is answered at once, so the input
 * buffer is never full and Linux's probe never waits out a timeout.
 *
 * With no mouse, a byte sent to the auxiliary device (command 0xd4) is
 * answered the way a real controller reports a device that does not
 * clock: 0xfe with the timeout bit set, which Linux's psmouse takes as
 * "no device" at once.
 */
#include "devices/legacy/i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "vmm/iobus.h"
#include "vmm/vm.h"

/* Status register. */
#define STR_OBF 0x01     /* output buffer full */
#define STR_SYSFLAG 0x04 /* self-test passed (copy of CTR bit 2) */
#define STR_CMDDAT 0x08  /* last write went to the command port */
#define STR_KEYLOCK 0x10 /* 1: keyboard not inhibited by the key lock */
#define STR_AUXDATA 0x20 /* output buffer holds auxiliary-device data */
#define STR_TIMEOUT 0x40

/* Controller command byte (controller RAM byte 0). */
#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYSFLAG 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

/* What firmware leaves behind: keyboard on with its interrupt, mouse off. */
#define CTR_INITIAL (CTR_KBDINT | CTR_SYSFLAG | CTR_AUXDIS | CTR_XLATE)

/* Output port: bit 0 is the CPU reset line (active low), bit 1 gates A20. */
#define OUTP_RESET 0x01
#define OUTP_A20 0x02
#define OUTP_KBD_OBF 0x10
#define OUTP_AUX_OBF 0x20

/* Controller commands (port 0x64). */
#define CMD_READ_RAM 0x20 /* 0x20-0x3f: read RAM byte n; 0x20 is the CTR */
#define CMD_WRITE_RAM 0x60 /* 0x60-0x7f: write RAM byte n */
#define CMD_PASSWORD_TEST 0xa4
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_INPUT 0xc0
#define CMD_READ_OUTP 0xd0
#define CMD_WRITE_OUTP 0xd1
#define CMD_WRITE_KBD_OBUF 0xd2
#define CMD_WRITE_AUX_OBUF 0xd3
#define CMD_WRITE_AUX 0xd4
#define CMD_A20_OFF 0xdd
#define CMD_A20_ON 0xdf
#define CMD_PULSE 0xf0 /* 0xf0-0xff: pulse the output lines whose bit is 0 */

#define RET_SELF_TEST_OK 0x55
#define RET_IFACE_OK 0x00
#define RET_NO_PASSWORD 0xf1

/* Keyboard commands and replies (port 0x60), PS/2 keyboard. */
#define KBD_SET_LEDS 0xed
#define KBD_ECHO 0xee
#define KBD_SCANCODE_SET 0xf0
#define KBD_GET_ID 0xf2
#define KBD_SET_RATE 0xf3
#define KBD_ENABLE 0xf4
#define KBD_RESET_DISABLE 0xf5
#define KBD_SET_DEFAULT 0xf6
#define KBD_RESEND 0xfe
#define KBD_RESET 0xff
#define KBD_ACK 0xfa
#define KBD_BAT_OK 0xaa
#define KBD_NAK 0xfe
#define KBD_ID0 0xab
#define KBD_ID1 0x83
#define KBD_ID1_XLATED 0x41 /* what the controller's translation makes of 0x83 */

#define AUX_NO_DEVICE 0xfe

/* Output queue entry flags: the status bits the byte shows up with. */
#define OUT_AUX STR_AUXDATA
#define OUT_TIMEOUT STR_TIMEOUT

#define QUEUE_SIZE 16

struct out_byte {
	uint8_t data;
	uint8_t flags;
};

struct i8042 {
	struct vm *vm;

	pthread_mutex_t lock; /* everything below */
	uint8_t ram[32];      /* ram[0] is the command byte */
	uint8_t outp;
	uint8_t pending_cmd;  /* controller command awaiting its data byte, or 0 */
	uint8_t kbd_cmd;      /* keyboard command awaiting its parameter, or 0 */
	uint8_t last_data;    /* what port 0x60 reads with the buffer empty */
	uint8_t scancode_set;
	bool last_was_cmd;
	bool kbd_irq, aux_irq;

	struct out_byte q[QUEUE_SIZE];
	unsigned q_head, q_count;
};

static void queue(struct i8042 *k, uint8_t data, uint8_t flags)
{
	if (k->q_count == QUEUE_SIZE)
		return; /* the guest is not reading; a real device would wait */
	k->q[(k->q_head + k->q_count) % QUEUE_SIZE] = (struct out_byte){ data, flags };
	k->q_count++;
}

static const struct out_byte *head(const struct i8042 *k)
{
	return k->q_count ? &k->q[k->q_head] : NULL;
}

static void set_line(struct i8042 *k, unsigned irq, bool *line, bool level)
{
	if (*line == level)
		return;
	*line = level;
	vm_set_irq(k->vm, irq, level);
}

/*
 * IRQ 1 and IRQ 12 follow "output buffer full" for keyboard and auxiliary
 * data, each gated by its CTR enable bit. Both are edge-triggered ISA
 * lines, so a byte that follows another must show a fresh edge:
 * `pulse` drops the lines first (after the guest has read a byte).
 */
static void update_irqs(struct i8042 *k, bool pulse)
{
	const struct out_byte *b = head(k);
	uint8_t ctr = k->ram[0];

	if (pulse) {
		set_line(k, I8042_KBD_IRQ, &k->kbd_irq, false);
		set_line(k, I8042_AUX_IRQ, &k->aux_irq, false);
	}
	set_line(k, I8042_KBD_IRQ, &k->kbd_irq, b && !(b->flags & OUT_AUX) && (ctr & CTR_KBDINT));
	set_line(k, I8042_AUX_IRQ, &k->aux_irq, b && (b->flags & OUT_AUX) && (ctr & CTR_AUXINT));
}

static uint8_t read_status(struct i8042 *k)
{
	const struct out_byte *b = head(k);
	uint8_t st = STR_KEYLOCK;

	if (b)
		st |= STR_OBF | b->flags;
	if (k->ram[0] & CTR_SYSFLAG)
		st |= STR_SYSFLAG;
	if (k->last_was_cmd)
		st |= STR_CMDDAT;
	return st;
}

static uint8_t read_data(struct i8042 *k)
{
	if (k->q_count) {
		k->last_data = k->q[k->q_head].data;
		k->q_head = (k->q_head + 1) % QUEUE_SIZE;
		k->q_count--;
	}
	return k->last_data;
}

static void reset_line(struct i8042 *k)
{
	vm_stop(k->vm, VM_STOP_RESET, 0, NULL);
}

static void kbd_defaults(struct i8042 *k)
{
	k->scancode_set = 2;
}

/* A byte for the keyboard, when no controller command claimed it. */
static void kbd_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->kbd_cmd;

	if (cmd) {
		k->kbd_cmd = 0;
		if (cmd == KBD_SCANCODE_SET) {
			if (v == 0) {
				queue(k, KBD_ACK, 0);
				queue(k, k->scancode_set, 0);
				return;
			}
			if (v > 3) {
				queue(k, KBD_NAK, 0);
				return;
			}
			k->scancode_set = v;
		}
		/* KBD_SET_LEDS and KBD_SET_RATE: nothing to show, nothing to repeat. */
		queue(k, KBD_ACK, 0);
		return;
	}

	switch (v) {
	case KBD_SET_LEDS:
	case KBD_SET_RATE:
	case KBD_SCANCODE_SET:
		k->kbd_cmd = v;
		queue(k, KBD_ACK, 0);
		break;
	case KBD_ECHO:
		queue(k, KBD_ECHO, 0);
		break;
	case KBD_GET_ID:
		queue(k, KBD_ACK, 0);
		queue(k, KBD_ID0, 0);
		queue(k, (k->ram[0] & CTR_XLATE) ? KBD_ID1_XLATED : KBD_ID1, 0);
		break;
	case KBD_RESET_DISABLE:
	case KBD_SET_DEFAULT:
		kbd_defaults(k);
		queue(k, KBD_ACK, 0);
		break;
	case KBD_RESET:
		kbd_defaults(k);
		queue(k, KBD_ACK, 0);
		queue(k, KBD_BAT_OK, 0);
		break;
	case KBD_ENABLE:
	case KBD_RESEND:
	case 0xf7: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd:
		/* Enable scanning, resend, and the scan-code set 3 key modes. */
		queue(k, KBD_ACK, 0);
		break;
	default:
		queue(k, KBD_NAK, 0);
		break;
	}
}

static void write_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;

	k->last_was_cmd = false;
	k->pending_cmd = 0;
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) {
		k->ram[cmd - CMD_WRITE_RAM] = v;
		return;
	}
	switch (cmd) {
	case CMD_WRITE_OUTP:
		k->outp = (uint8_t)(v & ~(OUTP_KBD_OBF | OUTP_AUX_OBF));
		if (!(v & OUTP_RESET))
			reset_line(k);
		break;
	case CMD_WRITE_KBD_OBUF:
		queue(k, v, 0);
		break;
	case CMD_WRITE_AUX_OBUF:
		queue(k, v, OUT_AUX);
		break;
	case CMD_WRITE_AUX:
		queue(k, AUX_NO_DEVICE, OUT_AUX | OUT_TIMEOUT);
		break;
	default:
		kbd_write(k, v);
		break;
	}
}

static void write_command(struct i8042 *k, uint8_t cmd)
{
	k->last_was_cmd = true;
	k->pending_cmd = 0; /* a new command abandons one still waiting for data */

	if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + 0x20) {
		queue(k, k->ram[cmd - CMD_READ_RAM], 0);
		return;
	}
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) {
		k->pending_cmd = cmd;
		return;
	}
	if (cmd >= CMD_PULSE) {
		if (!(cmd & OUTP_RESET))
			reset_line(k);
		return;
	}
	switch (cmd) {
	case CMD_PASSWORD_TEST:
		queue(k, RET_NO_PASSWORD, 0);
		break;
	case CMD_AUX_DISABLE:
		k->ram[0] |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		k->ram[0] &= (uint8_t)~CTR_AUXDIS;
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		queue(k, RET_IFACE_OK, 0);
		break;
	case CMD_SELF_TEST:
		k->ram[0] |= CTR_SYSFLAG;
		queue(k, RET_SELF_TEST_OK, 0);
		break;
	case CMD_KBD_DISABLE:
		k->ram[0] |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		k->ram[0] &= (uint8_t)~CTR_KBDDIS;
		break;
	case CMD_READ_INPUT:
		queue(k, 0x80, 0); /* bit 7: keyboard not inhibited */
		break;
	case CMD_READ_OUTP:
		queue(k, (uint8_t)(k->outp | (k->kbd_irq ? OUTP_KBD_OBF : 0) |
				   (k->aux_irq ? OUTP_AUX_OBF : 0)), 0);
		break;
	case CMD_WRITE_OUTP:
	case CMD_WRITE_KBD_OBUF:
	case CMD_WRITE_AUX_OBUF:
	case CMD_WRITE_AUX:
		k->pending_cmd = cmd;
		break;
	case CMD_A20_OFF:
		k->outp &= (uint8_t)~OUTP_A20; /* KVM has no A20 gate: recorded only */
		break;
	case CMD_A20_ON:
		k->outp |= OUTP_A20;
		break;
	default:
		break; /* unknown commands are ignored, as by the real firmware */
	}
}

static int data_io(void *opaque, struct vcpu *vcpu, uint64_t offset, uint8_t *data,
		   unsigned size, bool is_write)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	if (is_write) {
		write_data(k, data[0]);
		update_irqs(k, false);
	} else {
		data[0] = read_data(k);
		update_irqs(k, true);
	}
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static int cmd_io(void *opaque, struct vcpu *vcpu, uint64_t offset, uint8_t *data,
		  unsigned size, bool is_write)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	if (is_write) {
		write_command(k, data[0]);
		update_irqs(k, false);
	} else {
		data[0] = read_status(k);
	}
	pthread_mutex_unlock(&k->lock);
	return 0;
}

int i8042_create(struct vm *vm, struct i8042 **out)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return -ENOMEM;
	k->vm = vm;
	pthread_mutex_init(&k->lock, NULL);
	k->ram[0] = CTR_INITIAL;
	k->outp = OUTP_RESET | OUTP_A20;
	kbd_defaults(k);

	ret = iobus_register(&vm->pio, I8042_DATA_PORT, 1, IOBUS_W1, data_io, k, "i8042 data");
	if (ret)
		goto err;
	ret = iobus_register(&vm->pio, I8042_CMD_PORT, 1, IOBUS_W1, cmd_io, k, "i8042 command");
	if (ret) {
		iobus_unregister(&vm->pio, I8042_DATA_PORT);
		goto err;
	}
	*out = k;
	return 0;
err:
	pthread_mutex_destroy(&k->lock);
	free(k);
	return ret;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	iobus_unregister(&k->vm->pio, I8042_CMD_PORT);
	iobus_unregister(&k->vm->pio, I8042_DATA_PORT);
	pthread_mutex_destroy(&k->lock);
	free(k);
}
